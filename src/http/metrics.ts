import type { Request, RequestHandler } from 'express';
import type { Metrics } from '../platform/metrics.js';

/** Mounted apps outside the contract: one label each, whatever their inner paths (static files, UI API). */
const MOUNTED_PREFIXES = ['/docs', '/admin/queues'];

/**
 * The route a request matched, never its raw URL (ids would make a series per record): the contract path
 * when the validator matched one (`/api/shopify/products/{id}/`), else the Express route pattern, else the
 * prefix of a mounted app; anything else (404s, probes for random paths) is `unmatched`.
 */
export function routeLabel(req: Request): string {
  const openApiRoute = (req as Request & { openapi?: { openApiRoute?: string } }).openapi?.openApiRoute;
  if (openApiRoute) return openApiRoute;
  const pattern = (req.route as { path?: unknown } | undefined)?.path;
  if (typeof pattern === 'string') return req.baseUrl + pattern;
  if (Array.isArray(pattern)) {
    // A route on several paths (the webhook's two addresses): the one this request came to.
    const path = req.path.replace(/\/+$/, '');
    const match = pattern.find((p): p is string => typeof p === 'string' && p.replace(/\/+$/, '') === path);
    return req.baseUrl + (match ?? String(pattern[0]));
  }
  const path = req.originalUrl.split('?')[0] ?? '';
  return MOUNTED_PREFIXES.find((prefix) => path === prefix || path.startsWith(`${prefix}/`)) ?? 'unmatched';
}

/**
 * Counts every request by method, route and status with its latency (`http_request_duration_seconds`).
 * Mounted first, so the time includes every middleware; a client that hangs up before the answer is
 * counted with status 499 (nginx's "client closed request").
 */
export function httpMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpRequests.startTimer();
    res.once('close', () => {
      end({ method: req.method, route: routeLabel(req), status: res.writableFinished ? String(res.statusCode) : '499' });
    });
    next();
  };
}
