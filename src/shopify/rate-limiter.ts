import type { Logger } from 'pino';
import { luaScript, type Redis, type RedisKeys } from '../platform/redis.js';

/**
 * A leaky bucket per shop, shared by every process of the service through one Redis hash, so that
 * together they never overflow Shopify's own bucket (40 requests, leaking 2/s on standard plans).
 *
 * - `acquire()` takes one slot and answers 0, or answers how many ms to wait before asking again
 *   (it takes nothing then); the client sleeps and asks again.
 * - `observe()` reads Shopify's `X-Shopify-Shop-Api-Call-Limit` (`used/limit`): when the bucket is at
 *   least half full and Shopify counts more than we do (another consumer of the same token, lost Redis
 *   state), our level is raised to Shopify's, so every process slows down.
 * - `throttled()` after a 429 fills the bucket so that every process waits `Retry-After` first.
 *
 * The whole read-leak-decide-write runs in one Lua script on Redis's clock (atomic; no skew between
 * hosts). The key carries a `{shop}` hash tag, so it lives on one Redis Cluster slot. We keep
 * `safetyMargin` slots free below Shopify's capacity: requests reach Shopify a little after we count
 * them, and the margin absorbs that delay (margin / rate seconds of it).
 */
export interface RateLimiter {
  acquire(): Promise<number>;
  observe(callLimit: CallLimit, requestDurationMs: number): Promise<void>;
  throttled(retryAfterMs: number): Promise<void>;
}

export interface CallLimit {
  used: number;
  limit: number;
}

/** Parses `X-Shopify-Shop-Api-Call-Limit: 32/40`. */
export function parseCallLimit(value: string | null | undefined): CallLimit | undefined {
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(value ?? '');
  if (!m) return undefined;
  const used = Number(m[1]);
  const limit = Number(m[2]);
  return limit > 0 ? { used, limit } : undefined;
}

export const noRateLimit: RateLimiter = {
  acquire: async () => 0,
  observe: async () => undefined,
  throttled: async () => undefined,
};

/** Bucket state and one step of it; the Lua script below is the same arithmetic. */
export interface BucketState {
  level: number;
  ts: number;
}
export type BucketOp = { op: 'acquire' } | { op: 'observe'; level: number } | { op: 'throttled'; retryAfterMs: number };

export function bucketStep(state: BucketState | undefined, now: number, capacity: number, ratePerSecond: number, op: BucketOp): { state: BucketState; waitMs: number } {
  const rate = ratePerSecond / 1000;
  let level = state?.level ?? 0;
  const ts = state?.ts ?? now;
  if (now > ts) level = Math.max(0, level - (now - ts) * rate);
  let waitMs = 0;
  if (op.op === 'acquire') {
    if (level + 1 <= capacity) level += 1;
    else waitMs = Math.ceil((level + 1 - capacity) / rate);
  } else if (op.op === 'observe') {
    if (op.level > level) level = op.level;
  } else {
    level = Math.max(level, capacity - 1 + op.retryAfterMs * rate);
  }
  return { state: { level, ts: now }, waitMs };
}

const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local capacity = tonumber(ARGV[2])
local rate = tonumber(ARGV[3]) / 1000
local s = redis.call('HMGET', KEYS[1], 'level', 'ts')
local level = tonumber(s[1]) or 0
local ts = tonumber(s[2]) or now
if now > ts then level = math.max(0, level - (now - ts) * rate) end
local wait = 0
local op = ARGV[1]
if op == 'acquire' then
  if level + 1 <= capacity then level = level + 1 else wait = math.ceil((level + 1 - capacity) / rate) end
elseif op == 'observe' then
  local seen = tonumber(ARGV[4])
  if seen > level then level = seen end
elseif op == 'throttled' then
  local full = capacity - 1 + tonumber(ARGV[4]) * rate
  if full > level then level = full end
end
redis.call('HSET', KEYS[1], 'level', tostring(level), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(level / rate) + 60000)
return wait
`;
const runBucketScript = luaScript(SCRIPT);

export interface RedisRateLimiterOptions {
  redis: Redis;
  keys: RedisKeys;
  shop: string;
  /** Shopify's bucket size for this app and store (40 standard, 400 Plus). */
  bucketSize: number;
  /** Shopify's leak rate, requests per second (2 standard, 20 Plus). */
  ratePerSecond: number;
  /** Slots kept free below Shopify's capacity; default max(1, 5 % of the bucket). */
  safetyMargin?: number;
  /** Shopify's bucket is "nearly full" (worth telling the other processes) from this share of it. */
  observeFromShare?: number;
  logger?: Logger;
}

export function rateLimitKey(keys: RedisKeys, shop: string): string {
  return keys.key('ratelimit', `{${shop}}`);
}

export function createRedisRateLimiter(opts: RedisRateLimiterOptions): RateLimiter {
  const key = rateLimitKey(opts.keys, opts.shop);
  const margin = opts.safetyMargin ?? Math.max(1, Math.ceil(opts.bucketSize * 0.05));
  const observeFrom = opts.observeFromShare ?? 0.5;
  let shopifyLimit = opts.bucketSize;
  const capacity = () => Math.max(1, Math.min(opts.bucketSize, shopifyLimit) - margin);

  // When Redis is unreachable the limiter keeps working in this process alone (fail open, degraded):
  // a sync should not stop because the shared limiter is down; 429s are still retried.
  let local: BucketState | undefined;
  let warned = false;
  const fallback = (op: BucketOp, error: unknown): number => {
    if (!warned) {
      warned = true;
      opts.logger?.warn({ err: error, shop: opts.shop }, 'shared Shopify rate limiter unavailable; limiting in this process only');
    }
    const step = bucketStep(local, Date.now(), capacity(), opts.ratePerSecond, op);
    local = step.state;
    return step.waitMs;
  };

  const run = async (op: BucketOp): Promise<number> => {
    const arg = op.op === 'observe' ? op.level : op.op === 'throttled' ? op.retryAfterMs : 0;
    const args = ['1', key, op.op, String(capacity()), String(opts.ratePerSecond), String(arg)];
    try {
      const reply = await runBucketScript(opts.redis, args);
      if (warned) {
        warned = false;
        opts.logger?.info({ shop: opts.shop }, 'shared Shopify rate limiter available again');
      }
      return Number(reply) || 0;
    } catch (error) {
      return fallback(op, error);
    }
  };

  return {
    acquire: () => run({ op: 'acquire' }),
    async observe(callLimit, requestDurationMs) {
      shopifyLimit = callLimit.limit;
      if (callLimit.used < callLimit.limit * observeFrom) return;
      // Shopify counted `used` when the request arrived and has leaked since. Our count runs `margin`
      // below Shopify's by design (requests in flight), so only a count beyond that moves ours.
      const seen = callLimit.used - (requestDurationMs * opts.ratePerSecond) / 1000 - margin;
      await run({ op: 'observe', level: seen });
    },
    async throttled(retryAfterMs) {
      await run({ op: 'throttled', retryAfterMs });
    },
  };
}
