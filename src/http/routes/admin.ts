import { Router } from 'express';
import type { ServiceContext } from '../../context.js';
import { requireOperator } from '../auth.js';
import { adminSyncRoutes } from './admin-sync.js';
import { adminTenantRoutes } from './admin-tenants.js';
import { webhookAdminRoutes } from './admin-webhooks.js';

export function adminRoutes(ctx: ServiceContext): Router {
  const router = Router();
  // Every operator route checks the operator key itself too, behind the contract validator's check.
  router.use('/api/admin', requireOperator(ctx));
  router.use(adminTenantRoutes(ctx));
  router.use(adminSyncRoutes(ctx));
  router.use(webhookAdminRoutes(ctx));
  return router;
}
