import { sql, type Kysely } from 'kysely';

/* Retention deletes finished sync runs by age: without this index each pass would scan the whole table. */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE INDEX ix_sync_logs_finished ON shopify_sync_logs (finished_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP INDEX ix_sync_logs_finished ON shopify_sync_logs`.execute(db);
}
