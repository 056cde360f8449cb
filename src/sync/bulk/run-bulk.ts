import type { ServiceContext } from '../../context.js';
import type { Logger } from '../../platform/logger.js';
import type { ResourceDefinition } from '../../resources/index.js';
import { ShopifyAccessDeniedError, ShopifyRetriableError } from '../../shopify/errors.js';
import type { GraphqlClient } from '../../shopify/graphql-client.js';
import { bulkSlots, findBulkOperation, startBulkQuery, unfinishedBulkOperations, type BulkOperation } from '../../shopify/graphql/bulk.js';
import { removeChildrenNotExported } from '../../store/bulk-children.js';
import type { Owner } from '../../store/records.js';
import type { Integration } from '../../store/schema.js';
import { abandonOpenSyncLogsOfJob, finishSyncLog, findSyncLog, updateSyncLogBulk, type SyncCounts } from '../../store/sync-logs.js';
import { databaseNow, saveWalkProgress, type SyncWalk } from '../../store/sync-state.js';
import { SyncInterruptedError } from '../errors.js';
import { prefetch, type BulkPosition } from '../pages.js';
import { countRun, finishSucceededRun, graphqlClientFor, openLog, recordFailure, sweepDeleted, type SyncOptions, type SyncRequest, type SyncResult } from '../run-steps.js';
import { assertCurrentInstallation, writePage } from '../write-page.js';
import { BulkFileExpiredError } from './errors.js';
import { bulkFilePages } from './file-pages.js';

/**
 * A full sync as a Shopify bulk operation: start (or adopt) the export, wait for it without holding a
 * worker, then stream its file into MySQL. Each step is saved in the walk (the operation before any
 * wait, the file offset with each page), so a run that stops, for whatever reason, is continued by the
 * next attempt: the same operation, the same log row, from the line it reached.
 *
 * A completed file is a whole snapshot: children a parent no longer has are removed, records not in it
 * are swept as deleted. What a failed operation leaves (`partialDataUrl`) is applied, and the walk goes
 * on paginated from the start (re-reading is harmless); nothing is marked deleted on partial data.
 */
export interface BulkRunArgs {
  req: SyncRequest;
  integration: Integration;
  resource: ResourceDefinition;
  /** The walk an earlier attempt saved (a bulk position), or null for a new one. */
  continued: SyncWalk | null;
  startedAt: Date;
  opts: SyncOptions;
}

/** Operations started again (expired, cancelled, file URL expired) before the walk gives up; the next run starts afresh. */
const MAX_RESTARTS = 3;
/** The run's log row shows the bytes applied at most this stale while a file is applied. */
const PROGRESS_EVERY_MS = 1000;

interface BulkRun {
  ctx: ServiceContext;
  args: BulkRunArgs;
  client: GraphqlClient;
  owner: Owner;
  log: Logger;
  walkStartedAt: Date;
  position: BulkPosition;
  counts: SyncCounts;
  /** Bytes of bulk files applied by this attempt. */
  bytes: number;
  /** Records of the walk (earlier attempts included) whose key could not be read: no sweep then. */
  keyless: number;
  skipped: number;
  /** Newest `updated_at` the walk saw (earlier attempts included). */
  maxSeen: Date | null;
}

export async function runBulkSync(ctx: ServiceContext, args: BulkRunArgs): Promise<SyncResult> {
  const { req, integration, resource, continued, startedAt } = args;
  const saved = continued && typeof continued.position === 'object' && continued.position !== null && 'bulk' in continued.position ? (continued.position as { bulk: BulkPosition }).bulk : null;
  const { logId, counts } = await reopenLog(ctx, req, integration, saved?.logId, startedAt);
  const position: BulkPosition = saved ? { ...saved, logId } : { operation: '', createdAt: '', logId, polls: 0, restarts: 0 };
  const log = ctx.logger.child({ component: 'sync', integrationId: integration.id, resource: resource.name, mode: 'full', logId, bulk: true });
  const run: BulkRun = {
    ctx,
    args,
    log,
    position,
    counts,
    bytes: 0,
    // What the walk's earlier attempts saw counts too: a keyless record before a resume still forbids the sweep.
    keyless: continued?.keyless ?? 0,
    skipped: 0,
    maxSeen: continued?.maxUpdatedAt ?? null,
    client: graphqlClientFor(ctx, integration, args.opts),
    owner: { tenantId: integration.tenant_id, integrationId: integration.id },
    walkStartedAt: continued?.startedAt ?? (await databaseNow(ctx.db)),
  };
  try {
    return await advance(run);
  } catch (error) {
    await recordFailure(ctx, log, integration, logId, counts, false, error, run.position.operation ? { bulk: run.position } : null);
    countRun(ctx, resource.name, error instanceof SyncInterruptedError ? 'interrupted' : 'failed', startedAt, counts);
    throw error;
  }
}

