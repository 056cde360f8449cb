import { randomBytes } from 'node:crypto';
import { loadConfig, type Config } from '../../src/config.js';
import type { ServiceContext } from '../../src/context.js';
import { closeContext, createContext } from '../../src/main/context.js';
import { startApi, type RunningApi } from '../../src/main/server.js';
import { dropDatabase, ensureDatabase } from '../../src/platform/db.js';
import { createLogger } from '../../src/platform/logger.js';
import { createApiKey } from '../../src/store/api-keys.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { captureLogs, type CapturedLogs } from './logs.js';

export const TEST_DATABASE_SERVER = process.env.TEST_DATABASE_SERVER ?? 'mysql://root@127.0.0.1:3306';
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';

export interface TestContext {
  ctx: ServiceContext;
  config: Config;
  api: RunningApi;
  url: string;
  logs: CapturedLogs;
  databaseUrl: string;
  /** Creates a tenant API key and returns the key. */
  keyFor(tenantId: string): Promise<string>;
  close(): Promise<void>;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
}

/**
 * A private database (created and migrated here, dropped on close), a private Redis key prefix, and the
 * real API on a free port. `env` overrides configuration, e.g. to point at a TCP proxy or the mock Shopify.
 */
export async function startTestContext(env: Record<string, string> = {}): Promise<TestContext> {
  const databaseName = uniqueName('shopint_test');
  const databaseUrl = `${TEST_DATABASE_SERVER}/${databaseName}`;
  await ensureDatabase(databaseUrl);
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: uniqueName('test'),
    ADMIN_API_KEY: ADMIN_KEY,
    SHOPIFY_API_SECRET: 'test-app-secret',
    SHOPIFY_API_KEY: 'test-app-key',
    // Suites written for paginated walks keep them; the bulk suites (sync-bulk*.test.ts) turn bulk on.
    SYNC_FULL_VIA_BULK: 'false',
    // A bulk operation of the mock takes milliseconds: look at it often.
    SYNC_BULK_POLL_MIN_SECONDS: '0.05',
    SYNC_BULK_POLL_MAX_SECONDS: '0.5',
    ...env,
  });
  const logs = captureLogs();
  const ctx = await createContext(config, createLogger({ level: 'debug' }, logs.stream));
  await migrateToLatest(ctx.db);
  const api = await startApi(ctx, 0, '127.0.0.1');
  return {
    ctx,
    config,
    api,
    url: api.url,
    logs,
    databaseUrl,
    keyFor: async (tenantId) => (await createApiKey(ctx.db, tenantId, 'test')).key,
    async close() {
      await api.stop();
      await deleteKeys(ctx, `${config.redisKeyPrefix}*`);
      await deleteKeys(ctx, `{${config.redisKeyPrefix}}*`);
      await closeContext(ctx);
      await dropDatabase(databaseUrl);
    },
  };
}

export async function deleteKeys(ctx: Pick<ServiceContext, 'redis'>, pattern: string): Promise<void> {
  if (!ctx.redis.isReady) return;
  const batch: string[] = [];
  for await (const keys of ctx.redis.scanIterator({ MATCH: pattern, COUNT: 500 })) {
    batch.push(...(Array.isArray(keys) ? keys : [keys]));
  }
  for (let i = 0; i < batch.length; i += 500) await ctx.redis.del(batch.slice(i, i + 500));
}
