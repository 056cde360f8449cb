import { Router } from 'express';
import type { ServiceContext } from '../../context.js';
import { ValidationError } from '../../errors.js';
import type { components } from '../../generated/api.js';
import { redisCall } from '../../platform/redis.js';
import { listDeadLetters, replayDeadLetters } from '../../webhooks/dead-letters.js';
import { webhookStats } from '../../webhooks/stats.js';
import { webhookKeys } from '../../webhooks/stream.js';
import { encodeCursor } from '../cursor.js';
import { cursorParam, expectValid, limitParam } from '../params.js';

type Schemas = components['schemas'];

const isStreamId = (value: unknown): value is string => typeof value === 'string' && /^\d{1,20}-\d{1,20}$/.test(value);

/** Operator routes of the webhook pipeline: dead letters (list, replay) and stream statistics; Redis failures answer 503. */
export function webhookAdminRoutes(ctx: ServiceContext): Router {
  const router = Router();
  const keys = webhookKeys(ctx);

  router.get('/api/admin/webhooks/dead-letters/', async (req, res) => {
    // Parsed and bounded here too: an unbounded XRANGE would read the whole stream with its bodies.
    const limit = limitParam(req.query);
    const after = cursorParam(req.query, isStreamId);
    const page = await redisCall(() => listDeadLetters(ctx.redis, keys, { limit, ...(after ? { after } : {}) }));
    res.json({ data: page.rows, next_cursor: page.next === null ? null : encodeCursor([page.next]) } satisfies Schemas['DeadLetterList']);
  });

  router.post('/api/admin/webhooks/dead-letters/replay/', async (req, res) => {
    const body = (req.body ?? {}) as Schemas['DeadLetterReplayRequest'];
    expectValid(body.all === undefined || typeof body.all === 'boolean', 'body', 'all', 'must be true or false');
    expectValid(
      body.ids === undefined || (Array.isArray(body.ids) && body.ids.length >= 1 && body.ids.length <= 1000 && body.ids.every(isStreamId)),
      'body',
      'ids',
      'must be 1 to 1000 dead-letter ids',
    );
    if (body.ids && body.all) throw new ValidationError('Send either ids or all, not both', [{ location: 'body', name: 'all', message: 'cannot be combined with ids' }]);
    if (!body.ids && !body.all) throw new ValidationError('Name the dead letters to replay (ids) or set all', [{ location: 'body', name: 'ids', message: 'is required unless all is true' }]);
    const { replayed, notReplayable } = await redisCall(() => replayDeadLetters(ctx.redis, keys, body.all ? 'all' : { ids: body.ids ?? [] }, ctx.config.webhooks.streamMaxLen));
    req.log.info({ replayed, notReplayable: notReplayable.length, all: Boolean(body.all) }, 'webhook dead letters replayed');
    res.json({ replayed, ...(notReplayable.length > 0 ? { not_replayable: notReplayable } : {}) } satisfies Schemas['DeadLetterReplayResult']);
  });

  router.get('/api/admin/webhooks/stats/', async (_req, res) => {
    res.json((await redisCall(() => webhookStats(ctx.redis, keys))) satisfies Schemas['WebhookStats']);
  });

  return router;
}
