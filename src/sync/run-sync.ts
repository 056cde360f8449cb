import type { ServiceContext } from '../context.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../platform/logger.js';
import { shopifyClientObserver } from '../platform/metrics.js';
import { RESOURCES, type ResourceName } from '../resources/index.js';
import { createShopifyClient, type ShopifyClient } from '../shopify/admin-client.js';
import { ShopifyUnauthorizedError } from '../shopify/errors.js';
import { createShopifyGraphqlClient, type GraphqlClient } from '../shopify/graphql-client.js';
import { openAccessToken } from '../store/integration-secrets.js';
import { integrationTokenSource } from '../store/integration-tokens.js';
import { findIntegrationById, isConnected, markError, markSuccess, markTokenRevoked } from '../store/integrations.js';
import type { Owner } from '../store/records.js';
import type { Integration } from '../store/schema.js';
import { abandonOpenSyncLogsOfJob, abandonSyncLog, claimQueuedSyncLog, createSyncLog, finishSyncLog, type SyncCounts } from '../store/sync-logs.js';
import { databaseNow, getSyncState, markUnseenRecordsDeleted, saveSyncCompleted, type SyncState, type SyncWalk } from '../store/sync-state.js';
import { IntegrationDisconnectedError, SyncInterruptedError } from './errors.js';
import { describePosition, graphqlRecordPages, prefetchOne, recordPages, type RecordPages, type WalkPosition } from './pages.js';
import type { SyncMode, SyncTrigger } from './queue.js';
import { assertCurrentInstallation, mapPage, writePage } from './write-page.js';

export interface SyncRequest {
  integrationId: number;
  /** The installation the run belongs to (absent: the current one when the run starts). */
  installation?: number;
  resource: ResourceName;
  mode: SyncMode;
  trigger: SyncTrigger;
  jobId: string | null;
  /** A `queued` log row written at enqueue time, taken over by this run. */
  logId?: number;
  /** The job's last recorded failure, if an earlier attempt failed (quoted when closing the runs it left open). */
  lastJobError?: string;
}

export interface SyncOptions {
  /** Stops the run between two pages (worker shutdown). */
  signal?: AbortSignal;
  /** Replaces the Shopify REST client (benchmarks: rate limiter off). */
  createClient?: (integration: Integration, accessToken: string) => ShopifyClient;
  /** Replaces the Shopify GraphQL client (benchmarks: cost limiter off). */
  createGraphqlClient?: (integration: Integration, accessToken: string) => GraphqlClient;
}

export type SyncResult =
  | { status: 'skipped'; reason: string }
  | {
      status: 'succeeded'; logId: number; mode: SyncMode; counts: SyncCounts; pageCapReached: boolean; recordsSkipped: number;
      /** False when the page cap stopped the walk: the next run continues it from `resumesFrom`. */
      walkComplete: boolean; resumesFrom: string | null;
    };

/**
 * Which run this is. A scheduled incremental becomes full when the last full run is older than
 * SYNC_FULL_EVERY_SECONDS (only a full run finds deletions), and a first run is always full.
 */
function effectiveMode(ctx: ServiceContext, req: SyncRequest, state: SyncState, now: Date): SyncMode {
  if (req.mode === 'full') return 'full';
  if (state.cursorUpdatedAt === null && state.lastFullSyncAt === null) return 'full';
  const every = ctx.config.sync.fullSyncEverySeconds * 1000;
  const fullDue = every > 0 && (state.lastFullSyncAt === null || now.getTime() - state.lastFullSyncAt.getTime() >= every);
  return req.trigger === 'scheduled' && fullDue ? 'full' : 'incremental';
}

/**
 * The walk an earlier run left unfinished is continued, unless a full run is due and the walk is only
 * incremental (a full walk covers what an incremental one would read). Continuing, instead of starting
 * at page 1 again, is what lets a store larger than one run's page cap converge.
 */
function walkToContinue(state: SyncState, mode: SyncMode): SyncWalk | null {
  const walk = state.walk;
  if (!walk || !isWalkPosition(walk.position)) return null;
  return walk.mode === 'full' || mode === 'incremental' ? walk : null;
}

function isWalkPosition(value: unknown): value is WalkPosition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return Number.isSafeInteger(v.sinceId) || Number.isSafeInteger(v.locationAfter) || typeof v.after === 'string';
}

/**
 * The queued row of this job becomes the running one; otherwise (a retry, a re-run after a crash) a new
 * row. Rows of the same job that earlier attempts left open (their worker was killed) are closed, each
 * of them and not only the first one, however many times the job was interrupted.
 */
