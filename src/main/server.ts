import type { ServiceContext } from '../context.js';
import { createApp } from '../http/app.js';
import { serve, type RunningServer } from './listen.js';
import { apiRoutes } from './routes.js';

export type RunningApi = RunningServer;

/** Starts the HTTP API; `port` 0 picks a free port (tests). Resolves with the bound address. */
export function startApi(ctx: ServiceContext, port = ctx.config.port, host = ctx.config.host): Promise<RunningApi> {
  return serve(createApp(ctx, apiRoutes(ctx)), port, host);
}
