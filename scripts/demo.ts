/**
 * `make demo` / `npm run demo` (`make demo KEEP=1` / `npm run demo -- --keep` keeps it serving): the whole
 * service end to end on this machine, against the mock Shopify.
 *
 *   1. a mock Shopify with a seeded store (a few hundred products, customers, orders; Shopify's rate limit)
 *   2. its own database (`shopify_integration_demo` on DATABASE_URL's server, or DEMO_DATABASE_URL),
 *      recreated and migrated, and its own Redis key prefix (DEMO_REDIS_KEY_PREFIX, `shopint-demo`):
 *      only keys under that prefix are cleared, and neither may be the service's own
 *   3. the API and the worker, in this process (two service contexts, as two deployments would have)
 *   4. a tenant API key (POST /api/admin/api-keys/), the store connected (POST /api/shopify/connect/),
 *      the initial sync followed through GET /api/shopify/sync-logs/
 *   5. a burst of signed webhooks from the mock (some delivered twice, in shuffled order), followed
 *      through GET /api/admin/webhooks/stats/ until applied
 *   6. what landed, counted through the API; the Swagger URL and a ready curl command
 *
 * Stops by itself at the end; `--keep` keeps everything serving until Ctrl-C and then prints commands to
 * try it (they work until Ctrl-C).
 * Env: DATABASE_URL / DEMO_DATABASE_URL, REDIS_URL / DEMO_REDIS_KEY_PREFIX, DEMO_PORT (default 3000, or
 * a free port, said so, when 3000 is taken, e.g. by `make run`; a DEMO_PORT that is taken stops the demo),
 * HOST (default 127.0.0.1), ADMIN_API_KEY (generated when unset), LOG_LEVEL (default warn), WORKER_METRICS_PORT.
 */
import { randomBytes } from 'node:crypto';
import { loadEnvFile } from '../src/main/env-file.js';
import { createServer } from 'node:net';
import { parseArgs } from 'node:util';
import { startMockShopify, type MockShop, type MockWebhookEvent } from './mock-shopify/index.js';
import { loadConfig } from '../src/config.js';
import type { ServiceContext } from '../src/context.js';
import { closeContext, createContext } from '../src/main/context.js';
import { startMetricsServer } from '../src/main/metrics-server.js';
import { startApi } from '../src/main/server.js';
import { startWorkers } from '../src/main/workers.js';
import { dropDatabase, ensureDatabase } from '../src/platform/db.js';
import { bullPrefix } from '../src/platform/queues.js';
import { migrateToLatest } from '../src/store/migrate.js';

const { values: args } = parseArgs({ options: { keep: { type: 'boolean' }, help: { type: 'boolean' } } });
if (args.help) {
  console.log('usage: npm run demo -- [--keep]   (make demo [KEEP=1]; see the header of scripts/demo.ts for the env)');
  process.exit(0);
}

const SHOP = 'demo-store.myshopify.com';
const TOKEN = 'shpat_demo_store_token';
const TENANT = 'demo-tenant';
loadEnvFile();
const REDIS_PREFIX = process.env.DEMO_REDIS_KEY_PREFIX || 'shopint-demo';
const RESOURCES = ['products', 'orders', 'customers', 'inventory'] as const;
const started = performance.now();

const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s`;
const step = (text: string) => console.log(`\n[${elapsed()}] ${text}`);
const info = (text: string) => console.log(`          ${text}`);

const serviceDatabaseUrl = () => process.env.DATABASE_URL ?? 'mysql://root@127.0.0.1:3306/shopify_integration';
const databaseName = (url: string) => new URL(url).pathname.slice(1);

function demoDatabaseUrl(): string {
  if (process.env.DEMO_DATABASE_URL) return process.env.DEMO_DATABASE_URL;
  const url = new URL(serviceDatabaseUrl());
  url.pathname = '/shopify_integration_demo';
  return url.toString();
}

/** The demo drops its database and clears its Redis prefix: never the service's own. */
function refuseTheServicesData(databaseUrl: string): void {
  const service = new URL(serviceDatabaseUrl());
  const demo = new URL(databaseUrl);
  if (service.host === demo.host && databaseName(serviceDatabaseUrl()) === databaseName(databaseUrl)) {
    throw new Error(`DEMO_DATABASE_URL names the service's own database (${databaseName(databaseUrl)}), which the demo would drop: give the demo a database of its own`);
  }
  if (REDIS_PREFIX === (process.env.REDIS_KEY_PREFIX || 'shopint')) {
    throw new Error(`DEMO_REDIS_KEY_PREFIX is the service's own prefix (${REDIS_PREFIX}), which the demo would clear: give the demo a prefix of its own`);
  }
}