async function openLog(ctx: ServiceContext, req: SyncRequest, integration: Integration, mode: SyncMode, startedAt: Date): Promise<number> {
  const jobId = req.jobId ?? null;
  const logId = req.logId !== undefined && (await claimQueuedSyncLog(ctx.db, req.logId, { mode, job_id: jobId ?? '', started_at: startedAt }))
    ? req.logId
    : await createLog(ctx, req, integration, mode, startedAt);
  if (jobId !== null) {
    await abandonOpenSyncLogsOfJob(ctx.db, { integrationId: integration.id, resource: req.resource, jobId }, interruptedReason(req.lastJobError), { before: startedAt, statuses: ['running'], keepId: logId });
  }
  return logId;
}

/** Why a run was left open: its worker died, or MySQL was away when the attempt failed (the job's error says which). */
const interruptedReason = (lastJobError: string | undefined) =>
  `Interrupted: the attempt ended without closing this run (its worker stopped, or MySQL was unreachable${lastJobError ? `; last job error: ${lastJobError}` : ''}); the job ran again`;

function createLog(ctx: ServiceContext, req: SyncRequest, integration: Integration, mode: SyncMode, startedAt: Date): Promise<number> {
  const jobId = req.jobId ?? null;
  return createSyncLog(ctx.db, {
    tenant_id: integration.tenant_id,
    integration_id: integration.id,
    resource: req.resource,
    trigger: req.trigger,
    mode,
    status: 'running',
    job_id: jobId,
    started_at: startedAt,
  });
}

function clientDeps(ctx: ServiceContext) {
  return { redis: ctx.redis, keys: ctx.keys, logger: ctx.logger, config: ctx.config.shopify, maxPages: ctx.config.sync.maxPages, observer: shopifyClientObserver(ctx.metrics) };
}

function clientFor(ctx: ServiceContext, integration: Integration, opts: SyncOptions): ShopifyClient {
  // Every page asks the source for the token: one that expires mid-run is renewed and the run goes on.
  const tokens = integrationTokenSource(ctx, integration);
  if (opts.createClient) return opts.createClient(integration, openAccessToken(ctx.secrets, integration));
  return createShopifyClient(clientDeps(ctx), { shopDomain: integration.shop_domain, apiVersion: integration.api_version, tokens });
}

function graphqlClientFor(ctx: ServiceContext, integration: Integration, opts: SyncOptions): GraphqlClient {
  if (opts.createGraphqlClient) return opts.createGraphqlClient(integration, openAccessToken(ctx.secrets, integration));
  const tokens = integrationTokenSource(ctx, integration);
  return createShopifyGraphqlClient(clientDeps(ctx), { shopDomain: integration.shop_domain, apiVersion: integration.api_version, tokens });
}

/**
 * The pages of a walk from the Admin API that SHOPIFY_SYNC_API names: GraphQL (the default: every
 * variant, cost-limited, in `updated_at` order) or REST (`since_id` order, at most 100 variants).
 */
function walkPages(ctx: ServiceContext, integration: Integration, resource: (typeof RESOURCES)[ResourceName], walk: { updatedAtMin: Date | null; from: WalkPosition | null }, opts: SyncOptions): RecordPages {
  const { maxPages, pageSize } = ctx.config.sync;
  if (ctx.config.shopify.syncApi === 'graphql') {
    return graphqlRecordPages(graphqlClientFor(ctx, integration, opts), resource, { updatedAtMin: walk.updatedAtMin, from: walk.from, pageSize, maxPages });
  }
  const params = walk.updatedAtMin ? { updated_at_min: walk.updatedAtMin.toISOString() } : {};
  return recordPages(clientFor(ctx, integration, opts), resource, params, maxPages, { from: walk.from, pageSize });
}

/**
 * One sync run of one resource of one integration, driven by the registry:
 * pages from Shopify (one page prefetched) → map → order-free upsert, one transaction per page →
 * (full) sweep of rows Shopify no longer has → cursor → sync log.
 *
 * A walk (every page of a full or incremental read) may span runs: each page saves, with its rows,
 * where the walk continues (GraphQL's cursor; over REST `since_id`, or the location batch for
 * inventory), so a run stopped by the page cap or a failure is continued by the next run instead of
 * starting at page 1 again. A full walk's deletion sweep runs only once the walk is complete: it marks
 * deleted what the walk, since its first run began, has not seen. The `updated_at` cursor moves with
 * each page when pages come in `updated_at` order (GraphQL's `sortKey: UPDATED_AT`); REST pages come in
 * id order, where the newest `updated_at` seen so far says nothing about the pages not read yet, so
 * there it moves only once the walk is complete.
 */
