import type { Transaction } from 'kysely';
import type { Database } from './schema.js';
import { parseJsonColumn } from './schema.js';
import type { MappedRecord, ResourceName } from '../resources/index.js';

type Json = Record<string, unknown>;
type Trx = Transaction<Database>;

/** Customer raw JSON keeps only these (non-personal) fields after a redaction: an allow-list, so fields Shopify adds later are erased too. */
const CUSTOMER_KEPT_FIELDS = new Set([
  'id',
  'admin_graphql_api_id',
  'created_at',
  'updated_at',
  'state',
  'orders_count',
  'total_spent',
  'currency',
  'verified_email',
  'tax_exempt',
  'tax_exemptions',
  'last_order_id',
  'last_order_name',
]);

/** Keys that carry personal data wherever they appear in an order (customer, addresses, client details). */
const PERSONAL_KEYS = new Set([
  'email',
  'contact_email',
  'phone',
  'first_name',
  'last_name',
  'billing_address',
  'shipping_address',
  'addresses',
  'default_address',
  'address1',
  'address2',
  'zip',
  'company',
  'latitude',
  'longitude',
  'client_details',
  'browser_ip',
  'note',
  'note_attributes',
  'customer_locale',
  'destination_location',
  'origin_location',
  'properties',
]);

/** The customer columns that hold personal data (`tags` too: merchants tag people by name, town, condition). */
export const CUSTOMER_PERSONAL_COLUMNS = { email: null, first_name: null, last_name: null, phone: null, tags: null } as const;

export function keepCustomerFields(raw: Json): Json {
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

/** Identifiers worth searching free text for: short values (a two-letter name) would match unrelated text. */
export function searchableIdentifiers(emails: string[], phones: string[], names: { first?: string | null; last?: string | null }[]): string[] {
  const fullNames = names.map((n) => [n.first, n.last].filter(Boolean).join(' ')).filter((n) => n.includes(' '));
  return [...emails, ...phones, ...fullNames].map((s) => s.toLowerCase()).filter((s) => s.length >= 5);
}

export interface CustomerIdentity {
  email: string | null;
  phone: string | null;
  firstName: string | null;
  lastName: string | null;
}

/** Clears the customer's personal columns and rewrites its raw JSON with `scrub`; returns what was erased. */
export async function eraseCustomerRow(trx: Trx, tenantId: string, customerId: number, scrub: (raw: Json) => Json): Promise<CustomerIdentity | undefined> {
  const row = await trx
    .selectFrom('shopify_customers')
    .select(['email', 'phone', 'first_name', 'last_name', 'raw'])
    .where('tenant_id', '=', tenantId)
    .where('id', '=', customerId)
    .forUpdate()
    .executeTakeFirst();
  if (!row) return undefined;
  await trx
    .updateTable('shopify_customers')
    .set({ ...CUSTOMER_PERSONAL_COLUMNS, raw: JSON.stringify(scrub(parseJsonColumn<Json>(row.raw))) })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', customerId)
    .execute();
  return { email: row.email, phone: row.phone, firstName: row.first_name, lastName: row.last_name };
}

/**
 * Orders of a customer: the ids Shopify names, those linked by customer id, and those placed with one
 * of the customer's email addresses (guest checkouts).
 */
export async function customerOrderIds(trx: Trx, tenantId: string, customerId: number, orderIds: number[], emails: string[]): Promise<number[]> {
  const rows = await trx
    .selectFrom('shopify_orders')
    .select('id')
    .where('tenant_id', '=', tenantId)
    .where((eb) => {
      const conditions = [eb('customer_id', '=', customerId)];
      if (orderIds.length > 0) conditions.push(eb('id', 'in', orderIds));
      if (emails.length > 0) conditions.push(eb('email', 'in', emails));
      return eb.or(conditions);
    })
    .execute();
  return rows.map((r) => Number(r.id));
}

/** Clears the email of these orders and rewrites their raw JSON (which holds their line items too). */
export async function eraseOrderRows(trx: Trx, tenantId: string, orderIds: number[], scrub: (raw: Json) => Json): Promise<number> {
  if (orderIds.length === 0) return 0;
  const orders = await trx.selectFrom('shopify_orders').select(['id', 'raw']).where('tenant_id', '=', tenantId).where('id', 'in', orderIds).execute();
  for (const order of orders) {
    await trx
      .updateTable('shopify_orders')
      .set({ email: null, raw: JSON.stringify(scrub(parseJsonColumn<Json>(order.raw))) })
      .where('tenant_id', '=', tenantId)
      .where('id', '=', order.id)
      .execute();
  }
  return orders.length;
}

const isText = (value: unknown): value is string => typeof value === 'string' && value.trim() !== '';

/** A customer of a redacted id as it may be written: personal columns empty, raw JSON cut to the allow-list. */
export function scrubCustomerRecord<T extends MappedRecord>(record: T): T {
  return { ...record, row: { ...record.row, ...CUSTOMER_PERSONAL_COLUMNS, raw: keepCustomerFields(record.row.raw as Json) } };
}

/** An order named by a redaction (or of a redacted customer) as it may be written: no email, no personal data in its JSON. */
export function scrubOrderRecord<T extends MappedRecord>(record: T): T {
  const raw = record.row.raw as Json;
  const customer = (raw.customer ?? {}) as Json;
  const addresses = [raw.billing_address, raw.shipping_address].filter((a): a is Json => Boolean(a) && typeof a === 'object');
  const identifiers = searchableIdentifiers(
    [raw.email, raw.contact_email, customer.email].filter(isText),
    [raw.phone, customer.phone, ...addresses.map((a) => a.phone)].filter(isText),
    [customer, ...addresses].map((p) => ({ first: isText(p.first_name) ? p.first_name : null, last: isText(p.last_name) ? p.last_name : null })),
  );
  return { ...record, row: { ...record.row, email: null, raw: scrubPersonalData(raw, identifiers) } };
}

/** The customer and order ids a record of this resource could be redacted under (none for products and inventory). */
export function redactionTargets(resource: ResourceName, record: MappedRecord): { customers: number[]; orders: number[] } {
  if (resource === 'customers') return { customers: [record.row.id as number], orders: [] };
  if (resource === 'orders') {
    const customerId = record.row.customer_id as number | null;
    return { customers: customerId === null ? [] : [customerId], orders: [record.row.id as number] };
  }
  return { customers: [], orders: [] };
}

/** The record as it may be written given the redactions found: scrubbed when its id (or an order's customer) was redacted. */
export function applyRedactionsTo<T extends MappedRecord>(resource: ResourceName, record: T, redacted: { customers: Set<number>; orders: Set<number> }): T {
  const targets = redactionTargets(resource, record);
  if (resource === 'customers' && targets.customers.some((id) => redacted.customers.has(id))) return scrubCustomerRecord(record);
  if (resource === 'orders' && (targets.orders.some((id) => redacted.orders.has(id)) || targets.customers.some((id) => redacted.customers.has(id)))) return scrubOrderRecord(record);
  return record;
}
