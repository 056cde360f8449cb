import { sql, type Kysely } from 'kysely';
import { TABLE_OPTIONS, TENANT_ID } from '../src/store/ddl.js';

/*
 * `shopify_removed_keys`: ids Shopify deleted for good that other records hang on (an inventory item, a
 * location), with the earliest time the deletion was known. Their records (inventory levels) are marked
 * deleted when the removal arrives, and a level of a removed item that arrives later (a webhook retried
 * from before, a sync page read before) is stored deleted, not live. Ids only; kept for good.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS shopify_removed_keys (
    tenant_id ${TENANT_ID},
    resource VARCHAR(16) NOT NULL,
    key_column VARCHAR(64) NOT NULL,
    key_value BIGINT UNSIGNED NOT NULL,
    integration_id BIGINT UNSIGNED NOT NULL,
    removed_at DATETIME(3) NOT NULL,
    PRIMARY KEY (tenant_id, resource, key_column, key_value)
  ) ${TABLE_OPTIONS}`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS shopify_removed_keys`.execute(db);
}
