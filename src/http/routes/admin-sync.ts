import { Router } from 'express';
import type { ServiceContext } from '../../context.js';
import { NotFoundError } from '../../errors.js';
import type { components } from '../../generated/api.js';
import { findIntegrationById } from '../../store/integrations.js';
import { enqueueSyncs } from '../../sync/enqueue.js';
import { dbIdParam } from '../params.js';
import { syncRequestOf } from './sync.js';

/** `POST /api/admin/integrations/{id}/sync/`: an operator queues syncs of any tenant's store. */
export function adminSyncRoutes(ctx: ServiceContext): Router {
  const router = Router();
  router.post('/api/admin/integrations/:id/sync/', async (req, res) => {
    const id = dbIdParam(req.params.id, 'path', 'id');
    const integration = await findIntegrationById(ctx.db, id);
    if (!integration) throw new NotFoundError(`Integration ${id} not found`);
    const accepted = await enqueueSyncs(ctx, integration, { ...syncRequestOf(req), trigger: 'admin' });
    res.status(202).json(accepted satisfies components['schemas']['SyncAccepted']);
  });
  return router;
}
