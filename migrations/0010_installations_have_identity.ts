import { sql, type Kysely } from 'kysely';

/*
 * Each connection of a shop is an installation. `installation` numbers them on the integration row: it
 * grows when the row takes another shop or a disconnected (or revoked) store is connected again; sync
 * jobs carry it and every page they write checks it, so work of an earlier installation never writes
 * into a later one. `installed_at` is when the latest connect saved a token: an `app/uninstalled`
 * triggered before it is about an earlier installation. `records_purged_at` is when the copy was last
 * purged: nothing Shopify observed before it (a retried delivery) is written again. Existing rows start
 * at installation 1, installed when they were created.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE shopify_integrations
    ADD COLUMN installation INT UNSIGNED NOT NULL DEFAULT 1 AFTER shop_holder,
    ADD COLUMN installed_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) AFTER installation,
    ADD COLUMN records_purged_at DATETIME(3) NULL AFTER installed_at`.execute(db);
  await sql`UPDATE shopify_integrations SET installed_at = created_at`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE shopify_integrations DROP COLUMN records_purged_at, DROP COLUMN installed_at, DROP COLUMN installation`.execute(db);
}
