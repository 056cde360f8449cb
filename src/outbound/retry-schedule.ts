/**
 * When a failed delivery is tried again: the wait before retry n is the n-th entry of
 * OUTBOUND_RETRY_SCHEDULE_MS (about a day in all by default), spread by ± 10 % so deliveries that failed
 * together (a receiver's outage) do not all come back in the same second. After the last entry: dead.
 */
const JITTER = 0.1;

/** The wait after failed attempt `attemptsMade` (1 for the first), or null when no retry is left. `random` returns [0, 1). */
export function retryDelayMs(schedule: readonly number[], attemptsMade: number, random: () => number = Math.random): number | null {
  const base = schedule[attemptsMade - 1];
  if (base === undefined) return null;
  return Math.max(0, Math.round(base * (1 - JITTER + 2 * JITTER * random())));
}