/**
 * The log row of a bulk run stays the same across the attempts that wait for its operation or resume its
 * file, and its counts go on from what the earlier attempts committed (saved with the walk, page by page);
 * a row that is not running any more (closed by an operator, or by a failed job) gives way to a new one.
 */
async function reopenLog(ctx: ServiceContext, req: SyncRequest, integration: Integration, savedLogId: number | undefined, startedAt: Date): Promise<{ logId: number; counts: SyncCounts }> {
  const saved = savedLogId === undefined ? undefined : await findSyncLog(ctx.db, savedLogId);
  if (!saved || saved.status !== 'running' || saved.integration_id !== integration.id) {
    return { logId: await openLog(ctx, req, integration, 'full', startedAt), counts: { pages: 0, records_fetched: 0, records_written: 0, records_deleted: 0 } };
  }
  if (req.jobId) {
    await abandonOpenSyncLogsOfJob(ctx.db, { integrationId: integration.id, resource: req.resource, jobId: req.jobId }, 'Interrupted: the run continued in another row', {
      before: startedAt,
      statuses: ['running'],
      keepId: saved.id,
    });
  }
  return { logId: saved.id, counts: { pages: Number(saved.pages), records_fetched: Number(saved.records_fetched), records_written: Number(saved.records_written), records_deleted: 0 } };
}

async function advance(run: BulkRun): Promise<SyncResult> {
  const { ctx, args, position, log } = run;
  for (;;) {
    if (args.opts.signal?.aborted) throw new SyncInterruptedError();
    if (position.operation === '') {
      const busy = await startOrAdopt(run);
      if (busy) return wait(run, busy);
    }
    const operation = await findBulkOperation(run.client, position.operation);
    if (!operation) {
      log.warn({ operation: position.operation }, 'Shopify no longer knows the bulk operation; starting another');
      await restart(run, 'unknown');
      continue;
    }
    await updateSyncLogBulk(ctx.db, position.logId, { operationId: operation.id, status: operation.status, objectCount: Number(operation.objectCount), bytesDownloaded: position.file?.offset ?? 0 });
    switch (operation.status) {
      case 'CREATED':
      case 'RUNNING':
      case 'CANCELING':
        return wait(run, `${operation.status}, ${operation.objectCount} objects so far`);
      case 'COMPLETED': {
        const applied = await applyFile(run, operation, 'complete');
        if (applied === 'expired') {
          await restart(run, 'file expired');
          continue;
        }
        ctx.metrics.syncBulkOperations.inc({ resource: args.resource.name, outcome: 'completed' });
        return complete(run, operation);
      }
      case 'FAILED':
        return failed(run, operation);
      case 'CANCELED':
      case 'EXPIRED':
        await restart(run, operation.status.toLowerCase());
        continue;
    }
  }
}

/** Adopts an export of the same query already running for this shop (a worker died before saving it), or starts one; a reason when every slot is taken. */
async function startOrAdopt(run: BulkRun): Promise<string | null> {
  const { ctx, args, position, log } = run;
  const query = args.resource.shopify.bulk.query;
  const unfinished = await unfinishedBulkOperations(run.client);
  let operation: BulkOperation | undefined = unfinished.find((op) => op.query === query);
  let observedAt: string;
  if (operation) {
    log.info({ operation: operation.id }, 'bulk operation of this export already running at Shopify; following it');
    ctx.metrics.syncBulkOperations.inc({ resource: args.resource.name, outcome: 'adopted' });
    observedAt = operation.createdAt;
  } else {
    const slots = bulkSlots(run.client.apiVersion);
    if (unfinished.length >= slots) return `the shop's ${slots} bulk operation slot(s) are taken`;
    const requestedAt = Date.now();
    const started = await startBulkQuery(run.client, query);
    if ('busy' in started) return started.busy;
    operation = started.started;
    log.info({ operation: operation.id }, 'bulk operation started');
    ctx.metrics.syncBulkOperations.inc({ resource: args.resource.name, outcome: 'started' });
    // Shopify's createdAt has whole seconds: two exports of a resource started within one second would stamp
    // their rows alike, and the later one would take children only the earlier one saw for its own. The
    // moment the request left is exact to the millisecond and, with clocks in step, no later than the snapshot.
    observedAt = new Date(Math.max(Date.parse(operation.createdAt), requestedAt)).toISOString();
  }
  forgetOperation(position, position.restarts);
  Object.assign(position, { operation: operation.id, createdAt: observedAt });
  await saveBulkPosition(run);
  return null;
}

