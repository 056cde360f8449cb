import { Router, type Request } from 'express';
import type { ServiceContext } from '../../context.js';
import { ConflictError, NotFoundError } from '../../errors.js';
import type { components } from '../../generated/api.js';
import { checkEndpointUrl, newEndpointSecret, replayEndpointDeadLetters, resumeEndpoint } from '../../outbound/endpoints.js';
import { publicEventId } from '../../events/event-body.js';
import type { Page } from '../../store/page.js';
import { listAttempts, listDeadLetters, type WebhookDelivery, type WebhookDeliveryAttempt } from '../../store/webhook-deliveries.js';
import {
  countEndpoints,
  createEndpoint,
  deleteEndpoint,
  eventTypesOf,
  findEndpoint,
  listEndpoints,
  rotateEndpointSecret,
  updateEndpoint,
  type EndpointFields,
  type WebhookEndpoint,
} from '../../store/webhook-endpoints.js';
import { tenantOf } from '../auth.js';
import { encodeCursor } from '../cursor.js';
import { cursorParam, dbIdParam, expectValid, integerParam, isDbId, limitParam } from '../params.js';

type Schemas = components['schemas'];

/** Endpoints one tenant may have: each costs a delivery per event. */
const MAX_ENDPOINTS_PER_TENANT = 20;
const DEFAULT_OVERLAP_HOURS = 24;

const nextCursor = (page: Page<unknown, number>) => (page.next === null ? null : encodeCursor([page.next]));
const pageOf = (req: Request) => ({ limit: limitParam(req.query), cursor: cursorParam(req.query, isDbId) });

