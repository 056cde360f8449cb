/**
 * A webhook worker process: WEBHOOK_CONSUMERS readers of the stream's consumer group, as the worker runs
 * them. The readers start on `consumers:start` and stop (letting their batch finish) on `consumers:stop`,
 * so the runner can boot processes while it prepares the backlog and time only the drain.
 */
import { loadConfig } from '../../../src/config.js';
import { closeContext, createContext } from '../../../src/main/context.js';
import { startWebhookConsumers } from '../../../src/webhooks/consumer.js';
import { sendReady, serveRunner } from '../lib/child-ipc.js';

const ctx = await createContext(loadConfig());
let stopConsumers: (() => Promise<void>) | undefined;
const stop = async () => {
  await stopConsumers?.();
  stopConsumers = undefined;
};
serveRunner(
  {
    'consumers:start': async () => {
      stopConsumers ??= await startWebhookConsumers(ctx);
    },
    'consumers:stop': stop,
  },
  async () => {
    await stop();
    await closeContext(ctx);
  },
);
sendReady();
