import express from 'express';
import type { ServiceContext } from '../context.js';
import { errorHandler, notFoundHandler } from '../http/problem.js';
import { metricsRoutes } from '../http/routes/metrics.js';
import { serve, type RunningServer } from './listen.js';

export type RunningMetricsServer = RunningServer;

/**
 * A listener serving only `GET /metrics` (same guard as the API's: the admin key), for the worker process:
 * its sync, webhook-apply and Shopify-call counters live in its own memory, which the API cannot see.
 */
export async function startMetricsServer(ctx: ServiceContext, port: number, host = '0.0.0.0'): Promise<RunningMetricsServer> {
  if (!ctx.config.adminApiKey) ctx.logger.warn('the metrics listener answers 403 until ADMIN_API_KEY is set');
  const app = express();
  app.disable('x-powered-by');
  app.use(metricsRoutes(ctx));
  app.use(notFoundHandler);
  app.use(errorHandler(ctx.logger));
  return serve(app, port, host);
}
