import type { Logger } from 'pino';
import { luaScript, type Redis, type RedisKeys } from '../../platform/redis.js';

/**
 * The GraphQL Admin API's points bucket for one shop, mirrored in one Redis hash that every process of
 * the service shares, so that together they never send a query Shopify would answer THROTTLED.
 *
 * - `reserve(cost)` takes a query's requested cost before it is sent and answers 0, or answers how many
 *   ms to wait before asking again (taking nothing then): the time the restore rate needs.
 * - `settle(reserved, cost, { ageMs })` after the answer: refunds what was reserved but not spent (Shopify
 *   charges the requested cost up front and refunds the difference), and calibrates from `throttleStatus`:
 *   Shopify's bucket size and restore rate replace ours, and when Shopify has fewer points left than we
 *   count (another deployment of ours without this Redis, lost state) our count drops to Shopify's.
 *   Never up: points we reserved for queries still in flight are not yet charged at Shopify. Shopify's
 *   count was taken while the query ran, at most `ageMs` (since the query was sent) ago, and its bucket
 *   has been restoring since: ours drops only below what it may hold by now. Comparing with the count as
 *   if taken at settle time would drop ours after every query by the restore of the answer's way back
 *   and its parsing, so every next query would wait that long for nothing.
 * - After THROTTLED nothing was charged: `settle(reserved, cost, { throttled: true })` refunds it all
 *   and drops to Shopify's count, so the next `reserve` waits exactly (requested - available) / rate.
 * - `throttledFor(ms)` after an HTTP 429: every process waits that long first.
 *
 * Read-restore-decide-write runs in one Lua script on Redis's clock (atomic, no clock skew between
 * hosts); the key carries a `{shop}` hash tag for Redis Cluster.
 */
export interface QueryCost {
  requestedQueryCost: number;
  actualQueryCost: number | null;
  throttleStatus: ThrottleStatus;
}

export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export interface CostLimiter {
  reserve(cost: number): Promise<number>;
  settle(reserved: number, cost: QueryCost | undefined, opts?: { throttled?: boolean; ageMs?: number }): Promise<void>;
  throttledFor(retryAfterMs: number): Promise<void>;
}

/** Shopify's Standard plan: the bucket assumed until the first answer tells the shop's own. */
export const STANDARD_PLAN_BUCKET = { maximumAvailable: 2000, restoreRate: 100 } as const;

/** Shopify refuses any single query above this requested cost (MAX_COST_EXCEEDED). */
export const MAX_QUERY_COST = 1000;

export const noCostLimit: CostLimiter = {
  reserve: async () => 0,
  settle: async () => undefined,
  throttledFor: async () => undefined,
};

export interface PointsState {
  available: number;
  ts: number;
  max: number;
  rate: number;
}

export type PointsOp = { op: 'reserve'; cost: number } | { op: 'settle'; refund: number; seen?: ThrottleStatus; ageMs?: number } | { op: 'drain'; waitMs: number };

/** One step of the bucket; the Lua script below is the same arithmetic (`now` in ms, rate per second). */
export function pointsStep(state: PointsState | undefined, now: number, defaults: { max: number; rate: number }, op: PointsOp): { state: PointsState; waitMs: number } {
  let max = state?.max ?? defaults.max;
  let rate = state?.rate ?? defaults.rate;
  let available = state?.available ?? max;
  const ts = state?.ts ?? now;
  if (now > ts) available = Math.min(max, available + ((now - ts) * rate) / 1000);
  let waitMs = 0;
  if (op.op === 'reserve') {
    const need = Math.min(op.cost, max);
    if (available >= need) available -= need;
    else waitMs = Math.ceil(((need - available) * 1000) / rate - 1e-9); // no extra ms from float noise
  } else if (op.op === 'settle') {
    available = Math.min(max, available + op.refund);
    if (op.seen) {
      max = op.seen.maximumAvailable;
      rate = op.seen.restoreRate;
      const restoredSince = ((op.ageMs ?? 0) * rate) / 1000;
      available = Math.min(available, op.seen.currentlyAvailable + restoredSince, max);
    }
  } else {
    available = Math.min(available, -(op.waitMs * rate) / 1000);
  }
  return { state: { available, ts: now, max, rate }, waitMs };
}

const SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local s = redis.call('HMGET', KEYS[1], 'available', 'ts', 'max', 'rate')
local max = tonumber(s[3]) or tonumber(ARGV[2])
local rate = tonumber(s[4]) or tonumber(ARGV[3])
local available = tonumber(s[1]) or max
local ts = tonumber(s[2]) or now
if now > ts then available = math.min(max, available + (now - ts) * rate / 1000) end
local wait = 0
local op = ARGV[1]
if op == 'reserve' then
  local need = math.min(tonumber(ARGV[4]), max)
  if available >= need then available = available - need else wait = math.ceil((need - available) * 1000 / rate - 1e-9) end
