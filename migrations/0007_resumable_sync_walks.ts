import { sql, type Kysely } from 'kysely';

/*
 * A sync walk may span several runs (each stops at SYNC_MAX_PAGES): the state keeps the walk in progress —
 * its kind, when it began (the deletion sweep compares `synced_at` with it), the `updated_at_min` it reads
 * from, the newest `updated_at` seen, whether a record without a readable key was met, and where the next
 * run continues. The sync log says where a partial run's walk resumes.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE shopify_sync_state
    ADD COLUMN walk_mode VARCHAR(16) NULL,
    ADD COLUMN walk_started_at DATETIME(3) NULL,
    ADD COLUMN walk_updated_at_min DATETIME(3) NULL,
    ADD COLUMN walk_max_updated_at DATETIME(3) NULL,
    ADD COLUMN walk_keyless INT UNSIGNED NOT NULL DEFAULT 0,
    ADD COLUMN walk_position VARCHAR(2048) NULL`.execute(db);
  await sql`ALTER TABLE shopify_sync_logs ADD COLUMN resumes_from VARCHAR(2048) NULL`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE shopify_sync_logs DROP COLUMN resumes_from`.execute(db);
  await sql`ALTER TABLE shopify_sync_state
    DROP COLUMN walk_mode, DROP COLUMN walk_started_at, DROP COLUMN walk_updated_at_min,
    DROP COLUMN walk_max_updated_at, DROP COLUMN walk_keyless, DROP COLUMN walk_position`.execute(db);
}
