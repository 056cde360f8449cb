/**
 * Child process for the shared-rate-limiter test: one Shopify client in its own process, fetching
 * every page of products from the mock. Prints `ready` once connected, waits for `go` on stdin (so
 * the processes start together), then prints one JSON line with its pages and stats.
 * Env: MOCK_BASE_URL, SHOP, TOKEN, REDIS_URL, KEY_PREFIX, RATE, BUCKET, PAGE_LIMIT.
 */
import { createInterface } from 'node:readline';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { createRedis, redisKeys } from '../../src/platform/redis.js';
import { createShopifyClient } from '../../src/shopify/admin-client.js';

const env = process.env;
const need = (name: string): string => {
  const v = env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

const config = loadConfig({
  NODE_ENV: 'test',
  SHOPIFY_API_BASE_URL: need('MOCK_BASE_URL'),
  SHOPIFY_MAX_REQUESTS_PER_SECOND: need('RATE'),
  SHOPIFY_BUCKET_SIZE: need('BUCKET'),
  SHOPIFY_RETRY_DELAY: '0.01',
});
const redis = createRedis(need('REDIS_URL'));
await redis.connect();
const client = createShopifyClient(
  { redis, keys: redisKeys(need('KEY_PREFIX')), logger: createLogger({ level: 'silent' }), config: config.shopify },
  { shopDomain: need('SHOP'), accessToken: need('TOKEN') },
);

process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line.trim() === 'go') break;
lines.close();

const started = performance.now();
let pages = 0;
let items = 0;
for await (const page of client.pages<{ id: number }>('products', 'products', { limit: Number(env.PAGE_LIMIT ?? 10) })) {
  pages++;
  items += page.items.length;
}
process.stdout.write(`${JSON.stringify({ pages, items, elapsedMs: Math.round(performance.now() - started), stats: client.stats })}\n`);
await redis.quit();
