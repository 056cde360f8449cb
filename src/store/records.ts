import { isDeepStrictEqual } from 'node:util';
import { sql, type Transaction } from 'kysely';
import type { Db } from './schema.js';
import { RECORD_TABLES, type MappedRecord, type ResourceDefinition, type Row } from '../resources/index.js';
import { applyRemovalsWrittenMeanwhile, cascadeRemovedChildren, childrenForCascade, removableColumns, removalsOf } from './record-cascades.js';
import type { Database } from './schema.js';
import { parseJsonColumn } from './schema.js';
import { applyRedactionsTo, redactionTargets } from './redaction.js';
import { findRedactions, lockIntegrationShared } from './redactions.js';
import { deleteRecordEventsOfTenant } from './change-events.js';
import { announceDeletedRecords, announceWrittenRecords, apiShapes, type PriorState } from './record-events.js';
import { keysCondition, keysOfRows } from './record-keys.js';
import { untyped, type AnyDb } from './untyped.js';

export interface Owner {
  tenantId: string;
  integrationId: number;
}

export interface UpsertResult {
  /** Records inserted or replaced by a version not older than the stored one. */
  written: number;
  /** Records whose stored version was newer (nothing to do), or that a shop redaction refuses. */
  skipped: number;
}

/** A record and when its version was observed: a webhook's triggered-at (else received-at), a sync page's request start. */
export type ObservedRecord = MappedRecord & { observedAt: Date };

/** A version is the pair (updated_at, observed_at), compared lexicographically. */
interface Version {
  updatedAt: number;
  observedAt: number;
}

const versionOf = (r: ObservedRecord): Version => ({ updatedAt: r.row.updated_at.getTime(), observedAt: r.observedAt.getTime() });
const storedVersion = (row: Row): Version & { deleted: boolean } => ({
  updatedAt: (row.updated_at as Date).getTime(),
  observedAt: (row.observed_at as Date).getTime(),
  deleted: row.deleted_at !== null && row.deleted_at !== undefined,
});
const compareVersions = (a: Version, b: Version) => a.updatedAt - b.updatedAt || a.observedAt - b.observedAt;

const keyOfRow = (resource: ResourceDefinition, row: Row) => resource.keyColumns.map((c) => String(row[c])).join(':');
const serialize = (row: Row): Row => ({ ...row, raw: JSON.stringify(row.raw) });

/**
 * Order-free upsert of a batch. A stored record is replaced only by a version that is not older:
 * versions compare as (updated_at, observed_at), because Shopify's `updated_at` has whole seconds and
 * two versions often share one; then the later observation wins, and an equal pair is written again
 * (idempotent). Late webhooks and syncs racing webhooks cannot move data backwards, and a sync page
 * (observed when its request started) repairs a same-second version a webhook left behind.
 * Redacted customers and orders are scrubbed before they are written, from whatever path they come,
 * and nothing observed before a `shop/redact` is written. Children (variants, line items) follow the
 * parent's winning version only. Run it inside a transaction.
 */
