import type { ServiceContext } from '../context.js';
import { errorMessage } from '../errors.js';
import { TokenGrantRefusedError } from '../shopify/token-grants.js';
import { integrationTokenSource } from '../store/integration-tokens.js';
import { listNonExpiringOAuthIntegrations, tokenHealth } from '../store/integrations.js';
import type { Integration } from '../store/schema.js';

/**
 * Shopify invalidates the non-expiring offline tokens of public apps on 2027-01-01: every stored one
 * (OAuth installs made before expiring tokens) is exchanged for an expiring pair (token exchange with
 * `expiring=1`). Idempotent and crash-safe: each store is exchanged under its renewal lock and the
 * original token stays stored until the new pair replaces it in one fenced write; a run killed between
 * Shopify's answer and that write leaves the original, and the next run (or the store's next 401)
 * exchanges it again — Shopify answers the same pair for seven days.
 */
export interface TokenMigrationResult {
  dryRun: boolean;
  /** Stores holding a non-expiring OAuth token when the run looked. */
  candidates: number;
  migrated: number;
  /** Shopify refused the exchange (token revoked, app uninstalled): left as they are. */
  refused: number;
  /** No answer or another failure: tried again by the next run. */
  failed: number;
  remaining: number;
}

export interface TokenMigrationOptions {
  dryRun?: boolean;
  batchSize?: number;
  /** Stores exchanged at once. */
  concurrency?: number;
  signal?: AbortSignal;
}

export async function migrateNonExpiringTokens(ctx: ServiceContext, opts: TokenMigrationOptions = {}): Promise<TokenMigrationResult> {
  const log = ctx.logger.child({ component: 'token-migration' });
  const result: TokenMigrationResult = { dryRun: opts.dryRun ?? false, candidates: 0, migrated: 0, refused: 0, failed: 0, remaining: 0 };
  if (!ctx.config.shopify.expiringTokens) {
    log.info('expiring tokens are turned off (SHOPIFY_EXPIRING_TOKENS=false): nothing to migrate');
    return { ...result, remaining: (await tokenHealth(ctx.db)).nonExpiringOAuth };
  }
  const batchSize = opts.batchSize ?? 200;
  const concurrency = Math.max(1, opts.concurrency ?? 8);
  let afterId = 0;
  for (;;) {
    if (opts.signal?.aborted) break;
    const batch = await listNonExpiringOAuthIntegrations(ctx.db, { afterId, limit: batchSize });
    if (batch.length === 0) break;
    afterId = batch[batch.length - 1]!.id;
    result.candidates += batch.length;
    if (result.dryRun) continue;
    const queue = [...batch];
    await Promise.all(
      Array.from({ length: Math.min(concurrency, queue.length) }, async () => {
        for (let next = queue.shift(); next && !opts.signal?.aborted; next = queue.shift()) await migrateOne(ctx, next, result, log);
      }),
    );
    log.info({ migrated: result.migrated, refused: result.refused, failed: result.failed, candidatesSoFar: result.candidates }, 'token migration progress');
  }
  const health = await tokenHealth(ctx.db);
  result.remaining = health.nonExpiringOAuth;
  setTokenGauges(ctx, health);
  log.info({ ...result }, result.dryRun ? 'token migration (dry run): stores that would be migrated' : 'token migration finished');
  return result;
}

async function migrateOne(ctx: ServiceContext, integration: Integration, result: TokenMigrationResult, log: ServiceContext['logger']): Promise<void> {
  try {
    const tokens = await integrationTokenSource(ctx, integration).renewNow();
    if (tokens.accessTokenExpiresAt !== null) {
      result.migrated++;
      ctx.metrics.tokenMigrations.inc({ outcome: 'migrated' });
    }
  } catch (error) {
    const refused = error instanceof TokenGrantRefusedError;
    if (refused) result.refused++;
    else result.failed++;
    ctx.metrics.tokenMigrations.inc({ outcome: refused ? 'refused' : 'failed' });
    log.warn(
      { integrationId: integration.id, shop: integration.shop_domain, error: errorMessage(error) },
      refused ? 'Shopify refused to exchange the token; left as it is' : 'token exchange failed; the next run tries again',
    );
  }
}

/** The token gauges: stores left to migrate, the earliest refresh-token expiry, stores awaiting reauthorization. */
export function setTokenGauges(ctx: Pick<ServiceContext, 'metrics'>, health: Awaited<ReturnType<typeof tokenHealth>>): void {
  ctx.metrics.tokensNonExpiring.set(health.nonExpiringOAuth);
  ctx.metrics.tokensReauthorizationRequired.set(health.reauthorizationRequired);
  if (health.earliestRefreshExpiry) ctx.metrics.refreshTokenEarliestExpiry.set(Math.round((health.earliestRefreshExpiry.getTime() - Date.now()) / 1000));
}

/**
 * The worker's token maintenance, at start and every SHOPIFY_TOKEN_MAINTENANCE_INTERVAL seconds: migrate
 * what is left, then refresh the gauges. A Redis lock held for most of the interval makes one worker
 * process do it per tick; a failed pass is logged and tried again at the next tick. Returns the stop.
 */
export function startTokenMaintenance(ctx: ServiceContext): () => Promise<void> {
  const everyMs = ctx.config.shopify.tokenMaintenanceIntervalSeconds * 1000;
  if (everyMs <= 0) return async () => undefined;
  const lockKey = ctx.keys.key('maintenance', 'tokens');
  const stopping = new AbortController();
  const pass = async () => {
    try {
      const won = await ctx.redis.set(lockKey, String(process.pid), { expiration: { type: 'PX', value: Math.max(1000, everyMs - 1000) }, condition: 'NX' });
      if (won !== 'OK') {
        setTokenGauges(ctx, await tokenHealth(ctx.db));
        return;
      }
      await migrateNonExpiringTokens(ctx, { signal: stopping.signal });
    } catch (error) {
      ctx.logger.warn({ err: errorMessage(error) }, 'token maintenance failed; next try at the next tick');
    }
  };
  let running = pass();
  const timer = setInterval(() => {
    running = pass();
  }, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    stopping.abort();
    await running;
  };
}
