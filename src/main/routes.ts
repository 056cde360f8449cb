import type { ServiceContext } from '../context.js';
import type { AppRoutes } from '../http/app.js';

/** The routes of the capabilities built on top of the read API (connection, OAuth, sync, webhooks, admin). */
export function apiRoutes(_ctx: ServiceContext): AppRoutes {
  return { raw: [], api: [] };
}
