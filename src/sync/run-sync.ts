import type { ServiceContext } from '../context.js';
import { RESOURCES, type ResourceName } from '../resources/index.js';
import { findIntegrationById, isConnected } from '../store/integrations.js';
import type { Owner } from '../store/records.js';
import type { Integration } from '../store/schema.js';
import { abandonSyncLog, type SyncCounts } from '../store/sync-logs.js';
import { databaseNow, getSyncState, type SyncState, type SyncWalk } from '../store/sync-state.js';
import { IntegrationDisconnectedError, SyncInterruptedError } from './errors.js';
import { describePosition, graphqlRecordPages, prefetch, recordPages, type RecordPages, type WalkPosition } from './pages.js';
import type { SyncMode } from './queue.js';
import { clientFor, countRun, finishSucceededRun, graphqlClientFor, openLog, recordFailure, sweepDeleted, type SyncOptions, type SyncRequest, type SyncResult } from './run-steps.js';
import { mapPage, writePage } from './write-page.js';
import { runBulkSync } from './bulk/run-bulk.js';

export type { SyncOptions, SyncRequest, SyncResult } from './run-steps.js';

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

/**
 * A full walk runs as a bulk operation (SYNC_FULL_VIA_BULK, over GraphQL), unless it continues a walk
 * begun paginated (what a failed operation leaves to read).
 */
function viaBulk(ctx: ServiceContext, continued: SyncWalk | null): boolean {
  if (!ctx.config.sync.fullViaBulk || ctx.config.shopify.syncApi !== 'graphql') return false;
  return continued === null || (typeof continued.position === 'object' && continued.position !== null && 'bulk' in continued.position);
}

function isWalkPosition(value: unknown): value is WalkPosition {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const bulk = v.bulk as Record<string, unknown> | undefined;
  return (
    Number.isSafeInteger(v.sinceId) ||
    Number.isSafeInteger(v.locationAfter) ||
    typeof v.after === 'string' ||
    (typeof bulk === 'object' && bulk !== null && typeof bulk.operation === 'string' && Number.isSafeInteger(bulk.logId))
  );
}

/**
 * The pages of a walk from the Admin API that SHOPIFY_SYNC_API names: GraphQL (the default: every
 * variant, cost-limited, in `updated_at` order) or REST (`since_id` order, at most 100 variants).
 */
function walkPages(
  ctx: ServiceContext,
  integration: Integration,
  resource: (typeof RESOURCES)[ResourceName],
  walk: { updatedAtMin: Date | null; from: WalkPosition | null },
  opts: SyncOptions,
): RecordPages {
  const { maxPages, pageSize } = ctx.config.sync;
  if (ctx.config.shopify.syncApi === 'graphql') {
    return graphqlRecordPages(graphqlClientFor(ctx, integration, opts), resource, { updatedAtMin: walk.updatedAtMin, from: walk.from, pageSize, maxPages });
  }
  const params = walk.updatedAtMin ? { updated_at_min: walk.updatedAtMin.toISOString() } : {};
  return recordPages(clientFor(ctx, integration, opts), resource, params, maxPages, { from: walk.from, pageSize });
}

/**
 * One sync run of one resource of one integration, driven by the registry:
 * pages from Shopify (two pages fetched ahead) → map → order-free upsert, one transaction per page →
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
    const reason = stale ? 'The store was connected again since this sync was queued (another installation); the run was skipped' : 'The integration is not connected any more; the run was skipped';
    if (req.logId !== undefined) await abandonSyncLog(ctx.db, req.logId, reason);
    ctx.metrics.syncRuns.inc({ resource: req.resource, outcome: 'skipped' });
    return { status: 'skipped', reason };
  }
  // Every write of this run checks, in its transaction, that the store is still this installation.
  const installation = integration.installation;

  const startedAt = new Date();
  const state = await getSyncState(ctx.db, integration.id, req.resource);
  const requested = effectiveMode(ctx, req, state, startedAt);
  const continued = walkToContinue(state, requested);
  const mode = continued?.mode ?? requested;
  if (mode === 'full' && viaBulk(ctx, continued)) return runBulkSync(ctx, { req, integration, resource, continued, startedAt, opts });
  // The sweep compares `synced_at` (written with the database's clock) with the database's clock.
  const walkStartedAt = continued?.startedAt ?? (await databaseNow(ctx.db));
  const updatedAtMin = continued ? continued.updatedAtMin : mode === 'incremental' && state.cursorUpdatedAt ? new Date(state.cursorUpdatedAt.getTime() - ctx.config.sync.overlapSeconds * 1000) : null;
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
    for await (const page of prefetch(walkPages(ctx, integration, resource, { updatedAtMin, from: resumeAt }, opts))) {
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
    if (walkComplete && mode === 'full' && keyless === 0) counts.records_deleted = await sweepDeleted(ctx, integration, req.resource, walkStartedAt, startedAt);
    const sweepMs = Math.round(performance.now() - sweepStarted);
    const resumesFrom = walkComplete || !resumeAt ? null : describePosition(resumeAt);
    const result = await finishSucceededRun(ctx, {
      integration,
      resource: req.resource,
      logId,
      mode,
      startedAt,
      walkStartedAt,
      counts,
      maxSeen,
      recordsSkipped,
      pageCapReached,
      walkComplete,
      resumesFrom,
    });
    log.info(
      { ...counts, pageCapReached, walkComplete, resumesFrom, ms: Date.now() - startedAt.getTime(), sweepMs },
      walkComplete ? 'sync succeeded' : 'sync stopped at the page cap; the next run continues the walk',
    );
    return result;
  } catch (error) {
    await recordFailure(ctx, log, integration, logId, counts, pageCapReached, error, resumeAt);
    countRun(ctx, req.resource, error instanceof SyncInterruptedError || error instanceof IntegrationDisconnectedError ? 'interrupted' : 'failed', startedAt, counts);
    throw error;
  }
}
