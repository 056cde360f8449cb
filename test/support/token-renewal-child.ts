/**
 * A process that makes one Shopify call for an integration (the env of `serviceEnv`, plus INTEGRATION_ID):
 * prints `ready` once connected, waits for `go` on stdin (so several start together), then calls
 * `shop.json` through the integration's client — renewing its token when it expired — and prints one JSON
 * line: `{ ok }` or `{ ok: false, error }`. Never prints a token.
 */
import { createInterface } from 'node:readline';
import { loadConfig } from '../../src/config.js';
import { clientForIntegration } from '../../src/connection/shopify.js';
import { closeContext, createContext } from '../../src/main/context.js';
import { findIntegrationById } from '../../src/store/integrations.js';

const ctx = await createContext(loadConfig());
const integration = await findIntegrationById(ctx.db, Number(process.env.INTEGRATION_ID));
if (!integration) throw new Error('no such integration');
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line.trim() === 'go') break;
lines.close();
try {
  await clientForIntegration(ctx, integration).testConnection();
  process.stdout.write(`${JSON.stringify({ ok: true })}\n`);
} catch (error) {
  process.stdout.write(`${JSON.stringify({ ok: false, error: (error as Error).message })}\n`);
}
await closeContext(ctx);
