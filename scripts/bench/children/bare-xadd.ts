/**
 * The floor of any ingest that stores a webhook before acknowledging it: the bare Express 5 handler
 * (children/bare-express.ts) plus one XADD of the raw body to a capped Redis stream, through the same
 * Redis client and key layout as the service — no HMAC, header checks, JSON check, metrics or request id.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../../src/config.js';
import { closeContext, createContext } from '../../../src/main/context.js';
import { webhookKeys } from '../../../src/webhooks/stream.js';
import { sendReady, serveRunner } from '../lib/child-ipc.js';

const ctx = await createContext(loadConfig());
const { stream } = webhookKeys(ctx);
const threshold = ctx.config.webhooks.streamMaxLen;
const app = express();
app.post('/webhook', express.raw({ type: () => true, limit: 2 * 1024 * 1024 }), async (req, res) => {
  const id = await ctx.redis.xAdd(stream, '*', { body: req.body as Buffer }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold } });
  res.json({ status: 'queued', id });
});
const server = app.listen(0, '127.0.0.1', () => {
  server.keepAliveTimeout = 65_000;
  sendReady({ port: (server.address() as AddressInfo).port });
});
serveRunner({}, async () => {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
  await closeContext(ctx);
});
