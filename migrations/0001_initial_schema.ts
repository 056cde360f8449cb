import { sql, type Kysely } from 'kysely';

/*
 * Conventions: Shopify ids are BIGINT UNSIGNED; money DECIMAL(20,4) next to its currency;
 * timestamps DATETIME(3) in UTC; `raw` keeps the whole Shopify JSON so nothing sent is lost.
 * Record tables are keyed by (tenant_id, id): every read is tenant-first and keyset pages walk the
 * clustered index.
 */
const recordColumns = sql.raw(`
  raw JSON NOT NULL,
  deleted_at DATETIME(3) NULL,
  synced_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)`);

const TABLE_OPTIONS = sql.raw('ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci');

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS api_keys (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    name VARCHAR(100) NOT NULL,
    key_hash CHAR(64) NOT NULL,
    key_prefix VARCHAR(16) NOT NULL,
    scopes VARCHAR(255) NOT NULL DEFAULT '*',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    last_used_at DATETIME(3) NULL,
    revoked_at DATETIME(3) NULL,
    UNIQUE KEY uq_api_keys_hash (key_hash),
    KEY ix_api_keys_tenant (tenant_id)
  ) ${TABLE_OPTIONS}`.execute(db);

  await sql`CREATE TABLE IF NOT EXISTS shopify_integrations (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    shop_domain VARCHAR(255) NOT NULL,
    install_method VARCHAR(16) NOT NULL DEFAULT 'token',
    access_token_encrypted TEXT NOT NULL,
    webhook_secret_encrypted TEXT NULL,
    encryption_key_id VARCHAR(16) NOT NULL,
    scopes VARCHAR(1000) NOT NULL DEFAULT '',
    api_version VARCHAR(16) NOT NULL,
    shop_name VARCHAR(255) NULL,
    shop_plan VARCHAR(100) NULL,
    shop_currency CHAR(3) NULL,
    is_active TINYINT(1) NOT NULL DEFAULT 1,
    token_revoked_at DATETIME(3) NULL,
    last_sync_at DATETIME(3) NULL,
    last_error_at DATETIME(3) NULL,
    last_error_message VARCHAR(1000) NULL,
    error_count INT UNSIGNED NOT NULL DEFAULT 0,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_integrations_tenant (tenant_id),
    UNIQUE KEY uq_integrations_shop (shop_domain),
    KEY ix_integrations_active (is_active)
  ) ${TABLE_OPTIONS}`.execute(db);

  await sql`CREATE TABLE IF NOT EXISTS shopify_products (
    tenant_id VARCHAR(64) NOT NULL,
    id BIGINT UNSIGNED NOT NULL,
    integration_id BIGINT UNSIGNED NOT NULL,
    title VARCHAR(512) NOT NULL DEFAULT '',
    handle VARCHAR(512) NULL,
    vendor VARCHAR(255) NULL,
    product_type VARCHAR(255) NULL,
    status VARCHAR(32) NULL,
    tags TEXT NULL,
    created_at DATETIME(3) NULL,
    updated_at DATETIME(3) NOT NULL,
    ${recordColumns},
    PRIMARY KEY (tenant_id, id),
    KEY ix_products_updated (tenant_id, updated_at, id),
    KEY ix_products_status (tenant_id, status, id),
    KEY ix_products_vendor (tenant_id, vendor, id)
  ) ${TABLE_OPTIONS}`.execute(db);

  await sql`CREATE TABLE IF NOT EXISTS shopify_product_variants (
    tenant_id VARCHAR(64) NOT NULL,
    id BIGINT UNSIGNED NOT NULL,
    product_id BIGINT UNSIGNED NOT NULL,
    title VARCHAR(512) NULL,
    sku VARCHAR(255) NULL,
    price DECIMAL(20,4) NULL,
    compare_at_price DECIMAL(20,4) NULL,
    currency CHAR(3) NULL,
    position INT NULL,
    inventory_item_id BIGINT UNSIGNED NULL,
    inventory_quantity INT NULL,
    created_at DATETIME(3) NULL,
    updated_at DATETIME(3) NULL,
    raw JSON NOT NULL,
    PRIMARY KEY (tenant_id, id),
    KEY ix_variants_product (tenant_id, product_id),
    KEY ix_variants_sku (tenant_id, sku),
    KEY ix_variants_inventory_item (tenant_id, inventory_item_id)
  ) ${TABLE_OPTIONS}`.execute(db);

  await sql`CREATE TABLE IF NOT EXISTS shopify_orders (
    tenant_id VARCHAR(64) NOT NULL,
    id BIGINT UNSIGNED NOT NULL,
    integration_id BIGINT UNSIGNED NOT NULL,
    name VARCHAR(64) NULL,
    order_number BIGINT UNSIGNED NULL,
    email VARCHAR(320) NULL,
    customer_id BIGINT UNSIGNED NULL,
    financial_status VARCHAR(32) NULL,
    fulfillment_status VARCHAR(32) NULL,
    currency CHAR(3) NULL,
    total_price DECIMAL(20,4) NULL,
    subtotal_price DECIMAL(20,4) NULL,
    total_tax DECIMAL(20,4) NULL,
    processed_at DATETIME(3) NULL,
    closed_at DATETIME(3) NULL,
    cancelled_at DATETIME(3) NULL,
    created_at DATETIME(3) NULL,
    updated_at DATETIME(3) NOT NULL,
    ${recordColumns},
    PRIMARY KEY (tenant_id, id),
    KEY ix_orders_updated (tenant_id, updated_at, id),
    KEY ix_orders_customer (tenant_id, customer_id, id),
    KEY ix_orders_financial (tenant_id, financial_status, id),
    KEY ix_orders_fulfillment (tenant_id, fulfillment_status, id)
  ) ${TABLE_OPTIONS}`.execute(db);

  await sql`CREATE TABLE IF NOT EXISTS shopify_order_line_items (
    tenant_id VARCHAR(64) NOT NULL,
    id BIGINT UNSIGNED NOT NULL,
    order_id BIGINT UNSIGNED NOT NULL,
    product_id BIGINT UNSIGNED NULL,
    variant_id BIGINT UNSIGNED NULL,
    title VARCHAR(512) NULL,
    sku VARCHAR(255) NULL,
    quantity INT NOT NULL DEFAULT 0,
    price DECIMAL(20,4) NULL,
    raw JSON NOT NULL,
    PRIMARY KEY (tenant_id, id),
    KEY ix_line_items_order (tenant_id, order_id)
  ) ${TABLE_OPTIONS}`.execute(db);

  await sql`CREATE TABLE IF NOT EXISTS shopify_customers (
    tenant_id VARCHAR(64) NOT NULL,
    id BIGINT UNSIGNED NOT NULL,
    integration_id BIGINT UNSIGNED NOT NULL,
    email VARCHAR(320) NULL,
    first_name VARCHAR(255) NULL,
    last_name VARCHAR(255) NULL,
    phone VARCHAR(64) NULL,
    state VARCHAR(32) NULL,
    orders_count INT NULL,
    total_spent DECIMAL(20,4) NULL,
    currency CHAR(3) NULL,
    tags TEXT NULL,
    created_at DATETIME(3) NULL,
    updated_at DATETIME(3) NOT NULL,
    ${recordColumns},
    PRIMARY KEY (tenant_id, id),
    KEY ix_customers_updated (tenant_id, updated_at, id),
    KEY ix_customers_email (tenant_id, email)
  ) ${TABLE_OPTIONS}`.execute(db);

  await sql`CREATE TABLE IF NOT EXISTS shopify_inventory_levels (
    tenant_id VARCHAR(64) NOT NULL,
    inventory_item_id BIGINT UNSIGNED NOT NULL,
    location_id BIGINT UNSIGNED NOT NULL,
    integration_id BIGINT UNSIGNED NOT NULL,
    available INT NULL,
    updated_at DATETIME(3) NOT NULL,
    ${recordColumns},
    PRIMARY KEY (tenant_id, inventory_item_id, location_id),
    KEY ix_inventory_location (tenant_id, location_id, inventory_item_id),
    KEY ix_inventory_updated (tenant_id, updated_at)
  ) ${TABLE_OPTIONS}`.execute(db);

  await sql`CREATE TABLE IF NOT EXISTS shopify_sync_state (
    integration_id BIGINT UNSIGNED NOT NULL,
    resource VARCHAR(32) NOT NULL,
    cursor_updated_at DATETIME(3) NULL,
    last_full_sync_at DATETIME(3) NULL,
    last_incremental_sync_at DATETIME(3) NULL,
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (integration_id, resource)
  ) ${TABLE_OPTIONS}`.execute(db);

  await sql`CREATE TABLE IF NOT EXISTS shopify_sync_logs (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    integration_id BIGINT UNSIGNED NOT NULL,
    resource VARCHAR(32) NOT NULL,
    \`trigger\` VARCHAR(16) NOT NULL,
    mode VARCHAR(16) NOT NULL,
    status VARCHAR(16) NOT NULL,
    job_id VARCHAR(255) NULL,
    started_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    finished_at DATETIME(3) NULL,
    pages INT UNSIGNED NOT NULL DEFAULT 0,
    records_fetched INT UNSIGNED NOT NULL DEFAULT 0,
    records_written INT UNSIGNED NOT NULL DEFAULT 0,
    records_deleted INT UNSIGNED NOT NULL DEFAULT 0,
    page_cap_reached TINYINT(1) NOT NULL DEFAULT 0,
    error VARCHAR(2000) NULL,
    KEY ix_sync_logs_tenant (tenant_id, id),
    KEY ix_sync_logs_integration (integration_id, resource, id)
  ) ${TABLE_OPTIONS}`.execute(db);

  await sql`CREATE TABLE IF NOT EXISTS shopify_webhook_events (
    integration_id BIGINT UNSIGNED NOT NULL,
    event_id VARCHAR(128) NOT NULL,
    tenant_id VARCHAR(64) NOT NULL,
    topic VARCHAR(64) NOT NULL,
    webhook_id VARCHAR(128) NULL,
    triggered_at DATETIME(3) NULL,
    received_at DATETIME(3) NOT NULL,
    processed_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (integration_id, event_id),
    KEY ix_webhook_events_processed (processed_at)
  ) ${TABLE_OPTIONS}`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of [
    'shopify_webhook_events',
    'shopify_sync_logs',
    'shopify_sync_state',
    'shopify_inventory_levels',
    'shopify_customers',
    'shopify_order_line_items',
    'shopify_orders',
    'shopify_product_variants',
    'shopify_products',
    'shopify_integrations',
    'api_keys',
  ]) {
    await sql`DROP TABLE IF EXISTS ${sql.table(table)}`.execute(db);
  }
}
