import { sql, type Kysely } from 'kysely';

/*
 * Variants and line items are parts of their parent's Shopify JSON, which the parent's `raw` keeps whole
 * (children are only ever written together with their parent). Their own copy of it doubled the JSON
 * written by every product and order upsert; they keep their typed columns only.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE shopify_product_variants DROP COLUMN raw`.execute(db);
  await sql`ALTER TABLE shopify_order_line_items DROP COLUMN raw`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE shopify_product_variants ADD COLUMN raw JSON NOT NULL DEFAULT ('{}')`.execute(db);
  await sql`ALTER TABLE shopify_order_line_items ADD COLUMN raw JSON NOT NULL DEFAULT ('{}')`.execute(db);
}
