import { Router, type Request } from 'express';
import { integrationStatuses } from '../../connection/status.js';
import type { ServiceContext } from '../../context.js';
import { NotFoundError } from '../../errors.js';
import type { components } from '../../generated/api.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../../store/api-keys.js';
import { listIntegrations } from '../../store/integrations.js';
import type { ApiKey } from '../../store/schema.js';
import { decodeCursor, encodeCursor } from '../cursor.js';

type Schemas = components['schemas'];

/** Query values arrive validated and coerced by express-openapi-validator (the operator key is checked there too). */
function page(query: Request['query']): { limit: number; afterId?: number } {
  const limit = Number(query.limit ?? 50);
  if (typeof query.cursor !== 'string') return { limit };
  return { limit, afterId: Number(decodeCursor(query.cursor, 1)[0]) };
}

const nextCursor = (hasMore: boolean, rows: { id: number }[]) => (hasMore && rows.length > 0 ? encodeCursor([rows[rows.length - 1]!.id]) : null);

function apiKeyInfo(key: ApiKey): Schemas['ApiKeyInfo'] {
  return {
    id: key.id,
    tenant_id: key.tenant_id,
    name: key.name,
    key_prefix: key.key_prefix,
    created_at: key.created_at.toISOString(),
    last_used_at: key.last_used_at?.toISOString() ?? null,
    revoked_at: key.revoked_at?.toISOString() ?? null,
  };
}

/** Operator routes about tenants: their integrations' health and their API keys. */
export function adminTenantRoutes(ctx: ServiceContext): Router {
  const router = Router();

  router.get('/api/admin/integrations/', async (req, res) => {
    const isActive = req.query.is_active === undefined ? undefined : String(req.query.is_active) === 'true';
    const { rows, hasMore } = await listIntegrations(ctx.db, { ...page(req.query), ...(isActive === undefined ? {} : { isActive }) });
    const statuses = await integrationStatuses(ctx, rows);
    const body: Schemas['AdminIntegrationList'] = {
      data: rows.map((row, i) => ({ id: row.id, tenant_id: row.tenant_id, integration: statuses[i]! })),
      next_cursor: nextCursor(hasMore, rows),
    };
    res.json(body);
  });

  router.get('/api/admin/api-keys/', async (req, res) => {
    const tenantId = typeof req.query.tenant_id === 'string' ? req.query.tenant_id : undefined;
    const { rows, hasMore } = await listApiKeys(ctx.db, { ...page(req.query), ...(tenantId ? { tenantId } : {}) });
    res.json({ data: rows.map(apiKeyInfo), next_cursor: nextCursor(hasMore, rows) } satisfies Schemas['ApiKeyList']);
  });

  router.post('/api/admin/api-keys/', async (req, res) => {
    const body = req.body as Schemas['ApiKeyCreateRequest'];
    const { record, key } = await createApiKey(ctx.db, body.tenant_id, body.name ?? 'default');
    req.log.info({ apiKeyId: record.id, tenantId: record.tenant_id, keyPrefix: record.key_prefix }, 'API key created');
    res.status(201).json({ ...apiKeyInfo(record), key } satisfies Schemas['ApiKeyCreated']);
  });

  router.delete('/api/admin/api-keys/:id/', async (req, res) => {
    const id = Number(req.params.id);
    const revoked = await revokeApiKey(ctx.db, id);
    if (!revoked) throw new NotFoundError(`API key ${id} not found`);
    req.log.info({ apiKeyId: id, tenantId: revoked.tenant_id }, 'API key revoked');
    res.json(apiKeyInfo(revoked));
  });

  return router;
}
