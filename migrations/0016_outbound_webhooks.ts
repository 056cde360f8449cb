import { sql, type Kysely } from 'kysely';
import { TABLE_OPTIONS, TENANT_ID } from '../src/store/ddl.js';

/*
 * Tenants' outbound webhooks. An endpoint follows its tenant's change feed from `last_position` (a new
 * endpoint starts at the feed's current end: no history). Each event of its types becomes one delivery;
 * `ordering_key` (`resource:record_key`, NULL for events naming no record) lets only the earliest pending
 * delivery of a record run, so a record's later change never arrives before an earlier one. Secrets are
 * SecretBox envelopes bound to the endpoint; the previous one keeps signing until it expires (rotation).
 * Deliveries refer to their event rather than copy it: a redaction of the outbox reaches them too.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`CREATE TABLE IF NOT EXISTS webhook_endpoints (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    tenant_id ${TENANT_ID},
    url VARCHAR(2048) NOT NULL,
    description VARCHAR(500) NULL,
    event_types JSON NULL,
    use_mapping TINYINT(1) NOT NULL DEFAULT 0,
    enabled TINYINT(1) NOT NULL DEFAULT 1,
    disabled_reason VARCHAR(500) NULL,
    secret_encrypted VARCHAR(512) NOT NULL,
    previous_secret_encrypted VARCHAR(512) NULL,
    previous_secret_expires_at DATETIME(3) NULL,
    last_position BIGINT UNSIGNED NOT NULL DEFAULT 0,
    failing_since DATETIME(3) NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    KEY ix_webhook_endpoints_tenant (tenant_id, id),
    KEY ix_webhook_endpoints_behind (enabled, last_position)
  ) ${TABLE_OPTIONS}`.execute(db);
  await sql`CREATE TABLE IF NOT EXISTS webhook_deliveries (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    endpoint_id BIGINT UNSIGNED NOT NULL,
    tenant_id ${TENANT_ID},
    event_id BIGINT UNSIGNED NOT NULL,
    event_position BIGINT UNSIGNED NOT NULL,
    event_type VARCHAR(64) NOT NULL,
    ordering_key VARCHAR(100) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'pending',
    attempts INT UNSIGNED NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(3) NULL,
    last_error VARCHAR(1000) NULL,
    created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    updated_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    PRIMARY KEY (id),
    UNIQUE KEY ux_webhook_deliveries_event (endpoint_id, event_id),
    KEY ix_webhook_deliveries_order (endpoint_id, ordering_key, status, event_position),
    KEY ix_webhook_deliveries_status (endpoint_id, status, id),
    KEY ix_webhook_deliveries_due (status, next_attempt_at)
  ) ${TABLE_OPTIONS}`.execute(db);
  await sql`CREATE TABLE IF NOT EXISTS webhook_delivery_attempts (
    id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    delivery_id BIGINT UNSIGNED NOT NULL,
    endpoint_id BIGINT UNSIGNED NOT NULL,
    attempt INT UNSIGNED NOT NULL,
    attempted_at DATETIME(3) NOT NULL,
    duration_ms INT UNSIGNED NOT NULL,
    ok TINYINT(1) NOT NULL,
    status_code SMALLINT UNSIGNED NULL,
    error VARCHAR(1000) NULL,
    response_excerpt VARCHAR(1000) NULL,
    PRIMARY KEY (id),
    KEY ix_webhook_delivery_attempts_endpoint (endpoint_id, id),
    KEY ix_webhook_delivery_attempts_delivery (delivery_id, id)
  ) ${TABLE_OPTIONS}`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE IF EXISTS webhook_delivery_attempts`.execute(db);
  await sql`DROP TABLE IF EXISTS webhook_deliveries`.execute(db);
  await sql`DROP TABLE IF EXISTS webhook_endpoints`.execute(db);
}
