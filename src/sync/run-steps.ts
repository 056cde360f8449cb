import type { Transaction } from 'kysely';
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
import { markError, markSuccess, markTokenRevoked } from '../store/integrations.js';
import type { Owner } from '../store/records.js';
import type { Database, Integration } from '../store/schema.js';
import { abandonOpenSyncLogsOfJob, claimQueuedSyncLog, createSyncLog, finishSyncLog, type SyncCounts } from '../store/sync-logs.js';
import { markUnseenRecordsDeleted } from '../store/record-sweeps.js';
import { saveSyncCompleted } from '../store/sync-state.js';
import { IntegrationDisconnectedError, SyncInterruptedError } from './errors.js';
import { describePosition, type WalkPosition } from './pages.js';
import type { SyncMode, SyncTrigger } from './queue.js';
import { assertCurrentInstallation } from './write-page.js';

/**
 * What every sync run is made of, whichever way it reads the store (pages, a bulk file): its request
 * and result, its log row, its Shopify clients, its deletion sweep, its failure and its metrics.
 */
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
  /** A bulk operation runs at Shopify: the job waits (holding no worker) and looks again after `retryInMs`, or when woken. */
  | { status: 'waiting'; logId: number; operation: string | null; retryInMs: number }
  | {
      status: 'succeeded';
      logId: number;
      mode: SyncMode;
      counts: SyncCounts;
      pageCapReached: boolean;
      recordsSkipped: number;
      /** False when the page cap stopped the walk: the next run continues it from `resumesFrom`. */
      walkComplete: boolean;
      resumesFrom: string | null;
    };

/**
 * The queued row of this job becomes the running one; otherwise (a retry, a re-run after a crash) a new
 * row. Rows of the same job that earlier attempts left open (their worker was killed) are closed, each
 * of them and not only the first one, however many times the job was interrupted.
 */