export async function runSync(ctx: ServiceContext, req: SyncRequest, opts: SyncOptions = {}): Promise<SyncResult> {
  const resource = RESOURCES[req.resource];
  const integration = await findIntegrationById(ctx.db, req.integrationId);
  const stale = integration && req.installation !== undefined && integration.installation !== req.installation;
  if (!integration || !isConnected(integration) || stale) {
    const reason = stale
      ? 'The store was connected again since this sync was queued (another installation); the run was skipped'
      : 'The integration is not connected any more; the run was skipped';
    if (req.logId !== undefined) await abandonSyncLog(ctx.db, req.logId, reason);
    ctx.metrics.syncRuns.inc({ resource: req.resource, outcome: 'skipped' });
    return { status: 'skipped', reason };
  }
  // Every write of this run checks, in its transaction, that the store is still this installation.
  const installation = integration.installation;
  const guard = (trx: Parameters<typeof assertCurrentInstallation>[0]) => assertCurrentInstallation(trx, integration.id, installation);

  const startedAt = new Date();
  const state = await getSyncState(ctx.db, integration.id, req.resource);
  const requested = effectiveMode(ctx, req, state, startedAt);
  const continued = walkToContinue(state, requested);
  const mode = continued?.mode ?? requested;
  // The sweep compares `synced_at` (written with the database's clock) with the database's clock.
  const walkStartedAt = continued?.startedAt ?? (await databaseNow(ctx.db));
  const updatedAtMin = continued
    ? continued.updatedAtMin
    : mode === 'incremental' && state.cursorUpdatedAt ? new Date(state.cursorUpdatedAt.getTime() - ctx.config.sync.overlapSeconds * 1000) : null;
  const logId = await openLog(ctx, req, integration, mode, startedAt);
  const log = ctx.logger.child({ component: 'sync', integrationId: integration.id, resource: req.resource, mode, logId });
  const owner: Owner = { tenantId: integration.tenant_id, integrationId: integration.id };
  const counts: SyncCounts = { pages: 0, records_fetched: 0, records_written: 0, records_deleted: 0 };
  let pageCapReached = false;
  let recordsSkipped = 0;
  let keyless = continued?.keyless ?? 0;
  let maxSeen: Date | null = continued?.maxUpdatedAt ?? null;
  let resumeAt = (continued?.position ?? null) as WalkPosition | null;
  if (continued) log.info({ walkStartedAt: continued.startedAt, from: describePosition(resumeAt as WalkPosition) }, 'sync continues an unfinished walk');

  try {
    const mapCtx = { shopCurrency: integration.shop_currency };
    for await (const page of prefetchOne(walkPages(ctx, integration, resource, { updatedAtMin, from: resumeAt }, opts))) {
      if (opts.signal?.aborted) throw new SyncInterruptedError();
      const mapped = mapPage(resource, page.items, mapCtx, log);
      counts.pages++;
      counts.records_fetched += page.items.length;
      recordsSkipped += mapped.skipped;
      keyless += mapped.keyless;
      if (mapped.maxUpdatedAt && (!maxSeen || mapped.maxUpdatedAt > maxSeen)) maxSeen = mapped.maxUpdatedAt;
      const walk = page.resumeAt ? { mode, startedAt: walkStartedAt, updatedAtMin, position: page.resumeAt } : undefined;
      // In `updated_at` order this page's newest record is the walk's frontier (never past the walk's start).
      const frontier = page.orderedByUpdatedAt && mapped.maxUpdatedAt ? new Date(Math.min(mapped.maxUpdatedAt.getTime(), walkStartedAt.getTime())) : undefined;
      const progress = { logId, counts, markSeen: mode === 'full', installation, ...(walk ? { walk } : {}), ...(frontier ? { advanceCursorTo: frontier } : {}) };
      counts.records_written += await writePage(ctx.db, resource, owner, mapped, progress, page.requestedAt);
      resumeAt = page.resumeAt;
      if (page.capReached) pageCapReached = true;
    }

    // Only a walk that reached the end, across however many runs, may sweep or move the cursor: a capped
    // walk, or a record whose key could not be read, would make present records look deleted.
    const walkComplete = !pageCapReached;
    const sweepStarted = performance.now();
    if (walkComplete && mode === 'full' && keyless === 0) counts.records_deleted = await sweepDeleted(ctx, integration, req.resource, walkStartedAt, startedAt, guard);
    const sweepMs = Math.round(performance.now() - sweepStarted);
    const finishedAt = new Date();
    // Never past the walk's start: what changed during the walk is read again by the next one.
    const cursor = maxSeen ? new Date(Math.min(maxSeen.getTime(), walkStartedAt.getTime())) : null;
    await ctx.db.transaction().execute(async (trx) => {
      await assertCurrentInstallation(trx, integration.id, installation, 'update');
      if (walkComplete) await saveSyncCompleted(trx, integration.id, req.resource, { cursor, mode, at: finishedAt });
      await markSuccess(trx, integration.id, finishedAt);
    });
    const resumesFrom = walkComplete || !resumeAt ? null : describePosition(resumeAt);
    const note = recordsSkipped > 0 ? `${recordsSkipped} record(s) could not be mapped and were skipped (see the worker log)` : null;
    await finishSyncLog(ctx.db, logId, { ...counts, status: 'succeeded', page_cap_reached: pageCapReached, error: note, finished_at: finishedAt, resumes_from: resumesFrom });
    log.info({ ...counts, pageCapReached, walkComplete, resumesFrom, ms: finishedAt.getTime() - startedAt.getTime(), sweepMs }, walkComplete ? 'sync succeeded' : 'sync stopped at the page cap; the next run continues the walk');
    countRun(ctx, req.resource, 'succeeded', startedAt, counts);
    return { status: 'succeeded', logId, mode, counts, pageCapReached, recordsSkipped, walkComplete, resumesFrom };
  } catch (error) {
    await recordFailure(ctx, log, integration, logId, counts, pageCapReached, error, resumeAt);
    countRun(ctx, req.resource, error instanceof SyncInterruptedError || error instanceof IntegrationDisconnectedError ? 'interrupted' : 'failed', startedAt, counts);
    throw error;
  }
}

