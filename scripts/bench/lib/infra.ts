import { randomBytes } from 'node:crypto';
import { sealAccessToken } from '../../../src/store/integration-secrets.js';
import { sql } from 'kysely';
import { loadConfig } from '../../../src/config.js';
import type { ServiceContext } from '../../../src/context.js';
import { closeContext, createContext } from '../../../src/main/context.js';
import { createPool } from 'mysql2';
import { dropDatabase, ensureDatabase, poolOptionsFromUrl } from '../../../src/platform/db.js';
import { createLogger } from '../../../src/platform/logger.js';
import { createRedis, type Redis } from '../../../src/platform/redis.js';
import { createIntegration } from '../../../src/store/integrations.js';
import { migrateToLatest } from '../../../src/store/migrate.js';
import type { Integration } from '../../../src/store/schema.js';

/**
 * Each benchmark gets a database and a Redis key prefix of its own (`shopint_bench_<id>_<pid>_<rand>`),
 * created here and removed by `cleanup()` — also when the run is interrupted (see `cleanupAll`).
 * Everything runs against 127.0.0.1: the servers are the machine's MariaDB/MySQL and Redis.
 */
export const BENCH_DATABASE_SERVER = serverOf(process.env.BENCH_DATABASE_SERVER ?? process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306');
export const BENCH_REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** A fixed key (benchmarks only): production configuration requires one. */
const BENCH_ENCRYPTION_KEY = Buffer.from('benchmark-only-encryption-key-32').toString('base64');
export const BENCH_APP_SECRET = 'bench-app-secret';

function serverOf(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.username ? `${u.username}${u.password ? `:${u.password}` : ''}@` : ''}${u.host}`;
}

export function assertLoopback(): void {
  for (const url of [BENCH_DATABASE_SERVER, BENCH_REDIS_URL]) {
    const host = new URL(url).hostname;
    if (!['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host)) {
      throw new Error(`benchmarks run against services on 127.0.0.1 only (got ${host}); set BENCH_DATABASE_SERVER / BENCH_REDIS_URL`);
    }
  }
}

export interface BenchEnv {
  id: string;
  databaseUrl: string;
  redisPrefix: string;
  /** Environment of the service's processes (children) and of `ctx`. */
  env: Record<string, string>;
  /** The service's context in the runner (setup, seeding, checks). */
  ctx: ServiceContext;
  /** Database and keys back to empty (between phases): every table but integrations and api_keys. */
  truncateData(): Promise<void>;
  deleteKeys(pattern?: string): Promise<void>;
  cleanup(): Promise<void>;
}

const live = new Set<BenchEnv>();

/** Service environment: production mode, quiet logs, schedulers off, this benchmark's database and prefix. */
export function serviceEnv(databaseUrl: string, redisPrefix: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    PORT: '0',
    DATABASE_URL: databaseUrl,
    REDIS_URL: BENCH_REDIS_URL,
    REDIS_KEY_PREFIX: redisPrefix,
    TOKEN_ENCRYPTION_KEY: BENCH_ENCRYPTION_KEY,
    SHOPIFY_API_KEY: 'bench-app-key',
    SHOPIFY_API_SECRET: BENCH_APP_SECRET,
    SHOPIFY_SYNC_INTERVAL_PRODUCTS: '0',
    SHOPIFY_SYNC_INTERVAL_ORDERS: '0',
    SHOPIFY_SYNC_INTERVAL_CUSTOMERS: '0',
    SHOPIFY_SYNC_INTERVAL_INVENTORY: '0',
    SHOPIFY_SYNC_INTERVAL_LOCATIONS: '0',
    ...extra,
  };
}

/**
 * `migrationsFolder`: the compiled migrations of another revision (an A/B baseline), to give its processes
 * the schema they were written for; by default this tree's.
 */
export async function createBenchEnv(id: string, extra: Record<string, string> = {}, opts: { migrationsFolder?: string } = {}): Promise<BenchEnv> {
  const suffix = `${process.pid}_${randomBytes(3).toString('hex')}`;
  const databaseUrl = `${BENCH_DATABASE_SERVER}/shopint_bench_${id}_${suffix}`;
  const redisPrefix = `bench_${id}_${suffix}`;
  const env = serviceEnv(databaseUrl, redisPrefix, extra);
  await ensureDatabase(databaseUrl);
  let ctx: ServiceContext;
  try {
    ctx = await createContext(loadConfig(env), createLogger({ level: 'warn' }));
    await migrateToLatest(ctx.db, opts.migrationsFolder);
  } catch (error) {
    await dropDatabase(databaseUrl).catch(() => undefined);
    throw error;
  }
  const deleteKeys = async (pattern?: string) => {
    for (const p of pattern ? [pattern] : [`${redisPrefix}:*`, `{${redisPrefix}}:*`]) await deleteMatching(ctx.redis, p);
  };
  let cleaned: Promise<void> | undefined;
  const bench: BenchEnv = {
    id,
    databaseUrl,
    redisPrefix,
    env,
    ctx,
    async truncateData() {
      for (const table of DATA_TABLES) await sql`TRUNCATE TABLE ${sql.table(table)}`.execute(ctx.db);
      // The outbox grows with every write; a baseline revision from before it has no such table.
      await sql`TRUNCATE TABLE change_events`.execute(ctx.db).catch((error: { code?: string }) => {
        if (error.code !== 'ER_NO_SUCH_TABLE') throw error;
      });
    },
    deleteKeys,
    cleanup() {
      cleaned ??= (async () => {
        live.delete(bench);
        await deleteKeys().catch(() => undefined);
        await closeContext(ctx).catch(() => undefined);
        await dropDatabase(databaseUrl).catch(() => undefined);
      })();
      return cleaned;
    },
  };
  live.add(bench);
  return bench;
}

const DATA_TABLES = [
  'shopify_product_variants',
  'shopify_products',
  'shopify_order_line_items',
  'shopify_orders',
  'shopify_customers',
  'shopify_inventory_levels',
  'shopify_webhook_events',
  'shopify_sync_state',
  'shopify_sync_logs',
];

/** Removes every database and key prefix a benchmark still holds (end of run, Ctrl-C, failure). */
export async function cleanupAll(): Promise<void> {
  await Promise.allSettled([...live].map((b) => b.cleanup()));
}

const pidAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

/**
 * What a run killed outright (SIGKILL, a dead terminal) could not remove: benchmark databases and key
 * prefixes whose runner process no longer exists. Names carry the runner's pid (`shopint_bench_<id>_<pid>_…`,
 * `bench_<id>_<pid>_…`), so those of a run still going are never touched. Returns what was removed.
 */
export async function sweepStaleRuns(): Promise<string[]> {
  const opts = poolOptionsFromUrl(BENCH_DATABASE_SERVER, 1);
  delete opts.database;
  const pool = createPool(opts).promise();
  const redis = createRedis(BENCH_REDIS_URL);
  const removed: string[] = [];
  try {
    const [rows] = await pool.query("SHOW DATABASES LIKE 'shopint\\_bench\\_%'");
    for (const row of rows as Record<string, string>[]) {
      const name = Object.values(row)[0] as string;
      const m = /^shopint_bench_[a-z]+_(\d+)_[0-9a-f]+$/.exec(name);
      if (!m || pidAlive(Number(m[1]))) continue;
      await pool.query(`DROP DATABASE IF EXISTS \`${name}\``);
      removed.push(`database ${name}`);
    }
    await redis.connect();
    const prefixes = new Set<string>();
    for await (const keys of redis.scanIterator({ MATCH: '*bench_*', COUNT: 1000 })) {
      for (const key of Array.isArray(keys) ? keys : [keys]) {
        const m = /^\{?(bench_[a-z]+_(\d+)_[0-9a-f]+)[}:]/.exec(key);
        if (m && !pidAlive(Number(m[2]))) prefixes.add(m[1] as string);
      }
    }
    for (const prefix of prefixes) {
      const n = (await deleteMatching(redis, `${prefix}:*`)) + (await deleteMatching(redis, `{${prefix}}:*`));
      removed.push(`${n} Redis key(s) under ${prefix}`);
    }
  } finally {
    await pool.end();
    if (redis.isOpen) await redis.quit();
  }
  return removed;
}

