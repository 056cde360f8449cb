import { sql, type Kysely } from 'kysely';

/*
 * The unique index on `change_events.position` already finds the events the sequencer has not positioned
 * yet (`position IS NULL`); a second index on (position, id) only made every append and every sequencing
 * write one more B-tree. The sequencer sorts the few unpositioned rows it reads by id itself.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE change_events DROP INDEX IF EXISTS ix_change_events_unsequenced`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE change_events ADD INDEX IF NOT EXISTS ix_change_events_unsequenced (position, id)`.execute(db);
}
