import { sql, type Transaction } from 'kysely';
import { RESOURCES, type ResourceDefinition, type Row } from '../resources/index.js';
import { announceDeletedRecords } from './record-events.js';
import { keysOfRows } from './record-keys.js';
import type { Database, Db } from './schema.js';
import { untyped } from './untyped.js';

type Executor = Db | Transaction<Database>;

interface KeyOwner {
  tenantId: string;
  integrationId: number;
}

/** The key columns whose ids Shopify can remove for good, taking the resource's records with them. */
export const removableColumns = (resource: ResourceDefinition): string[] => [...new Set(Object.values(resource.webhookTopics.deleteWhere ?? {}))];

/**
 * Marks deleted every record of `resource` whose `column` is one of `values` (an inventory item or a
 * location Shopify deleted), at the earliest news of the deletion whichever arrives first, and
 * remembers the removal so a record of it that arrives later is stored deleted (`removalsOf`).
 */
export async function markRecordsDeletedWhere(db: Executor, resource: ResourceDefinition, owner: KeyOwner, column: string, values: unknown[], deletedAt: Date): Promise<number> {
  const ids = [...new Set(values.map(Number))];
  if (ids.length === 0) return 0;
  if (!removableColumns(resource).includes(column)) throw new Error(`${resource.name}.${column} is not a removable key column`);
  await untyped(db)
    .insertInto('shopify_removed_keys')
    .values(ids.map((id) => ({ tenant_id: owner.tenantId, resource: resource.name, key_column: column, key_value: id, integration_id: owner.integrationId, removed_at: deletedAt })))
    .onDuplicateKeyUpdate({ removed_at: sql`LEAST(removed_at, VALUES(removed_at))` })
    .execute();
  // A locking read first: an UPDATE under READ COMMITTED skips a row another transaction inserted and
  // has not committed (semi-consistent read), where a locking read waits for it.
  const matching: Row[] = await untyped(db)
    .selectFrom(resource.table)
    .select([...resource.keyColumns, 'deleted_at'])
    .where('tenant_id', '=', owner.tenantId)
    .where(column, 'in', ids)
    .forUpdate()
    .execute();
  const result = await untyped(db)
    .updateTable(resource.table)
    .set({ deleted_at: deletedAt })
    .where('tenant_id', '=', owner.tenantId)
    .where(column, 'in', ids)
    .where((eb) => eb.or([eb('deleted_at', 'is', null), eb('deleted_at', '>', deletedAt)]))
    .executeTakeFirst();
  await announceDeletedRecords(
    db,
    resource,
    owner,
    keysOfRows(
      resource,
      matching.filter((r) => r.deleted_at === null),
    ),
  );
  return Number(result.numUpdatedRows);
}

/**
 * For each row (by index), the earliest removal of any of its removable key values, if any: such a
 * record is written deleted at that time.
 */
export async function removalsOf(db: Executor, resource: ResourceDefinition, tenantId: string, rows: Row[], opts: { lock?: boolean } = {}): Promise<(Date | undefined)[]> {
  const columns = removableColumns(resource);
  if (columns.length === 0 || rows.length === 0) return rows.map(() => undefined);
  let query = untyped(db)
    .selectFrom('shopify_removed_keys')
    .select(['key_column', 'key_value', 'removed_at'])
    .where('tenant_id', '=', tenantId)
    .where('resource', '=', resource.name)
    .where((eb) => eb.or(columns.map((c) => eb.and([eb('key_column', '=', c), eb('key_value', 'in', [...new Set(rows.map((r) => Number(r[c])))])]))));
  // MariaDB has no FOR SHARE; both servers know LOCK IN SHARE MODE.
  if (opts.lock) query = query.modifyEnd(sql`LOCK IN SHARE MODE`);
  const found: Row[] = await query.execute();
  if (found.length === 0) return rows.map(() => undefined);
  const removedAt = new Map(found.map((f) => [`${f.key_column}:${f.key_value}`, f.removed_at as Date]));
  return rows.map((row) => {
    const times = columns.map((c) => removedAt.get(`${c}:${Number(row[c])}`)).filter((t): t is Date => t !== undefined);
    return times.length === 0 ? undefined : new Date(Math.min(...times.map((t) => t.getTime())));
  });
}

/**
 * Closes the race between a record written live and a removal committed by another transaction
 * meanwhile (READ COMMITTED: neither saw the other's uncommitted row). Run after the write, which holds
 * the written rows' locks: a locking read of the removals waits for a removal still in flight, and a
 * removal that comes later finds the written rows through its locking read (markRecordsDeletedWhere).
 */
export async function applyRemovalsWrittenMeanwhile(db: Executor, resource: ResourceDefinition, tenantId: string, written: Row[]): Promise<void> {
  if (written.length === 0) return;
  const removedAt = await removalsOf(db, resource, tenantId, written, { lock: true });
  for (const [i, row] of written.entries()) {
    const at = removedAt[i];
    if (!at) continue;
    let update = untyped(db).updateTable(resource.table).set({ deleted_at: at }).where('tenant_id', '=', tenantId);
    for (const column of resource.keyColumns) update = update.where(column, '=', row[column]);
    await update.where((eb) => eb.or([eb('deleted_at', 'is', null), eb('deleted_at', '>', at)])).execute();
  }
}

/**
 * Removed children take their dependants with them (a variant's inventory item and its levels), each
 * at its parent's `deletedAtOf`. `children` hold the parent column and the cascade column.
 */
export async function cascadeRemovedChildren(db: Executor, parent: ResourceDefinition, owner: KeyOwner, children: Row[], deletedAtOf: (parentId: number) => Date): Promise<void> {
  const child = parent.child;
  const cascade = child?.cascade;
  if (!child || !cascade || children.length === 0) return;
  const byTime = new Map<number, unknown[]>();
  for (const c of children) {
    const value = c[cascade.column];
    if (value === null || value === undefined) continue;
    const at = deletedAtOf(Number(c[child.parentColumn])).getTime();
    byTime.set(at, [...(byTime.get(at) ?? []), value]);
  }
  for (const [at, values] of byTime) await markRecordsDeletedWhere(db, RESOURCES[cascade.resource], owner, cascade.keyColumn, values, new Date(at));
}

/** The stored children of these parents, with what a cascade needs of them. */
export async function childrenForCascade(db: Executor, parent: ResourceDefinition, tenantId: string, parentIds: number[]): Promise<Row[]> {
  const child = parent.child;
  if (!child?.cascade || parentIds.length === 0) return [];
  return untyped(db).selectFrom(child.table).select(['id', child.parentColumn, child.cascade.column]).where('tenant_id', '=', tenantId).where(child.parentColumn, 'in', parentIds).execute();
}
