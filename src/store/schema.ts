import type { ColumnType, Generated, Insertable, Kysely, Selectable, Updateable } from 'kysely';

/** JSON columns: MySQL hands back objects, MariaDB strings (its JSON is LONGTEXT); written as strings. */
export type JsonColumn = ColumnType<unknown, string, string>;
type CreatedAt = ColumnType<Date, Date | undefined, never>;
type Timestamp = ColumnType<Date, Date | undefined, Date | undefined>;

export interface ApiKeysTable {
  id: Generated<number>;
  tenant_id: string;
  name: string;
  key_hash: string;
  key_prefix: string;
  scopes: Generated<string>;
  created_at: CreatedAt;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface IntegrationsTable {
  id: Generated<number>;
  tenant_id: string;
  shop_domain: string;
  install_method: Generated<string>;
  access_token_encrypted: string;
  /** NULL: the token never expires (see migration 0011). */
  access_token_expires_at: Date | null;
  refresh_token_encrypted: string | null;
  refresh_token_expires_at: Date | null;
  /** The merchant's own app of a client-credentials connect (its secret is sealed below). */
  client_id: string | null;
  client_secret_encrypted: string | null;
  /** Shopify refused the refresh token or client credentials: the merchant must authorize again. */
  reauthorization_required_at: Date | null;
  webhook_secret_encrypted: string | null;
  encryption_key_id: string;
  scopes: Generated<string>;
  api_version: string;
  shop_name: string | null;
  shop_plan: string | null;
  shop_currency: string | null;
  is_active: Generated<number>;
  token_revoked_at: Date | null;
  /** When the shop, disconnected here, was connected to another tenant (this row then no longer holds it). */
  shop_released_at: Date | null;
  /** The shop while this row holds it, NULL once released (generated; unique): see migration 0006. */
  shop_holder: ColumnType<string | null, never, never>;
  /** Which installation of the shop this row holds now, counted from 1: see migration 0010. */
  installation: Generated<number>;
  /** When the latest connect saved the token (an `app/uninstalled` triggered before it is stale). */
  installed_at: Timestamp;
  /** When the copy was last purged: nothing Shopify observed before it is written again. */
  records_purged_at: Date | null;
  last_sync_at: Date | null;
  last_error_at: Date | null;
  last_error_message: string | null;
  error_count: Generated<number>;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

interface RecordBase {
  tenant_id: string;
  id: number;
  integration_id: number;
  updated_at: Date;
  /** Secondary version: when this version was observed (migration 0008). */
  observed_at: Timestamp;
  raw: JsonColumn;
  deleted_at: Date | null;
  synced_at: Timestamp;
}

export interface ProductsTable extends RecordBase {
  title: string;
  handle: string | null;
  vendor: string | null;
  product_type: string | null;
  status: string | null;
  tags: string | null;
  created_at: Date | null;
}

export interface ProductVariantsTable {
  tenant_id: string;
  id: number;
  product_id: number;
  title: string | null;
  sku: string | null;
  price: string | null;
  compare_at_price: string | null;
  currency: string | null;
  position: number | null;
  inventory_item_id: number | null;
  inventory_quantity: number | null;
  created_at: Date | null;
  updated_at: Date | null;
  /** The observation of the parent version this child was written with by a bulk file (else null). */
  observed_at: Date | null;
}

export interface OrdersTable extends RecordBase {
  name: string | null;
  order_number: number | null;
  email: string | null;
  customer_id: number | null;
  financial_status: string | null;
  fulfillment_status: string | null;
  currency: string | null;
  total_price: string | null;
  subtotal_price: string | null;
  total_tax: string | null;
  processed_at: Date | null;
  closed_at: Date | null;
  cancelled_at: Date | null;
  created_at: Date | null;
}

export interface OrderLineItemsTable {
  tenant_id: string;
  id: number;
  order_id: number;
  product_id: number | null;
  variant_id: number | null;
  title: string | null;
  sku: string | null;
  quantity: number;
  price: string | null;
  /** The observation of the parent version this child was written with by a bulk file (else null). */
  observed_at: Date | null;
}

export interface CustomersTable extends RecordBase {
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  phone: string | null;
  state: string | null;
  orders_count: number | null;
  total_spent: string | null;
  currency: string | null;
  tags: string | null;
  created_at: Date | null;
}

export interface InventoryLevelsTable extends Omit<RecordBase, 'id'> {
  inventory_item_id: number;
  location_id: number;
  available: number | null;
}

export interface SyncStateTable {
  integration_id: number;
  resource: string;
  cursor_updated_at: Date | null;
  last_full_sync_at: Date | null;
  last_incremental_sync_at: Date | null;
  /** The walk in progress (null when none): see migration 0007. */
  walk_mode: string | null;
  walk_started_at: Date | null;
  walk_updated_at_min: Date | null;
  walk_max_updated_at: Date | null;
  walk_keyless: Generated<number>;
  /** JSON of where the next run continues the walk. */
  walk_position: string | null;
  updated_at: Timestamp;
}

export interface SyncLogsTable {
  id: Generated<number>;
  tenant_id: string;
  integration_id: number;
  resource: string;
  trigger: string;
  mode: string;
  status: string;
  job_id: string | null;
  started_at: Timestamp;
  finished_at: Date | null;
  pages: Generated<number>;
  records_fetched: Generated<number>;
  records_written: Generated<number>;
  records_deleted: Generated<number>;
  page_cap_reached: Generated<number>;
  error: string | null;
  /** Where the walk of a partial run continues (null when the run completed its walk). */
  resumes_from: Generated<string | null>;
  /** A full run by bulk operation: Shopify's operation, its status and object count, bytes downloaded. */
  bulk_operation_id: Generated<string | null>;
  bulk_status: Generated<string | null>;
  bulk_object_count: Generated<number | null>;
  bytes_downloaded: Generated<number | null>;
}

export interface WebhookEventsTable {
  integration_id: number;
  event_id: string;
  tenant_id: string;
  topic: string;
  webhook_id: string | null;
  triggered_at: Date | null;
  received_at: Date;
  processed_at: Timestamp;
}

/** Customers, orders and shops (record id = integration id) erased by compliance webhooks: see migration 0008. */
export interface RedactionsTable {
  tenant_id: string;
  resource: string;
  record_id: number;
  integration_id: number;
  redacted_at: Date;
  created_at: CreatedAt;
}

/** Ids Shopify deleted for good that other records hang on (inventory items, locations): see migration 0009. */
export interface RemovedKeysTable {
  tenant_id: string;
  resource: string;
  key_column: string;
  key_value: number;
  integration_id: number;
  removed_at: Date;
}

/** The outbox of changes (migration 0014): one row per effective change, `position` given after commit. */
export interface ChangeEventsTable {
  id: Generated<number>;
  position: number | null;
  tenant_id: string;
  integration_id: number | null;
  type: string;
  resource: string | null;
  record_key: string | null;
  shopify_updated_at: Date | null;
  occurred_at: Generated<Date>;
  data: JsonColumn;
}

export interface ChangeEventSequenceTable {
  id: number;
  last_position: number;
  pruned_through: Generated<number>;
}

/** Tenants' outbound webhook endpoints (migration 0016): secrets sealed, the feed position dispatched up to. */
export interface WebhookEndpointsTable {
  id: Generated<number>;
  tenant_id: string;
  url: string;
  description: string | null;
  /** JSON list of event types; NULL = every type. */
  event_types: ColumnType<unknown, string | null, string | null>;
  use_mapping: number;
  enabled: number;
  disabled_reason: string | null;
  secret_encrypted: string;
  previous_secret_encrypted: string | null;
  previous_secret_expires_at: Date | null;
  last_position: number;
  failing_since: Date | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

/** One per endpoint and event: `pending` until delivered or `dead` (migration 0016). */
export interface WebhookDeliveriesTable {
  id: Generated<number>;
  endpoint_id: number;
  tenant_id: string;
  event_id: number;
  event_position: number;
  event_type: string;
  ordering_key: string | null;
  status: Generated<string>;
  attempts: Generated<number>;
  next_attempt_at: Date | null;
  last_error: string | null;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface WebhookDeliveryAttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  endpoint_id: number;
  attempt: number;
  attempted_at: Date;
  duration_ms: number;
  ok: number;
  status_code: number | null;
  error: string | null;
  response_excerpt: string | null;
}

/** A tenant's JSONata mapping of one resource (migration 0015). */
export interface TenantMappingsTable {
  tenant_id: string;
  resource: string;
  expression: string;
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export interface Database {
  api_keys: ApiKeysTable;
  shopify_integrations: IntegrationsTable;
  shopify_products: ProductsTable;
  shopify_product_variants: ProductVariantsTable;
  shopify_orders: OrdersTable;
  shopify_order_line_items: OrderLineItemsTable;
  shopify_customers: CustomersTable;
  shopify_inventory_levels: InventoryLevelsTable;
  shopify_sync_state: SyncStateTable;
  shopify_sync_logs: SyncLogsTable;
  shopify_webhook_events: WebhookEventsTable;
  shopify_redactions: RedactionsTable;
  shopify_removed_keys: RemovedKeysTable;
  change_events: ChangeEventsTable;
  change_event_sequence: ChangeEventSequenceTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_delivery_attempts: WebhookDeliveryAttemptsTable;
  tenant_mappings: TenantMappingsTable;
}

export type Db = Kysely<Database>;

export type ApiKey = Selectable<ApiKeysTable>;
export type Integration = Selectable<IntegrationsTable>;
export type NewIntegration = Insertable<IntegrationsTable>;
export type IntegrationUpdate = Updateable<IntegrationsTable>;
export type SyncLog = Selectable<SyncLogsTable>;
export type TenantMapping = Selectable<TenantMappingsTable>;
export type NewSyncLog = Insertable<SyncLogsTable>;

/** Parses a JSON column whichever server answered. */
export function parseJsonColumn<T = unknown>(value: unknown): T {
  return (typeof value === 'string' ? JSON.parse(value) : value) as T;
}
