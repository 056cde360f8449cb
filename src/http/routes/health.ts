import { sql } from 'kysely';
import { Router } from 'express';
import type { ServiceContext } from '../../context.js';
import type { components } from '../../generated/api.js';
import type { Logger } from '../../platform/logger.js';
import { withTimeout } from '../../platform/timeout.js';
import { sendProblem } from '../problem.js';

type Check = components['schemas']['ReadinessCheck'];

/**
 * One dependency's state. Why it is down goes to the log only: driver messages name hosts, ports, users
 * and databases, and /readyz answers anyone.
 */
async function probe(dependency: string, fn: () => Promise<unknown>, timeoutMs: number, logger: Logger): Promise<Check> {
  const started = performance.now();
  try {
    await withTimeout(fn(), timeoutMs);
    return { status: 'up', latency_ms: Math.round((performance.now() - started) * 100) / 100 };
  } catch (err) {
    logger.warn({ dependency, err }, 'readiness check failed');
    return { status: 'down' };
  }
}

export function healthRoutes(ctx: Pick<ServiceContext, 'db' | 'redis' | 'logger'>): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' } satisfies components['schemas']['Health']);
  });
  router.get('/readyz', async (_req, res) => {
    const [mysql, redis] = await Promise.all([probe('mysql', () => sql`SELECT 1`.execute(ctx.db), 2000, ctx.logger), probe('redis', () => ctx.redis.ping(), 2000, ctx.logger)]);
    const checks = { mysql, redis };
    if (mysql.status === 'up' && redis.status === 'up') {
      res.json({ status: 'ready', checks } satisfies components['schemas']['Readiness']);
      return;
    }
    const down = Object.entries(checks)
      .filter(([, c]) => c.status === 'down')
      .map(([name]) => name);
    res.setHeader('Retry-After', '5');
    sendProblem(res, 503, `Not ready: ${down.join(' and ')} unreachable`, { checks }, 'not-ready');
  });
  return router;
}
