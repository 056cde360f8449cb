import { Router, type Request } from 'express';
import type { ServiceContext } from '../../context.js';
import { ConflictError, NotFoundError } from '../../errors.js';
import type { components } from '../../generated/api.js';
import { recordKeyOf } from '../../store/record-events.js';
import { forgetMappingExpression, mapperOf, mapRecords } from '../../mappings/apply.js';
import { sampleRecord } from '../../mappings/samples.js';
import { RESOURCES, type ResourceDefinition, type ResourceName } from '../../resources/index.js';
import { deleteMapping, getMapping, latestRecord, listMappings, putMapping } from '../../store/mappings.js';
import { listRecords } from '../../store/record-reads.js';
import type { TenantMapping } from '../../store/schema.js';
import { tenantOf } from '../auth.js';

type Schemas = components['schemas'];

/** Records a preview by ids reads at most (an inventory item id names one level per location). */
const PREVIEW_MAX_RECORDS = 250;

function mappingToApi(row: TenantMapping): Schemas['Mapping'] {
  return { resource: row.resource as ResourceName, expression: row.expression, created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString() };
}

/** The path's resource, validated by the contract (an enum of the registry's names). */
const resourceOf = (req: Request): ResourceDefinition => RESOURCES[req.params.resource as ResourceName];

/**
 * The tenant's JSONata mappings: `/api/mappings/` (list), `/api/mappings/{resource}/` (get, save after
 * trying it on a sample record, delete) and `/{resource}/preview/` (run an expression on stored records,
 * saving nothing). Saves and deletes take effect at once in this process and within
 * EXPRESSION_CACHE_MS in the others.
 */
export function mappingRoutes(ctx: Pick<ServiceContext, 'db' | 'config' | 'mapper'>): Router {
  const router = Router();
  const bounds = { timeoutMs: ctx.config.reads.statementTimeoutMs };

  router.get('/api/mappings/', async (req, res) => {
    const rows = await listMappings(ctx.db, tenantOf(req));
    res.json({ data: rows.map(mappingToApi), next_cursor: null } satisfies Schemas['MappingList']);
  });

  router.get('/api/mappings/:resource/', async (req, res) => {
    const resource = resourceOf(req);
    const row = await getMapping(ctx.db, tenantOf(req), resource.name);
    if (!row) throw new NotFoundError(`no mapping for ${resource.name}`);
    res.json(mappingToApi(row));
  });

  router.put('/api/mappings/:resource/', async (req, res) => {
    const tenantId = tenantOf(req);
    const resource = resourceOf(req);
    const { expression } = req.body as Schemas['MappingRequest'];
    // It must compile and run within the limits on a record of the kind it will see (a MappingError is a 422).
    const latest = await latestRecord(ctx.db, resource, tenantId, bounds);
    const sample = latest ? resource.toApi(latest.row, latest.children) : sampleRecord(resource.name);
    await mapperOf(ctx).evaluate(expression, sample);
    const { mapping, created } = await putMapping(ctx.db, tenantId, resource.name, expression);
    forgetMappingExpression(ctx.db, tenantId, resource.name);
    res.status(created ? 201 : 200).json(mappingToApi(mapping));
  });

  router.delete('/api/mappings/:resource/', async (req, res) => {
    const tenantId = tenantOf(req);
    const resource = resourceOf(req);
    await deleteMapping(ctx.db, tenantId, resource.name);
    forgetMappingExpression(ctx.db, tenantId, resource.name);
    res.status(204).end();
  });

  router.post('/api/mappings/:resource/preview/', async (req, res) => {
    const tenantId = tenantOf(req);
    const resource = resourceOf(req);
    const body = (req.body ?? {}) as Schemas['MappingPreviewRequest'];
    const expression = body.expression ?? (await getMapping(ctx.db, tenantId, resource.name))?.expression;
    if (expression === undefined) throw new ConflictError(`no mapping for ${resource.name}`);
    const mapper = mapperOf(ctx);
    await mapper.compile(expression);
    const filters = body.ids ? [{ column: resource.keyColumns[0] as string, op: 'in' as const, value: body.ids }] : [];
    const page = await listRecords(ctx.db, resource, tenantId, { limit: body.ids ? PREVIEW_MAX_RECORDS : (body.limit ?? 5), filters, includeDeleted: false }, bounds);
    const outcomes = await mapRecords(
      mapper,
      expression,
      page.rows.map(({ row, children }) => resource.toApi(row, children)),
    );
    res.json({ data: page.rows.map(({ row }, i) => ({ id: recordKeyOf(resource, row), ...outcomes[i] })) } satisfies Schemas['MappingPreview']);
  });

  return router;
}
