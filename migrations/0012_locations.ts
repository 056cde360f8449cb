import { sql, type Kysely } from 'kysely';
import { TABLE_OPTIONS, TENANT_ID } from '../src/store/ddl.js';

/*
 * `shopify_locations`: the store's locations, a record table like the others (raw JSON beside the typed
 * columns, the (updated_at, observed_at) version, deleted_at, synced_at for the full sync's sweep).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS shopify_locations (
    tenant_id ${TENANT_ID},
    id BIGINT UNSIGNED NOT NULL,
    integration_id BIGINT UNSIGNED NOT NULL,
    name VARCHAR(255) NOT NULL DEFAULT '',
    active TINYINT(1) NULL,
    legacy TINYINT(1) NULL,
    address1 VARCHAR(255) NULL,
    address2 VARCHAR(255) NULL,
    city VARCHAR(255) NULL,
    province VARCHAR(255) NULL,
    province_code VARCHAR(16) NULL,
    country VARCHAR(255) NULL,
    country_code VARCHAR(8) NULL,
    zip VARCHAR(32) NULL,
    phone VARCHAR(64) NULL,
    created_at DATETIME(3) NULL,
    updated_at DATETIME(3) NOT NULL,
    observed_at DATETIME(3) NOT NULL DEFAULT '1970-01-01 00:00:00.000',
    raw JSON NOT NULL,
    deleted_at DATETIME(3) NULL,
    synced_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3),
    PRIMARY KEY (tenant_id, id),
    KEY ix_locations_updated (tenant_id, updated_at, id)
  ) ${TABLE_OPTIONS}`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS shopify_locations`.execute(db);
}
