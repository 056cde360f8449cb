import { sql, type Kysely } from 'kysely';
import { TABLE_OPTIONS, TENANT_ID } from '../src/store/ddl.js';

/*
 * `tenant_mappings`: a tenant's JSONata expression per resource, turning a record in its API shape into
 * the tenant's own model (served with `?view=mapped`, used by the change feed and outbound webhooks).
 * One per tenant and resource; the expression is at most 16 KiB (checked by the API), MEDIUMTEXT leaves room.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS tenant_mappings (
    tenant_id ${TENANT_ID},
    resource VARCHAR(32) NOT NULL,
    expression MEDIUMTEXT NOT NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (tenant_id, resource)
  ) ${TABLE_OPTIONS}`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS tenant_mappings`.execute(db);
}
