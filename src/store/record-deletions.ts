import { sql, type Transaction } from 'kysely';
import type { ResourceDefinition, Row } from '../resources/index.js';
import type { Database } from './schema.js';
import { untyped } from './untyped.js';

/**
 * Of these record keys, those whose stored version is not newer than `deletedAt` (or not stored at all):
 * a delete that arrives after a newer version (an inventory level disconnected, then connected again,
 * delivered out of order) must not mark the newer version deleted. `markRecordsDeleted` does not look
 * at versions, so the webhook path filters first. The rows are locked until the transaction ends.
 */
export async function keysDeletableAt(trx: Transaction<Database>, resource: ResourceDefinition, tenantId: string, keys: unknown[][], deletedAt: Date): Promise<unknown[][]> {
  if (keys.length === 0) return [];
  const db = untyped(trx);
  const columns = resource.keyColumns;
  const tuple = (values: unknown[]) => sql`(${sql.join(values)})`;
  const newer: Row[] = await db
    .selectFrom(resource.table)
    .select([...columns])
    .where('tenant_id', '=', tenantId)
    .where(sql`(${sql.join(columns.map((c) => sql.ref(c)))}) in (${sql.join(keys.map(tuple))})` as never)
    .where('updated_at', '>', deletedAt)
    .forUpdate()
    .execute();
  if (newer.length === 0) return keys;
  const skip = new Set(newer.map((r) => columns.map((c) => String(r[c])).join(':')));
  return keys.filter((k) => !skip.has(k.map(String).join(':')));
}
