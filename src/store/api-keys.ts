import { sql } from 'kysely';
import type { Db } from './schema.js';
import { randomToken, sha256Hex } from '../platform/crypto.js';
import { pageOf, type Page } from './page.js';
import type { ApiKey } from './schema.js';

const KEY_PREFIX = 'sk_';

export interface CreatedApiKey {
  record: ApiKey;
  /** The key itself: returned once, never stored. */
  key: string;
}

export async function createApiKey(db: Db, tenantId: string, name: string): Promise<CreatedApiKey> {
  const key = KEY_PREFIX + randomToken(32);
  const result = await db
    .insertInto('api_keys')
    .values({ tenant_id: tenantId, name, key_hash: sha256Hex(key), key_prefix: key.slice(0, 10), last_used_at: null, revoked_at: null })
    .executeTakeFirstOrThrow();
  const record = await db.selectFrom('api_keys').selectAll().where('id', '=', Number(result.insertId)).executeTakeFirstOrThrow();
  return { record, key };
}

/** The active key with this value, if any. Only the hash is looked up. */
export async function findActiveApiKey(db: Db, key: string): Promise<ApiKey | undefined> {
  return db.selectFrom('api_keys').selectAll().where('key_hash', '=', sha256Hex(key)).where('revoked_at', 'is', null).executeTakeFirst();
}

/** Records use at most once a minute per key, so reads do not turn into writes. */
export async function touchApiKey(db: Db, id: number): Promise<void> {
  await db
    .updateTable('api_keys')
    .set({ last_used_at: sql<Date>`CURRENT_TIMESTAMP(3)` })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`NOW(3) - INTERVAL 1 MINUTE`)]))
    .execute();
}

export async function revokeApiKey(db: Db, id: number): Promise<ApiKey | undefined> {
  await db
    .updateTable('api_keys')
    .set({ revoked_at: sql<Date>`CURRENT_TIMESTAMP(3)` })
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .execute();
  return db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listApiKeys(db: Db, opts: { tenantId?: string; limit: number; afterId?: number }): Promise<Page<ApiKey, number>> {
  let q = db
    .selectFrom('api_keys')
    .selectAll()
    .orderBy('id', 'asc')
    .limit(opts.limit + 1);
  if (opts.tenantId) q = q.where('tenant_id', '=', opts.tenantId);
  if (opts.afterId !== undefined) q = q.where('id', '>', opts.afterId);
  return pageOf(await q.execute(), opts.limit, (last) => last.id);
}