export async function deleteMatching(redis: Redis, pattern: string): Promise<number> {
  if (!redis.isReady) return 0;
  let deleted = 0;
  let batch: string[] = [];
  for await (const keys of redis.scanIterator({ MATCH: pattern, COUNT: 1000 })) {
    batch.push(...(Array.isArray(keys) ? keys : [keys]));
    if (batch.length >= 1000) {
      deleted += await redis.unlink(batch);
      batch = [];
    }
  }
  if (batch.length > 0) deleted += await redis.unlink(batch);
  return deleted;
}

/** An active integration for `shop`, holding `accessToken` encrypted as the service stores it. */
export async function seedIntegration(ctx: ServiceContext, tenantId: string, shop: string, accessToken = 'shpat_bench'): Promise<Integration> {
  return createIntegration(ctx.db, {
    tenant_id: tenantId,
    shop_domain: shop,
    access_token_encrypted: sealAccessToken(ctx.secrets, { tenant_id: tenantId, shop_domain: shop }, accessToken),
    encryption_key_id: ctx.secrets.currentKeyId,
    api_version: ctx.config.shopify.apiVersion,
    scopes: 'read_products,read_orders,read_all_orders,read_customers,read_inventory,read_locations',
    shop_currency: 'USD',
    shop_name: shop,
    shop_plan: 'basic',
    webhook_secret_encrypted: null,
    token_revoked_at: null,
    last_sync_at: null,
    last_error_at: null,
    last_error_message: null,
  });
}
