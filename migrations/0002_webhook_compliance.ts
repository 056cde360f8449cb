import { sql, type Kysely } from 'kysely';

/*
 * Compliance webhooks: `customers/data_request` is recorded here for the operator, who answers the
 * merchant (Shopify expects an answer within 30 days). One row per webhook event.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS shopify_data_requests (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
    tenant_id VARCHAR(64) NOT NULL,
    integration_id BIGINT UNSIGNED NOT NULL,
    shop_domain VARCHAR(255) NOT NULL,
    event_id VARCHAR(128) NOT NULL,
    data_request_id BIGINT UNSIGNED NULL,
    customer_id BIGINT UNSIGNED NULL,
    customer_email VARCHAR(320) NULL,
    customer_phone VARCHAR(64) NULL,
    orders_requested JSON NOT NULL,
    requested_at DATETIME(3) NOT NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'pending',
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    UNIQUE KEY uq_data_requests_event (integration_id, event_id),
    KEY ix_data_requests_tenant (tenant_id, id),
    KEY ix_data_requests_customer (tenant_id, customer_id)
  ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS shopify_data_requests`.execute(db);
}
