import { Router, type Request } from 'express';
import type { ServiceContext } from '../../context.js';
import { AppError, DependencyUnavailableError, ValidationError } from '../../errors.js';
import type { components } from '../../generated/api.js';
import { listDeadLetters, replayDeadLetters } from '../../webhooks/dead-letters.js';
import { webhookStats } from '../../webhooks/stats.js';
import { webhookKeys } from '../../webhooks/stream.js';
import { decodeCursor, encodeCursor } from '../cursor.js';

type Schemas = components['schemas'];

const STREAM_ID = /^\d+-\d+$/;

function afterId(query: Request['query']): string | undefined {
  if (typeof query.cursor !== 'string') return undefined;
  const [id] = decodeCursor(query.cursor, 1);
  if (typeof id !== 'string' || !STREAM_ID.test(id)) {
    throw new ValidationError('The cursor is not one this API issued', [{ location: 'query', name: 'cursor', message: 'is not a valid cursor' }]);
  }
  return id;
}

/** Redis failures of operator routes answer 503 (the operator retries), not 500. */
async function redisCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new DependencyUnavailableError('Redis', err);
  }
}

/** Operator routes of the webhook pipeline: dead letters (list, replay) and stream statistics. */
export function webhookAdminRoutes(ctx: ServiceContext): Router {
  const router = Router();
  const keys = webhookKeys(ctx);

  router.get('/api/admin/webhooks/dead-letters/', async (req, res) => {
    const after = afterId(req.query);
    const page = await redisCall(() => listDeadLetters(ctx.redis, keys, { limit: Number(req.query.limit ?? 50), ...(after ? { after } : {}) }));
    res.json({ data: page.data, next_cursor: page.nextAfter ? encodeCursor([page.nextAfter]) : null } satisfies Schemas['DeadLetterList']);
  });

  router.post('/api/admin/webhooks/dead-letters/replay/', async (req, res) => {
    const body = (req.body ?? {}) as Schemas['DeadLetterReplayRequest'];
    if (body.ids && body.all) throw new ValidationError('Send either ids or all, not both', [{ location: 'body', name: 'all', message: 'cannot be combined with ids' }]);
    if (!body.ids && !body.all) throw new ValidationError('Name the dead letters to replay (ids) or set all', [{ location: 'body', name: 'ids', message: 'is required unless all is true' }]);
    const replayed = await redisCall(() => replayDeadLetters(ctx.redis, keys, body.all ? 'all' : { ids: body.ids ?? [] }, ctx.config.webhooks.streamMaxLen));
    req.log.info({ replayed, all: Boolean(body.all) }, 'webhook dead letters replayed');
    res.json({ replayed } satisfies Schemas['DeadLetterReplayResult']);
  });

  router.get('/api/admin/webhooks/stats/', async (_req, res) => {
    res.json((await redisCall(() => webhookStats(ctx.redis, keys))) satisfies Schemas['WebhookStats']);
  });

  return router;
}
