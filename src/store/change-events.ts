import { sql, type Selectable, type Transaction } from 'kysely';
import type { ChangeEventsTable, Database, Db } from './schema.js';
import { parseJsonColumn } from './schema.js';
import { pageOf, type Page } from './page.js';

/** The outbox of changes: appended in the transaction of each change, sequenced after commit, read as the feed. */
type Executor = Db | Transaction<Database>;

export interface NewChangeEvent {
  tenantId: string;
  integrationId: number | null;
  /** `product.updated`, `customer.redacted`, `integration.connected`, `endpoint.disabled`… */
  type: string;
  /** The record's resource (`products`…), or null for events that name no record. */
  resource: string | null;
  /** The record within its resource: its id, or `item:location` for an inventory level. */
  recordKey: string | null;
  /** Shopify's `updated_at` of the version the event carries. */
  shopifyUpdatedAt: Date | null;
  /** The record in its API shape (or the event's own body). */
  data: unknown;
}

/** A sequenced event: what was appended, with its id, feed position and when it was written. */
export interface ChangeEvent extends NewChangeEvent {
  id: number;
  position: number;
  occurredAt: Date;
}

/** Appends events in the caller's transaction: they exist exactly when the change they describe commits. */
export async function appendChangeEvents(db: Executor, events: NewChangeEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insertInto('change_events')
    .values(
      events.map((e) => ({
        tenant_id: e.tenantId,
        integration_id: e.integrationId,
        type: e.type,
        resource: e.resource,
        record_key: e.recordKey,
        shopify_updated_at: e.shopifyUpdatedAt,
        data: JSON.stringify(e.data ?? null),
      })),
    )
    .execute();
}

/** Runs `work` in the caller's transaction, or in a new one. */
export async function inTransaction<T>(db: Executor, work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
  return db.isTransaction ? work(db as Transaction<Database>) : (db as Db).transaction().execute(work);
}

/** Store events (`integration.*`): the integration's tenant and shop, and `details`, in the caller's transaction. */
export async function appendIntegrationEvent(trx: Transaction<Database>, integrationId: number, type: string, details: Record<string, unknown> = {}): Promise<void> {
  const integration = await trx.selectFrom('shopify_integrations').select(['tenant_id', 'shop_domain']).where('id', '=', integrationId).executeTakeFirst();
  if (!integration) return;
  await appendChangeEvents(trx, [
    { tenantId: integration.tenant_id, integrationId, type, resource: null, recordKey: null, shopifyUpdatedAt: null, data: { shop_domain: integration.shop_domain, ...details } },
  ]);
}

/**
 * Gives feed positions to committed events, in id order, up to `limit`; returns how many. Positions
 * follow commit visibility: an event whose transaction commits later gets a later position even if its
 * id is smaller, so a reader paging by position never skips one. The sequence row's lock makes the
 * sequencers of several processes take turns. The plain read sees committed rows only (READ COMMITTED).
 * `onSequenced` hears the types of the events positioned, once committed (for the metrics).
 */
export async function sequenceChangeEvents(db: Db, limit = 5000, onSequenced?: (types: string[]) => void): Promise<number> {
  const types = await db.transaction().execute(async (trx) => {
    const sequence = await trx.selectFrom('change_event_sequence').select('last_position').where('id', '=', 1).forUpdate().executeTakeFirst();
    if (!sequence) throw new Error('change_event_sequence has no row: run the migrations');
    const pending = await trx.selectFrom('change_events').select(['id', 'type']).where('position', 'is', null).orderBy('id', 'asc').limit(limit).execute();
    if (pending.length === 0) return [];
    const first = Number(sequence.last_position) + 1;
    const positions = pending.map((row, i) => sql`WHEN ${row.id} THEN ${first + i}`);
    await sql`UPDATE change_events SET position = CASE id ${sql.join(positions, sql` `)} END WHERE id IN (${sql.join(pending.map((r) => r.id))})`.execute(trx);
    await trx
      .updateTable('change_event_sequence')
      .set({ last_position: first + pending.length - 1 })
      .where('id', '=', 1)
      .execute();
    return pending.map((row) => row.type);
  });
  if (types.length > 0) onSequenced?.(types);
  return types.length;
}

/** The last position given (0 before any): a cheap "anything new?" for the feed's followers. */
export async function lastSequencedPosition(db: Db): Promise<number> {
  const row = await db.selectFrom('change_event_sequence').select('last_position').where('id', '=', 1).executeTakeFirst();
  return Number(row?.last_position ?? 0);
}

