/** Exponential backoff with jitter: a delay between half and all of min(maxMs, baseMs * 2^attempt). */
export function backoffMs(attempt: number, baseMs = 100, maxMs = 5000): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}
