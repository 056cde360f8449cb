import type { ServiceContext } from '../context.js';
import { sha256Hex } from '../platform/crypto.js';
import { redisCall } from '../platform/redis.js';

/** What a state stands for: the tenant that started the install, for this shop. */
export interface PendingInstall {
  tenant_id: string;
  shop: string;
}

type StateContext = Pick<ServiceContext, 'redis' | 'keys' | 'config'>;

/** Only a hash of the state names the key: a Redis dump does not hand out usable states. */
const stateKey = (ctx: StateContext, stateHash: string) => ctx.keys.key('oauth-state', stateHash);
/** A tenant's pending states (their hashes), scored by expiry: the lowest score is the oldest. */
const tenantStatesKey = (ctx: StateContext, tenantId: string) => ctx.keys.key('oauth-states-of', tenantId);

function parse(value: string | null | undefined): PendingInstall | undefined {
  if (!value) return undefined;
  const parsed = JSON.parse(value) as Partial<PendingInstall>;
  return typeof parsed.tenant_id === 'string' && typeof parsed.shop === 'string' ? (parsed as PendingInstall) : undefined;
}

/**
 * Stores a single-use state for `ttlSeconds`. A tenant holds at most `oauthMaxPendingPerTenant`
 * pending states: beyond that its oldest are dropped (their links then answer "unknown or expired"),
 * so a tenant looping on initiate cannot fill Redis.
 */
export async function savePendingInstall(ctx: StateContext, state: string, pending: PendingInstall, ttlSeconds: number): Promise<void> {
  const hash = sha256Hex(state);
  const index = tenantStatesKey(ctx, pending.tenant_id);
  const now = Date.now();
  await redisCall(async () => {
    await ctx.redis.set(stateKey(ctx, hash), JSON.stringify(pending), { expiration: { type: 'EX', value: ttlSeconds }, condition: 'NX' });
    const replies = await ctx.redis
      .multi()
      .zRemRangeByScore(index, 0, now)
      .zAdd(index, { score: now + ttlSeconds * 1000, value: hash })
      .zCard(index)
      .pExpire(index, ttlSeconds * 1000)
      .exec();
    const excess = Number(replies[2]) - ctx.config.oauthMaxPendingPerTenant;
    if (excess <= 0) return;
    for (const dropped of await ctx.redis.zPopMinCount(index, excess)) await ctx.redis.del(stateKey(ctx, dropped.value));
  });
}

/** The pending install of a state and how long it still lives (ms), without consuming it. */
export async function peekPendingInstall(ctx: StateContext, state: string): Promise<{ pending: PendingInstall; ttlMs: number } | undefined> {
  const key = stateKey(ctx, sha256Hex(state));
  const [value, ttlMs] = await redisCall(() => Promise.all([ctx.redis.get(key), ctx.redis.pTTL(key)]));
  const pending = parse(value);
  return pending && ttlMs > 0 ? { pending, ttlMs } : undefined;
}

/** Consumes the state (GETDEL: a state works once, even when two callbacks race). */
export async function takePendingInstall(ctx: StateContext, state: string): Promise<PendingInstall | undefined> {
  const hash = sha256Hex(state);
  const pending = parse(await redisCall(() => ctx.redis.getDel(stateKey(ctx, hash))));
  if (pending) await redisCall(() => ctx.redis.zRem(tenantStatesKey(ctx, pending.tenant_id), hash));
  return pending;
}
