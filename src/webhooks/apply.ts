import type { Db } from '../store/schema.js';
import type { MappedRecord, ResourceDefinition } from '../resources/index.js';
import { isConnected, lockInstallation, type InstallationState } from '../store/integrations.js';
import { markRecordsDeleted, upsertRecords, type ObservedRecord, type Owner } from '../store/records.js';
import { markRecordsDeletedWhere } from '../store/record-cascades.js';
import { keysDeletableAt } from '../store/record-deletions.js';
import { shopifyId } from '../resources/mapping.js';
import { eventKey, recordNewEvents, type WebhookOwner } from '../store/webhook-events.js';
import { COMPLIANCE_TOPICS, markUninstalled, recordCustomerDataRequest, redactCustomer, redactShop, validateCompliancePayload } from './compliance.js';
import { PoisonError } from './errors.js';
import type { WebhookEnvelope } from './stream.js';
import { actionForTopic, type RecordEffect, type TopicAction } from './topics.js';

/** A stream entry decoded and mapped, ready to be applied in a transaction. */
export interface PreparedEvent {
  streamId: string;
  envelope: WebhookEnvelope;
  owner: Owner;
  action: TopicAction;
  /** Record topics: each change with what it needs (upserts: the mapped record; deletes: the key values). */
  changes?: PreparedChange[];
  /** `bulk_operations/finish`: the operation it names (the sync waiting for it is woken after the commit). */
  bulkOperation?: string;
}

export interface PreparedChange {
  effect: RecordEffect;
  record?: MappedRecord;
  key?: unknown[];
}

/** The operation a `bulk_operations/finish` payload names (its gid). */
function bulkOperationOf(envelope: WebhookEnvelope): string {
  const payload = JSON.parse(envelope.body) as { admin_graphql_api_id?: unknown } | null;
  const id = payload?.admin_graphql_api_id;
  if (typeof id !== 'string' || !id.startsWith('gid://shopify/BulkOperation/')) throw new Error('admin_graphql_api_id must name a bulk operation');
  return id;
}

