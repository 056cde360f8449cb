import { sql } from 'kysely';

/*
 * DDL fragments shared by migrations, so every table states ownership the same way. Migrations from
 * 0005 on use them; 0001–0004 spelled theirs out and 0005 brought their tenant columns to this form.
 */

/** Table options: InnoDB, utf8mb4. Text columns default to a case-insensitive collation (names, emails, domains). */
export const TABLE_OPTIONS = sql.raw('ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci');

/**
 * The type of every `tenant_id` column. Tenant ids decide ownership, so they compare byte for byte:
 * under the tables' case-insensitive default, a key made for `ACME` would read and purge `acme`'s data.
 * Use it as `tenant_id ${TENANT_ID}` in CREATE TABLE and `MODIFY tenant_id ${TENANT_ID}` in ALTER TABLE.
 * Columns compared with one another (joins on tenant_id) must share it, or MySQL refuses the mix of collations.
 */
export const TENANT_ID = sql.raw('VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL');

/** Hashes (API key hashes) compare exactly too. */
export const KEY_HASH = sql.raw('CHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL');