export async function upsertRecords(
  trx: Transaction<Database>,
  resource: ResourceDefinition,
  owner: Owner,
  records: ObservedRecord[],
  /**
   * `separate`: the records come without their children, which arrive on their own (a bulk file's
   * lines, see bulk-children.ts): the stored children stay, and a record is unchanged when it equals
   * the stored one but for them.
   */
  opts: { children?: 'replace' | 'separate' } = {},
): Promise<UpsertResult> {
  if (records.length === 0) return { written: 0, skipped: 0 };
  const db = untyped(trx);

  // Within one batch the newest version of each record wins (the later one of equal versions).
  const newest = new Map<string, ObservedRecord>();
  for (const record of records) {
    const key = keyOfRow(resource, record.row);
    const seen = newest.get(key);
    if (!seen || compareVersions(versionOf(seen), versionOf(record)) <= 0) newest.set(key, record);
  }
  const batch = [...newest.values()];

  // Integration first (shared; a redaction takes it exclusively), then what is stored, sorted, so
  // concurrent batches lock in the same order; then compare versions.
  await lockIntegrationShared(trx, owner.integrationId);
  let locking = db
    .selectFrom(resource.table)
    .select([...resource.keyColumns, 'updated_at', 'observed_at', 'deleted_at'])
    .where('tenant_id', '=', owner.tenantId)
    .where(
      keysCondition(
        resource,
        keysOfRows(
          resource,
          batch.map((r) => r.row),
        ),
      ) as never,
    );
  for (const column of resource.keyColumns) locking = locking.orderBy(column, 'asc');
  const stored = await locking.forUpdate().execute();
  const storedAt = new Map(stored.map((r: Row) => [keyOfRow(resource, r), storedVersion(r)]));
  const notOlder = batch.filter((r) => {
    const at = storedAt.get(keyOfRow(resource, r.row));
    return at === undefined || compareVersions(versionOf(r), at) >= 0;
  });
  if (notOlder.length === 0) return { written: 0, skipped: batch.length };

  // A live record read again with the same `updated_at` and the same content (every full sync) only
  // moves its observation forward: rewriting it and its children would change nothing.
  const liveAtSameSecond = (r: ObservedRecord) => {
    const at = storedAt.get(keyOfRow(resource, r.row));
    return at !== undefined && !at.deleted && at.updatedAt === r.row.updated_at.getTime();
  };
  const sameSecond = notOlder.filter(liveAtSameSecond);
  const unchanged = await unchangedRecords(db, resource, owner, sameSecond, opts.children === 'separate' ? resource.child?.apiField : undefined);
  const fresh = notOlder.filter((r) => !unchanged.has(r));
  if (fresh.length === 0) return { written: 0, skipped: batch.length };

  const toWrite = await redacted(trx, resource, owner, fresh);
  if (toWrite.length === 0) return { written: 0, skipped: batch.length };
  // What the API shows now of live records written again at the same `updated_at` (a same-second change):
  // if it shows them alike after the write, nothing is announced. A record with another `updated_at` is
  // shown differently (the API serves `updated_at`), so it needs no comparison.
  const shapesBefore = await apiShapes(
    trx,
    resource,
    owner.tenantId,
    keysOfRows(
      resource,
      toWrite.filter(liveAtSameSecond).map((r) => r.row),
    ),
  );
  // A record of a removed inventory item or location is written deleted (at the removal), never live.
  const removable = removableColumns(resource).length > 0;
  const removedAt = removable
    ? await removalsOf(
        trx,
        resource,
        owner.tenantId,
        toWrite.map((r) => r.row),
      )
    : [];
  const rows = toWrite.map((r, i) =>
    serialize({
      ...r.row,
      ...(removable ? { deleted_at: removedAt[i] ?? null } : {}),
      observed_at: r.observedAt,
      tenant_id: owner.tenantId,
      integration_id: owner.integrationId,
    }),
  );
  const columns = Object.keys(rows[0] as Row).filter((c) => !['tenant_id', ...resource.keyColumns].includes(c));
  await db.insertInto(resource.table).values(rows).onDuplicateKeyUpdate(guardedUpdate(columns, removable)).execute();
  if (removable)
    await applyRemovalsWrittenMeanwhile(
      trx,
      resource,
      owner.tenantId,
      toWrite.filter((_, i) => removedAt[i] === undefined).map((r) => r.row),
    );

  let written = toWrite;
  if (resource.child && opts.children !== 'separate') {
    written = await parentsAtTheirVersion(
      db,
      resource,
      owner,
      toWrite,
      toWrite.filter((r) => !storedAt.has(keyOfRow(resource, r.row))),
    );
    await replaceChildren(db, resource, owner, written);
  }
  await announceUpserts(trx, resource, owner, written, storedAt, shapesBefore);
  return { written: written.length, skipped: batch.length - written.length };
}

/**
 * The change events of an upsert: records still at the version written (a concurrent transaction's newer
 * version, kept by the SQL guard, announces itself), created or updated by what was stored before.
 */
