import type { ServiceContext } from '../context.js';
import { startRetention } from '../maintenance/retention.js';
import { startSyncWorker } from '../sync/worker.js';
import { startWebhookConsumers } from '../webhooks/consumer.js';

export interface RunningWorkers {
  stop(): Promise<void>;
}

/** Background work of the worker process: sync jobs, webhook consumers and the hourly retention pass. */
export async function startWorkers(ctx: ServiceContext): Promise<RunningWorkers> {
  const stops = await Promise.all([startSyncWorker(ctx), startWebhookConsumers(ctx)]);
  const stopRetention = startRetention(ctx);
  return {
    async stop() {
      await Promise.allSettled([...stops, stopRetention].map((stop) => stop()));
    },
  };
}
