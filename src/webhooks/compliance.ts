import type { Transaction } from 'kysely';
import { MappingError, RESOURCES } from '../resources/index.js';
import { shopifyId } from '../resources/mapping.js';
import { deleteTenantDataRequests, eraseDataRequestContacts, recordDataRequest } from '../store/data-requests.js';
import { markTokenRevoked } from '../store/integrations.js';
import { purgeTenantRecords, type Owner } from '../store/records.js';
import { announceRedactedRecords } from '../store/record-events.js';
import { customerOrderIds, eraseCustomerRow, eraseOrderRows, keepCustomerFields, scrubPersonalData, searchableIdentifiers } from '../store/redaction.js';
import { lockIntegrationExclusive, recordRedactions } from '../store/redactions.js';
import type { Database } from '../store/schema.js';
import type { Redis } from '../platform/redis.js';
import { deleteStreamEntries } from './dead-letters.js';
import { CONSUMER_GROUP, type WebhookEnvelope, type WebhookKeys } from './stream.js';

type Json = Record<string, unknown>;
type Trx = Transaction<Database>;

function parsePayload(envelope: WebhookEnvelope): Json {
  const payload = JSON.parse(envelope.body) as unknown;
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw new MappingError(`${envelope.topic} payload must be an object`);
  return payload as Json;
}

const idList = (value: unknown, field: string): number[] => (Array.isArray(value) ? value.map((v, i) => shopifyId(v, `${field}[${i}]`)) : []);
const optionalText = (value: unknown): string | null => (typeof value === 'string' && value.trim() !== '' ? value.trim() : null);

/** Checks a compliance payload before the transaction, so a malformed one is dead-lettered at once. */
export function validateCompliancePayload(envelope: WebhookEnvelope): void {
  const payload = parsePayload(envelope);
  if (envelope.topic === 'customers/redact' || envelope.topic === 'customers/data_request') {
    const customer = (payload.customer ?? {}) as Json;
    shopifyId(customer.id, 'customer.id');
    idList(payload.orders_to_redact ?? payload.orders_requested, 'orders');
  }
}

/**
 * customers/redact: erase the customer's personal data from the customer row and from their orders,
 * and record the customer and the orders named, for good: the upsert path scrubs any later version of
 * them (a retried webhook, the backlog, a dead-letter replay, a sync page), even of orders not stored yet.
 */
export async function redactCustomer(trx: Trx, owner: Owner, envelope: WebhookEnvelope): Promise<void> {
  const payload = parsePayload(envelope);
  const customer = (payload.customer ?? {}) as Json;
  const customerId = shopifyId(customer.id, 'customer.id');
  await lockIntegrationExclusive(trx, owner.integrationId);
  const stored = await eraseCustomerRow(trx, owner.tenantId, customerId, keepCustomerFields);
  const emails = [optionalText(customer.email), stored?.email ?? null].filter((e): e is string => e !== null);
  const phones = [optionalText(customer.phone), stored?.phone ?? null].filter((p): p is string => p !== null);
  // Short values (a two-letter name) would match unrelated text; personal keys are removed regardless.
  const identifiers = searchableIdentifiers(emails, phones, [{ first: stored?.firstName, last: stored?.lastName }]);
  const ordersToRedact = idList(payload.orders_to_redact, 'orders_to_redact');
  const orderIds = await customerOrderIds(trx, owner.tenantId, customerId, ordersToRedact, emails);
  await eraseOrderRows(trx, owner.tenantId, orderIds, (raw) => scrubPersonalData(raw, identifiers) as Json);
  if (stored) await announceRedactedRecords(trx, RESOURCES.customers, owner, [[customerId]], 'redacted');
  await announceRedactedRecords(
    trx,
    RESOURCES.orders,
    owner,
    orderIds.map((id) => [id]),
    'updated',
  );
  const redactedAt = envelope.triggeredAt ?? envelope.receivedAt;
  await recordRedactions(trx, owner, 'customers', [customerId], redactedAt);
  await recordRedactions(trx, owner, 'orders', [...ordersToRedact, ...orderIds], redactedAt);
  await eraseDataRequestContacts(trx, owner.tenantId, customerId);
}

/**
 * shop/redact (48 h after uninstall): every record of the shop goes, and the redaction is recorded so
 * that nothing observed before it (retries, backlog, replays) is written again. The integration row
 * stays for the operator.
 */
export async function redactShop(trx: Trx, owner: Owner, envelope: WebhookEnvelope): Promise<void> {
  await lockIntegrationExclusive(trx, owner.integrationId);
  await recordRedactions(trx, owner, 'shop', [owner.integrationId], envelope.triggeredAt ?? envelope.receivedAt);
  await purgeTenantRecords(trx, owner.tenantId);
  await deleteTenantDataRequests(trx, owner.tenantId);
}

