import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { ServiceContext } from '../context.js';
import { errorHandler, notFoundHandler } from '../http/problem.js';
import { metricsRoutes } from '../http/routes/metrics.js';

export interface RunningMetricsServer {
  server: Server;
  port: number;
  url: string;
  stop(): Promise<void>;
}

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
  const server = app.listen(port, host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const address = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return {
    server,
    port: address.port,
    url: `http://${shownHost}:${address.port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
