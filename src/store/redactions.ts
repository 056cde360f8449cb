import { sql, type Transaction } from 'kysely';
import type { Database } from './schema.js';

type Trx = Transaction<Database>;

/** What a redaction names: a customer, an order, or a whole shop (record id = the integration id). */
export type RedactedResource = 'customers' | 'orders' | 'shop';

export interface RedactionOwner {
  tenantId: string;
  integrationId: number;
}

/** The redactions that concern one batch of records. */
export interface FoundRedactions {
  customers: Set<number>;
  orders: Set<number>;
  /** When the shop was redacted (`shop/redact`): nothing observed before it may be written. */
  shopRedactedAt: Date | null;
}

/**
 * Every write of records holds the integration row in share mode; a redaction holds it exclusively.
 * Without that common lock a record inserted for the first time could slip past a redaction running
 * at the same moment (each would see the other's row as absent: READ COMMITTED takes no gap locks).
 * Shared locks do not block one another, so concurrent batches and sync pages still run side by side.
 */
export async function lockIntegrationShared(trx: Trx, integrationId: number): Promise<void> {
  await sql`SELECT id FROM shopify_integrations WHERE id = ${integrationId} LOCK IN SHARE MODE`.execute(trx);
}

/** See lockIntegrationShared: a redaction (or another change of the integration) waits for the writes in flight and holds new ones back. */
export async function lockIntegrationExclusive(trx: Trx, integrationId: number): Promise<void> {
  await sql`SELECT id FROM shopify_integrations WHERE id = ${integrationId} FOR UPDATE`.execute(trx);
}

/** Records redactions for good (ids only). A repeated shop redaction keeps the later time. */
export async function recordRedactions(trx: Trx, owner: RedactionOwner, resource: RedactedResource, recordIds: number[], redactedAt: Date): Promise<void> {
  const ids = [...new Set(recordIds)];
  if (ids.length === 0) return;
  await trx
    .insertInto('shopify_redactions')
    .values(ids.map((id) => ({ tenant_id: owner.tenantId, resource, record_id: id, integration_id: owner.integrationId, redacted_at: redactedAt })))
    .onDuplicateKeyUpdate({ redacted_at: sql`GREATEST(redacted_at, VALUES(redacted_at))` })
    .execute();
}

/**
 * The redactions among these customer and order ids, and the shop's: one primary-key lookup per batch.
 * A locking read, so it sees the latest committed redactions whatever the caller's isolation level.
 */
export async function findRedactions(trx: Trx, owner: RedactionOwner, ids: { customers: number[]; orders: number[] }): Promise<FoundRedactions> {
  const rows = await trx
    .selectFrom('shopify_redactions')
    .select(['resource', 'record_id', 'redacted_at'])
    .where('tenant_id', '=', owner.tenantId)
    .where((eb) => {
      const conditions = [eb.and([eb('resource', '=', 'shop'), eb('record_id', '=', owner.integrationId)])];
      if (ids.customers.length > 0) conditions.push(eb.and([eb('resource', '=', 'customers'), eb('record_id', 'in', [...new Set(ids.customers)])]));
      if (ids.orders.length > 0) conditions.push(eb.and([eb('resource', '=', 'orders'), eb('record_id', 'in', [...new Set(ids.orders)])]));
      return eb.or(conditions);
    })
    // MariaDB has no FOR SHARE; both servers know LOCK IN SHARE MODE.
    .modifyEnd(sql`LOCK IN SHARE MODE`)
    .execute();
  const found: FoundRedactions = { customers: new Set(), orders: new Set(), shopRedactedAt: null };
  for (const row of rows) {
    if (row.resource === 'shop') found.shopRedactedAt = row.redacted_at;
    else if (row.resource === 'customers') found.customers.add(Number(row.record_id));
    else if (row.resource === 'orders') found.orders.add(Number(row.record_id));
  }
  return found;
}
