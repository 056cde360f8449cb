/**
 * A worker process for the outbound benchmark, configured from the environment:
 * - `workers:start` starts what the service's worker process runs (src/main/workers.ts: webhook consumers,
 *   the change feed's sequencer, the outbound dispatcher and delivery jobs, the sync worker, retention);
 * - `consumers:start` starts only the webhook consumers and the sequencer: the apply path with its outbox,
 *   for the A/B against the revision before the outbox (whose webhook-worker child runs the consumers).
 * `…:stop` lets running work finish, so the runner can reset the data between phases.
 */
import { loadConfig } from '../../../src/config.js';
import { startSequencer } from '../../../src/events/sequencer.js';
import { closeContext, createContext } from '../../../src/main/context.js';
import { startWorkers, workerConfig } from '../../../src/main/workers.js';
import { startWebhookConsumers } from '../../../src/webhooks/consumer.js';
import { sendReady, serveRunner } from '../lib/child-ipc.js';

const ctx = await createContext(workerConfig(loadConfig()));
let stopRunning: (() => Promise<void>) | undefined;
const stop = async () => {
  await stopRunning?.();
  stopRunning = undefined;
};
serveRunner(
  {
    'workers:start': async () => {
      if (stopRunning) throw new Error('already running');
      const workers = await startWorkers(ctx);
      stopRunning = () => workers.stop();
    },
    'consumers:start': async () => {
      if (stopRunning) throw new Error('already running');
      const stopConsumers = await startWebhookConsumers(ctx);
      const stopSequencer = startSequencer(ctx);
      stopRunning = async () => {
        await Promise.all([stopConsumers(), stopSequencer()]);
      };
    },
    'workers:stop': stop,
    'consumers:stop': stop,
  },
  async () => {
    await stop();
    await closeContext(ctx);
  },
);
sendReady();