export async function openLog(ctx: ServiceContext, req: SyncRequest, integration: Integration, mode: SyncMode, startedAt: Date): Promise<number> {
  const jobId = req.jobId ?? null;
  const logId =
    req.logId !== undefined && (await claimQueuedSyncLog(ctx.db, req.logId, { mode, job_id: jobId ?? '', started_at: startedAt }))
      ? req.logId
      : await createLog(ctx, req, integration, mode, startedAt);
  if (jobId !== null) {
    await abandonOpenSyncLogsOfJob(ctx.db, { integrationId: integration.id, resource: req.resource, jobId }, interruptedReason(req.lastJobError), {
      before: startedAt,
      statuses: ['running'],
      keepId: logId,
    });
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

export function clientDeps(ctx: ServiceContext) {
  return { redis: ctx.redis, keys: ctx.keys, logger: ctx.logger, config: ctx.config.shopify, maxPages: ctx.config.sync.maxPages, observer: shopifyClientObserver(ctx.metrics) };
}

export function clientFor(ctx: ServiceContext, integration: Integration, opts: SyncOptions): ShopifyClient {
  // Every page asks the source for the token: one that expires mid-run is renewed and the run goes on.
  const tokens = integrationTokenSource(ctx, integration);
  if (opts.createClient) return opts.createClient(integration, openAccessToken(ctx.secrets, integration));
  return createShopifyClient(clientDeps(ctx), { shopDomain: integration.shop_domain, apiVersion: integration.api_version, tokens });
}

export function graphqlClientFor(ctx: ServiceContext, integration: Integration, opts: SyncOptions): GraphqlClient {
  if (opts.createGraphqlClient) return opts.createGraphqlClient(integration, openAccessToken(ctx.secrets, integration));
  const tokens = integrationTokenSource(ctx, integration);
  return createShopifyGraphqlClient(clientDeps(ctx), { shopDomain: integration.shop_domain, apiVersion: integration.api_version, tokens });
}

/** Metrics of a finished run; records written before a failure count too (they are in MySQL). */
export function countRun(ctx: ServiceContext, resource: ResourceName, outcome: 'succeeded' | 'failed' | 'interrupted', startedAt: Date, counts: SyncCounts): void {
  const m = ctx.metrics;
  m.syncRuns.inc({ resource, outcome });
  m.syncDuration.observe({ resource }, (Date.now() - startedAt.getTime()) / 1000);
  m.syncRecords.inc({ resource, kind: 'fetched' }, counts.records_fetched);
  m.syncRecords.inc({ resource, kind: 'written' }, counts.records_written);
  m.syncRecords.inc({ resource, kind: 'deleted' }, counts.records_deleted);
}

export async function recordFailure(
  ctx: ServiceContext,
  log: Logger,
  integration: Integration,
  logId: number,
  counts: SyncCounts,
  pageCapReached: boolean,
  error: unknown,
  resumeAt: WalkPosition | null,
) {
  const message = errorMessage(error);
  // The pages written before the failure are saved with the walk's position: the next run continues there.
  const resumesFrom = resumeAt ? describePosition(resumeAt) : null;
  await finishSyncLog(ctx.db, logId, { ...counts, status: 'failed', page_cap_reached: pageCapReached, error: message, resumes_from: resumesFrom }).catch((e) =>
    log.error({ err: e }, 'could not record the failed sync'),
  );
  if (error instanceof SyncInterruptedError || error instanceof IntegrationDisconnectedError) {
    log.info({ reason: message }, 'sync stopped');
    return;
  }
  // A 401 to this run's token revokes nothing when a connect saved another token since (a reinstall).
  if (error instanceof ShopifyUnauthorizedError) await markTokenRevoked(ctx.db, integration.id, integration.installed_at).catch(() => undefined);
  await markError(ctx.db, integration.id, message).catch(() => undefined);
  log.warn({ err: message }, 'sync failed');
}

/**
 * Marks what a complete full walk (begun at `sweepFrom`, maybe several runs ago) did not see as deleted
 * (see markUnseenRecordsDeleted), each batch only while the store is still the run's installation.
 */
export function sweepDeleted(ctx: ServiceContext, integration: Integration, name: ResourceName, sweepFrom: Date, startedAt: Date): Promise<number> {
  const guard = (trx: Transaction<Database>) => assertCurrentInstallation(trx, integration.id, integration.installation);
  const owner: Owner = { tenantId: integration.tenant_id, integrationId: integration.id };
  // A resource Shopify lists only recently without a scope (orders) is swept only as far back as it lists.
  const limit = RESOURCES[name].sweepLimit;
  const limited = limit !== undefined && !integration.scopes.split(/[\s,]+/).includes(limit.scope);
  const opts = limited ? { createdSince: new Date(startedAt.getTime() - limit.createdWithinDays * 86_400_000) } : {};
  return markUnseenRecordsDeleted(ctx.db, RESOURCES[name], owner, sweepFrom, { ...opts, guard });
}

export interface SucceededRun {
  integration: Integration;
  resource: ResourceName;
  logId: number;
  mode: SyncMode;
  startedAt: Date;
  /** When the walk's first run began (the database's clock): the cursor never moves past it. */
  walkStartedAt: Date;
  counts: SyncCounts;
  /** Newest `updated_at` the walk saw. */
  maxSeen: Date | null;
  recordsSkipped: number;
  pageCapReached: boolean;
  /** False when the page cap stopped the walk: the cursor stays, and the next run continues from `resumesFrom`. */
  walkComplete: boolean;
  resumesFrom: string | null;
}

/**
 * Closes a run that succeeded, whichever way it read the store: a complete walk moves the cursor (never
 * past the walk's start: what changed during the walk is read again by the next one) and records its
 * completion; the store is marked synced, the log row closed, the metrics counted.
 */
export async function finishSucceededRun(ctx: ServiceContext, run: SucceededRun): Promise<Extract<SyncResult, { status: 'succeeded' }>> {
  const { integration, resource, counts } = run;
  const { walkComplete } = run;
  const finishedAt = new Date();
  const cursor = run.maxSeen ? new Date(Math.min(run.maxSeen.getTime(), run.walkStartedAt.getTime())) : null;
  await ctx.db.transaction().execute(async (trx) => {
    await assertCurrentInstallation(trx, integration.id, integration.installation, 'update');
    if (walkComplete) await saveSyncCompleted(trx, integration.id, resource, { cursor, mode: run.mode, at: finishedAt });
    await markSuccess(trx, integration.id, finishedAt);
  });
  const note = run.recordsSkipped > 0 ? `${run.recordsSkipped} record(s) could not be mapped and were skipped (see the worker log)` : null;
  await finishSyncLog(ctx.db, run.logId, { ...counts, status: 'succeeded', page_cap_reached: run.pageCapReached, error: note, finished_at: finishedAt, resumes_from: run.resumesFrom });
  countRun(ctx, resource, 'succeeded', run.startedAt, counts);
  return { status: 'succeeded', logId: run.logId, mode: run.mode, counts, pageCapReached: run.pageCapReached, recordsSkipped: run.recordsSkipped, walkComplete, resumesFrom: run.resumesFrom };
}
