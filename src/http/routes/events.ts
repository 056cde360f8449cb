import { Router } from 'express';
import type { ServiceContext } from '../../context.js';
import { GoneError, ValidationError } from '../../errors.js';
import type { components } from '../../generated/api.js';
import { changeEventBody, mappingOutcomes } from '../../events/event-body.js';
import { countChangeEvents } from '../../platform/metrics.js';
import { prunedThrough, readChangeFeed, sequenceChangeEvents } from '../../store/change-events.js';
import { tenantOf } from '../auth.js';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { expectValid, integerParam } from '../params.js';

type Schemas = components['schemas'];

/** A feed position from `after` (0 before the first event); anything this API did not issue is a 400. */
function positionOf(after: unknown): number {
  if (after === undefined) return 0;
  expectValid(typeof after === 'string', 'query', 'after', 'must be a single cursor');
  const bad = () => new ValidationError('The after parameter is not a cursor this feed issued', [{ location: 'query', name: 'after', message: 'is not a valid cursor' }]);
  let decoded: (string | number)[];
  try {
    decoded = decodeCursor(String(after), 1);
  } catch {
    throw bad();
  }
  const position = decoded[0];
  if (typeof position !== 'number' || !Number.isSafeInteger(position) || position < 0) throw bad();
  return position;
}

const EVENT_TYPES = /^[a-z_]+\.[a-z_]+(,[a-z_]+\.[a-z_]+)*$/;

/** `types`: event types separated by commas (the contract's pattern, checked again for requests it did not see). */
function typesOf(value: unknown): string[] | undefined {
  if (value === undefined) return undefined;
  expectValid(typeof value === 'string' && value.length <= 1024 && EVENT_TYPES.test(value), 'query', 'types', 'must be event types such as product.updated, separated by commas');
  return [...new Set((value as string).split(','))];
}

/** GET /api/events/: the tenant's change feed, keyset-paged by feed position. */
export function eventRoutes(ctx: Pick<ServiceContext, 'db' | 'config' | 'mapper' | 'metrics'>): Router {
  const router = Router();
  router.get('/api/events/', async (req, res) => {
    const tenantId = tenantOf(req);
    const after = positionOf(req.query.after);
    // A cursor before what retention deleted may have missed events: the reader must start over.
    if (after > 0 && after < (await prunedThrough(ctx.db))) {
      throw new GoneError(`The cursor is older than the ${ctx.config.retention.changeEventDays} days the feed keeps; read the current data and follow the feed from its start`);
    }
    // Events committed since the worker's last pass are readable at once.
    await sequenceChangeEvents(ctx.db, undefined, (sequenced) => countChangeEvents(ctx.metrics, sequenced));
    const types = typesOf(req.query.types);
    const limit = integerParam(req.query.limit, 'query', 'limit', { min: 1, max: 1000 }) ?? 100;
    const page = await readChangeFeed(ctx.db, tenantId, { after, limit, ...(types ? { types } : {}) });
    const last = page.rows[page.rows.length - 1];
    // With a mapping saved for a resource, its records come mapped too (a failure is that event's `mapping_error`).
    const outcomes = ctx.mapper ? await mappingOutcomes(ctx.mapper, ctx.db, tenantId, page.rows) : [];
    const body: Schemas['ChangeEventList'] = {
      data: page.rows.map((event, i) => changeEventBody(event, outcomes[i])),
      next_cursor: encodeCursor([last ? last.position : after]),
      has_more: page.next !== null,
    };
    res.json(body);
  });
  return router;
}