async function announceUpserts(
  trx: Transaction<Database>,
  resource: ResourceDefinition,
  owner: Owner,
  written: ObservedRecord[],
  storedAt: Map<string, Version & { deleted: boolean }>,
  shapesBefore: Map<string, unknown>,
) {
  const ours = new Map(written.map((r) => [keyOfRow(resource, r.row), versionOf(r)]));
  const before = new Map(
    [...ours.keys()].map((key): [string, PriorState] => {
      const at = storedAt.get(key);
      return [key, at === undefined ? 'absent' : at.deleted ? 'deleted' : 'live'];
    }),
  );
  await announceWrittenRecords(
    trx,
    resource,
    owner,
    before,
    ({ row }) => {
      const version = ours.get(keyOfRow(resource, row));
      return version !== undefined && compareVersions(version, { updatedAt: (row.updated_at as Date).getTime(), observedAt: (row.observed_at as Date).getTime() }) === 0;
    },
    shapesBefore,
  );
}

/** Of these records, those whose stored JSON equals theirs; their stored observation moves forward to theirs. */
async function unchangedRecords(db: AnyDb, resource: ResourceDefinition, owner: Owner, records: ObservedRecord[], withoutField?: string): Promise<Set<ObservedRecord>> {
  const unchanged = new Set<ObservedRecord>();
  if (records.length === 0) return unchanged;
  const rows: Row[] = await db
    .selectFrom(resource.table)
    .select([...resource.keyColumns, 'raw'])
    .where('tenant_id', '=', owner.tenantId)
    .where(
      keysCondition(
        resource,
        keysOfRows(
          resource,
          records.map((r) => r.row),
        ),
      ) as never,
    )
    .execute();
  const storedRaw = new Map(rows.map((r) => [keyOfRow(resource, r), r.raw]));
  for (const r of records) {
    const raw = storedRaw.get(keyOfRow(resource, r.row));
    if (raw === undefined) continue;
    const stored = parseJsonColumn<Row>(raw);
    if (withoutField !== undefined && stored && typeof stored === 'object') delete stored[withoutField];
    if (isDeepStrictEqual(stored, r.row.raw)) unchanged.add(r);
  }
  const byObservation = new Map<number, ObservedRecord[]>();
  for (const r of unchanged) byObservation.set(r.observedAt.getTime(), [...(byObservation.get(r.observedAt.getTime()) ?? []), r]);
  for (const [observedAt, group] of byObservation) {
    await db
      .updateTable(resource.table)
      .set({ observed_at: sql`GREATEST(observed_at, ${new Date(observedAt)})` })
      .where('tenant_id', '=', owner.tenantId)
      .where(
        keysCondition(
          resource,
          keysOfRows(
            resource,
            group.map((r) => r.row),
          ),
        ) as never,
      )
      .execute();
  }
  return unchanged;
}

/** The records as they may be written: scrubbed where redacted, dropped when observed before the shop's redaction. */
async function redacted(trx: Transaction<Database>, resource: ResourceDefinition, owner: Owner, records: ObservedRecord[]): Promise<ObservedRecord[]> {
  const ids = { customers: [] as number[], orders: [] as number[] };
  for (const r of records) {
    const targets = redactionTargets(resource.name, r);
    ids.customers.push(...targets.customers);
    ids.orders.push(...targets.orders);
  }
  const found = await findRedactions(trx, owner, ids);
  const shopRedactedAt = found.shopRedactedAt?.getTime();
  return records.filter((r) => shopRedactedAt === undefined || r.observedAt.getTime() > shopRedactedAt).map((r) => applyRedactionsTo(resource.name, r, found));
}

/**
 * Parents whose stored version is the one this batch wrote. Those stored before were locked by the
 * locking read and compared, so the write holds; those absent then may have been inserted by a
 * concurrent transaction meanwhile (READ COMMITTED has no gap locks) with a newer version that the
 * SQL guard kept: their children must not be replaced. The INSERT holds their row locks now.
 */