/**
 * DEMO_PORT when set (taken: the demo stops, saying so), else 3000, or a free port when 3000 is taken
 * (`make run` may hold it), said loudly: the webhook address must be known before the API starts.
 */
async function choosePort(host: string): Promise<number> {
  const wanted = process.env.DEMO_PORT ? Number(process.env.DEMO_PORT) : 3000;
  const bound = await tryPort(host, wanted);
  if (bound !== null) return bound;
  if (process.env.DEMO_PORT) throw new Error(`DEMO_PORT ${wanted} is taken: stop what listens there or choose another port`);
  const other = (await tryPort(host, 0)) as number;
  console.log(`note: port ${wanted} is taken (by \`make run\`?); the demo serves on port ${other} instead`);
  return other;
}

async function tryPort(host: string, wanted: number): Promise<number | null> {
  const tryListen = (port: number) =>
    new Promise<number | null>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(null));
      server.listen(port, host, () => {
        const bound = (server.address() as { port: number }).port;
        server.close(() => resolve(bound));
      });
    });
  return tryListen(wanted);
}

async function clearRedisPrefix(ctx: ServiceContext): Promise<void> {
  for (const pattern of [`${REDIS_PREFIX}:*`, `${bullPrefix(REDIS_PREFIX)}*`]) {
    const keys: string[] = [];
    for await (const batch of ctx.redis.scanIterator({ MATCH: pattern, COUNT: 500 })) keys.push(...(Array.isArray(batch) ? batch : [batch]));
    for (let i = 0; i < keys.length; i += 500) await ctx.redis.del(keys.slice(i, i + 500));
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** A small client of our own API (plain fetch: what any integrator's code does). */
function apiClient(baseUrl: string) {
  return async <T = any>(method: string, path: string, key: string, body?: unknown): Promise<T> => {
    const res = await fetch(baseUrl + path, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };
}

/** Every record of a list endpoint, walked with its cursor (250 a page). */
async function countAll(api: ReturnType<typeof apiClient>, key: string, resource: string, includeDeleted: boolean): Promise<number> {
  let count = 0;
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ limit: '250', ...(includeDeleted ? { include_deleted: 'true' } : {}), ...(cursor ? { cursor } : {}) });
    const page: { data: unknown[]; next_cursor: string | null } = await api('GET', `/api/shopify/${resource}/?${query}`, key);
    count += page.data.length;
    cursor = page.next_cursor;
  } while (cursor);
  return count;
}

/** Changes in the store, as a merchant's day produces them: each one becomes a webhook. */
function storeActivity(shop: MockShop): MockWebhookEvent[] {
  const live = (entries: { id: number; deleted: boolean }[]) => entries.filter((e) => !e.deleted).map((e) => e.id);
  const products = live(shop.catalog.products.entries);
  const customers = live(shop.catalog.customers.entries);
  const orders = live(shop.catalog.orders.entries);
  const items = shop.catalog.inventoryItems.filter((i) => !i.deleted);
  const locations = shop.catalog.locations.entries.map((e) => e.id);
  const at = (list: number[], i: number) => list[(i * 7) % list.length] as number;
  shop.takeEvents(); // only what happens from now on
  for (let i = 0; i < 20; i++) shop.updateProduct(at(products, i), { title: `Demo product ${i} (renamed by webhook)` });
  for (let i = 0; i < 5; i++) shop.createProduct({ title: `New demo product ${i}` });
  for (let i = 0; i < 2; i++) shop.deleteProduct(at(products, 100 + i));
  for (let i = 0; i < 15; i++) shop.updateCustomer(at(customers, i), { note: `updated by webhook ${i}` });
  for (let i = 0; i < 5; i++) shop.createCustomer();
  shop.deleteCustomer(at(customers, 50));
  for (let i = 0; i < 10; i++) shop.createOrder();
  for (let i = 0; i < 10; i++) shop.updateOrder(at(orders, i), { note: `updated by webhook ${i}` });
  for (let i = 0; i < 3; i++) shop.cancelOrder(at(orders, 20 + i));
  shop.deleteOrder(at(orders, 40));
  for (let i = 0; i < 30; i++) {
    const item = items[(i * 13) % items.length];
    if (item) shop.setInventoryLevel(item.id, locations[i % locations.length] as number, 10 + i);
  }
  return shop.takeEvents();
}

async function main() {
  const host = process.env.HOST ?? '127.0.0.1';
  const databaseUrl = demoDatabaseUrl();
  refuseTheServicesData(databaseUrl);
  const port = await choosePort(host);
  const adminKey = process.env.ADMIN_API_KEY || `demo-admin-${randomBytes(12).toString('hex')}`;

  step('Mock Shopify: seeding a store');
  const mock = await startMockShopify({
    shops: [{ domain: SHOP, accessToken: TOKEN, products: 250, customers: 150, orders: 300, locations: 2, seed: 7 }],
    rateLimit: { enabled: true, bucketSize: 40, leakPerSecond: 2, scale: 1 }, // Shopify's standard plan
  });
  const shop = mock.shop(SHOP);
  info(
    `${mock.url}  ${shop.catalog.products.size} products, ${shop.catalog.customers.size} customers, ${shop.catalog.orders.size} orders, ${shop.catalog.locations.size} locations; bucket 40, 2 requests/s`,
  );

  const config = loadConfig({
    ...process.env,
    DATABASE_URL: databaseUrl,
    REDIS_KEY_PREFIX: REDIS_PREFIX,
    ADMIN_API_KEY: adminKey,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    PORT: String(port),
    HOST: host,
    SHOPIFY_API_BASE_URL: mock.baseUrlTemplate,
    SHOPIFY_API_KEY: mock.apiKey,
    SHOPIFY_API_SECRET: mock.apiSecret,
    SHOPIFY_WEBHOOK_BASE_URL: `http://127.0.0.1:${port}`,
  });

  step(`Database ${new URL(databaseUrl).pathname.slice(1)}: recreating and migrating; Redis prefix ${REDIS_PREFIX}: clearing`);
  await dropDatabase(databaseUrl);
  await ensureDatabase(databaseUrl);
  const apiCtx = await createContext(config);
  const migrations = await migrateToLatest(apiCtx.db);
  info(`${migrations.results?.length ?? 0} migration(s) applied`);
  await clearRedisPrefix(apiCtx);

  step('Starting the API and the worker');
  const api = await startApi(apiCtx, port, host);
  const workerCtx = await createContext(config);
  const workers = await startWorkers(workerCtx);
  const workerMetrics = await startMetricsServer(workerCtx, config.workerMetrics.port ?? 0, '127.0.0.1');
  const base = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  info(`API ${base}, worker metrics ${workerMetrics.url}/metrics`);

  let tryIt: (() => void) | undefined;
  const stopAll = async () => {
    await Promise.allSettled([api.stop(), workerMetrics.stop()]);
    await workers.stop();
    await clearRedisPrefix(apiCtx).catch(() => undefined); // queues, schedulers, stream: nothing left running in Redis
    await Promise.allSettled([closeContext(workerCtx), closeContext(apiCtx), mock.close()]);
  };

  try {
    const call = apiClient(base);
    step('Creating a tenant API key (POST /api/admin/api-keys/, admin key)');
    const created = await call<{ key: string; key_prefix: string }>('POST', '/api/admin/api-keys/', adminKey, { tenant_id: TENANT, name: 'demo' });
    const key = created.key;
    info(`tenant ${TENANT}, key ${created.key_prefix}…`);

    step(`Connecting ${SHOP} (POST /api/shopify/connect/)`);
    const connected = await call<{ webhooks: { created: string[]; failed: unknown[] }; initial_sync: { jobs: unknown[] } }>('POST', '/api/shopify/connect/', key, {
      shop_domain: SHOP,
      access_token: TOKEN,
    });
    info(`${connected.webhooks.created.length} webhook subscriptions registered at the mock, ${connected.initial_sync.jobs.length} initial sync jobs queued`);

    step('Initial sync (polling GET /api/shopify/sync-logs/)');
    type Run = { resource: string; status: string; pages: number; records_fetched: number; records_written: number; duration_ms: number | null; error: string | null };
    const runs = await until(
      'the initial sync',
      async () => {
        const logs = await call<{ data: Run[] }>('GET', '/api/shopify/sync-logs/?limit=50', key);
        const finished = logs.data.filter((r) => r.status === 'succeeded' || r.status === 'failed');
        return finished.length >= RESOURCES.length && finished.length === logs.data.length ? finished : undefined;
      },
      120_000,
    );
    for (const r of runs)
      info(
        `${r.resource.padEnd(10)} ${r.status.padEnd(9)} ${String(r.pages).padStart(3)} pages  ${String(r.records_fetched).padStart(5)} fetched  ${String(r.records_written).padStart(5)} written  ${r.duration_ms ?? '?'} ms${r.error ? `  ${r.error}` : ''}`,
      );
    if (runs.some((r) => r.status !== 'succeeded')) throw new Error('a sync run failed (see above)');

    const events = storeActivity(shop);
    step(`Webhook burst: ${events.length} changes in the store, delivered signed by the mock (10 % twice, shuffled, 8 at a time)`);
    const deliveries = await shop.deliver(events, { duplicates: 0.1, shuffle: 3, concurrency: 8 });
    const byStatus = new Map<number, number>();
    for (const d of deliveries) byStatus.set(d.status, (byStatus.get(d.status) ?? 0) + 1);
    const slowest = Math.max(...deliveries.map((d) => d.durationMs));
    info(`${deliveries.length} deliveries: ${[...byStatus].map(([s, n]) => `${n} × HTTP ${s}`).join(', ')}; slowest answer ${slowest.toFixed(1)} ms`);

    step('Waiting until the worker applied them (polling GET /api/admin/webhooks/stats/)');
    type Stats = { stream_length: number; pending: number; dead_letters: number };
    const stats = await until(
      'the webhooks to be applied',
      async () => {
        const s = await call<Stats>('GET', '/api/admin/webhooks/stats/', adminKey);
        return s.stream_length === 0 && s.pending === 0 ? s : undefined;
      },
      60_000,
      100,
    );
    info(`stream empty, nothing pending, ${stats.dead_letters} dead letter(s)`);
    const applied = (await workerCtx.metrics.webhooksApplied.get()).values;
    const sumOf = (result: string) => applied.filter((v) => v.labels.result === result).reduce((n, v) => n + v.value, 0);
    info(`worker: ${sumOf('applied')} applied, ${sumOf('duplicate')} duplicates recognised and skipped`);

    step('What landed (counted through the API)');
    const truth: Record<string, number | undefined> = {
      products: shop.catalog.products.entries.filter((e) => !e.deleted).length,
      customers: shop.catalog.customers.entries.filter((e) => !e.deleted).length,
      orders: shop.catalog.orders.entries.filter((e) => !e.deleted).length,
    };
    info(`${'resource'.padEnd(10)} ${'live'.padStart(6)} ${'deleted'.padStart(8)}   in the store`);
    for (const resource of RESOURCES) {
      const live = await countAll(call, key, resource, false);
      const all = await countAll(call, key, resource, true);
      const expected = truth[resource];
      const check = expected === undefined ? '     -' : `${String(expected).padStart(6)} ${expected === live ? '✓' : '✗'}`;
      info(`${resource.padEnd(10)} ${String(live).padStart(6)} ${String(all - live).padStart(8)}   ${check}`);
    }
    const renamed = events.find((e) => e.topic === 'products/update')?.payload as { id: number; title: string } | undefined;
    if (renamed) {
      const record = await call<{ title: string }>('GET', `/api/shopify/products/${renamed.id}/`, key);
      info(`product ${renamed.id}: "${record.title}" (from its products/update webhook)`);
    }
    info(`mock Shopify saw ${shop.stats.requests} API requests, ${shop.stats.throttled} answered 429`);

    tryIt = () => {
      step('Try it while the demo serves (Ctrl-C stops it)');
      info(`Swagger UI:       ${base}/docs  (Authorize with the tenant key below)`);
      info(`Tenant key:       ${key}`);
      info(`Tenant API:       curl -s -H 'Authorization: Bearer ${key}' '${base}/api/shopify/products/?limit=2'`);
      info(`Metrics (API):    curl -s -H 'Authorization: Bearer ${adminKey}' ${base}/metrics`);
      info(`Metrics (worker): curl -s -H 'Authorization: Bearer ${adminKey}' ${workerMetrics.url}/metrics  (sync and Shopify-call metrics)`);
      info(`Queue dashboard:  ${base}/admin/queues  (any user name, the admin key as password)`);
      info(`Mock Shopify:     curl -s -H 'X-Shopify-Access-Token: ${TOKEN}' ${mock.url}/${SHOP}/admin/api/${config.shopify.apiVersion}/products.json?limit=1`);
    };
  } catch (err) {
    await stopAll();
    throw err;
  }

  if (!args.keep) {
    step(`Done; stopping. The data stays in ${databaseName(databaseUrl)} until the next run. To try it yourself, \`make demo KEEP=1\` keeps it serving and prints commands that work while it does.`);
    await stopAll();
    return;
  }
  tryIt?.();
  // `on`, not `once`: make, npm and tsx may each pass the same Ctrl-C on; later copies must not kill the stop.
  await new Promise<void>((resolve) => {
    process.on('SIGINT', resolve);
    process.on('SIGTERM', resolve);
  });
  console.log('\nstopping…');
  setTimeout(() => process.exit(1), 15_000).unref();
  await stopAll();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`\ndemo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
