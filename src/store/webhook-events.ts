import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

export interface WebhookEventRecord {
  integrationId: number;
  tenantId: string;
  eventId: string;
  topic: string;
  webhookId: string | null;
  triggeredAt: Date | null;
  receivedAt: Date;
}

/** A concurrent transaction recorded one of these events first: run the whole transaction again. */
export class ConcurrentEventError extends Error {
  constructor() {
    super('a concurrent transaction recorded one of these webhook events; retry');
    this.name = 'ConcurrentEventError';
  }
}

/** Event ids compare as the column does (case-insensitive collation), so a key matches what MySQL matches. */
export const eventKey = (integrationId: number, eventId: string) => `${integrationId}:${eventId.toLowerCase()}`;

/**
 * The idempotency record: inserts the events not seen before and returns their keys. Call it in the
 * transaction that applies them, so an event counts as processed exactly when its effect is committed.
 * Read without locks, then `INSERT IGNORE` in key order (no gap locks, no lock-order deadlocks); if
 * fewer rows went in than were new, another transaction won a race for one of them and committed
 * first — the caller retries, and the retry sees that event as a duplicate.
 */
export async function recordNewEvents(trx: Transaction<Database>, events: WebhookEventRecord[]): Promise<Set<string>> {
  const unique = new Map<string, WebhookEventRecord>();
  for (const e of events) if (!unique.has(eventKey(e.integrationId, e.eventId))) unique.set(eventKey(e.integrationId, e.eventId), e);
  if (unique.size === 0) return new Set();

  const byIntegration = new Map<number, string[]>();
  for (const e of unique.values()) byIntegration.set(e.integrationId, [...(byIntegration.get(e.integrationId) ?? []), e.eventId]);
  const seen = await trx
    .selectFrom('shopify_webhook_events')
    .select(['integration_id', 'event_id'])
    .where((eb) => eb.or([...byIntegration].map(([id, eventIds]) => eb.and([eb('integration_id', '=', id), eb('event_id', 'in', eventIds)]))))
    .execute();
  for (const row of seen) unique.delete(eventKey(Number(row.integration_id), row.event_id));
  if (unique.size === 0) return new Set();

  const fresh = [...unique.values()].sort((a, b) => a.integrationId - b.integrationId || (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
  const result = await trx
    .insertInto('shopify_webhook_events')
    .orIgnore()
    .values(fresh.map((e) => ({
      integration_id: e.integrationId,
      event_id: e.eventId,
      tenant_id: e.tenantId,
      topic: e.topic,
      webhook_id: e.webhookId,
      triggered_at: e.triggeredAt,
      received_at: e.receivedAt,
    })))
    .executeTakeFirst();
  if (Number(result.numInsertedOrUpdatedRows ?? 0) !== fresh.length) throw new ConcurrentEventError();
  return new Set(unique.keys());
}

/** The owner of webhook events: the integration's tenant and the shop currency its mappers need. */
export interface WebhookOwner {
  integrationId: number;
  tenantId: string;
  shopCurrency: string | null;
}

/**
 * Owners of queued webhooks, by the integration id resolved at ingest; when that integration has been
 * deleted since (the shop moved to another tenant), by the shop's current integration. Absent: dropped.
 */
export async function findWebhookOwners(db: Kysely<Database>, refs: { integrationId: number; shop: string }[]) {
  // A row the shop moved away from (released) counts as gone: its tenant no longer holds the shop's data.
  const select = () => db.selectFrom('shopify_integrations').select(['id', 'tenant_id', 'shop_currency', 'shop_domain']).where('shop_released_at', 'is', null);
  const toOwner = (r: { id: number; tenant_id: string; shop_currency: string | null }): WebhookOwner => ({ integrationId: Number(r.id), tenantId: r.tenant_id, shopCurrency: r.shop_currency });
  const byId = new Map<number, WebhookOwner>();
  const byShop = new Map<string, WebhookOwner>();
  if (refs.length > 0) {
    for (const r of await select().where('id', 'in', [...new Set(refs.map((ref) => ref.integrationId))]).execute()) byId.set(Number(r.id), toOwner(r));
    const orphans = [...new Set(refs.filter((ref) => !byId.has(ref.integrationId)).map((ref) => ref.shop))];
    if (orphans.length > 0) for (const r of await select().where('shop_domain', 'in', orphans).execute()) byShop.set(r.shop_domain, toOwner(r));
  }
  return (integrationId: number, shop: string): WebhookOwner | undefined => byId.get(integrationId) ?? byShop.get(shop);
}

/** Which of these events were applied already (their id is recorded). */
export async function recordedEvents(db: Kysely<Database>, refs: { integrationId: number; eventId: string }[]): Promise<Set<string>> {
  if (refs.length === 0) return new Set();
  const rows = await db
    .selectFrom('shopify_webhook_events')
    .select(['integration_id', 'event_id'])
    .where((eb) => eb.or(refs.map((r) => eb.and([eb('integration_id', '=', r.integrationId), eb('event_id', '=', r.eventId)]))))
    .execute();
  return new Set(rows.map((r) => eventKey(Number(r.integration_id), r.event_id)));
}

/** Deletes up to `limit` event ids processed before `before` (oldest first); returns how many went. */
export async function deleteWebhookEventsProcessedBefore(db: Kysely<Database>, before: Date, limit: number): Promise<number> {
  const result = await db.deleteFrom('shopify_webhook_events').where('processed_at', '<', before).orderBy('processed_at').limit(limit).executeTakeFirst();
  return Number(result.numDeletedRows);
}
