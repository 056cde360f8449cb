/**
 * Ingest decomposed: the service's webhook route alone (raw body → HMAC → XADD; errors as problem+json)
 * in an Express 5 app with none of the app-wide middleware mounted before it in src/http/app.ts
 * (request metrics, security headers, request log). Between the bare handler and the real API, it shows
 * what the route costs and what the middleware in front of it costs.
 */
import type { AddressInfo } from 'node:net';
import express from 'express';
import { loadConfig } from '../../../src/config.js';
import { errorHandler } from '../../../src/http/problem.js';
import { webhookRoutes } from '../../../src/http/routes/webhooks.js';
import { closeContext, createContext } from '../../../src/main/context.js';
import { sendReady, serveRunner } from '../lib/child-ipc.js';

const ctx = await createContext(loadConfig());
const app = express();
app.use(webhookRoutes(ctx));
app.use(errorHandler(ctx.logger));
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
