import { sql, type RawBuilder, type Transaction } from 'kysely';
import { selectWithTimeout } from '../platform/db.js';
import type { ResourceDefinition, Row } from '../resources/index.js';
import { pageOf, type Page } from './page.js';
import { keysCondition } from './record-keys.js';
import type { Database, Db } from './schema.js';
import { untyped } from './untyped.js';

/** Tenant-scoped reads for the API. */
export interface ListQuery {
  limit: number;
  after?: unknown[];
  /** `in` takes a list; with `via`, `column` must be one of the `via.select` values of `via.table`'s rows whose `via.match` equals the value. */
  filters: { column: string; op: '=' | '>=' | '<=' | 'in'; value: unknown; via?: { table: string; match: string; select: string } }[];
  includeDeleted: boolean;
}

/** Bounds of an API read: each statement is stopped after `timeoutMs` (0: unbounded). */
export interface ReadBounds {
  timeoutMs: number;
}
const UNBOUNDED: ReadBounds = { timeoutMs: 0 };

/** What an API read selects: the columns `toApi` reads and the key (never `raw`). */
const apiColumns = (readColumns: readonly string[], required: readonly string[]) => [...new Set([...required, ...readColumns])];

/**
 * The statement behind one list page (one row more than the page, to know whether another follows).
 * Every filter has an index (tenant_id, column, key…), so a filtered page reads one index range in key order.
 */
export function listRecordsQuery(db: Db, resource: ResourceDefinition, tenantId: string, query: ListQuery) {
  const keys = resource.keyColumns;
  let q = untyped(db).selectFrom(resource.table).select(apiColumns(resource.readColumns, keys)).where('tenant_id', '=', tenantId);
  for (const f of query.filters) {
    const via = f.via;
    q = via
      ? q.where(f.column, 'in', untyped(db).selectFrom(via.table).select(via.select).where('tenant_id', '=', tenantId).where(via.match, '=', f.value).where(via.select, 'is not', null))
      : q.where(f.column, f.op, f.value);
  }
  if (!query.includeDeleted) q = q.where('deleted_at', 'is', null);
  if (query.after) q = q.where(afterKey(keys, query.after) as never);
  for (const k of keys) q = q.orderBy(k, 'asc');
  return q.limit(query.limit + 1);
}

export interface RecordWithChildren {
  row: Row;
  children: Row[];
}

/** A page of a tenant's records; `next` is the last row's key values, in `keyColumns` order. */
export async function listRecords(db: Db, resource: ResourceDefinition, tenantId: string, query: ListQuery, bounds: ReadBounds = UNBOUNDED): Promise<Page<RecordWithChildren, unknown[]>> {
  const rows: Row[] = await selectWithTimeout(db, listRecordsQuery(db, resource, tenantId, query), bounds.timeoutMs);
  const page = pageOf(rows, query.limit, (last) => resource.keyColumns.map((k) => last[k]));
  const children = await childrenOf(db, resource, tenantId, page.rows, bounds);
  return { rows: page.rows.map((row) => ({ row, children: children.get(row.id as number) ?? [] })), next: page.next };
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

export async function getRecords(db: Db, resource: ResourceDefinition, tenantId: string, firstKey: number, includeDeleted: boolean, bounds: ReadBounds = UNBOUNDED) {
  let q = untyped(db)
    .selectFrom(resource.table)
    .select(apiColumns(resource.readColumns, resource.keyColumns))
    .where('tenant_id', '=', tenantId)
    .where(resource.keyColumns[0] as string, '=', firstKey);
  if (!includeDeleted) q = q.where('deleted_at', 'is', null);
  for (const k of resource.keyColumns) q = q.orderBy(k, 'asc');
  const rows: Row[] = await selectWithTimeout(db, q, bounds.timeoutMs);
  const children = await childrenOf(db, resource, tenantId, rows, bounds);
  return rows.map((row) => ({ row, children: children.get(row.id as number) ?? [] }));
}

/**
 * Records by key as the API serves them (deleted ones too), with their version columns, inside a write's
 * transaction: what a change event carries.
 */
export async function readRecordsByKeys(trx: Db | Transaction<Database>, resource: ResourceDefinition, tenantId: string, keys: unknown[][]): Promise<RecordWithChildren[]> {
  if (keys.length === 0) return [];
  const rows: Row[] = await untyped(trx)
    .selectFrom(resource.table)
    .select(apiColumns(resource.readColumns, [...resource.keyColumns, 'updated_at', 'observed_at', 'deleted_at']))
    .where('tenant_id', '=', tenantId)
    .where(keysCondition(resource, keys) as never)
    .execute();
  const children = await childrenOf(trx, resource, tenantId, rows, UNBOUNDED);
  return rows.map((row) => ({ row, children: children.get(row.id as number) ?? [] }));
}

/** The children of these parents as the API serves them, by parent id. */
export async function childrenOf(db: Db | Transaction<Database>, resource: ResourceDefinition, tenantId: string, parents: Row[], bounds: ReadBounds) {
  const byParent = new Map<number, Row[]>();
  if (!resource.child || parents.length === 0) return byParent;
  const { table, parentColumn, orderColumn, readColumns } = resource.child;
  const query = untyped(db)
    .selectFrom(table)
    .select(apiColumns(readColumns, [parentColumn]))
    .where('tenant_id', '=', tenantId)
    .where(
      parentColumn,
      'in',
      parents.map((p) => p.id),
    )
    .orderBy(parentColumn)
    .orderBy(orderColumn)
    .orderBy('id');
  const rows: Row[] = await selectWithTimeout(untyped(db), query, bounds.timeoutMs);
  for (const row of rows) {
    const list = byParent.get(row[parentColumn] as number) ?? [];
    list.push(row);
    byParent.set(row[parentColumn] as number, list);
  }
  return byParent;
}
