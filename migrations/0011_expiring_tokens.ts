import { sql, type Kysely } from 'kysely';

/*
 * Access tokens that expire (Shopify, since 2025-12-10; non-expiring offline tokens of public apps are
 * invalidated on 2027-01-01). The row holds the whole pair, always written in one UPDATE:
 * - `access_token_expires_at`: NULL for a token that never expires (pasted custom-app tokens, OAuth
 *   installs not migrated yet);
 * - `refresh_token_encrypted` / `refresh_token_expires_at`: the rotating 90-day refresh token (sealed
 *   like the access token, bound to its row and column);
 * - `client_id` / `client_secret_encrypted`: a merchant's own Dev Dashboard app connected with the
 *   client-credentials grant (`install_method = 'client_credentials'`): its 24-hour tokens are minted
 *   again with them, and its client secret verifies that store's webhooks;
 * - `reauthorization_required_at`: Shopify refused the refresh token or the client credentials (or the
 *   refresh token expired): the merchant must authorize again; syncs are paused until then.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE shopify_integrations
    MODIFY install_method VARCHAR(24) NOT NULL DEFAULT 'token',
    ADD COLUMN access_token_expires_at DATETIME(3) NULL AFTER access_token_encrypted,
    ADD COLUMN refresh_token_encrypted TEXT NULL AFTER access_token_expires_at,
    ADD COLUMN refresh_token_expires_at DATETIME(3) NULL AFTER refresh_token_encrypted,
    ADD COLUMN client_id VARCHAR(255) NULL AFTER refresh_token_expires_at,
    ADD COLUMN client_secret_encrypted TEXT NULL AFTER client_id,
    ADD COLUMN reauthorization_required_at DATETIME(3) NULL AFTER client_secret_encrypted,
    ADD INDEX idx_integrations_token_expiry (install_method, access_token_expires_at)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`ALTER TABLE shopify_integrations
    DROP INDEX idx_integrations_token_expiry,
    DROP COLUMN reauthorization_required_at, DROP COLUMN client_secret_encrypted, DROP COLUMN client_id,
    DROP COLUMN refresh_token_expires_at, DROP COLUMN refresh_token_encrypted, DROP COLUMN access_token_expires_at,
    MODIFY install_method VARCHAR(16) NOT NULL DEFAULT 'token'`.execute(db);
}
