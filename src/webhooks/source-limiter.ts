/**
 * Deliveries that fail authentication, counted per client IP in a token bucket of this process: a
 * source may fail `perMinute` times in a burst and then once per 60 / `perMinute` seconds. A source
 * past it is refused before any MySQL or HMAC work. Only failures are charged, so Shopify's own
 * deliveries (many shops from few addresses) never use the bucket up. Bounded: the least recently
 * charged sources are forgotten first.
 */
export function createSourceLimiter(perMinute: number, maxSources = 10_000) {
  const ratePerMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();

  const tokensOf = (source: string, now: number): number => {
    const bucket = buckets.get(source);
    return bucket ? Math.min(perMinute, bucket.tokens + (now - bucket.at) * ratePerMs) : perMinute;
  };

  return {
    /** Seconds until `source` may be heard again; 0 when it may be now. */
    retryAfterSeconds(source: string): number {
      const tokens = tokensOf(source, Date.now());
      return tokens >= 1 ? 0 : (1 - tokens) / ratePerMs / 1000;
    },
    /** Charges one failed authentication to `source`. */
    charge(source: string): void {
      const now = Date.now();
      const tokens = Math.max(0, tokensOf(source, now) - 1);
      buckets.delete(source);
      if (buckets.size >= maxSources) buckets.delete(buckets.keys().next().value as string);
      buckets.set(source, { tokens, at: now });
    },
  };
}
export type SourceLimiter = ReturnType<typeof createSourceLimiter>;
