import { sql, type Transaction } from 'kysely';
import type { ResourceDefinition, Row } from '../resources/index.js';
import { cascadeRemovedChildren } from './record-cascades.js';
import { announceShapeChanges, apiShapes } from './record-events.js';
import type { Owner } from './records.js';
import type { Database, Db } from './schema.js';
import { untyped } from './untyped.js';

/**
 * Children of a bulk file (variants, line items) arrive on lines of their own, anywhere after their
 * parent's. A parent line is written without touching its children (upsertRecords `children:
 * 'separate'`), at the observation of the run (the operation's creation); each child is then written
 * only while its parent holds that version, stamped with it. Once the file is complete, a parent that
 * still holds the run's version keeps exactly the children stamped with it: the others are gone at
 * Shopify. A parent a webhook replaced meanwhile holds another version with its own children, and is
 * left alone by both steps.
 */
const childOf = (resource: ResourceDefinition) => {
  if (!resource.child) throw new Error(`${resource.name} has no children`);
  return resource.child;
};

/** Writes children whose parent holds the version observed at `observedAt`; returns how many were written. */
export async function writeChildrenOfVersion(trx: Transaction<Database>, resource: ResourceDefinition, owner: Owner, children: Row[], observedAt: Date): Promise<number> {
  if (children.length === 0) return 0;
  const child = childOf(resource);
  const db = untyped(trx);
  const parentIds = [...new Set(children.map((c) => c[child.parentColumn] as number))].sort((a, b) => a - b);
  // Locked in key order, as upsertRecords locks them: the parent cannot change version until commit.
  const current: Row[] = await db
    .selectFrom(resource.table)
    .select('id')
    .where('tenant_id', '=', owner.tenantId)
    .where('id', 'in', parentIds)
    .where('observed_at', '=', observedAt)
    .where('deleted_at', 'is', null)
    .orderBy('id')
    .forUpdate()
    .execute();
  const atVersion = new Set(current.map((r) => Number(r.id)));
  const kept = children.filter((c) => atVersion.has(c[child.parentColumn] as number));
  const rows = kept.map((c) => ({ ...c, tenant_id: owner.tenantId, observed_at: observedAt }));
  if (rows.length === 0) return 0;
  // A parent whose children this changes is announced (the same children written again announce nothing).
  const shapes = await apiShapes(
    trx,
    resource,
    owner.tenantId,
    [...new Set(kept.map((c) => c[child.parentColumn] as number))].map((id) => [id]),
  );
  const columns = Object.keys(rows[0] as Row).filter((c) => c !== 'tenant_id' && c !== 'id');
  await db
    .insertInto(child.table)
    .values(rows)
    .onDuplicateKeyUpdate(Object.fromEntries(columns.map((c) => [c, sql`VALUES(${sql.ref(c)})`])))
    .execute();
  await announceShapeChanges(trx, resource, owner, shapes);
  return rows.length;
}

/**
 * Once a bulk file is complete: removes, batch by batch of children not stamped with the run's version,
 * the children that parents still at the run's version (`observedAt`) no longer have, with what their
 * removal takes along (a variant's inventory levels). `inTransaction` runs each batch in a transaction
 * of the caller's (which checks the installation). Returns the children removed.
 */
export async function removeChildrenNotExported(
  db: Db,
  resource: ResourceDefinition,
  owner: Owner,
  observedAt: Date,
  inTransaction: <T>(work: (trx: Transaction<Database>) => Promise<T>) => Promise<T>,
  batchSize = 500,
): Promise<number> {
  const child = childOf(resource);
  let after = 0;
  let removed = 0;
  for (;;) {
    // The complete file stamped every child it has: only children without the run's stamp can be gone,
    // found in one pass over the child table's primary key (not a look-up per child of every parent).
    const unstamped: Row[] = await untyped(db)
      .selectFrom(child.table)
      .select(['id', child.parentColumn])
      .where('tenant_id', '=', owner.tenantId)
      .where('id', '>', after)
      .where((eb) => eb.or([eb('observed_at', 'is', null), eb('observed_at', '<>', observedAt)]))
      .orderBy('id')
      .limit(batchSize)
      .execute();
    if (unstamped.length === 0) return removed;
    after = Number(unstamped[unstamped.length - 1]?.id);
    const parents = [...new Set(unstamped.map((c) => Number(c[child.parentColumn])))].map((id) => ({ id }));
    removed += await inTransaction(async (trx) => {
      const locked: Row[] = await untyped(trx)
        .selectFrom(resource.table)
        .select('id')
        .where('tenant_id', '=', owner.tenantId)
        .where('integration_id', '=', owner.integrationId)
        .where(
          'id',
          'in',
          parents.map((p) => p.id),
        )
        .where('observed_at', '=', observedAt)
        .orderBy('id')
        .forUpdate()
        .execute();
      if (locked.length === 0) return 0;
      const stale: Row[] = await untyped(trx)
        .selectFrom(child.table)
        .select(['id', child.parentColumn, ...(child.cascade ? [child.cascade.column] : [])])
        .where('tenant_id', '=', owner.tenantId)
        .where(
          child.parentColumn,
          'in',
          locked.map((p) => p.id),
        )
        .where((eb) => eb.or([eb('observed_at', 'is', null), eb('observed_at', '<>', observedAt)]))
        .execute();
      if (stale.length === 0) return 0;
      const shapes = await apiShapes(
        trx,
        resource,
        owner.tenantId,
        [...new Set(stale.map((c) => c[child.parentColumn] as number))].map((id) => [id]),
      );
      await untyped(trx)
        .deleteFrom(child.table)
        .where('tenant_id', '=', owner.tenantId)
        .where(
          'id',
          'in',
          stale.map((c) => c.id),
        )
        .execute();
      await cascadeRemovedChildren(trx, resource, owner, stale, () => observedAt);
      await announceShapeChanges(trx, resource, owner, shapes);
      return stale.length;
    });
  }
}