/** Metrics of a finished run; records written before a failure count too (they are in MySQL). */
function countRun(ctx: ServiceContext, resource: ResourceName, outcome: 'succeeded' | 'failed' | 'interrupted', startedAt: Date, counts: SyncCounts): void {
  const m = ctx.metrics;
  m.syncRuns.inc({ resource, outcome });
  m.syncDuration.observe({ resource }, (Date.now() - startedAt.getTime()) / 1000);
  m.syncRecords.inc({ resource, kind: 'fetched' }, counts.records_fetched);
  m.syncRecords.inc({ resource, kind: 'written' }, counts.records_written);
  m.syncRecords.inc({ resource, kind: 'deleted' }, counts.records_deleted);
}

async function recordFailure(ctx: ServiceContext, log: Logger, integration: Integration, logId: number, counts: SyncCounts, pageCapReached: boolean, error: unknown, resumeAt: WalkPosition | null) {
  const message = errorMessage(error);
  // The pages written before the failure are saved with the walk's position: the next run continues there.
  const resumesFrom = resumeAt ? describePosition(resumeAt) : null;
  await finishSyncLog(ctx.db, logId, { ...counts, status: 'failed', page_cap_reached: pageCapReached, error: message, resumes_from: resumesFrom }).catch((e) => log.error({ err: e }, 'could not record the failed sync'));
  if (error instanceof SyncInterruptedError || error instanceof IntegrationDisconnectedError) {
    log.info({ reason: message }, 'sync stopped');
    return;
  }
  // A 401 to this run's token revokes nothing when a connect saved another token since (a reinstall).
  if (error instanceof ShopifyUnauthorizedError) await markTokenRevoked(ctx.db, integration.id, integration.installed_at).catch(() => undefined);
  await markError(ctx.db, integration.id, message).catch(() => undefined);
  log.warn({ err: message }, 'sync failed');
}

type SweepGuard = NonNullable<Parameters<typeof markUnseenRecordsDeleted>[4]>['guard'];

/** Marks what a complete full walk (begun at `sweepFrom`, maybe several runs ago) did not see as deleted (see markUnseenRecordsDeleted). */
function sweepDeleted(ctx: ServiceContext, integration: Integration, name: ResourceName, sweepFrom: Date, startedAt: Date, guard: SweepGuard): Promise<number> {
  const owner: Owner = { tenantId: integration.tenant_id, integrationId: integration.id };
  // A resource Shopify lists only recently without a scope (orders) is swept only as far back as it lists.
  const limit = RESOURCES[name].sweepLimit;
  const limited = limit !== undefined && !integration.scopes.split(/[\s,]+/).includes(limit.scope);
  const opts = limited ? { createdSince: new Date(startedAt.getTime() - limit.createdWithinDays * 86_400_000) } : {};
  return markUnseenRecordsDeleted(ctx.db, RESOURCES[name], owner, sweepFrom, { ...opts, guard });
}