/** Decodes and maps one entry outside any transaction: mapping errors are poison, found before MySQL is touched. */
export function prepareEvent(streamId: string, envelope: WebhookEnvelope, owner: WebhookOwner): PreparedEvent {
  const action = actionForTopic(envelope.topic);
  if (!action) throw new PoisonError(`no handler for topic ${envelope.topic}`);
  const base = { streamId, envelope, owner: { tenantId: owner.tenantId, integrationId: owner.integrationId }, action };
  try {
    if (action.kind === 'records') {
      const payload = JSON.parse(envelope.body) as unknown;
      if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw new Error('payload must be a JSON object');
      const json = payload as Record<string, unknown>;
      const changes = action.effects.map((effect): PreparedChange => {
        if (effect.kind === 'upsert') return { effect, record: effect.resource.map(json, { shopCurrency: owner.shopCurrency }) };
        if (effect.kind === 'delete-where') return { effect, key: [shopifyId(json.id, `${envelope.topic} id`)] };
        return { effect, key: effect.resource.keyOf(json) };
      });
      return { ...base, changes };
    }
    if (action.kind === 'bulk-operation-finished') return { ...base, bulkOperation: bulkOperationOf(envelope) };
    validateCompliancePayload(envelope);
    return base;
  } catch (err) {
    throw new PoisonError(`${envelope.topic}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Why an event changed nothing although it is new: its integration no longer holds its shop (another
 * shop, or the shop moved to another tenant), the store is disconnected (compliance topics excepted),
 * it was observed before the copy was purged, or it is an `app/uninstalled` of an earlier installation.
 */
export type DropReason = 'other-shop' | 'disconnected' | 'before-purge' | 'earlier-installation';

export interface DroppedEvent {
  event: PreparedEvent;
  reason: DropReason;
}

export interface ApplyResult {
  /** Events applied for the first time. */
  applied: number;
  /** Events already applied before (redeliveries): nothing changed. */
  duplicates: number;
  /** The same split by topic (metrics). */
  byTopic: Map<string, { applied: number; duplicates: number }>;
  /** Events the integration's state refused (not recorded as processed; acknowledged by the consumer). */
  dropped: DroppedEvent[];
}

/** Actions that change the integration row or redact: see applyEvents. */
const EXCLUSIVE_ACTIONS = new Set<TopicAction['kind']>(['app-uninstalled', 'customer-redact', 'shop-redact']);

/** Why the integration's current state refuses this event, if it does (see DropReason). */
export function dropReason(state: InstallationState | undefined, e: PreparedEvent): DropReason | undefined {
  if (!state || state.shop_released_at !== null || state.shop_domain !== e.envelope.shop.toLowerCase()) return 'other-shop';
  if (COMPLIANCE_TOPICS.has(e.envelope.topic)) return undefined;
  if (!isConnected(state)) return 'disconnected';
  const observedAt = e.envelope.triggeredAt ?? e.envelope.receivedAt;
  if (e.action.kind === 'records' && state.records_purged_at !== null && observedAt <= state.records_purged_at) return 'before-purge';
  if (e.action.kind === 'app-uninstalled' && observedAt < state.installed_at) return 'earlier-installation';
  return undefined;
}

/** Compliance actions run after the batch's record changes, redactions last, so a change in the same batch cannot bring erased data back. */
const SPECIAL_ORDER: TopicAction['kind'][] = ['app-uninstalled', 'customer-data-request', 'customer-redact', 'shop-redact'];

/**
 * Applies a batch in ONE transaction: locks and reads each integration of the batch and sets aside the
 * events its state refuses (see dropReason: an entry queued before a disconnect or purge writes nothing
 * after it), records the event ids (duplicates are found and skipped), then one upsert per integration
 * and resource, the deletes, and the compliance actions. READ COMMITTED keeps the upserts' locking
 * reads from taking gap locks, which would make concurrent consumers inserting new records deadlock on
 * each other; the upserts compare versions themselves, so no snapshot is needed.
 */
export async function applyEvents(db: Db, events: PreparedEvent[]): Promise<ApplyResult> {
  return db
    .transaction()
    .setIsolationLevel('read committed')
    .execute(async (trx) => {
      // Upserts hold their integration row shared, compliance actions exclusively; a disconnect, purge or
      // connect changes the row, so it waits for this batch or is seen by it. Rows are locked in id order,
      // each at once in the mode the batch needs, so the batch never upgrades its own shared lock and two
      // batches never wait on each other in a circle.
      const exclusive = new Set(events.filter((e) => EXCLUSIVE_ACTIONS.has(e.action.kind)).map((e) => e.owner.integrationId));
      const states = new Map<number, InstallationState | undefined>();
      for (const integrationId of [...new Set(events.map((e) => e.owner.integrationId))].sort((a, b) => a - b)) {
        states.set(integrationId, await lockInstallation(trx, integrationId, exclusive.has(integrationId) ? 'update' : 'share'));
      }
      const dropped: DroppedEvent[] = [];
      const accepted: PreparedEvent[] = [];
      for (const e of events) {
        const reason = dropReason(states.get(e.owner.integrationId), e);
        if (reason) dropped.push({ event: e, reason });
        else accepted.push(e);
      }
      const fresh = await recordNewEvents(
        trx,
        accepted.map((e) => ({
          integrationId: e.owner.integrationId,
          tenantId: e.owner.tenantId,
          eventId: e.envelope.eventId,
          topic: e.envelope.topic,
          webhookId: e.envelope.webhookId,
          triggeredAt: e.envelope.triggeredAt,
          receivedAt: e.envelope.receivedAt,
        })),
      );
      const toApply: PreparedEvent[] = [];
      for (const e of accepted) {
        const key = eventKey(e.owner.integrationId, e.envelope.eventId);
        if (fresh.delete(key)) toApply.push(e); // a second copy in the same batch finds the key gone
      }

      const upserts = new Map<string, { owner: Owner; resource: ResourceDefinition; records: ObservedRecord[] }>();
      const deletes = new Map<string, { owner: Owner; resource: ResourceDefinition; keys: unknown[][]; deletedAt: Date }>();
      const deleteWheres: { owner: Owner; resource: ResourceDefinition; column: string; value: unknown; deletedAt: Date }[] = [];
      const specials: PreparedEvent[] = [];
      for (const e of toApply) {
        const { owner } = e;
        if (e.action.kind !== 'records') {
          specials.push(e);
          continue;
        }
        // The secondary version: Shopify's triggered-at has milliseconds, `updated_at` whole seconds.
        const observedAt = e.envelope.triggeredAt ?? e.envelope.receivedAt;
        for (const { effect, record, key } of e.changes ?? []) {
          if (effect.kind === 'upsert') {
            const group = `${owner.integrationId}|${effect.resource.name}`;
            const entry = upserts.get(group) ?? { owner, resource: effect.resource, records: [] };
            entry.records.push({ ...(record as MappedRecord), observedAt });
            upserts.set(group, entry);
          } else if (effect.kind === 'delete') {
            const group = `${owner.integrationId}|${effect.resource.name}|${observedAt.getTime()}`;
            const entry = deletes.get(group) ?? { owner, resource: effect.resource, keys: [], deletedAt: observedAt };
            entry.keys.push(key as unknown[]);
            deletes.set(group, entry);
          } else {
            deleteWheres.push({ owner, resource: effect.resource, column: effect.column, value: (key as unknown[])[0], deletedAt: observedAt });
          }
        }
      }

      // Same order in every transaction (integration, then resource), so concurrent batches lock alike.
      const byGroup = <T>(m: Map<string, T>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
      for (const u of byGroup(upserts)) await upsertRecords(trx, u.resource, u.owner, u.records);
      for (const d of byGroup(deletes)) {
        // A key that can come back (an inventory level connected again) keeps a newer version over a late delete.
        const keys = d.resource.keysComeBack ? await keysDeletableAt(trx, d.resource, d.owner.tenantId, d.keys, d.deletedAt) : d.keys;
        await markRecordsDeleted(trx, d.resource, d.owner, keys, d.deletedAt);
      }
      for (const d of deleteWheres) await markRecordsDeletedWhere(trx, d.resource, d.owner, d.column, [d.value], d.deletedAt);
      specials.sort((a, b) => SPECIAL_ORDER.indexOf(a.action.kind) - SPECIAL_ORDER.indexOf(b.action.kind));
      for (const e of specials) {
        if (e.action.kind === 'app-uninstalled') await markUninstalled(trx, e.owner, e.envelope);
        else if (e.action.kind === 'customer-data-request') await recordCustomerDataRequest(trx, e.owner, e.envelope);
        else if (e.action.kind === 'customer-redact') await redactCustomer(trx, e.owner, e.envelope);
        else if (e.action.kind === 'shop-redact') await redactShop(trx, e.owner, e.envelope);
      }
      return { applied: toApply.length, duplicates: accepted.length - toApply.length, byTopic: countByTopic(accepted, new Set(toApply)), dropped };
    });
}

function countByTopic(events: PreparedEvent[], applied: Set<PreparedEvent>): ApplyResult['byTopic'] {
  const byTopic: ApplyResult['byTopic'] = new Map();
  for (const e of events) {
    const entry = byTopic.get(e.envelope.topic) ?? { applied: 0, duplicates: 0 };
    if (applied.has(e)) entry.applied++;
    else entry.duplicates++;
    byTopic.set(e.envelope.topic, entry);
  }
  return byTopic;
}
