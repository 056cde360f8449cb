import type { ColumnType, Generated, Kysely, Selectable, Transaction } from 'kysely';
import type { Db } from './schema.js';
import type { Database, JsonColumn } from './schema.js';

/** `shopify_data_requests` (migration 0002): customers/data_request webhooks, kept for the operator. */
export interface DataRequestsTable {
  id: Generated<number>;
  tenant_id: string;
  integration_id: number;
  shop_domain: string;
  event_id: string;
  data_request_id: number | null;
  customer_id: number | null;
  customer_email: string | null;
  customer_phone: string | null;
  orders_requested: JsonColumn;
  requested_at: Date;
  status: Generated<string>;
  created_at: ColumnType<Date, Date | undefined, never>;
}
export type DataRequest = Selectable<DataRequestsTable>;

type WithDataRequests = Database & { shopify_data_requests: DataRequestsTable };
const typed = (db: Db | Transaction<Database>) => db as unknown as Kysely<WithDataRequests>;

export interface NewDataRequest {
  tenantId: string;
  integrationId: number;
  shopDomain: string;
  eventId: string;
  dataRequestId: number | null;
  customerId: number | null;
  customerEmail: string | null;
  customerPhone: string | null;
  ordersRequested: number[];
  requestedAt: Date;
}

/** Records a request once per webhook event (a redelivery changes nothing). */
export async function recordDataRequest(db: Db | Transaction<Database>, r: NewDataRequest): Promise<void> {
  await typed(db)
    .insertInto('shopify_data_requests')
    .orIgnore()
    .values({
      tenant_id: r.tenantId,
      integration_id: r.integrationId,
      shop_domain: r.shopDomain,
      event_id: r.eventId,
      data_request_id: r.dataRequestId,
      customer_id: r.customerId,
      customer_email: r.customerEmail,
      customer_phone: r.customerPhone,
      orders_requested: JSON.stringify(r.ordersRequested),
      requested_at: r.requestedAt,
    })
    .execute();
}

export function listDataRequests(db: Db, tenantId: string): Promise<DataRequest[]> {
  return typed(db).selectFrom('shopify_data_requests').selectAll().where('tenant_id', '=', tenantId).orderBy('id').execute();
}

/** A redacted customer's contact details leave the request log too (the request itself stays on record). */
export async function eraseDataRequestContacts(db: Db | Transaction<Database>, tenantId: string, customerId: number): Promise<void> {
  await typed(db).updateTable('shopify_data_requests').set({ customer_email: null, customer_phone: null }).where('tenant_id', '=', tenantId).where('customer_id', '=', customerId).execute();
}

export async function deleteTenantDataRequests(db: Db | Transaction<Database>, tenantId: string): Promise<number> {
  const result = await typed(db).deleteFrom('shopify_data_requests').where('tenant_id', '=', tenantId).executeTakeFirst();
  return Number(result.numDeletedRows ?? 0);
}