async function parentsAtTheirVersion(db: AnyDb, resource: ResourceDefinition, owner: Owner, parents: ObservedRecord[], absent: ObservedRecord[]): Promise<ObservedRecord[]> {
  if (absent.length === 0) return parents;
  const rows: Row[] = await db
    .selectFrom(resource.table)
    .select([...resource.keyColumns, 'updated_at', 'observed_at'])
    .where('tenant_id', '=', owner.tenantId)
    .where(
      keysCondition(
        resource,
        keysOfRows(
          resource,
          absent.map((r) => r.row),
        ),
      ) as never,
    )
    .forUpdate()
    .execute();
  const now = new Map(rows.map((r) => [keyOfRow(resource, r), storedVersion(r)]));
  const lost = new Set(
    absent.filter((r) => {
      const at = now.get(keyOfRow(resource, r.row));
      return at === undefined || compareVersions(at, versionOf(r)) !== 0;
    }),
  );
  return parents.filter((r) => !lost.has(r));
}

/**
 * Each column takes the incoming value only when the incoming version (updated_at, observed_at) is not
 * older; `observed_at` and then `updated_at` are assigned last because MySQL evaluates the assignments
 * left to right (once `observed_at` is assigned the comparison still gives the same answer). A deleted
 * record is revived only by a version that is not older and was observed (or updated) after the
 * deletion: a full walk that sees it again, a connect after a disconnect; an older webhook never does.
 */
function guardedUpdate(columns: string[], removable: boolean) {
  const notOlder = sql`(VALUES(updated_at) > updated_at OR (VALUES(updated_at) = updated_at AND VALUES(observed_at) >= observed_at))`;
  const update: Record<string, unknown> = {};
  for (const column of columns) {
    if (['updated_at', 'observed_at', 'deleted_at'].includes(column)) continue;
    update[column] = sql`IF(${notOlder}, VALUES(${sql.ref(column)}), ${sql.ref(column)})`;
  }
  const revived = sql`IF(deleted_at IS NOT NULL AND ${notOlder} AND (VALUES(observed_at) > deleted_at OR VALUES(updated_at) > deleted_at), NULL, deleted_at)`;
  // A removal (VALUES(deleted_at) set) wins over a revival; the earliest news of a deletion stays.
  update.deleted_at = removable ? sql`IF(VALUES(deleted_at) IS NULL, ${revived}, IF(${revived} IS NULL OR ${revived} > VALUES(deleted_at), VALUES(deleted_at), ${revived}))` : revived;
  update.observed_at = sql`IF(${notOlder}, VALUES(observed_at), observed_at)`;
  update.updated_at = sql`IF(${notOlder}, VALUES(updated_at), updated_at)`;
  return update;
}

async function replaceChildren(db: AnyDb, resource: ResourceDefinition, owner: Owner, parents: ObservedRecord[]) {
  if (parents.length === 0) return;
  const child = resource.child as NonNullable<ResourceDefinition['child']>;
  const parentIds = parents.map((p) => p.row.id as number);
  // Children have no `raw`: their JSON is part of the parent's.
  const children = parents.flatMap((p) => p.children).map((c): Row => ({ ...c, tenant_id: owner.tenantId }));
  // Stale children are found through the parent index and deleted by primary key: a NOT IN delete
  // would scan every child row of the tenant.
  const keep = new Set(children.map((c) => c.id as number));
  const existing: Row[] = await db
    .selectFrom(child.table)
    .select(['id', child.parentColumn, ...(child.cascade ? [child.cascade.column] : [])])
    .where('tenant_id', '=', owner.tenantId)
    .where(child.parentColumn, 'in', parentIds)
    .execute();
  const removed = existing.filter((r) => !keep.has(r.id as number));
  if (removed.length > 0) {
    await db
      .deleteFrom(child.table)
      .where('tenant_id', '=', owner.tenantId)
      .where(
        'id',
        'in',
        removed.map((r) => r.id),
      )
      .execute();
    // Gone when this version of the parent was observed (the webhook's triggered-at, the page's fetch).
    const observedAt = new Map(parents.map((p) => [p.row.id as number, p.observedAt]));
    await cascadeRemovedChildren(db, resource, owner, removed, (id) => observedAt.get(id) as Date);
  }
  if (children.length === 0) return;
  const columns = Object.keys(children[0] as Row).filter((c) => c !== 'tenant_id' && c !== 'id');
  await db
    .insertInto(child.table)
    .values(children)
    .onDuplicateKeyUpdate(Object.fromEntries(columns.map((c) => [c, sql`VALUES(${sql.ref(c)})`])))
    .execute();
}

