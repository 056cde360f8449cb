import type { Config } from '../config.js';
import type { ServiceContext } from '../context.js';
import { startSequencer } from '../events/sequencer.js';
import { startRetention } from '../maintenance/retention.js';
import { startOutboundWorker } from '../outbound/worker.js';
import { wakeBulkSyncs } from '../sync/bulk/wake.js';
import { startSyncWorker } from '../sync/worker.js';
import { startWebhookConsumers } from '../webhooks/consumer.js';

/** The configuration a worker process builds its context from: its own pool size (WORKER_DATABASE_POOL_SIZE). */
export const workerConfig = (config: Config): Config => ({ ...config, databasePoolSize: config.workerDatabasePoolSize });

export interface RunningWorkers {
  stop(): Promise<void>;
}

/** Background work of the worker process: sync jobs, webhook consumers, outbound webhooks and the hourly retention pass. */
export async function startWorkers(ctx: ServiceContext): Promise<RunningWorkers> {
  const stops = await Promise.all([
    startSyncWorker(ctx),
    // The finish webhook of a bulk operation wakes the full sync waiting for it.
    startWebhookConsumers(ctx, { onBulkOperationFinished: async (finished) => void (await wakeBulkSyncs(ctx, finished)) }),
    // Tenants' outbound webhooks: the feed's new events into deliveries, and the deliveries themselves.
    startOutboundWorker(ctx),
  ]);
  const stopRetention = startRetention(ctx);
  const stopSequencer = startSequencer(ctx);
  return {
    async stop() {
      await Promise.allSettled([...stops, stopRetention, stopSequencer].map((stop) => stop()));
    },
  };
}
