import { Router } from 'express';
import type { ServiceContext } from '../../context.js';
import { adminSyncRoutes } from './admin-sync.js';
import { adminTenantRoutes } from './admin-tenants.js';
import { webhookAdminRoutes } from './admin-webhooks.js';

export function adminRoutes(ctx: ServiceContext): Router {
  const router = Router();
  router.use(adminTenantRoutes(ctx));
  router.use(adminSyncRoutes(ctx));
  router.use(webhookAdminRoutes(ctx));
  return router;
}
