import { sql, type Kysely } from 'kysely';
import { TABLE_OPTIONS, TENANT_ID } from '../src/store/ddl.js';

/*
 * 1. `observed_at`: the secondary version of a record. Shopify's `updated_at` has whole seconds, so two
 *    versions often share one; the copy keeps the one observed last (a webhook's X-Shopify-Triggered-At,
 *    a sync page's request start). Rows stored before this migration were observed at an unknown time:
 *    the default is older than any real observation, so the next version with the same `updated_at`
 *    replaces them. A constant default keeps the ALTER instant on MySQL 8 and MariaDB 10.11.
 * 2. `shopify_redactions`: every customer and order a `customers/redact` named, and every `shop/redact`
 *    (resource `shop`, record id = the integration id). Ids only, no personal data; kept for good, so
 *    no later write (webhook retry, backlog, dead-letter replay, sync page) brings erased data back.
 */
const RECORD_TABLES = ['shopify_products', 'shopify_orders', 'shopify_customers', 'shopify_inventory_levels'] as const;

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const table of RECORD_TABLES) {
    await sql`ALTER TABLE ${sql.table(table)}
      ADD COLUMN observed_at DATETIME(3) NOT NULL DEFAULT '1970-01-01 00:00:00.000' AFTER updated_at`.execute(db);
  }
  await sql`CREATE TABLE IF NOT EXISTS shopify_redactions (
    tenant_id ${TENANT_ID},
    resource VARCHAR(16) NOT NULL,
    record_id BIGINT UNSIGNED NOT NULL,
    integration_id BIGINT UNSIGNED NOT NULL,
    redacted_at DATETIME(3) NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (tenant_id, resource, record_id)
  ) ${TABLE_OPTIONS}`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS shopify_redactions`.execute(db);
  for (const table of RECORD_TABLES) await sql`ALTER TABLE ${sql.table(table)} DROP COLUMN observed_at`.execute(db);
}
