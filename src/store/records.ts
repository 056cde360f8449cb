import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Db } from './schema.js';
import type { MappedRecord, ResourceDefinition, Row } from '../resources/index.js';
import type { Database } from './schema.js';
import { parseJsonColumn } from './schema.js';

// Record tables are chosen from the registry at run time, so queries here are built on an untyped view.
type AnyDb = Kysely<any>;
const untyped = (db: Kysely<Database> | Transaction<Database>) => db as unknown as AnyDb;

export interface Owner {
  tenantId: string;
  integrationId: number;
}

export interface UpsertResult {
  /** Records inserted or replaced by a newer version. */
  written: number;
  /** Records whose stored version was newer or the same (nothing to do). */
  skipped: number;
}

const keyOfRow = (resource: ResourceDefinition, row: Row) => resource.keyColumns.map((c) => String(row[c])).join(':');
const serialize = (row: Row): Row => ({ ...row, raw: JSON.stringify(row.raw) });

/**
 * Order-free upsert of a batch: a stored record is replaced only by a version whose `updated_at` is not
 * older, so late webhooks and syncs racing webhooks cannot move data backwards. Children (variants,
 * line items) are replaced together with a newer parent. Run it inside a transaction.
 */
export async function upsertRecords(
  trx: Transaction<Database>,
  resource: ResourceDefinition,
  owner: Owner,
  records: MappedRecord[],
): Promise<UpsertResult> {
  if (records.length === 0) return { written: 0, skipped: 0 };
  const db = untyped(trx);

  // Within one batch the newest version of each record wins.
  const newest = new Map<string, MappedRecord>();
  for (const record of records) {
    const key = keyOfRow(resource, record.row);
    const seen = newest.get(key);
    if (!seen || seen.row.updated_at.getTime() <= record.row.updated_at.getTime()) newest.set(key, record);
  }
  const batch = [...newest.values()];

  // Lock what is stored (sorted, so concurrent batches lock in the same order) and compare versions.
  let locking = db
    .selectFrom(resource.table)
    .select([...resource.keyColumns, 'updated_at'])
    .where('tenant_id', '=', owner.tenantId)
    .where((eb) => keyMatch(eb, resource, batch.map((r) => r.row)));
  for (const column of resource.keyColumns) locking = locking.orderBy(column, 'asc');
  const stored = await locking.forUpdate().execute();
  const storedAt = new Map(stored.map((r: Row) => [keyOfRow(resource, r), (r.updated_at as Date).getTime()]));
  const fresh = batch.filter((r) => {
    const at = storedAt.get(keyOfRow(resource, r.row));
    return at === undefined || r.row.updated_at.getTime() > at;
  });
  if (fresh.length === 0) return { written: 0, skipped: batch.length };

  const rows = fresh.map((r) => serialize({ ...r.row, tenant_id: owner.tenantId, integration_id: owner.integrationId }));
  const columns = Object.keys(rows[0] as Row).filter((c) => !['tenant_id', ...resource.keyColumns].includes(c));
  await db
    .insertInto(resource.table)
    .values(rows)
    .onDuplicateKeyUpdate(guardedUpdate(columns))
    .execute();

  if (resource.child) await replaceChildren(db, resource, owner, fresh);
  return { written: fresh.length, skipped: batch.length - fresh.length };
}

/**
 * Each column takes the incoming value only when the incoming version is not older; `updated_at` is
 * assigned last because MySQL evaluates the assignments left to right. A deleted record stays deleted
 * unless a version newer than the deletion arrives.
 */
function guardedUpdate(columns: string[]) {
  const newer = sql`VALUES(updated_at) >= updated_at`;
  const update: Record<string, unknown> = {};
  for (const column of columns) {
    if (column === 'updated_at' || column === 'deleted_at') continue;
    update[column] = sql`IF(${newer}, VALUES(${sql.ref(column)}), ${sql.ref(column)})`;
  }
  update.deleted_at = sql`IF(deleted_at IS NOT NULL AND VALUES(updated_at) > deleted_at, NULL, deleted_at)`;
  update.updated_at = sql`GREATEST(updated_at, VALUES(updated_at))`;
  return update;
}

async function replaceChildren(db: AnyDb, resource: ResourceDefinition, owner: Owner, parents: MappedRecord[]) {
  const child = resource.child as NonNullable<ResourceDefinition['child']>;
  const parentIds = parents.map((p) => p.row.id as number);
  // Children have no `raw`: their JSON is part of the parent's.
  const children = parents.flatMap((p) => p.children).map((c): Row => ({ ...c, tenant_id: owner.tenantId }));
  // Stale children are found through the parent index and deleted by primary key: a NOT IN delete
  // would scan every child row of the tenant.
  const keep = new Set(children.map((c) => c.id as number));
  const existing: Row[] = await db
    .selectFrom(child.table)
    .select('id')
    .where('tenant_id', '=', owner.tenantId)
    .where(child.parentColumn, 'in', parentIds)
    .execute();
  const stale = existing.map((r) => r.id as number).filter((id) => !keep.has(id));
  if (stale.length > 0) await db.deleteFrom(child.table).where('tenant_id', '=', owner.tenantId).where('id', 'in', stale).execute();
  if (children.length === 0) return;
  const columns = Object.keys(children[0] as Row).filter((c) => c !== 'tenant_id' && c !== 'id');
  await db
    .insertInto(child.table)
    .values(children)
    .onDuplicateKeyUpdate(Object.fromEntries(columns.map((c) => [c, sql`VALUES(${sql.ref(c)})`])))
    .execute();
}

