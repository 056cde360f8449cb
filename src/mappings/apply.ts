import { AppError } from '../errors.js';
import { getMapping } from '../store/mappings.js';
import type { Db } from '../store/schema.js';
import { MappingError } from './errors.js';
import type { Mapper } from './pool.js';

export type { Mapper } from './pool.js';

/** One record's mapping: its result (`null` when the expression selects nothing), or why it failed. */
export interface MappingOutcome {
  mapped?: unknown;
  error?: { title: string; detail: string };
}

/** How long a tenant's expression (or its absence) is reused before it is read again: a save elsewhere shows within this. */
export const EXPRESSION_CACHE_MS = 3000;
const MAX_CACHED = 10_000;

/** Expressions per database (one per ServiceContext, so test contexts and processes never share them), by tenant and resource. */
const cached = new WeakMap<Db, Map<string, { expression: string | null; until: number }>>();
const cacheKey = (tenantId: string, resource: string) => `${resource}\u0000${tenantId}`;

/** The tenant's saved expression for `resource`, or null; read at most every EXPRESSION_CACHE_MS. */
export async function mappingExpression(db: Db, tenantId: string, resource: string): Promise<string | null> {
  let byKey = cached.get(db);
  if (!byKey) cached.set(db, (byKey = new Map()));
  const key = cacheKey(tenantId, resource);
  const hit = byKey.get(key);
  if (hit && hit.until > Date.now()) return hit.expression;
  const expression = (await getMapping(db, tenantId, resource))?.expression ?? null;
  if (byKey.size >= MAX_CACHED) byKey.clear();
  byKey.set(key, { expression, until: Date.now() + EXPRESSION_CACHE_MS });
  return expression;
}

/** After a save or delete in this process: its next use reads the mapping again. */
export function forgetMappingExpression(db: Db, tenantId: string, resource: string): void {
  cached.get(db)?.delete(cacheKey(tenantId, resource));
}

/**
 * Each record (in its API shape) through the tenant's mapping of `resource`, for the change feed,
 * outbound webhooks and `?view=mapped`. Null when the tenant has no mapping for the resource; otherwise
 * one outcome per record, in order: a record the mapping fails on gets `error`, the others `mapped`.
 * `mapper` is the ServiceContext's evaluator pool (`ctx.mapper`, see pool.ts).
 */
export async function mapRecordsForTenant(mapper: Mapper, db: Db, tenantId: string, resource: string, records: unknown[]): Promise<MappingOutcome[] | null> {
  const expression = await mappingExpression(db, tenantId, resource);
  return expression === null ? null : mapRecords(mapper, expression, records);
}

/** `expression` on each record. Only mapping failures become outcomes; a closed or saturated pool rejects. */
export async function mapRecords(mapper: Mapper, expression: string, records: readonly unknown[]): Promise<MappingOutcome[]> {
  return Promise.all(
    records.map(async (record): Promise<MappingOutcome> => {
      try {
        return { mapped: await mapper.evaluate(expression, record) };
      } catch (err) {
        if (err instanceof MappingError) return { error: { title: err.title, detail: err.detail } };
        throw err;
      }
    }),
  );
}

/** The context's evaluator pool (contexts built by createContext always have one). */
export function mapperOf(ctx: { mapper?: Mapper | undefined }): Mapper {
  if (!ctx.mapper) throw new AppError('Mappings are not available in this process (its context has no mapper)');
  return ctx.mapper;
}
