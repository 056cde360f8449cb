import type { ServiceContext } from '../context.js';
import { DependencyUnavailableError, ThrottledError } from '../errors.js';
import { randomToken } from '../platform/crypto.js';

const WINDOW_MS = 60_000;

/**
 * Counts a tenant's token connect (each one calls Shopify) in a sliding minute, a Redis sorted set of
 * attempt times shared by every API process. Past `CONNECT_MAX_PER_MINUTE` it throws ThrottledError
 * (429, Retry-After: when the oldest counted attempt leaves the minute); a refused attempt is not counted.
 */
export async function takeConnectAttempt(ctx: Pick<ServiceContext, 'redis' | 'keys' | 'config'>, tenantId: string): Promise<void> {
  const key = ctx.keys.key('connect-attempts', tenantId);
  const member = `${Date.now()}:${randomToken(6)}`;
  let retryAfterMs: number | undefined;
  try {
    const now = Date.now();
    const replies = await ctx.redis
      .multi()
      .zRemRangeByScore(key, 0, now - WINDOW_MS)
      .zAdd(key, { score: now, value: member })
      .zCard(key)
      .pExpire(key, WINDOW_MS)
      .exec();
    if (Number(replies[2]) > ctx.config.connectMaxPerMinute) {
      await ctx.redis.zRem(key, member);
      const [oldest] = await ctx.redis.zRangeWithScores(key, 0, 0);
      retryAfterMs = (oldest?.score ?? now) + WINDOW_MS - now;
    }
  } catch (err) {
    throw new DependencyUnavailableError('Redis', err);
  }
  if (retryAfterMs !== undefined) {
    throw new ThrottledError(`At most ${ctx.config.connectMaxPerMinute} connects a minute per tenant; retry later`, retryAfterMs / 1000);
  }
}