function keyMatch(eb: any, resource: ResourceDefinition, rows: Row[]) {
  if (resource.keyColumns.length === 1) {
    const column = resource.keyColumns[0] as string;
    return eb(column, 'in', rows.map((r) => r[column]));
  }
  return eb.or(rows.map((r) => eb.and(resource.keyColumns.map((c) => eb(c, '=', r[c])))));
}

/**
 * Marks records deleted. A delete that arrives before the record itself leaves a tombstone, so the
 * late create (older than the deletion) cannot bring it back.
 */
export async function markRecordsDeleted(
  trx: Transaction<Database> | Db,
  resource: ResourceDefinition,
  owner: Owner,
  keys: unknown[][],
  deletedAt: Date,
): Promise<number> {
  if (keys.length === 0) return 0;
  const db = untyped(trx);
  const rows = keys.map((key) => {
    const row: Row = { tenant_id: owner.tenantId, integration_id: owner.integrationId, updated_at: deletedAt, deleted_at: deletedAt };
    resource.keyColumns.forEach((c, i) => {
      row[c] = key[i];
    });
    row.raw = JSON.stringify(Object.fromEntries(resource.keyColumns.map((c, i) => [c, key[i]])));
    return row;
  });
  const result = await db
    .insertInto(resource.table)
    .values(rows)
    .onDuplicateKeyUpdate({ deleted_at: sql`IF(deleted_at IS NULL, VALUES(deleted_at), deleted_at)` })
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0);
}

/** Tenant-scoped reads for the API. */
export interface ListQuery {
  limit: number;
  after?: unknown[];
  filters: { column: string; op: '=' | '>=' | '<='; value: unknown }[];
  includeDeleted: boolean;
}

/** What an API read selects: the columns `toApi` reads and the key (never `raw`). */
const apiColumns = (readColumns: readonly string[], required: readonly string[]) => [...new Set([...required, ...readColumns])];

export async function listRecords(db: Db, resource: ResourceDefinition, tenantId: string, query: ListQuery) {
  const keys = resource.keyColumns;
  let q = untyped(db).selectFrom(resource.table).select(apiColumns(resource.readColumns, keys)).where('tenant_id', '=', tenantId);
  for (const f of query.filters) q = q.where(f.column, f.op, f.value);
  if (!query.includeDeleted) q = q.where('deleted_at', 'is', null);
  if (query.after) {
    const after = query.after;
    q = q.where(afterKey(keys, after) as never);
  }
  for (const k of keys) q = q.orderBy(k, 'asc');
  const rows: Row[] = await q.limit(query.limit + 1).execute();
  const page = rows.slice(0, query.limit);
  const children = await childrenOf(db, resource, tenantId, page);
  return {
    rows: page.map((row) => ({ row, children: children.get(row.id as number) ?? [] })),
    nextKey: rows.length > query.limit ? keys.map((k) => (page[page.length - 1] as Row)[k]) : null,
  };
}

/**
 * "Strictly after this key" spelled so the index serves it as a range: MariaDB does not turn a row-value
 * comparison `(a, b) > (?, ?)` into one, so `a >= ? AND (a > ? OR b > ?)` (the leading column bounds it).
 */
function afterKey(keys: readonly string[], after: unknown[]): RawBuilder<unknown> {
  const [first, ...rest] = keys;
  if (rest.length === 0) return sql`${sql.ref(first as string)} > ${after[0]}`;
  const tail = afterKey(rest, after.slice(1));
  return sql`(${sql.ref(first as string)} >= ${after[0]} AND (${sql.ref(first as string)} > ${after[0]} OR ${tail}))`;
}

export async function getRecords(db: Db, resource: ResourceDefinition, tenantId: string, firstKey: number, includeDeleted: boolean) {
  let q = untyped(db)
    .selectFrom(resource.table)
    .select(apiColumns(resource.readColumns, resource.keyColumns))
    .where('tenant_id', '=', tenantId)
    .where(resource.keyColumns[0] as string, '=', firstKey);
  if (!includeDeleted) q = q.where('deleted_at', 'is', null);
  for (const k of resource.keyColumns) q = q.orderBy(k, 'asc');
  const rows: Row[] = await q.execute();
  const children = await childrenOf(db, resource, tenantId, rows);
  return rows.map((row) => ({ row, children: children.get(row.id as number) ?? [] }));
}

async function childrenOf(db: Db, resource: ResourceDefinition, tenantId: string, parents: Row[]) {
  const byParent = new Map<number, Row[]>();
  if (!resource.child || parents.length === 0) return byParent;
  const { table, parentColumn, orderColumn, readColumns } = resource.child;
  const rows: Row[] = await untyped(db)
    .selectFrom(table)
    .select(apiColumns(readColumns, [parentColumn]))
    .where('tenant_id', '=', tenantId)
    .where(parentColumn, 'in', parents.map((p) => p.id))
    .orderBy(parentColumn)
    .orderBy(orderColumn)
    .orderBy('id')
    .execute();
  for (const row of rows) {
    const list = byParent.get(row[parentColumn] as number) ?? [];
    list.push(row);
    byParent.set(row[parentColumn] as number, list);
  }
  return byParent;
}

export { parseJsonColumn };

const TENANT_TABLES = [
  'shopify_product_variants', 'shopify_products', 'shopify_order_line_items', 'shopify_orders',
  'shopify_customers', 'shopify_inventory_levels',
] as const;

/** Deletes every synced record of a tenant (disconnect with purge, shop/redact). Returns rows deleted. */
export async function purgeTenantRecords(db: Db | Transaction<Database>, tenantId: string): Promise<number> {
  let deleted = 0;
  for (const table of TENANT_TABLES) {
    const result = await untyped(db).deleteFrom(table).where('tenant_id', '=', tenantId).executeTakeFirst();
    deleted += Number(result.numDeletedRows ?? 0);
  }
  return deleted;
}
