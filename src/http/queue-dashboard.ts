import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { Router } from 'express';
import type { ServiceContext } from '../context.js';
import { requireOperatorKey } from './operator-auth.js';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

/**
 * bull-board over the service's BullMQ queues (sync jobs and the schedulers' fan-out) at /admin/queues,
 * for operators: the admin key as Bearer, or as the HTTP Basic password so a browser can open it
 * (a 401 asks for Basic, which makes the browser prompt). Outside the contract, mounted before the validator.
 */
export function queueDashboardRoutes(ctx: ServiceContext): Router {
  const board = new ExpressAdapter();
  board.setBasePath(QUEUE_DASHBOARD_PATH);
  createBullBoard({
    queues: Object.values(ctx.queues).map((queue) => new BullMQAdapter(queue)),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'Shopify integration' } },
  });
  const ui = board.getRouter() as Router & { disable?: (setting: string) => void };
  ui.disable?.('x-powered-by'); // bull-board mounts an Express app of its own, which would announce itself
  const router = Router();
  router.use(QUEUE_DASHBOARD_PATH, requireOperatorKey(ctx, 'Basic'), ui);
  return router;
}
