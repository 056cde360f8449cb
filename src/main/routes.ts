import type { ServiceContext } from '../context.js';
import type { AppRoutes } from '../http/app.js';
import { queueDashboardRoutes } from '../http/queue-dashboard.js';
import { adminRoutes } from '../http/routes/admin.js';
import { connectionRoutes } from '../http/routes/connection.js';
import { eventRoutes } from '../http/routes/events.js';
import { mappingRoutes } from '../http/routes/mappings.js';
import { metricsRoutes } from '../http/routes/metrics.js';
import { oauthRoutes } from '../http/routes/oauth.js';
import { syncRoutes } from '../http/routes/sync.js';
import { webhookEndpointRoutes } from '../http/routes/webhook-endpoints.js';
import { webhookRoutes } from '../http/routes/webhooks.js';

/** The routes of the capabilities built on top of the read API (connection, OAuth, sync, webhooks, admin, operator pages). */
export function apiRoutes(ctx: ServiceContext): AppRoutes {
  return {
    raw: [webhookRoutes(ctx)],
    api: [connectionRoutes(ctx), oauthRoutes(ctx), syncRoutes(ctx), eventRoutes(ctx), webhookEndpointRoutes(ctx), mappingRoutes(ctx), adminRoutes(ctx)],
    operator: [metricsRoutes(ctx), queueDashboardRoutes(ctx)],
  };
}
