import { sql, type Kysely } from 'kysely';
import { TABLE_OPTIONS, TENANT_ID } from '../src/store/ddl.js';

/*
 * The outbox of changes: every effective change to the copy writes one row here in the transaction that
 * makes it. `id` follows insert order; `position` is the feed's order, given by the sequencer to rows
 * already committed (in id order), so a reader paging by position never passes a row that commits later
 * with a smaller id. `record_key` names the record within its resource (`id`, or `item:location` for an
 * inventory level); `data` is the record in its API shape at the change.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS change_events (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    position BIGINT UNSIGNED NULL,
    tenant_id ${TENANT_ID},
    integration_id BIGINT UNSIGNED NULL,
    type VARCHAR(64) NOT NULL,
    resource VARCHAR(32) NULL,
    record_key VARCHAR(64) NULL,
    shopify_updated_at DATETIME(3) NULL,
    occurred_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    data JSON NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ux_change_events_position (position),
    KEY ix_change_events_feed (tenant_id, position),
    KEY ix_change_events_unsequenced (position, id),
    KEY ix_change_events_occurred (occurred_at)
  ) ${TABLE_OPTIONS}`.execute(db);
  // The sequencer's last position (its row lock makes sequencers of several processes take turns), and
  // the last position retention deleted: a feed cursor before it may have missed events (410).
  await sql`CREATE TABLE IF NOT EXISTS change_event_sequence (
    id TINYINT UNSIGNED NOT NULL,
    last_position BIGINT UNSIGNED NOT NULL,
    pruned_through BIGINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (id)
  ) ${TABLE_OPTIONS}`.execute(db);
  await sql`INSERT IGNORE INTO change_event_sequence (id, last_position) VALUES (1, 0)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS change_event_sequence`.execute(db);
  await sql`DROP TABLE IF EXISTS change_events`.execute(db);
}
