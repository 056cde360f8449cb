import express, { Router } from 'express';
import type { ServiceContext } from '../../context.js';
import type { components } from '../../generated/api.js';
import { createWebhookIngest } from '../../webhooks/ingest.js';

export const WEBHOOK_ROUTE_PATHS = ['/api/shopify/webhook', '/api/integrations/shopify/webhook'];

/**
 * Webhook ingest reads its own raw body (for the HMAC), so it is mounted before the JSON parser and the
 * contract validator skips it. Non-strict routing matches each path with and without its trailing slash.
 * Errors (401, 400, 404, 413, 503) leave as problem+json through the app's error handler.
 */
export function webhookRoutes(ctx: ServiceContext): Router {
  const router = Router();
  const ingest = createWebhookIngest(ctx);
  const rawBody = express.raw({ type: () => true, limit: ctx.config.webhooks.maxBodyBytes });
  router.post(WEBHOOK_ROUTE_PATHS, rawBody, async (req, res) => {
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const result: components['schemas']['WebhookAccepted'] = await ingest.receive({ headers: req.headers, body });
    res.json(result);
  });
  return router;
}
