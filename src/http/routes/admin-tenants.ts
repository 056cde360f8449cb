import { Router, type Request } from 'express';
import { integrationStatuses } from '../../connection/status.js';
import type { ServiceContext } from '../../context.js';
import { NotFoundError } from '../../errors.js';
import type { components } from '../../generated/api.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../../store/api-keys.js';
import { listIntegrations } from '../../store/integrations.js';
import type { Page } from '../../store/page.js';
import type { ApiKey } from '../../store/schema.js';
import { encodeCursor } from '../cursor.js';
import { booleanParam, cursorParam, dbIdParam, expectValid, isDbId, limitParam, matches, stringParam, TENANT_ID } from '../params.js';

type Schemas = components['schemas'];
/** The contract's ApiKeyCreateRequest.name: any text of 1 to 100 characters. */
const KEY_NAME = { pattern: /^[\s\S]+$/, maxLength: 100 };

/** Validated by the contract already; parsed and bounded here again (see params.ts). */
function page(query: Request['query']): { limit: number; afterId?: number } {
  const limit = limitParam(query);
  const afterId = cursorParam(query, isDbId);
  return afterId === undefined ? { limit } : { limit, afterId };
}

const nextCursor = (page: Page<unknown, number>) => (page.next === null ? null : encodeCursor([page.next]));

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
    const isActive = booleanParam(req.query, 'is_active');
    const found = await listIntegrations(ctx.db, { ...page(req.query), ...(isActive === undefined ? {} : { isActive }) });
    const statuses = await integrationStatuses(ctx, found.rows);
    const body: Schemas['AdminIntegrationList'] = {
      data: found.rows.map((row, i) => ({ id: row.id, tenant_id: row.tenant_id, integration: statuses[i]! })),
      next_cursor: nextCursor(found),
    };
    res.json(body);
  });

  router.get('/api/admin/api-keys/', async (req, res) => {
    const tenantId = stringParam(req.query, 'tenant_id', TENANT_ID);
    const found = await listApiKeys(ctx.db, { ...page(req.query), ...(tenantId ? { tenantId } : {}) });
    res.json({ data: found.rows.map(apiKeyInfo), next_cursor: nextCursor(found) } satisfies Schemas['ApiKeyList']);
  });

  router.post('/api/admin/api-keys/', async (req, res) => {
    const body = req.body as Schemas['ApiKeyCreateRequest'];
    expectValid(matches(body?.tenant_id, TENANT_ID), 'body', 'tenant_id', 'is not a valid tenant id');
    expectValid(body.name === undefined || matches(body.name, KEY_NAME), 'body', 'name', 'must be 1 to 100 characters');
    const { record, key } = await createApiKey(ctx.db, body.tenant_id, body.name ?? 'default');
    req.log.info({ apiKeyId: record.id, tenantId: record.tenant_id, keyPrefix: record.key_prefix }, 'API key created');
    res.status(201).json({ ...apiKeyInfo(record), key } satisfies Schemas['ApiKeyCreated']);
  });

  router.delete('/api/admin/api-keys/:id/', async (req, res) => {
    const id = dbIdParam(req.params.id, 'path', 'id');
    const revoked = await revokeApiKey(ctx.db, id);
    if (!revoked) throw new NotFoundError(`API key ${id} not found`);
    req.log.info({ apiKeyId: id, tenantId: revoked.tenant_id }, 'API key revoked');
    res.json(apiKeyInfo(revoked));
  });

  return router;
}