elseif op == 'settle' then
  available = math.min(max, available + tonumber(ARGV[4]))
  if ARGV[5] ~= '' then
    max = tonumber(ARGV[5])
    rate = tonumber(ARGV[7])
    available = math.min(available, tonumber(ARGV[6]) + (tonumber(ARGV[8]) or 0) * rate / 1000, max)
  end
elseif op == 'drain' then
  available = math.min(available, -tonumber(ARGV[4]) * rate / 1000)
end
redis.call('HSET', KEYS[1], 'available', tostring(available), 'ts', tostring(now), 'max', tostring(max), 'rate', tostring(rate))
redis.call('PEXPIRE', KEYS[1], math.ceil((max - available) * 1000 / rate) + 60000)
return wait
`;
const runPointsScript = luaScript(SCRIPT);

export function costLimitKey(keys: RedisKeys, shop: string): string {
  return keys.key('graphql-points', `{${shop}}`);
}

export interface RedisCostLimiterOptions {
  redis: Redis;
  keys: RedisKeys;
  shop: string;
  /** The bucket assumed before Shopify's first answer (default: Standard plan, 2,000 points restoring 100/s). */
  maximumAvailable?: number;
  restoreRate?: number;
  logger?: Logger;
}

/**
 * The in-process buckets used while Redis is unreachable, one per shop key: every client of the process
 * (concurrent syncs of one store's resources) then shares one, as they share the Redis one.
 */
const localBuckets = new Map<string, { state: PointsState | undefined }>();

export function createRedisCostLimiter(opts: RedisCostLimiterOptions): CostLimiter {
  const key = costLimitKey(opts.keys, opts.shop);
  const defaults = { max: opts.maximumAvailable ?? STANDARD_PLAN_BUCKET.maximumAvailable, rate: opts.restoreRate ?? STANDARD_PLAN_BUCKET.restoreRate };

  // Redis unreachable: limit within this process alone (fail open, degraded), as the request limiter does.
  let warned = false;
  const fallback = (op: PointsOp, error: unknown): number => {
    if (!warned) {
      warned = true;
      opts.logger?.warn({ err: error, shop: opts.shop }, 'shared GraphQL cost-points rate limiter unavailable; limiting in this process only');
    }
    let local = localBuckets.get(key);
    if (!local) localBuckets.set(key, (local = { state: undefined }));
    const step = pointsStep(local.state, Date.now(), defaults, op);
    local.state = step.state;
    return step.waitMs;
  };

  const run = async (op: PointsOp): Promise<number> => {
    const args = ['1', key, op.op, String(defaults.max), String(defaults.rate)];
    if (op.op === 'reserve') args.push(String(op.cost));
    else if (op.op === 'drain') args.push(String(op.waitMs));
    else args.push(String(op.refund), ...(op.seen ? [op.seen.maximumAvailable, op.seen.currentlyAvailable, op.seen.restoreRate].map(String) : ['', '', '']), String(op.ageMs ?? 0));
    try {
      const reply = await runPointsScript(opts.redis, args);
      if (warned) {
        warned = false;
        opts.logger?.info({ shop: opts.shop }, 'shared GraphQL cost limiter available again');
      }
      return Number(reply) || 0;
    } catch (error) {
      return fallback(op, error);
    }
  };

  return {
    reserve: (cost) => run({ op: 'reserve', cost }),
    async settle(reserved, cost, settleOpts = {}) {
      const spent = settleOpts.throttled ? 0 : (cost?.actualQueryCost ?? cost?.requestedQueryCost ?? reserved);
      const seen = validThrottleStatus(cost?.throttleStatus);
      // After THROTTLED the count is taken as of now: the next reservation then waits no less than Shopify said.
      const ageMs = !settleOpts.throttled && settleOpts.ageMs !== undefined && Number.isFinite(settleOpts.ageMs) ? Math.max(0, settleOpts.ageMs) : 0;
      await run({ op: 'settle', refund: Math.max(0, reserved - spent), ...(seen ? { seen, ageMs } : {}) });
    },
    async throttledFor(waitMs) {
      await run({ op: 'drain', waitMs });
    },
  };
}

function validThrottleStatus(t: ThrottleStatus | undefined): ThrottleStatus | undefined {
  if (!t) return undefined;
  const ok = [t.maximumAvailable, t.currentlyAvailable, t.restoreRate].every((n) => typeof n === 'number' && Number.isFinite(n));
  return ok && t.maximumAvailable > 0 && t.restoreRate > 0 ? t : undefined;
}

/** What the restore rate needs before `requested` points are available again (THROTTLED answers). */
export function throttleWaitMs(requested: number, status: ThrottleStatus): number {
  const missing = Math.min(requested, status.maximumAvailable) - status.currentlyAvailable;
  return missing <= 0 ? 0 : Math.ceil((missing * 1000) / status.restoreRate);
}
