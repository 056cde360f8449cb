import type { Kysely, Transaction } from 'kysely';
import { RetriableError } from '../errors.js';
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
export class ConcurrentEventError extends RetriableError {
  constructor() {
    super('a concurrent transaction recorded one of these webhook events; retry', { code: 'concurrent-webhook-event' });
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
    .values(
      fresh.map((e) => ({
        integration_id: e.integrationId,
        event_id: e.eventId,
        tenant_id: e.tenantId,
        topic: e.topic,
        webhook_id: e.webhookId,
        triggered_at: e.triggeredAt,
        received_at: e.receivedAt,
      })),
    )
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
 * Owners of queued webhooks: the integration id resolved at ingest, as long as that integration still
 * holds the entry's shop. An entry of another shop (the tenant switched shops since) or of a shop that
 * moved to another tenant belongs to an earlier installation: it has no owner and is dropped, never
 * handed to whoever holds the shop now.
 */
export async function findWebhookOwners(db: Kysely<Database>, refs: { integrationId: number; shop: string }[]) {
  const byId = new Map<number, WebhookOwner & { shopDomain: string }>();
  const ids = [...new Set(refs.map((ref) => ref.integrationId))];
  if (ids.length > 0) {
    const rows = await db.selectFrom('shopify_integrations').select(['id', 'tenant_id', 'shop_currency', 'shop_domain']).where('id', 'in', ids).where('shop_released_at', 'is', null).execute();
    for (const r of rows) byId.set(Number(r.id), { integrationId: Number(r.id), tenantId: r.tenant_id, shopCurrency: r.shop_currency, shopDomain: r.shop_domain.toLowerCase() });
  }
  return (integrationId: number, shop: string): WebhookOwner | undefined => {
    const owner = byId.get(integrationId);
    if (!owner || owner.shopDomain !== shop.toLowerCase()) return undefined;
    return { integrationId: owner.integrationId, tenantId: owner.tenantId, shopCurrency: owner.shopCurrency };
  };
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
