import express, { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import type { ServiceContext } from '../../context.js';
import type { components } from '../../generated/api.js';
import { createWebhookIngest } from '../../webhooks/ingest.js';
import { contractGate, loadContract } from '../contract.js';
import { httpMetrics } from '../metrics.js';
import { requestIdOf } from '../request-id.js';
import { securityHeaders } from '../security-headers.js';

export const WEBHOOK_ROUTE_PATHS = ['/api/shopify/webhook', '/api/integrations/shopify/webhook'];

/**
 * Webhook ingest reads its own raw body (for the HMAC), so it is mounted before the JSON parser and the
 * contract validator skips it. Non-strict routing matches each path with and without its trailing slash.
 * Errors (401, 400, 404, 405, 413, 429, 503) leave as problem+json through the app's error handler.
 *
 * It is the hottest path (all of Shopify's traffic), so it is mounted ahead of the app-wide middleware and
 * does that middleware's work itself, minus what a server-to-server POST does not need: request id,
 * request metrics and security headers as everywhere, but a log line only for a rejection instead of a
 * request logger per delivery (the app-wide request log writes nothing for a 200 at its production level).
 */
export function webhookRoutes(ctx: ServiceContext): Router {
  const router = Router();
  const ingest = createWebhookIngest(ctx);
  const rawBody = express.raw({ type: () => true, limit: ctx.config.webhooks.maxBodyBytes });
  const logRejection: ErrorRequestHandler = (err, req, _res, next) => {
    const status = typeof err?.status === 'number' ? err.status : 500;
    // 5xx are logged by the app's error handler with the error itself.
    if (status < 500) {
      const shop = req.headers['x-shopify-shop-domain'];
      ctx.logger.info({ reqId: req.id, shop: typeof shop === 'string' ? shop.slice(0, 255) : undefined, status, reason: String(err?.message ?? '') }, 'webhook rejected');
    }
    next(err);
  };
  const assignRequestId: RequestHandler = (req, res, next) => {
    req.id = requestIdOf(req, res);
    next();
  };
  const common = [assignRequestId, httpMetrics(ctx.metrics), securityHeaders()];
  router.post(WEBHOOK_ROUTE_PATHS, ...common, rawBody, async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const result: components['schemas']['WebhookAccepted'] = await ingest.receive({ headers: req.headers, body, ...(req.ip ? { source: req.ip } : {}) });
    res.json(result);
  });
  // Any other method (HEAD, GET, OPTIONS…): 405 with the contract's Allow, before anything else runs.
  router.all(WEBHOOK_ROUTE_PATHS, ...common, contractGate(loadContract()));
  // Only errors of the route above reach this: the router is mounted first.
  router.use(logRejection);
  return router;
}