function endpointToApi(row: WebhookEndpoint, now = new Date()): Schemas['WebhookEndpoint'] {
  const previousSigns = row.previous_secret_expires_at !== null && row.previous_secret_expires_at > now;
  return {
    id: Number(row.id),
    url: row.url,
    description: row.description,
    event_types: eventTypesOf(row),
    use_mapping: row.use_mapping === 1,
    enabled: row.enabled === 1,
    disabled_reason: row.disabled_reason,
    failing_since: row.failing_since?.toISOString() ?? null,
    previous_secret_expires_at: previousSigns ? row.previous_secret_expires_at!.toISOString() : null,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

function attemptToApi(row: WebhookDeliveryAttempt & { event_id: number }): Schemas['WebhookDeliveryAttempt'] {
  return {
    id: Number(row.id),
    delivery_id: Number(row.delivery_id),
    event_id: publicEventId(Number(row.event_id)),
    attempt: row.attempt,
    attempted_at: row.attempted_at.toISOString(),
    duration_ms: row.duration_ms,
    ok: row.ok === 1,
    status_code: row.status_code,
    error: row.error,
    response_excerpt: row.response_excerpt,
  };
}

function deadLetterToApi(row: WebhookDelivery): Schemas['WebhookDeadLetter'] {
  const separator = row.ordering_key?.indexOf(':') ?? -1;
  return {
    id: Number(row.id),
    event_id: publicEventId(Number(row.event_id)),
    event_type: row.event_type,
    resource: separator < 0 ? null : row.ordering_key!.slice(0, separator),
    record_id: separator < 0 ? null : row.ordering_key!.slice(separator + 1),
    attempts: row.attempts,
    last_error: row.last_error,
    created_at: row.created_at.toISOString(),
    dead_at: row.updated_at.toISOString(),
  };
}

/** The validated body's fields as the store names them (only those present). */
function fieldsOf(body: Schemas['WebhookEndpointUpdateRequest']): Partial<EndpointFields> {
  return {
    ...(body.url !== undefined ? { url: body.url } : {}),
    ...(body.description !== undefined ? { description: body.description } : {}),
    ...(body.event_types !== undefined ? { eventTypes: body.event_types } : {}),
    ...(body.use_mapping !== undefined ? { useMapping: body.use_mapping } : {}),
    ...(body.enabled !== undefined ? { enabled: body.enabled } : {}),
  };
}

/**
 * The tenant's outbound webhook endpoints: create (the secret shown once), list, read, change, delete,
 * rotate the secret, and follow their attempts and dead letters. Another tenant's endpoint is 404.
 */
export function webhookEndpointRoutes(ctx: ServiceContext): Router {
  const router = Router();

  const ownEndpoint = async (req: Request): Promise<WebhookEndpoint> => {
    const id = dbIdParam(req.params.id, 'path', 'id');
    const endpoint = await findEndpoint(ctx.db, tenantOf(req), id);
    if (!endpoint) throw new NotFoundError(`Webhook endpoint ${id} not found`);
    return endpoint;
  };

  router.get('/api/webhook-endpoints/', async (req, res) => {
    const { limit, cursor } = pageOf(req);
    const page = await listEndpoints(ctx.db, tenantOf(req), { limit, ...(cursor !== undefined ? { afterId: cursor } : {}) });
    res.json({ data: page.rows.map((row) => endpointToApi(row)), next_cursor: nextCursor(page) } satisfies Schemas['WebhookEndpointList']);
  });

  router.post('/api/webhook-endpoints/', async (req, res) => {
    const tenantId = tenantOf(req);
    const body = req.body as Schemas['WebhookEndpointCreateRequest'];
    expectValid(typeof body?.url === 'string', 'body', 'url', 'is required');
    await checkEndpointUrl(ctx, body.url);
    if ((await countEndpoints(ctx.db, tenantId)) >= MAX_ENDPOINTS_PER_TENANT) throw new ConflictError(`A tenant may have at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints`);
    const secret = newEndpointSecret();
    const fields: EndpointFields = { url: body.url, description: body.description ?? null, eventTypes: body.event_types ?? null, useMapping: body.use_mapping ?? false, enabled: body.enabled ?? true };
    const endpoint = await createEndpoint(ctx.db, ctx.secrets, tenantId, fields, secret);
    req.log.info({ endpointId: endpoint.id, tenantId }, 'webhook endpoint created');
    res.status(201).json({ ...endpointToApi(endpoint), secret } satisfies Schemas['WebhookEndpointWithSecret']);
  });

  router.get('/api/webhook-endpoints/:id/', async (req, res) => {
    res.json(endpointToApi(await ownEndpoint(req)) satisfies Schemas['WebhookEndpoint']);
  });

  router.patch('/api/webhook-endpoints/:id/', async (req, res) => {
    const endpoint = await ownEndpoint(req);
    const patch = fieldsOf((req.body ?? {}) as Schemas['WebhookEndpointUpdateRequest']);
    if (patch.url !== undefined) await checkEndpointUrl(ctx, patch.url);
    const updated = await updateEndpoint(ctx.db, endpoint.tenant_id, endpoint.id, patch);
    if (!updated) throw new NotFoundError(`Webhook endpoint ${endpoint.id} not found`);
    if (patch.enabled === true && endpoint.enabled !== 1) {
      req.log.info({ endpointId: endpoint.id }, 'webhook endpoint enabled again');
      await resumeEndpoint(ctx, endpoint.id);
    }
    res.json(endpointToApi(updated) satisfies Schemas['WebhookEndpoint']);
  });

  router.delete('/api/webhook-endpoints/:id/', async (req, res) => {
    const endpoint = await ownEndpoint(req);
    if (!(await deleteEndpoint(ctx.db, endpoint.tenant_id, endpoint.id))) throw new NotFoundError(`Webhook endpoint ${endpoint.id} not found`);
    req.log.info({ endpointId: endpoint.id }, 'webhook endpoint deleted');
    res.status(204).end();
  });

  router.post('/api/webhook-endpoints/:id/rotate-secret/', async (req, res) => {
    const endpoint = await ownEndpoint(req);
    const overlapHours = integerParam((req.body as Schemas['WebhookSecretRotateRequest'] | undefined)?.overlap_hours, 'body', 'overlap_hours', { min: 0, max: 168 }) ?? DEFAULT_OVERLAP_HOURS;
    const secret = newEndpointSecret();
    const rotated = await rotateEndpointSecret(ctx.db, ctx.secrets, endpoint.tenant_id, endpoint.id, secret, overlapHours * 3_600_000);
    if (!rotated) throw new NotFoundError(`Webhook endpoint ${endpoint.id} not found`);
    req.log.info({ endpointId: endpoint.id, overlapHours }, 'webhook endpoint secret rotated');
    res.json({ ...endpointToApi(rotated), secret } satisfies Schemas['WebhookEndpointWithSecret']);
  });

  router.get('/api/webhook-endpoints/:id/attempts/', async (req, res) => {
    const endpoint = await ownEndpoint(req);
    const { limit, cursor } = pageOf(req);
    const page = await listAttempts(ctx.db, endpoint.id, { limit, ...(cursor !== undefined ? { beforeId: cursor } : {}) });
    res.json({ data: page.rows.map(attemptToApi), next_cursor: nextCursor(page) } satisfies Schemas['WebhookDeliveryAttemptList']);
  });

  router.get('/api/webhook-endpoints/:id/dead-letters/', async (req, res) => {
    const endpoint = await ownEndpoint(req);
    const { limit, cursor } = pageOf(req);
    const page = await listDeadLetters(ctx.db, endpoint.id, { limit, ...(cursor !== undefined ? { beforeId: cursor } : {}) });
    res.json({ data: page.rows.map(deadLetterToApi), next_cursor: nextCursor(page) } satisfies Schemas['WebhookDeadLetterList']);
  });

  router.post('/api/webhook-endpoints/:id/dead-letters/replay/', async (req, res) => {
    const endpoint = await ownEndpoint(req);
    const body = (req.body ?? {}) as Schemas['WebhookDeadLetterReplayRequest'];
    expectValid((body.ids !== undefined) !== (body.all === true), 'body', 'ids', 'give either ids or all: true');
    const ids = body.all === true ? 'all' : body.ids!.map((id) => dbIdParam(id, 'body', 'ids'));
    const requeued = await replayEndpointDeadLetters(ctx, endpoint.id, ids);
    req.log.info({ endpointId: endpoint.id, requeued }, 'webhook dead letters replayed');
    res.json({ requeued } satisfies Schemas['WebhookDeadLetterReplayResult']);
  });

  return router;
}