/** Saved before any wait, in a transaction that checks the installation: a restarted worker follows the same operation. */
async function saveBulkPosition(run: BulkRun): Promise<void> {
  const { args } = run;
  await inInstallation(run)((trx) =>
    saveWalkProgress(trx, args.integration.id, args.resource.name, {
      mode: 'full',
      startedAt: run.walkStartedAt,
      updatedAtMin: null,
      position: { bulk: run.position },
      pageMaxUpdatedAt: null,
      pageKeyless: 0,
    }),
  );
}

async function restart(run: BulkRun, why: string): Promise<void> {
  const { ctx, args, position } = run;
  if (position.restarts >= MAX_RESTARTS) {
    const restarts = position.restarts;
    // Saved fresh, so the job's retry (or the next run) starts over instead of failing here again.
    forgetOperation(position, 0);
    await saveBulkPosition(run);
    throw new ShopifyRetriableError(`the bulk export of ${args.resource.name} was started ${restarts + 1} times without completing (last: ${why})`, { upstreamStatus: 0 });
  }
  ctx.metrics.syncBulkOperations.inc({ resource: args.resource.name, outcome: 'restarted' });
  run.log.info({ operation: position.operation, why }, 'bulk operation to be started again');
  forgetOperation(position, position.restarts + 1);
}

/** The walk lets go of its operation: the next look starts (or adopts) one. */
function forgetOperation(position: BulkPosition, restarts: number): void {
  Object.assign(position, { operation: '', createdAt: '', polls: 0, restarts });
  delete position.file;
}

/** The job waits (no worker held) and looks again after a doubling delay; the finish webhook wakes it sooner. */
async function wait(run: BulkRun, why: string): Promise<SyncResult> {
  const { ctx, position } = run;
  const { bulkPollMinSeconds, bulkPollMaxSeconds } = ctx.config.sync;
  const retryInMs = Math.round(Math.min(bulkPollMaxSeconds, bulkPollMinSeconds * 2 ** Math.min(position.polls, 20)) * 1000);
  position.polls++;
  await saveBulkPosition(run);
  run.log.info({ operation: position.operation || null, why, retryInMs }, 'bulk sync waiting');
  return { status: 'waiting', logId: position.logId, operation: position.operation || null, retryInMs };
}

/**
 * Streams a file into MySQL, page by page, saving the line reached with each page; resumes where an
 * earlier attempt stopped. 'expired' when its URL no longer answers (a new operation is needed).
 */
async function applyFile(run: BulkRun, operation: BulkOperation, kind: 'complete' | 'partial'): Promise<'applied' | 'expired'> {
  const { ctx, args, position, counts, log } = run;
  const url = kind === 'complete' ? operation.url : operation.partialDataUrl;
  if (!url) return 'applied'; // an export of nothing has no file
  const from = position.file?.kind === kind ? position.file : { kind, offset: 0, line: 1 };
  let reached = from.offset;
  if (from.offset > 0) log.info({ kind, offset: from.offset, line: from.line }, 'bulk file resumed at the line an earlier attempt reached');
  const observedAt = new Date(position.createdAt);
  const pages = bulkFilePages(url, args.resource, {
    from,
    mapCtx: { shopCurrency: args.integration.shop_currency },
    log,
    ...(args.opts.signal ? { signal: args.opts.signal } : {}),
  });
  // The log row's byte count is for people watching; the walk saved with each page is what a resume reads.
  const saveBytesApplied = () =>
    updateSyncLogBulk(ctx.db, position.logId, { operationId: operation.id, status: operation.status, objectCount: Number(operation.objectCount), bytesDownloaded: position.file?.offset ?? 0 });
  let progressSavedAt = performance.now();
  try {
    for await (const filePage of prefetch(pages)) {
      if (args.opts.signal?.aborted) throw new SyncInterruptedError();
      const { page } = filePage;
      counts.pages++;
      counts.records_fetched += filePage.lines;
      const file = { kind, offset: filePage.offset, line: filePage.line };
      const walk = { mode: 'full' as const, startedAt: run.walkStartedAt, updatedAtMin: null, position: { bulk: { ...position, file } } };
      counts.records_written += await writePage(
        ctx.db,
        args.resource,
        run.owner,
        page,
        { logId: position.logId, counts, markSeen: true, installation: args.integration.installation, walk },
        observedAt,
      );
      position.file = file;
      ctx.metrics.syncBulkBytes.inc({ resource: args.resource.name }, filePage.offset - reached);
      run.bytes += filePage.offset - reached;
      reached = filePage.offset;
      run.keyless += page.keyless;
      run.skipped += page.skipped;
      if (page.maxUpdatedAt && (!run.maxSeen || page.maxUpdatedAt > run.maxSeen)) run.maxSeen = page.maxUpdatedAt;
      if (performance.now() - progressSavedAt >= PROGRESS_EVERY_MS) {
        await saveBytesApplied();
        progressSavedAt = performance.now();
      }
    }
    await saveBytesApplied();
  } catch (error) {
    if (error instanceof BulkFileExpiredError) return 'expired';
    throw error;
  }
  return 'applied';
}