export interface FeedQuery {
  after: number;
  limit: number;
  types?: string[];
}

/** A tenant's sequenced events after a position, in position order. */
export async function readChangeFeed(db: Db, tenantId: string, query: FeedQuery): Promise<Page<ChangeEvent, number>> {
  let q = db.selectFrom('change_events').selectAll().where('tenant_id', '=', tenantId).where('position', 'is not', null).where('position', '>', query.after);
  if (query.types && query.types.length > 0) q = q.where('type', 'in', query.types);
  const rows = await q
    .orderBy('position', 'asc')
    .limit(query.limit + 1)
    .execute();
  return pageOf(rows.map(toChangeEvent), query.limit, (last) => last.position);
}

/** One event by id (undefined once retention or a purge deleted it). */
export async function findChangeEvent(db: Db, id: number): Promise<ChangeEvent | undefined> {
  const row = await db.selectFrom('change_events').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toChangeEvent(row);
}

/** The oldest position a tenant's feed still holds (null when it holds none). */
export async function oldestRetainedPosition(db: Db, tenantId: string): Promise<number | null> {
  const row = await db
    .selectFrom('change_events')
    .select((eb) => eb.fn.min('position').as('oldest'))
    .where('tenant_id', '=', tenantId)
    .executeTakeFirst();
  return row?.oldest === null || row?.oldest === undefined ? null : Number(row.oldest);
}

/**
 * Gives every earlier event of these records the record's data as it is now: after a redaction the
 * feed keeps no personal data of the customer or their orders (events keep their ids and positions).
 */
export async function rewriteEventsOfRecords(db: Executor, tenantId: string, resource: string, records: { recordKey: string; data: unknown }[]): Promise<void> {
  for (const record of records) {
    await db
      .updateTable('change_events')
      .set({ data: JSON.stringify(record.data) })
      .where('tenant_id', '=', tenantId)
      .where('resource', '=', resource)
      .where('record_key', '=', record.recordKey)
      .execute();
  }
}

/** Deletes a tenant's record events (its records were purged: a disconnect with purge, shop/redact). */
export async function deleteRecordEventsOfTenant(db: Executor, tenantId: string): Promise<number> {
  const result = await db.deleteFrom('change_events').where('tenant_id', '=', tenantId).where('resource', 'is not', null).executeTakeFirst();
  return Number(result.numDeletedRows ?? 0);
}

/** The last position retention deleted: a cursor before it may have missed events. */
export async function prunedThrough(db: Db): Promise<number> {
  const row = await db.selectFrom('change_event_sequence').select('pruned_through').where('id', '=', 1).executeTakeFirst();
  return Number(row?.pruned_through ?? 0);
}

/**
 * Deletes up to `limit` sequenced events that occurred before `before`, oldest position first, and
 * remembers the last position deleted (feed cursors before it are gone). Returns how many. Positions
 * follow time (an event is positioned a moment after it was written), so the stretch to delete ends at
 * the first event young enough to keep: read in position order, no index on time needed; an event of a
 * long transaction, positioned after younger ones, waits for them.
 */
export async function deleteChangeEventsBefore(db: Db, before: Date, limit: number): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const rows = await trx.selectFrom('change_events').select(['position', 'occurred_at']).where('position', 'is not', null).orderBy('position', 'asc').limit(limit).execute();
    const firstYoung = rows.findIndex((r) => r.occurred_at >= before);
    const last = (firstYoung === -1 ? rows[rows.length - 1] : rows[firstYoung - 1])?.position;
    if (last === undefined || last === null) return 0;
    const result = await trx.deleteFrom('change_events').where('position', '<=', last).executeTakeFirst();
    await trx
      .updateTable('change_event_sequence')
      .set({ pruned_through: sql`GREATEST(pruned_through, ${last})` })
      .where('id', '=', 1)
      .execute();
    return Number(result.numDeletedRows ?? 0);
  });
}

export function toChangeEvent(row: Selectable<ChangeEventsTable>): ChangeEvent {
  return {
    id: Number(row.id),
    position: Number(row.position),
    tenantId: row.tenant_id,
    integrationId: row.integration_id === null ? null : Number(row.integration_id),
    type: row.type,
    resource: row.resource,
    recordKey: row.record_key,
    shopifyUpdatedAt: row.shopify_updated_at,
    occurredAt: row.occurred_at,
    data: parseJsonColumn(row.data),
  };
}
