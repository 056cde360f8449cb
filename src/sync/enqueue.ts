import { createHmac, randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import type { ServiceContext } from '../context.js';
import { ConflictError } from '../errors.js';
import type { components } from '../generated/api.js';
import { deriveKey } from '../platform/derived-keys.js';
import { redisCall as redisCallFor } from '../platform/redis.js';
import { RESOURCE_NAMES, type ResourceName } from '../resources/index.js';
import { isConnected } from '../store/integrations.js';
import type { Integration } from '../store/schema.js';
import { abandonSyncLog, createSyncLog, findSyncLog, deleteSyncLog } from '../store/sync-logs.js';
import { SYNC_JOB_NAME, syncJobId, syncJobOptions, syncQueue, type SyncJobData, type SyncMode, type SyncTrigger } from './queue.js';

export type SyncAccepted = components['schemas']['SyncAccepted'];
export type SyncJobState = components['schemas']['SyncJob'];

export interface EnqueueSyncsOptions {
  /** Default: every resource. */
  resources?: readonly ResourceName[];
  mode: SyncMode;
  trigger: SyncTrigger;
}

export const SYNC_LOGS_PATH = '/api/shopify/sync-logs/';

/** States in which a job still holds its id: a second job for the same integration and resource is refused. */
const PENDING = new Set(['waiting', 'delayed', 'prioritized', 'active', 'waiting-children']);
/** States in which the job has not started yet (its data may still change; it may be removed). */
const NOT_STARTED = new Set(['waiting', 'delayed', 'prioritized']);

const jobKeySecrets = new WeakMap<Buffer, Buffer>();

/**
 * The installation's part of its job ids: an HMAC of the integration id and installation (key derived
 * from TOKEN_ENCRYPTION_KEY), so job ids, which tenants see in sync answers, logs and status, do not tell
 * how many stores the service holds, yet one installation always gets the same id (BullMQ's duplicate
 * protection) and a later installation another one: a job of the old shop still running never answers
 * the new installation's syncs "already queued". The first installation keeps the id of the integration
 * alone, which jobs had before installations were counted.
 */
export function integrationJobKey(ctx: Pick<ServiceContext, 'config'>, integrationId: number, installation = 1): string {
  const master = ctx.config.encryption.key;
  let secret = jobKeySecrets.get(master);
  if (!secret) jobKeySecrets.set(master, (secret = deriveKey(master, 'sync-job-id')));
  const identity = installation <= 1 ? String(integrationId) : `${integrationId}/${installation}`;
  return createHmac('sha256', secret).update(identity).digest('hex').slice(0, 24);
}

/** The job id of an installation's sync of one resource. */
export const integrationSyncJobId = (ctx: Pick<ServiceContext, 'config'>, integrationId: number, resource: ResourceName, installation = 1) =>
  syncJobId(integrationJobKey(ctx, integrationId, installation), resource);

/** Queue operations: a Redis failure answers 503 (the caller retries). */
const redisCall = <T>(fn: () => Promise<T>): Promise<T> => redisCallFor(fn, 'Redis (job queue)');

/**
 * Queues one sync job per resource of a connected integration (manual, admin, connect and scheduled
 * triggers all come through here). A resource whose job is queued or running is answered
 * `already_queued`; when that job has not started and is incremental, a request for `full` upgrades it.
 * Throws ConflictError when the integration is inactive or its token was revoked, and
 * DependencyUnavailableError (503) when Redis is unreachable.
 */
export async function enqueueSyncs(ctx: ServiceContext, integration: Integration, opts: EnqueueSyncsOptions): Promise<SyncAccepted> {
  if (!isConnected(integration)) {
    throw new ConflictError(integration.is_active === 1 ? "Shopify revoked this store's access token; reconnect the store before syncing" : 'The store is disconnected; connect it before syncing');
  }
  const resources = opts.resources ?? RESOURCE_NAMES;
  const jobs = await Promise.all(resources.map((resource) => enqueueSync(ctx, integration, resource, opts.mode, opts.trigger)));
  return { mode: opts.mode, jobs, links: { sync_logs: SYNC_LOGS_PATH } };
}

export async function enqueueSync(ctx: ServiceContext, integration: Integration, resource: ResourceName, mode: SyncMode, trigger: SyncTrigger): Promise<SyncJobState> {
  const queue = syncQueue(ctx);
  const jobId = integrationSyncJobId(ctx, integration.id, resource, integration.installation);
  // A run already queued or running is named by its own run id, so the caller can follow it.
  const alreadyQueued = (job: Job<SyncJobData>): SyncJobState => ({ resource, run_id: job.data.logId ?? null, job_id: jobId, state: 'already_queued' });

  const existing = await redisCall(() => queue.getJob(jobId));
  if (existing) {
    const state = await redisCall(() => existing.getState());
    if (PENDING.has(state)) {
      await upgradeToFull(existing, state, mode);
      return alreadyQueued(existing);
    }
    // A finished job that was kept (older settings): free its id.
    if (state === 'completed' || state === 'failed') await redisCall(() => existing.remove());
  }

  const logId = await createSyncLog(ctx.db, {
    tenant_id: integration.tenant_id,
    integration_id: integration.id,
    resource,
    trigger,
    mode,
    status: 'queued',
    job_id: jobId,
  });
  const nonce = randomUUID();
  const data: SyncJobData = { integrationId: integration.id, installation: integration.installation, tenantId: integration.tenant_id, resource, mode, trigger, logId, nonce };
  try {
    await redisCall(() => queue.add(SYNC_JOB_NAME, data, syncJobOptions(ctx.config, jobId)));
    // A concurrent request may have won the id between our check and our add: then BullMQ kept its job.
    const stored = await redisCall(() => queue.getJob(jobId));
    if (stored && stored.data.nonce !== nonce && (await findSyncLog(ctx.db, logId))?.status === 'queued') {
      await deleteSyncLog(ctx.db, logId);
      return alreadyQueued(stored);
    }
  } catch (error) {
    await deleteSyncLog(ctx.db, logId).catch(() => undefined);
    throw error;
  }
  return { resource, run_id: logId, job_id: jobId, state: 'queued' };
}

async function upgradeToFull(job: Job<SyncJobData>, state: string, mode: SyncMode): Promise<void> {
  if (mode !== 'full' || job.data.mode === 'full' || !NOT_STARTED.has(state)) return;
  await redisCall(() => job.updateData({ ...job.data, mode: 'full' }));
}

/**
 * Removes the installation's sync jobs that have not started (disconnect, another installation). A
 * running one stops by itself at its next page, when it finds the integration disconnected or another
 * installation. Returns how many jobs were removed.
 */
export async function cancelIntegrationSyncs(ctx: ServiceContext, integrationId: number, installation = 1): Promise<number> {
  const queue = syncQueue(ctx);
  let removed = 0;
  for (const resource of RESOURCE_NAMES) {
    const job = await redisCall(() => queue.getJob(integrationSyncJobId(ctx, integrationId, resource, installation)));
    if (!job || !NOT_STARTED.has(await redisCall(() => job.getState()))) continue;
    try {
      await job.remove();
    } catch {
      continue; // it started meanwhile (locked): it will stop by itself
    }
    removed++;
    if (job.data.logId !== undefined) await abandonSyncLog(ctx.db, job.data.logId, 'Cancelled: the store was disconnected', ['queued']);
  }
  return removed;
}
