/**
 * A fingerprint of every table of the test database, to prove that rejected requests changed nothing.
 * `CHECKSUM TABLE` covers each table whole, except `api_keys.last_used_at`, which any authenticated
 * request may touch (at most once a minute): that table is fingerprinted without it.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { ServiceContext } from '../../src/context.js';

export async function databaseFingerprint(ctx: Pick<ServiceContext, 'db'>): Promise<Record<string, string>> {
  const { rows: tables } = await sql<{ name: string }>`
    SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME`.execute(ctx.db);
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    if (name === 'api_keys') {
      const { rows } = await sql<Record<string, unknown>>`
        SELECT id, tenant_id, name, key_hash, key_prefix, scopes, created_at, revoked_at FROM api_keys ORDER BY id`.execute(ctx.db);
      out[name] = `${rows.length}:${createHash('sha256').update(JSON.stringify(rows)).digest('hex').slice(0, 16)}`;
      continue;
    }
    const { rows } = await sql<{ Checksum: string | number | null }>`CHECKSUM TABLE ${sql.table(name)}`.execute(ctx.db);
    const { rows: count } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql.table(name)}`.execute(ctx.db);
    out[name] = `${Number(count[0]?.n)}:${String(rows[0]?.Checksum)}`;
  }
  return out;
}

/** Tables whose fingerprint differs. */
export function changedTables(before: Record<string, string>, after: Record<string, string>): string[] {
  return [...new Set([...Object.keys(before), ...Object.keys(after)])].filter((t) => before[t] !== after[t]);
}
