import type { ServiceContext } from '../context.js';
import { startSyncWorker } from '../sync/worker.js';
import { startWebhookConsumers } from '../webhooks/consumer.js';

export interface RunningWorkers {
  stop(): Promise<void>;
}

/** Background work of the worker process: sync jobs and webhook consumers. */
export async function startWorkers(ctx: ServiceContext): Promise<RunningWorkers> {
  const stops = await Promise.all([startSyncWorker(ctx), startWebhookConsumers(ctx)]);
  return {
    async stop() {
      await Promise.allSettled(stops.map((stop) => stop()));
    },
  };
}
