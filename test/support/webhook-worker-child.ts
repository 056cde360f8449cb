/**
 * A worker process running only the webhook consumers, configured from the environment (the outage
 * tests point it at their database and key prefix). Prints "ready" once the consumers run.
 */
import { loadConfig } from '../../src/config.js';
import { createContext } from '../../src/main/context.js';
import { startWebhookConsumers } from '../../src/webhooks/consumer.js';

const ctx = await createContext(loadConfig());
await startWebhookConsumers(ctx);
process.stdout.write('ready\n');
