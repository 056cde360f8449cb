import { Router, type Request } from 'express';
import type { ServiceContext } from '../../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../../errors.js';
import type { components } from '../../generated/api.js';
import { recordKeyOf } from '../../store/record-events.js';
import { mapperOf, mapRecordsForTenant, type MappingOutcome } from '../../mappings/apply.js';
import { RESOURCES, type ResourceDefinition, type ResourceName } from '../../resources/index.js';
import { getRecords, listRecords, type ListQuery, type RecordWithChildren } from '../../store/record-reads.js';
import { tenantOf } from '../auth.js';
import { decodeIdCursor, encodeCursor } from '../cursor.js';
import { perTenantReadLimiter } from '../read-limiter.js';

type Schemas = components['schemas'];
type MappedRecord = Schemas['MappedRecord'];
/** Accepts only a map with an entry for every resource of the registry. */
type EveryResource<T extends Record<ResourceName, { list: unknown; item: unknown }>> = T;
/** The contract's list and item shapes of each resource of the registry (a resource missing here does not compile). */
type ResourceApi = EveryResource<{
  products: { list: Schemas['ProductList']; item: Schemas['Product'] };
  orders: { list: Schemas['OrderList']; item: Schemas['Order'] };
  customers: { list: Schemas['CustomerList']; item: Schemas['Customer'] };
  inventory: { list: Schemas['InventoryLevelList']; item: Schemas['InventoryItemLevels'] };
  locations: { list: Schemas['LocationList']; item: Schemas['Location'] };
}>;

/** A list parameter's ids: the validator gives an array, or one comma-separated string; anything else (`p[a]=1`) is refused. */
function idsOf(param: string, value: unknown): number[] {
  const ids = (Array.isArray(value) ? value : typeof value === 'string' || typeof value === 'number' ? String(value).split(',') : [undefined]).map(Number);
  if (ids.length === 0 || ids.some((id) => !Number.isSafeInteger(id) || id < 1)) {
    throw new ValidationError(`The query parameter ${param} must be one or more ids separated by commas`, [{ location: 'query', name: param, message: 'must be one or more positive integer ids' }]);
  }
  return ids;
}

/** Query values arrive validated and coerced by express-openapi-validator. */
function listQuery(resource: ResourceDefinition, query: Request['query']): ListQuery {
  const filters: ListQuery['filters'] = [];
  for (const [param, filter] of Object.entries(resource.filters)) {
    const value = query[param];
    if (value === undefined) continue;
    const typed = filter.op === 'in' ? idsOf(param, value) : filter.type === 'timestamp' ? new Date(String(value)) : value;
    filters.push({ column: filter.column, op: filter.op, value: typed, ...(filter.via ? { via: filter.via } : {}) });
  }
  return {
    limit: Number(query.limit ?? 50),
    ...(typeof query.cursor === 'string' ? { after: decodeIdCursor(query.cursor, resource.keyColumns.length) } : {}),
    filters,
    includeDeleted: String(query.include_deleted) === 'true',
  };
}

/**
 * List and retrieve endpoints of every resource of the registry. Each read holds one of its tenant's
 * slots (429 past `API_MAX_CONCURRENT_READS_PER_TENANT`) and each statement is bounded by
 * `API_READ_STATEMENT_TIMEOUT_MS` (503 when cut). With `view=mapped`, the records read go through the
 * tenant's JSONata mapping of the resource (after the read, outside its slot).
 */
export function recordRoutes(ctx: Pick<ServiceContext, 'db' | 'config' | 'mapper'>): Router {
  const router = Router();
  const limiter = perTenantReadLimiter(ctx.config.reads.maxConcurrentPerTenant);
  const bounds = { timeoutMs: ctx.config.reads.statementTimeoutMs };
  /** Runs a tenant's read in one of its slots, given back however the read ends. */
  const limited = async <T>(tenantId: string, read: () => Promise<T>): Promise<T> => {
    const release = limiter.acquire(tenantId);
    try {
      return await read();
    } finally {
      release();
    }
  };

  /** `view=mapped`: each record's key with its mapping outcome; 409 when the tenant has no mapping for the resource. */
  const mappedView = async (tenantId: string, resource: ResourceDefinition, found: RecordWithChildren[]): Promise<MappedRecord[]> => {
    const records = found.map(({ row, children }) => resource.toApi(row, children));
    const outcomes = await mapRecordsForTenant(mapperOf(ctx), ctx.db, tenantId, resource.name, records);
    if (outcomes === null) throw new ConflictError(`no mapping for ${resource.name}`);
    return found.map(({ row }, i) => ({ id: recordKeyOf(resource, row), ...(outcomes[i] as MappingOutcome) }));
  };

  for (const resource of Object.values(RESOURCES)) {
    router.get(`/api/shopify/${resource.name}/`, async (req, res) => {
      const tenantId = tenantOf(req);
      const query = listQuery(resource, req.query);
      const page = await limited(tenantId, () => listRecords(ctx.db, resource, tenantId, query, bounds));
      if (req.query.view === 'mapped') {
        const mapped: Schemas['MappedRecordList'] = { data: await mappedView(tenantId, resource, page.rows), next_cursor: page.next === null ? null : encodeCursor(page.next) };
        res.json(mapped);
        return;
      }
      const body = {
        data: page.rows.map(({ row, children }) => resource.toApi(row, children)),
        next_cursor: page.next === null ? null : encodeCursor(page.next),
      };
      res.json(body as ResourceApi[typeof resource.name]['list']);
    });

    router.get(`/api/shopify/${resource.name}/:id/`, async (req, res) => {
      const tenantId = tenantOf(req);
      const id = Number(req.params.id);
      const includeDeleted = String(req.query.include_deleted) === 'true';
      const found = await limited(tenantId, () => getRecords(ctx.db, resource, tenantId, id, includeDeleted, bounds));
      if (found.length === 0) throw new NotFoundError(`${resource.singular} ${id} not found`);
      if (req.query.view === 'mapped') {
        const mapped = await mappedView(tenantId, resource, found);
        res.json(resource.retrieveBody ? resource.retrieveBody(id, mapped) : mapped[0]);
        return;
      }
      res.json(itemBody(resource, id, found));
    });
  }
  return router;
}

/** The record itself, or what the resource answers when one id names several records (an inventory item's levels). */
function itemBody(resource: ResourceDefinition, id: number, found: Awaited<ReturnType<typeof getRecords>>): ResourceApi[ResourceName]['item'] {
  const records = found.map(({ row, children }) => resource.toApi(row, children));
  return (resource.retrieveBody ? resource.retrieveBody(id, records) : records[0]) as ResourceApi[ResourceName]['item'];
}
