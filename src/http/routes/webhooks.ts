import express, { Router, type ErrorRequestHandler, type RequestHandler } from 'express';
import type { ServiceContext } from '../../context.js';
import { AppError, ClientError, NotFoundError, ThrottledError, UnauthorizedError, ValidationError } from '../../errors.js';
import type { components } from '../../generated/api.js';
import { createWebhookIngest, SHOPIFY_WEBHOOK_HEADERS, type IngestRefusal } from '../../webhooks/ingest.js';
import { contractGate, loadContract } from '../contract.js';
import { httpMetrics } from '../metrics.js';
import { requestIdOf } from '../request-id.js';
import { securityHeaders } from '../security-headers.js';

type Refusal<R extends IngestRefusal['reason']> = Extract<IngestRefusal, { reason: R }>;

/** Each reason ingest refuses a delivery for, as the problem it answers (401, 400, 404, 413, 429). */
const REFUSAL_PROBLEMS: { [R in IngestRefusal['reason']]: (refusal: Refusal<R>) => AppError } = {
  'body-too-large': (r) => new ClientError(`The webhook body is larger than ${r.maxBytes} bytes`, { status: 413, code: 'payload-too-large' }),
  'source-throttled': (r) => new ThrottledError('Too many deliveries from this address failed authentication', r.retryAfterSeconds),
  'missing-hmac': () => new UnauthorizedError(`${SHOPIFY_WEBHOOK_HEADERS.hmac} is missing`),
  'invalid-hmac': () => new UnauthorizedError('The webhook signature does not match'),
  'invalid-header': (r) => new ValidationError(`${r.header} ${r.problem}`, [{ location: 'header', name: r.header, message: r.problem }]),
  'unknown-shop': (r) => new NotFoundError(`No integration is connected for shop ${r.shop}`),
  'malformed-json': () => new ValidationError('The webhook body is not valid JSON', [{ location: 'body', name: '(body)', message: 'malformed JSON' }]),
  'not-an-object': () => new ValidationError('The webhook body must be a JSON object', [{ location: 'body', name: '(body)', message: 'must be an object' }]),
  'shop-over-quota': (r) => new ThrottledError(`Shop ${r.shop} is over its webhook ${r.exceeded === 'bytes' ? 'byte' : 'delivery'} quota for this minute`, r.retryAfterSeconds),
};

function problemOf(refusal: IngestRefusal): AppError {
  return (REFUSAL_PROBLEMS[refusal.reason] as (r: IngestRefusal) => AppError)(refusal);
}

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
      const shop = req.headers[SHOPIFY_WEBHOOK_HEADERS.shop.toLowerCase()];
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
    const result = await ingest.receive({ headers: req.headers, body, ...(req.ip ? { source: req.ip } : {}) });
    if (!result.ok) throw problemOf(result);
    res.json((result.status === 'queued' ? { status: 'queued', id: result.id } : { status: 'ignored' }) satisfies components['schemas']['WebhookAccepted']);
  });
  // Any other method (HEAD, GET, OPTIONS…): 405 with the contract's Allow, before anything else runs.
  router.all(WEBHOOK_ROUTE_PATHS, ...common, contractGate(loadContract()));
  // Only errors of the route above reach this: the router is mounted first.
  router.use(logRejection);
  return router;
}
