import type { Transaction } from 'kysely';
import type { Database } from './schema.js';
import { parseJsonColumn } from './schema.js';

type Json = Record<string, unknown>;
type Trx = Transaction<Database>;

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
    .set({ email: null, first_name: null, last_name: null, phone: null, raw: JSON.stringify(scrub(parseJsonColumn<Json>(row.raw))) })
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
