import { sql, type Kysely } from 'kysely';
import { KEY_HASH, TENANT_ID } from '../src/store/ddl.js';

/*
 * 1. Tenant ids and API key hashes compare exactly (utf8mb4_bin): under utf8mb4_unicode_ci a key made
 *    for `ACME` matched `acme`'s rows. Safe on existing rows: the binary collation only tells apart
 *    values the old one called equal, so every unique key (the primary keys (tenant_id, …),
 *    uq_integrations_tenant, uq_api_keys_hash) stays unique; keys without these columns are untouched.
 * 2. Every list filter the registry offers has an index (tenant_id, column, key…), so a filtered page
 *    walks one index range in key order instead of the tenant's whole key range.
 * One ALTER per table, so each table is rebuilt once. Runs on MySQL 8 and MariaDB 10.11.
 */
const TENANT_TABLES = [
  'api_keys',
  'shopify_integrations',
  'shopify_products',
  'shopify_product_variants',
  'shopify_orders',
  'shopify_order_line_items',
  'shopify_customers',
  'shopify_inventory_levels',
  'shopify_sync_logs',
  'shopify_webhook_events',
  'shopify_data_requests',
] as const;

/** Indexes added for filters, by table: name → columns. */
const FILTER_INDEXES: Partial<Record<(typeof TENANT_TABLES)[number], Record<string, string>>> = {
  shopify_products: {
    ix_products_product_type: 'tenant_id, product_type, id',
    ix_products_handle: 'tenant_id, handle, id',
  },
  shopify_orders: { ix_orders_email: 'tenant_id, email, id' },
  shopify_customers: { ix_customers_state: 'tenant_id, state, id' },
};

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const table of TENANT_TABLES) {
    const changes = [sql`MODIFY tenant_id ${TENANT_ID}`];
    if (table === 'api_keys') changes.push(sql`MODIFY key_hash ${KEY_HASH}`);
    for (const [name, columns] of Object.entries(FILTER_INDEXES[table] ?? {})) {
      changes.push(sql`ADD KEY ${sql.id(name)} (${sql.raw(columns)})`);
    }
    await sql`ALTER TABLE ${sql.table(table)} ${sql.join(changes, sql`, `)}`.execute(db);
  }
}

/** Back to the case-insensitive collation: fails (duplicate key) once ids differing only by case both own a store. */
export async function down(db: Kysely<unknown>): Promise<void> {
  for (const table of TENANT_TABLES) {
    const changes = [sql`MODIFY tenant_id VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL`];
    if (table === 'api_keys') changes.push(sql`MODIFY key_hash CHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci NOT NULL`);
    for (const name of Object.keys(FILTER_INDEXES[table] ?? {})) changes.push(sql`DROP KEY ${sql.id(name)}`);
    await sql`ALTER TABLE ${sql.table(table)} ${sql.join(changes, sql`, `)}`.execute(db);
  }
}
