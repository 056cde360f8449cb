import type { ServiceContext } from '../context.js';
import { errorMessage } from '../errors.js';
import { RESOURCE_NAMES, type ResourceName } from '../resources/index.js';
import { listActiveIntegrations } from '../store/integrations.js';
import { enqueueSync } from './enqueue.js';
import { FAN_OUT_JOB_NAME, fanOutQueue } from './queue.js';

/** Fixed scheduler ids: upserting them at every boot of every worker process changes nothing twice. */
export const schedulerId = (resource: ResourceName) => `sync-${resource}`;

/**
 * One BullMQ job scheduler per resource ticking every `SHOPIFY_SYNC_INTERVAL_<RESOURCE>` seconds; 0
 * removes it. Each tick is a fan-out job (see `fanOut`).
 */
export async function registerSyncSchedulers(ctx: ServiceContext): Promise<void> {
  const queue = fanOutQueue(ctx);
  for (const resource of RESOURCE_NAMES) {
    const seconds = ctx.config.shopify.syncIntervals[resource];
    if (seconds > 0) await upsertScheduler(ctx, resource, seconds);
    else await queue.removeJobScheduler(schedulerId(resource));
  }
}

function upsertScheduler(ctx: ServiceContext, resource: ResourceName, seconds: number) {
  return fanOutQueue(ctx).upsertJobScheduler(
    schedulerId(resource),
    { every: seconds * 1000 },
    {
      name: FAN_OUT_JOB_NAME,
      data: { resource },
      opts: { removeOnComplete: true, removeOnFail: true },
    },
  );
}

/**
 * Re-creates the schedulers Redis no longer has (it restarted without persistence, was flushed, or
 * failed over to an empty replica). Without them no scheduled sync would run until a worker restarts —
 * and the scheduled syncs are what repair the webhooks such a loss took away. Existing ones are left
 * alone (upserting them would move their next tick). Returns how many were re-created.
 */
export async function restoreMissingSyncSchedulers(ctx: ServiceContext): Promise<number> {
  const queue = fanOutQueue(ctx);
  let restored = 0;
  for (const resource of RESOURCE_NAMES) {
    const seconds = ctx.config.shopify.syncIntervals[resource];
    if (seconds <= 0 || (await queue.getJobScheduler(schedulerId(resource)))) continue;
    await upsertScheduler(ctx, resource, seconds);
    restored++;
  }
  if (restored > 0) ctx.logger.warn({ restored }, 'sync schedulers were missing from Redis (its data was lost?): re-created');
  return restored;
}

export interface FanOutResult {
  queued: number;
  alreadyQueued: number;
  failed: number;
}

const FAN_OUT_PARALLELISM = 8;

/**
 * Queues an incremental sync of `resource` for every active and connected integration; the job id
 * makes it a no-op for integrations whose previous run is still queued or running.
 */
export async function fanOut(ctx: ServiceContext, resource: ResourceName): Promise<FanOutResult> {
  const integrations = await listActiveIntegrations(ctx.db);
  const result: FanOutResult = { queued: 0, alreadyQueued: 0, failed: 0 };
  let next = 0;
  const lane = async () => {
    while (next < integrations.length) {
      const integration = integrations[next++]!;
      try {
        const job = await enqueueSync(ctx, integration, resource, 'incremental', 'scheduled');
        if (job.state === 'queued') result.queued++;
        else result.alreadyQueued++;
      } catch (error) {
        result.failed++;
        ctx.logger.warn({ err: errorMessage(error), integrationId: integration.id, resource }, 'could not queue a scheduled sync');
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(FAN_OUT_PARALLELISM, integrations.length) }, lane));
  ctx.logger.info({ resource, integrations: integrations.length, ...result }, 'scheduled syncs fanned out');
  return result;
}
