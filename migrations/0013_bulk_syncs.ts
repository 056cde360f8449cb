import { sql, type Kysely } from 'kysely';

/*
 * Full syncs as bulk operations. The sync log shows the operation: its id, Shopify's status, the objects
 * Shopify exported, the bytes downloaded. A bulk file brings a parent and its children (variants, line
 * items) on separate lines, so children are written as they come, each stamped with the observation of
 * the version it belongs to (`observed_at`): once the file is complete, the children a parent written by
 * the run no longer has are those of its version without the run's stamp. The walk position holds the
 * operation and, for a file applied in part, the parents whose children may still come (it can outgrow
 * the 2 KiB it had).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE shopify_sync_logs
    ADD COLUMN bulk_operation_id VARCHAR(128) NULL,
    ADD COLUMN bulk_status VARCHAR(16) NULL,
    ADD COLUMN bulk_object_count BIGINT UNSIGNED NULL,
    ADD COLUMN bytes_downloaded BIGINT UNSIGNED NULL`.execute(db);
  await sql`ALTER TABLE shopify_sync_state MODIFY walk_position MEDIUMTEXT NULL`.execute(db);
  for (const table of ['shopify_product_variants', 'shopify_order_line_items']) {
    await sql`ALTER TABLE ${sql.table(table)} ADD COLUMN observed_at DATETIME(3) NULL`.execute(db);
  }
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of ['shopify_product_variants', 'shopify_order_line_items']) {
    await sql`ALTER TABLE ${sql.table(table)} DROP COLUMN observed_at`.execute(db);
  }
  await sql`ALTER TABLE shopify_sync_state MODIFY walk_position VARCHAR(2048) NULL`.execute(db);
  await sql`ALTER TABLE shopify_sync_logs DROP COLUMN bulk_operation_id, DROP COLUMN bulk_status, DROP COLUMN bulk_object_count, DROP COLUMN bytes_downloaded`.execute(db);
}