/**
 * Marks records deleted. A delete that arrives before the record itself leaves a tombstone, so the
 * late create (older than the deletion) cannot bring it back.
 */
export async function markRecordsDeleted(trx: Transaction<Database> | Db, resource: ResourceDefinition, owner: Owner, keys: unknown[][], deletedAt: Date): Promise<number> {
  if (keys.length === 0) return 0;
  const db = untyped(trx);
  const keyRows = keys.map((key) => Object.fromEntries(resource.keyColumns.map((c, i) => [c, key[i]])));
  // Which are live now: those the deletion changes (a tombstone for a record never stored announces nothing).
  let liveQuery = db
    .selectFrom(resource.table)
    .select([...resource.keyColumns])
    .where('tenant_id', '=', owner.tenantId)
    .where(keysCondition(resource, keys) as never)
    .where('deleted_at', 'is', null);
  // In key order, as upsertRecords locks, so the two cannot deadlock on a batch.
  for (const column of resource.keyColumns) liveQuery = liveQuery.orderBy(column, 'asc');
  const live: Row[] = await liveQuery.forUpdate().execute();
  // A record of a removed inventory item or location was gone by the removal, if that came first.
  const removedAt = await removalsOf(trx, resource, owner.tenantId, keyRows);
  const rows = keyRows.map((keyRow, i): Row => {
    const at = removedAt[i] && removedAt[i] < deletedAt ? removedAt[i] : deletedAt;
    return { ...keyRow, tenant_id: owner.tenantId, integration_id: owner.integrationId, updated_at: at, observed_at: at, deleted_at: at, raw: JSON.stringify(keyRow) };
  });
  const result = await db
    .insertInto(resource.table)
    .values(rows)
    // A deletion is a version of the record: the newest one stays, whatever the delivery order (a level
    // disconnected, connected again, disconnected again). The webhook path drops deletions older than
    // the stored version first (keysDeletableAt), so a late older deletion cannot hide a newer version.
    .onDuplicateKeyUpdate({ deleted_at: sql`IF(deleted_at IS NULL OR VALUES(deleted_at) > deleted_at, VALUES(deleted_at), deleted_at)` })
    .executeTakeFirst();
  await announceDeletedRecords(trx, resource, owner, keysOfRows(resource, live));
  if (resource.child?.cascade) {
    const children = await childrenForCascade(
      trx,
      resource,
      owner.tenantId,
      keys.map((k) => k[0] as number),
    );
    await cascadeRemovedChildren(trx, resource, owner, children, () => deletedAt);
  }
  return Number(result.numInsertedOrUpdatedRows ?? 0);
}

/** Deletes every synced record of a tenant, in every table of the registry (disconnect with purge, shop/redact). Returns rows deleted. */
export async function purgeTenantRecords(db: Db | Transaction<Database>, tenantId: string): Promise<number> {
  let deleted = 0;
  // Their events go too: what was purged must not stay readable in the feed.
  await deleteRecordEventsOfTenant(db, tenantId);
  for (const table of RECORD_TABLES) {
    const result = await untyped(db).deleteFrom(table).where('tenant_id', '=', tenantId).executeTakeFirst();
    deleted += Number(result.numDeletedRows ?? 0);
  }
  return deleted;
}
