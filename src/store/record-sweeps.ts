import { sql, type Transaction } from 'kysely';
import type { ResourceDefinition } from '../resources/index.js';
import { announceDeletedRecords } from './record-events.js';
import { keysAfter, keysCondition, keysOfRows } from './record-keys.js';
import type { Owner } from './records.js';
import type { Database, Db } from './schema.js';
import { untyped } from './untyped.js';

/** The full sync's deletion sweep: rows a complete walk saw are touched, the rest marked deleted. */
type Executor = Db | Transaction<Database>;

/**
 * Marks records as seen by the running full sync. `synced_at` changes by itself only when a row is
 * written, and most rows of a full sync are not (nothing changed): this per-page UPDATE by primary key
 * lets the final sweep tell "not at Shopify any more" from "unchanged" without holding ids in memory.
 */
export async function touchRecords(trx: Executor, resource: ResourceDefinition, owner: Owner, keys: unknown[][]): Promise<void> {
  if (keys.length === 0) return;
  await sql`UPDATE ${sql.table(resource.table)} SET synced_at = NOW(3)
    WHERE tenant_id = ${owner.tenantId} AND integration_id = ${owner.integrationId} AND ${keysCondition(resource, keys)}`.execute(trx);
}

/**
 * After a complete full walk: rows of the integration that the walk did not see (`synced_at` older than
 * its start, which may be several runs ago) and that are not deleted yet are marked deleted. Walks the tenant's primary key in batches,
 * so memory and lock time stay small however large the store; the UPDATE re-checks the condition, so a
 * webhook that wrote a row meanwhile keeps it alive. `createdSince` limits the sweep to what the sync
 * could see (orders without `read_all_orders`: the last 60 days). `guard` runs first in the transaction
 * of each batch's UPDATE and throws to stop the sweep (the run's installation is not the current one).
 */
export async function markUnseenRecordsDeleted(
  db: Db,
  resource: ResourceDefinition,
  owner: Owner,
  syncStartedAt: Date,
  opts: { createdSince?: Date; batchSize?: number; guard?: (trx: Transaction<Database>) => Promise<void> } = {},
): Promise<number> {
  const keyColumns = [...resource.keyColumns];
  const batchSize = opts.batchSize ?? 1000;
  const unseen = (eb: any) => {
    const conditions = [eb('tenant_id', '=', owner.tenantId), eb('integration_id', '=', owner.integrationId), eb('deleted_at', 'is', null), eb('synced_at', '<', syncStartedAt)];
    if (opts.createdSince) conditions.push(eb('created_at', '>=', opts.createdSince));
    return eb.and(conditions);
  };
  let after: unknown[] | undefined;
  let deleted = 0;
  for (;;) {
    let q = untyped(db).selectFrom(resource.table).select(keyColumns).where(unseen);
    if (after) q = q.where(keysAfter(keyColumns, after) as never);
    for (const c of keyColumns) q = q.orderBy(c, 'asc');
    const rows: Record<string, unknown>[] = await q.limit(batchSize).execute();
    if (rows.length === 0) break;
    const keys = rows.map((r) => keyColumns.map((c) => r[c]));
    after = keys[keys.length - 1];
    deleted += await db.transaction().execute(async (trx) => {
      await opts.guard?.(trx);
      // Locked and re-checked: a webhook that wrote a row meanwhile keeps it alive.
      const still: Record<string, unknown>[] = await untyped(trx)
        .selectFrom(resource.table)
        .select(keyColumns)
        .where(unseen)
        .where(keysCondition(resource, keys) as never)
        .forUpdate()
        .execute();
      if (still.length === 0) return 0;
      const stillKeys = keysOfRows(resource, still);
      await untyped(trx)
        .updateTable(resource.table)
        .set({ deleted_at: sql`NOW(3)` })
        .where('tenant_id', '=', owner.tenantId)
        .where(keysCondition(resource, stillKeys) as never)
        .execute();
      return announceDeletedRecords(trx, resource, owner, stillKeys);
    });
    if (rows.length < batchSize) break;
  }
  return deleted;
}
