import type { Transaction } from 'kysely';
import { MappingError } from '../resources/index.js';
import { shopifyId } from '../resources/mapping.js';
import { deleteTenantDataRequests, eraseDataRequestContacts, recordDataRequest } from '../store/data-requests.js';
import { markTokenRevoked } from '../store/integrations.js';
import { purgeTenantRecords, type Owner } from '../store/records.js';
import { customerOrderIds, eraseCustomerRow, eraseOrderRows } from '../store/redaction.js';
import type { Database } from '../store/schema.js';
import type { WebhookEnvelope } from './stream.js';

type Json = Record<string, unknown>;
type Trx = Transaction<Database>;

/** Customer raw JSON keeps only these (non-personal) fields after a redaction: an allow-list, so fields Shopify adds later are erased too. */
const CUSTOMER_KEPT_FIELDS = new Set([
  'id', 'admin_graphql_api_id', 'created_at', 'updated_at', 'state', 'orders_count', 'total_spent', 'currency',
  'verified_email', 'tax_exempt', 'tax_exemptions', 'last_order_id', 'last_order_name',
]);

/** Keys that carry personal data wherever they appear in an order (customer, addresses, client details). */
const PERSONAL_KEYS = new Set([
  'email', 'contact_email', 'phone', 'first_name', 'last_name', 'billing_address', 'shipping_address', 'addresses',
  'default_address', 'address1', 'address2', 'zip', 'company', 'latitude', 'longitude', 'client_details', 'browser_ip',
  'note', 'note_attributes', 'customer_locale', 'destination_location', 'origin_location', 'properties',
]);

function keepCustomerFields(raw: Json): Json {
  return Object.fromEntries(Object.entries(raw).filter(([key]) => CUSTOMER_KEPT_FIELDS.has(key)));
}

/**
 * Removes personal keys at any depth, and — belt and braces — any remaining string that contains one
 * of the customer's identifiers (email, phone, full name).
 */
export function scrubPersonalData(value: unknown, identifiers: string[]): unknown {
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    return identifiers.some((id) => lower.includes(id)) ? null : value;
  }
  if (Array.isArray(value)) return value.map((v) => scrubPersonalData(v, identifiers));
  if (value && typeof value === 'object') {
    const out: Json = {};
    for (const [key, v] of Object.entries(value)) if (!PERSONAL_KEYS.has(key)) out[key] = scrubPersonalData(v, identifiers);
    return out;
  }
  return value;
}

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

/** customers/redact: erase the customer's personal data from the customer row and from their orders. */
export async function redactCustomer(trx: Trx, owner: Owner, envelope: WebhookEnvelope): Promise<void> {
  const payload = parsePayload(envelope);
  const customer = (payload.customer ?? {}) as Json;
  const customerId = shopifyId(customer.id, 'customer.id');
  const stored = await eraseCustomerRow(trx, owner.tenantId, customerId, keepCustomerFields);
  const emails = [optionalText(customer.email), stored?.email ?? null].filter((e): e is string => e !== null);
  const phones = [optionalText(customer.phone), stored?.phone ?? null].filter((p): p is string => p !== null);
  const fullName = [stored?.firstName, stored?.lastName].filter(Boolean).join(' ');
  // Short values (a two-letter name) would match unrelated text; personal keys are removed regardless.
  const identifiers = [...emails, ...phones, ...(fullName.includes(' ') ? [fullName] : [])].map((s) => s.toLowerCase()).filter((s) => s.length >= 5);
  const orderIds = await customerOrderIds(trx, owner.tenantId, customerId, idList(payload.orders_to_redact, 'orders_to_redact'), emails);
  await eraseOrderRows(trx, owner.tenantId, orderIds, (raw) => scrubPersonalData(raw, identifiers) as Json);
  await eraseDataRequestContacts(trx, owner.tenantId, customerId);
}

/** shop/redact (48 h after uninstall): every record of the shop goes. The integration row stays for the operator. */
export async function redactShop(trx: Trx, owner: Owner): Promise<void> {
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
 * Scheduled syncs only pick connected integrations, so they skip it.
 */
export async function markUninstalled(trx: Trx, owner: Owner, envelope: WebhookEnvelope): Promise<void> {
  await markTokenRevoked(trx, owner.integrationId, envelope.triggeredAt ?? envelope.receivedAt);
}
