import { sql, type Kysely } from 'kysely';

/*
 * A shop that moves to another tenant no longer deletes the previous tenant's integration row: that row
 * is kept, disconnected, with `shop_released_at` (when the shop was connected elsewhere), so its status
 * can say so. The shop stays unique among the rows that hold it: `shop_holder` is the shop domain while
 * the row holds the shop and NULL once released (a stored generated column; a unique key allows many
 * NULLs). Runs on MySQL 8 and MariaDB 10.11.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE shopify_integrations
    ADD COLUMN shop_released_at DATETIME(3) NULL AFTER token_revoked_at,
    ADD COLUMN shop_holder VARCHAR(255) GENERATED ALWAYS AS (IF(shop_released_at IS NULL, shop_domain, NULL)) STORED AFTER shop_released_at,
    ADD UNIQUE KEY uq_integrations_shop_holder (shop_holder),
    DROP INDEX uq_integrations_shop,
    ADD KEY ix_integrations_shop (shop_domain)`.execute(db);
}

/** Back to one row per shop: the rows of tenants a shop moved away from are deleted first. */
export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DELETE FROM shopify_integrations WHERE shop_released_at IS NOT NULL`.execute(db);
  await sql`ALTER TABLE shopify_integrations
    DROP INDEX ix_integrations_shop,
    ADD UNIQUE KEY uq_integrations_shop (shop_domain),
    DROP INDEX uq_integrations_shop_holder,
    DROP COLUMN shop_holder,
    DROP COLUMN shop_released_at`.execute(db);
}