/** customers/data_request: recorded for the operator, who sends the merchant the customer's data. */
export async function recordCustomerDataRequest(trx: Trx, owner: Owner, envelope: WebhookEnvelope): Promise<void> {
  const payload = parsePayload(envelope);
  const customer = (payload.customer ?? {}) as Json;
  const request = (payload.data_request ?? {}) as Json;
  await recordDataRequest(trx, {
    tenantId: owner.tenantId,
    integrationId: owner.integrationId,
    shopDomain: envelope.shop,
    eventId: envelope.eventId,
    dataRequestId: request.id === undefined || request.id === null ? null : shopifyId(request.id, 'data_request.id'),
    customerId: shopifyId(customer.id, 'customer.id'),
    customerEmail: optionalText(customer.email),
    customerPhone: optionalText(customer.phone),
    ordersRequested: idList(payload.orders_requested, 'orders_requested'),
    requestedAt: envelope.triggeredAt ?? envelope.receivedAt,
  });
}

/**
 * app/uninstalled: Shopify has revoked the token. The integration is marked revoked (not connected);
 * `is_active` is left as the tenant set it, so a reinstall (new token) brings it back as it was.
 * Scheduled syncs only pick connected integrations, so they skip it. An uninstall triggered before the
 * latest connect saved its token (a late delivery, the backlog) concerns an earlier installation and
 * changes nothing. Returns whether the integration was marked.
 */
export async function markUninstalled(trx: Trx, owner: Owner, envelope: WebhookEnvelope): Promise<boolean> {
  const uninstalledAt = envelope.triggeredAt ?? envelope.receivedAt;
  return markTokenRevoked(trx, owner.integrationId, uninstalledAt, uninstalledAt, 'uninstalled');
}

/** Topics Shopify sends, and that must be handled, for a store that is disconnected or uninstalled (GDPR). */
export const COMPLIANCE_TOPICS: ReadonlySet<string> = new Set(['customers/data_request', 'customers/redact', 'shop/redact']);

/** What a redaction or purge removes from Redis, besides MySQL: dead letters and backlog that carry its data. */
export type StreamRedaction = { kind: 'customer'; shop: string; customerId: string; emails: string[]; phones: string[] } | { kind: 'integration'; integrationId: number };

/** The Redis part of a compliance event (customers/redact, shop/redact); undefined for other topics. */
export function streamRedactionOf(envelope: WebhookEnvelope): StreamRedaction | undefined {
  if (envelope.topic === 'shop/redact') return { kind: 'integration', integrationId: envelope.integrationId };
  if (envelope.topic !== 'customers/redact') return undefined;
  const customer = (parsePayload(envelope).customer ?? {}) as Json;
  const text = (value: unknown) => optionalText(value)?.toLowerCase();
  return {
    kind: 'customer',
    shop: envelope.shop,
    customerId: String(shopifyId(customer.id, 'customer.id')),
    emails: [text(customer.email)].filter((e): e is string => e !== undefined),
    phones: [text(customer.phone)].filter((p): p is string => p !== undefined && p.length >= 5),
  };
}

function namesCustomer(r: Extract<StreamRedaction, { kind: 'customer' }>): (fields: Record<string, string>) => boolean {
  // The id as a whole number (not inside a longer one); bodies may be truncated, so no JSON parsing.
  const id = new RegExp(`(?<![0-9])${r.customerId}(?![0-9])`);
  return (fields) => {
    if (fields.shop !== r.shop) return false;
    const body = fields.body ?? '';
    if (id.test(body)) return true;
    const lower = body.toLowerCase();
    return [...r.emails, ...r.phones].some((s) => lower.includes(s));
  };
}

/**
 * Redaction reaches Redis too: for a customer, the shop's dead letters whose body names them (id, email
 * or phone of the redact payload) are deleted; for a shop/redact or a purge, every dead letter and every
 * entry still waiting in the stream of that integration. Idempotent: a redelivered redaction deletes nothing more.
 */
export async function eraseFromWebhookStreams(redis: Redis, keys: WebhookKeys, redaction: StreamRedaction): Promise<{ deadLetters: number; backlog: number }> {
  if (redaction.kind === 'customer') {
    return { deadLetters: (await deleteStreamEntries(redis, keys.deadLetters, namesCustomer(redaction))).length, backlog: 0 };
  }
  const ofIntegration = (fields: Record<string, string>) => fields.integration_id === String(redaction.integrationId);
  const deadLetters = (await deleteStreamEntries(redis, keys.deadLetters, ofIntegration)).length;
  const backlog = (await deleteStreamEntries(redis, keys.stream, ofIntegration, CONSUMER_GROUP)).length;
  return { deadLetters, backlog };
}
