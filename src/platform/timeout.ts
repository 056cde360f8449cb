/**
 * Settles as `promise` does, or rejects once `ms` have passed without an answer (the work itself is not
 * cancelled: callers use it where a late answer no longer matters, e.g. a probe or an XADD Shopify retries).
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, message = `no answer within ${ms} ms`): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
