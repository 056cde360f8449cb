/**
 * `npm run mock-shopify`: a mock Shopify for local runs, demos and benchmarks.
 * Options (flags or env): --port (MOCK_SHOPIFY_PORT, 4010), --shop (MOCK_SHOPIFY_SHOP),
 * --token (MOCK_SHOPIFY_TOKEN), --products/--customers/--orders/--locations (MOCK_SHOPIFY_PRODUCTS …),
 * --bucket-size, --leak-rate, --scale, --no-rate-limit, --seed; app credentials from SHOPIFY_API_KEY /
 * SHOPIFY_API_SECRET (mock defaults otherwise).
 */
import { parseArgs } from 'node:util';
import { startMockShopify } from './index.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string' },
    shop: { type: 'string' },
    token: { type: 'string' },
    products: { type: 'string' },
    customers: { type: 'string' },
    orders: { type: 'string' },
    locations: { type: 'string' },
    seed: { type: 'string' },
    'bucket-size': { type: 'string' },
    'leak-rate': { type: 'string' },
    scale: { type: 'string' },
    'no-rate-limit': { type: 'boolean' },
    help: { type: 'boolean' },
  },
});

if (values.help) {
  console.log(
    'usage: npm run mock-shopify -- [--port 4010] [--shop demo-store.myshopify.com] [--token T] [--products N] [--customers N] [--orders N] [--locations N] [--bucket-size 40] [--leak-rate 2] [--scale 1] [--no-rate-limit]',
  );
  process.exit(0);
}

const env = process.env;
const num = (flag: string | undefined, envName: string, fallback: number): number => {
  const raw = flag ?? env[envName];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`mock-shopify: ${envName} must be a non-negative number (got "${raw}")`);
    process.exit(2);
  }
  return n;
};

const domain = values.shop ?? env.MOCK_SHOPIFY_SHOP ?? 'demo-store.myshopify.com';
const token = values.token ?? env.MOCK_SHOPIFY_TOKEN ?? 'shpat_mock_demo_token';

const mock = await startMockShopify({
  port: num(values.port, 'MOCK_SHOPIFY_PORT', 4010),
  host: values.host ?? env.MOCK_SHOPIFY_HOST ?? '127.0.0.1',
  ...(env.SHOPIFY_API_KEY ? { apiKey: env.SHOPIFY_API_KEY } : {}),
  ...(env.SHOPIFY_API_SECRET ? { apiSecret: env.SHOPIFY_API_SECRET } : {}),
  ...(env.SHOPIFY_API_VERSION ? { apiVersion: env.SHOPIFY_API_VERSION } : {}),
  rateLimit: {
    enabled: !(values['no-rate-limit'] ?? /^(1|true|yes)$/i.test(env.MOCK_SHOPIFY_NO_RATE_LIMIT ?? '')),
    bucketSize: num(values['bucket-size'], 'MOCK_SHOPIFY_BUCKET_SIZE', 40),
    leakPerSecond: num(values['leak-rate'], 'MOCK_SHOPIFY_LEAK_RATE', 2),
    scale: num(values.scale, 'MOCK_SHOPIFY_SCALE', 1),
  },
  shops: [
    {
      domain,
      accessToken: token,
      seed: num(values.seed, 'MOCK_SHOPIFY_SEED', 42),
      products: num(values.products, 'MOCK_SHOPIFY_PRODUCTS', 200),
      customers: num(values.customers, 'MOCK_SHOPIFY_CUSTOMERS', 100),
      orders: num(values.orders, 'MOCK_SHOPIFY_ORDERS', 300),
      locations: num(values.locations, 'MOCK_SHOPIFY_LOCATIONS', 2),
    },
  ],
});

const shop = mock.shop();
console.log(`mock Shopify listening on ${mock.url}`);
console.log(`  SHOPIFY_API_BASE_URL=${mock.baseUrlTemplate}`);
console.log(`  shop domain:  ${shop.domain}`);
console.log(`  access token: ${token}`);
console.log(`  app key/secret: ${mock.apiKey} / ${mock.apiSecret === env.SHOPIFY_API_SECRET ? '(from SHOPIFY_API_SECRET)' : mock.apiSecret}`);
console.log(`  catalog: ${shop.catalog.products.size} products, ${shop.catalog.customers.size} customers, ${shop.catalog.orders.size} orders, ${shop.catalog.locations.size} locations`);
console.log(`  rate limit: ${shop.rateLimit.enabled ? `${shop.rateLimit.bucketSize} requests, ${shop.rateLimit.leakPerSecond * shop.rateLimit.scale}/s` : 'off'}`);

const stop = async (signal: string) => {
  console.log(`mock Shopify stopping (${signal})`);
  await mock.close();
  process.exit(0);
};
process.once('SIGINT', () => void stop('SIGINT'));
process.once('SIGTERM', () => void stop('SIGTERM'));
