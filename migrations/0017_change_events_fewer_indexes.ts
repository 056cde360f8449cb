import { sql, type Kysely } from 'kysely';

/*
 * Every change appends a `change_events` row and the sequencer rewrites its position, so each index on the
 * table is paid per change. Two go: the unique index on `position` already finds the events not positioned
 * yet (`position IS NULL`; the sequencer sorts the few it reads by id), and retention walks the feed in
 * position order (positions follow time) instead of an index on `occurred_at`.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE change_events DROP INDEX IF EXISTS ix_change_events_unsequenced, DROP INDEX IF EXISTS ix_change_events_occurred`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE change_events ADD INDEX IF NOT EXISTS ix_change_events_unsequenced (position, id), ADD INDEX IF NOT EXISTS ix_change_events_occurred (occurred_at)`.execute(db);
}
