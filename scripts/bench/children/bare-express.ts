/**
 * The floor of the ingest stack: a bare Express 5 app whose only route reads the raw body (the same
 * parser and limit as the webhook route) and answers a small JSON body — no security headers, request
 * log, HMAC or Redis. What the real route adds on top is what the ingest benchmark measures.
 */
import express from 'express';
import type { AddressInfo } from 'node:net';
import { sendReady, serveRunner } from '../lib/child-ipc.js';

const app = express();
app.post('/webhook', express.raw({ type: () => true, limit: 2 * 1024 * 1024 }), (req, res) => {
  res.json({ status: 'queued', id: `${Date.now()}-${(req.body as Buffer).length}` });
});
const server = app.listen(0, '127.0.0.1', () => {
  server.keepAliveTimeout = 65_000;
  sendReady({ port: (server.address() as AddressInfo).port });
});
serveRunner(
  {},
  () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
);
