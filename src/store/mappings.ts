import { sql } from 'kysely';
import { selectWithTimeout } from '../platform/db.js';
import type { ResourceDefinition, Row } from '../resources/index.js';
import { childrenOf, type ReadBounds, type RecordWithChildren } from './record-reads.js';
import type { Db, TenantMapping } from './schema.js';
import { untyped } from './untyped.js';

/** Tenants' JSONata mappings, one per tenant and resource (`tenant_mappings`). */

export async function getMapping(db: Db, tenantId: string, resource: string): Promise<TenantMapping | undefined> {
  return db.selectFrom('tenant_mappings').selectAll().where('tenant_id', '=', tenantId).where('resource', '=', resource).executeTakeFirst();
}

export async function listMappings(db: Db, tenantId: string): Promise<TenantMapping[]> {
  return db.selectFrom('tenant_mappings').selectAll().where('tenant_id', '=', tenantId).orderBy('resource', 'asc').execute();
}

/** Creates or replaces the tenant's mapping of `resource`; `created` says which. */
export async function putMapping(db: Db, tenantId: string, resource: string, expression: string): Promise<{ mapping: TenantMapping; created: boolean }> {
  const result = await db
    .insertInto('tenant_mappings')
    .values({ tenant_id: tenantId, resource, expression })
    .onDuplicateKeyUpdate({ expression, updated_at: sql<Date>`CURRENT_TIMESTAMP(3)` })
    .executeTakeFirst();
  const mapping = await getMapping(db, tenantId, resource);
  if (!mapping) throw new Error(`mapping ${tenantId}/${resource} vanished after it was written`);
  // MySQL counts 1 affected row for an insert, 2 for an update of an existing row.
  return { mapping, created: Number(result.numInsertedOrUpdatedRows ?? 1) === 1 };
}

/** Whether a mapping was there to delete. */
export async function deleteMapping(db: Db, tenantId: string, resource: string): Promise<boolean> {
  const result = await db.deleteFrom('tenant_mappings').where('tenant_id', '=', tenantId).where('resource', '=', resource).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

/**
 * The tenant's most recently updated live record of `resource` (with its children), the sample a new
 * mapping is tried on; the `(tenant_id, updated_at, …)` index of every record table serves it.
 */
export async function latestRecord(db: Db, resource: ResourceDefinition, tenantId: string, bounds: ReadBounds): Promise<RecordWithChildren | undefined> {
  const columns = [...new Set([...resource.keyColumns, ...resource.readColumns])];
  const query = untyped(db).selectFrom(resource.table).select(columns).where('tenant_id', '=', tenantId).where('deleted_at', 'is', null).orderBy('updated_at', 'desc').limit(1);
  const rows: Row[] = await selectWithTimeout(db, query, bounds.timeoutMs);
  const row = rows[0];
  if (!row) return undefined;
  const children = await childrenOf(db, resource, tenantId, [row], bounds);
  return { row, children: children.get(row.id as number) ?? [] };
}
