import type { ServiceContext } from '../context.js';
import { startRetention } from '../maintenance/retention.js';
import { wakeBulkSyncs } from '../sync/bulk/wake.js';
import { startSyncWorker } from '../sync/worker.js';
import { startWebhookConsumers } from '../webhooks/consumer.js';

export interface RunningWorkers {
  stop(): Promise<void>;
}

/** Background work of the worker process: sync jobs, webhook consumers and the hourly retention pass. */
export async function startWorkers(ctx: ServiceContext): Promise<RunningWorkers> {
  const stops = await Promise.all([
    startSyncWorker(ctx),
    // The finish webhook of a bulk operation wakes the full sync waiting for it.
    startWebhookConsumers(ctx, { onBulkOperationFinished: async (finished) => void (await wakeBulkSyncs(ctx, finished)) }),
  ]);
  const stopRetention = startRetention(ctx);
  return {
    async stop() {
      await Promise.allSettled([...stops, stopRetention].map((stop) => stop()));
    },
  };
}