/** Every write of the run checks, in its transaction, that the store is still this installation. */
function inInstallation(run: BulkRun) {
  const { ctx, args } = run;
  return <T>(work: (trx: Parameters<typeof assertCurrentInstallation>[0]) => Promise<T>): Promise<T> =>
    ctx.db.transaction().execute(async (trx) => {
      await assertCurrentInstallation(trx, args.integration.id, args.integration.installation);
      return work(trx);
    });
}

/** A complete snapshot is applied: children gone at Shopify go, records it lacks are swept, the cursor moves. */
async function complete(run: BulkRun, operation: BulkOperation): Promise<SyncResult> {
  const { ctx, args, position, counts, log } = run;
  const { integration, resource, startedAt } = args;
  const observedAt = new Date(position.createdAt);
  const childrenRemoved = resource.child ? await removeChildrenNotExported(ctx.db, resource, run.owner, observedAt, inInstallation(run)) : 0;
  if (run.keyless === 0) counts.records_deleted = await sweepDeleted(ctx, integration, resource.name, run.walkStartedAt, startedAt);
  const result = await finishSucceededRun(ctx, {
    integration,
    resource: resource.name,
    logId: position.logId,
    mode: 'full',
    startedAt,
    walkStartedAt: run.walkStartedAt,
    counts,
    maxSeen: run.maxSeen,
    recordsSkipped: run.skipped,
    pageCapReached: false,
    walkComplete: true,
    resumesFrom: null,
  });
  log.info({ ...counts, operation: operation.id, objects: operation.objectCount, bytes: run.bytes, childrenRemoved, ms: Date.now() - startedAt.getTime() }, 'bulk sync succeeded');
  return result;
}

/**
 * ACCESS_DENIED fails the run, naming the scopes the export needs (the next run starts a new
 * operation). TIMEOUT and INTERNAL_SERVER_ERROR: the partial data is applied, and the walk goes on
 * paginated from the start in the next attempt, which may then sweep; nothing is swept on partial data.
 */
async function failed(run: BulkRun, operation: BulkOperation): Promise<SyncResult> {
  const { ctx, args, position, counts, log } = run;
  const { resource } = args;
  ctx.metrics.syncBulkOperations.inc({ resource: resource.name, outcome: operation.errorCode === 'ACCESS_DENIED' ? 'failed' : 'partial' });
  if (operation.errorCode === 'ACCESS_DENIED') {
    const scopes = resource.shopify.bulk.scopes;
    forgetOperation(position, position.restarts);
    await saveBulkPosition(run);
    throw new ShopifyAccessDeniedError(
      `Shopify denied the bulk export of ${resource.name} (ACCESS_DENIED): the token lacks a scope it needs (${scopes.join(', ')}); grant it and reconnect`,
      { upstreamStatus: 403 },
      scopes[0],
    );
  }
  const partial = operation.partialDataUrl ? await applyFile(run, operation, 'partial') : 'applied';
  await inInstallation(run)((trx) =>
    saveWalkProgress(trx, args.integration.id, resource.name, {
      mode: 'full',
      startedAt: run.walkStartedAt,
      updatedAtMin: null,
      position: { after: '' },
      pageMaxUpdatedAt: run.maxSeen,
      pageKeyless: 0, // each page saved its own keyless records with it
    }),
  );
  const what = partial === 'expired' ? 'its partial data had expired' : operation.partialDataUrl ? `its partial data was applied (${run.bytes} bytes)` : 'it left no partial data';
  const note = `Shopify's bulk operation failed (${operation.errorCode ?? 'no error code'}); ${what}; the walk continues paginated from the start in the next run`;
  await finishSyncLog(ctx.db, position.logId, { ...counts, status: 'succeeded', page_cap_reached: false, error: note, resumes_from: 'paginated, from the start' });
  log.warn({ operation: operation.id, errorCode: operation.errorCode, bytes: run.bytes }, 'bulk operation failed; continuing paginated');
  countRun(ctx, resource.name, 'succeeded', args.startedAt, counts);
  return { status: 'waiting', logId: position.logId, operation: operation.id, retryInMs: 0 };
}
