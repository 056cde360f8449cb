import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { expect } from 'chai';
import sinon from 'sinon';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { createRedis, redisKeys, type Redis } from '../../src/platform/redis.js';
import { createShopifyClient, type ShopifyClientDeps } from '../../src/shopify/admin-client.js';
import { ShopifyClientError, ShopifyNotFoundError, ShopifyRetriableError, ShopifyUnauthorizedError } from '../../src/shopify/errors.js';
import { verifyWebhookHmac } from '../../src/shopify/hmac.js';
import { buildAuthorizeUrl, verifyOAuthQuery } from '../../src/shopify/oauth.js';
import { requestCodeGrant } from '../../src/shopify/token-grants.js';
import { createRedisRateLimiter } from '../../src/shopify/rate-limiter.js';
import { parseLinkHeader } from '../../src/shopify/pagination.js';
import { realSleep } from '../../src/shopify/retry.js';
import type { ShopifyProduct } from '../../src/shopify/types.js';
import { startMockShopify, type MockShopify } from '../../scripts/mock-shopify/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SHOP = 'test-shop.myshopify.com';

type Deps = ShopifyClientDeps;

describe('Shopify client against the mock Shopify', function () {
  this.timeout(30_000);
  let redis: Redis;
  const prefix = `test-${randomBytes(6).toString('hex')}`;
  const keys = redisKeys(prefix);
  const silent = createLogger({ level: 'silent' });

  const shopifyConfig = (mock: MockShopify, env: Record<string, string> = {}) =>
    loadConfig({ NODE_ENV: 'test', SHOPIFY_API_BASE_URL: mock.baseUrlTemplate, SHOPIFY_RETRY_DELAY: '0.01', ...env }).shopify;

  // Each client gets its own limiter keys, so one test's requests never slow the next test down.
  let clients = 0;
  const clientFor = (mock: MockShopify, overrides: Partial<Deps> = {}, env: Record<string, string> = {}, shop = SHOP) =>
    createShopifyClient(
      { redis, keys: redisKeys(`${prefix}:c${++clients}`), logger: silent, config: shopifyConfig(mock, env), ...overrides },
      { shopDomain: shop, accessToken: mock.shop(shop).accessToken },
    );

  before(async () => {
    redis = createRedis(REDIS_URL);
    await redis.connect();
  });

  after(async () => {
    const found: string[] = [];
    for await (const batch of redis.scanIterator({ MATCH: `${prefix}:*`, COUNT: 500 })) found.push(...(batch as unknown as string[]));
    if (found.length) await redis.del(found);
    await redis.quit();
  });

  describe('pagination', () => {
    let mock: MockShopify;
    before(async () => {
      mock = await startMockShopify({ shops: [{ domain: SHOP, products: 10_000, orders: 600, customers: 50 }], rateLimit: { enabled: false } });
    });
    after(() => mock.close());

    it('when a shop has 10,000 products, then pages() yields every product exactly once, 250 per page', async () => {
      const client = clientFor(mock, { rateLimit: false });
      const seen = new Set<number>();
      let pages = 0;
      for await (const page of client.pages<ShopifyProduct>('products', 'products')) {
        pages++;
        expect(page.pageNumber).to.equal(pages);
        expect(page.capReached).to.equal(false);
        for (const p of page.items) {
          expect(seen.has(p.id), `product ${p.id} twice`).to.equal(false);
          seen.add(p.id);
        }
      }
      expect(seen.size).to.equal(10_000);
      expect(pages).to.equal(40);
      expect(await client.count('products')).to.equal(10_000);
    });

    it('when filters are given, then every page keeps them (inside page_info) and only those records come back', async () => {
      const client = clientFor(mock, { rateLimit: false });
      const params = { status: 'any', updated_at_min: '2024-01-01T00:00:00-05:00', limit: 50 };
      let total = 0;
      let pages = 0;
      for await (const page of client.pages<{ updated_at: string }>('orders', 'orders', params)) {
        pages++;
        total += page.items.length;
        for (const o of page.items) expect(Date.parse(o.updated_at)).to.be.at.least(Date.parse(params.updated_at_min));
      }
      expect(pages).to.be.greaterThan(1);
      expect(total).to.equal(await client.count('orders', { status: 'any', updated_at_min: params.updated_at_min }));
    });

    it('when orders are listed without status=any, then only open ones come back', async () => {
      const client = clientFor(mock, { rateLimit: false });
      const open = await client.count('orders');
      const any = await client.count('orders', { status: 'any' });
      expect(open).to.be.greaterThan(0).and.lessThan(any);
      const items: { closed_at: string | null; cancelled_at: string | null }[] = [];
      for await (const page of client.pages<(typeof items)[number]>('orders', 'orders')) items.push(...page.items);
      expect(items).to.have.length(open);
      expect(items.every((o) => o.closed_at === null && o.cancelled_at === null)).to.equal(true);
    });

    it('when page_info is sent with another parameter, then the mock answers 400 like Shopify', async () => {
      const base = `${mock.baseUrlTemplate.replace('{shop}', SHOP)}/admin/api/2026-10/products.json`;
      const headers = { 'X-Shopify-Access-Token': mock.shop(SHOP).accessToken };
      const first = await fetch(`${base}?limit=5`, { headers });
      const next = /<([^>]+)>; rel="next"/.exec(first.headers.get('link') ?? '')?.[1];
      expect(next).to.be.a('string');
      expect((await fetch(`${next}&vendor=Acme`, { headers })).status).to.equal(400);
      expect((await fetch(next as string, { headers })).status).to.equal(200);
      expect((await fetch(`${base}?limit=251`, { headers })).status).to.equal(400);
    });

    it('when rel="previous" is followed from page 2, then page 1 comes back', async () => {
      const base = `${mock.baseUrlTemplate.replace('{shop}', SHOP)}/admin/api/2026-10/products.json`;
      const headers = { 'X-Shopify-Access-Token': mock.shop(SHOP).accessToken };
      const ids = async (res: Response) => ((await res.json()) as { products: { id: number }[] }).products.map((p) => p.id);
      const first = await fetch(`${base}?limit=3&fields=id`, { headers });
      const page1 = await ids(first);
      const second = await fetch(parseLinkHeader(first.headers.get('link')).next as string, { headers });
      const page2 = await ids(second);
      const links = parseLinkHeader(second.headers.get('link'));
      expect(page2[0]).to.be.greaterThan(page1[2] as number);
      expect(await ids(await fetch(links.previous as string, { headers }))).to.deep.equal(page1);
    });
  });

  describe('the 1,000-page cap', () => {
    let mock: MockShopify;
    before(async () => {
      mock = await startMockShopify({ shops: [{ domain: SHOP, products: 1001, orders: 0, customers: 0 }], rateLimit: { enabled: false } });
    });
    after(() => mock.close());

    it('when a list has more than 1,000 pages, then the 1,000th page and the summary report capReached', async () => {
      const client = clientFor(mock, { rateLimit: false });
      const gen = client.pages<{ id: number }>('products', 'products', { limit: 1, fields: 'id' });
      let last;
      let result = await gen.next();
      while (!result.done) {
        last = result.value;
        result = await gen.next();
      }
      expect(last).to.include({ pageNumber: 1000, capReached: true, hasNext: true });
      expect(result.value).to.deep.equal({ pages: 1000, items: 1000, capReached: true });
      expect(mock.shop(SHOP).stats.byEndpoint['GET products']).to.equal(1000);
    });
  });

  describe('failures', () => {
    let mock: MockShopify;
    beforeEach(async () => {
      mock = await startMockShopify({ shops: [{ domain: SHOP, products: 30, locations: 60 }], rateLimit: { enabled: false } });
    });
    afterEach(() => mock.close());

    it('when Shopify answers a burst of 503s, then the client retries and succeeds', async () => {
      mock.setFaults({ failNext: 3, errorStatus: 503 });
      const client = clientFor(mock);
      const shop = await client.testConnection();
      expect(shop.myshopify_domain).to.equal(SHOP);
      expect(client.stats).to.include({ requests: 4, retries: 3 });
      expect(mock.shop(SHOP).stats.serverErrors).to.equal(3);
    });

    it('when the connection is dropped, then the request is retried as a network error', async () => {
      mock.setFaults({ dropNext: 2 });
      const client = clientFor(mock);
      const products = await client.get<{ products: unknown[] }>('products', { limit: 5 });
      expect(products.products).to.have.length(5);
      expect(client.stats.retries).to.equal(2);
    });

    it('when 5xx outlasts the retry budget, then ShopifyRetriableError is thrown after maxRetryAttempts retries', async () => {
      mock.setFaults({ failNext: 100, errorStatus: 502 });
      const client = clientFor(mock, {}, { SHOPIFY_MAX_RETRY_ATTEMPTS: '2' });
      const error = await client.testConnection().catch((e: unknown) => e);
      expect(error).to.be.instanceOf(ShopifyRetriableError).and.include({ upstreamStatus: 502, retriable: true });
      expect(client.stats.requests).to.equal(3);
    });

    it('when Shopify answers 404, then ShopifyNotFoundError is thrown at once', async () => {
      const client = clientFor(mock);
      const error = await client.get('products/1').catch((e: unknown) => e);
      expect(error).to.be.instanceOf(ShopifyNotFoundError).and.include({ upstreamStatus: 404, retriable: false });
      expect((error as ShopifyNotFoundError).requestId).to.be.a('string');
      expect(mock.shop(SHOP).stats.requests).to.equal(1);
    });

    it("when Shopify answers 422 or 400, then ShopifyClientError is thrown at once with Shopify's errors", async () => {
      const client = clientFor(mock);
      const unprocessable = await client.get('inventory_levels').catch((e: unknown) => e);
      expect(unprocessable).to.be.instanceOf(ShopifyClientError).and.include({ upstreamStatus: 422 });
      expect((unprocessable as ShopifyClientError).shopifyErrors).to.deep.equal({ base: ['Must specify at least one of location_ids or inventory_item_ids'] });
      const bad = await client.get('products', { limit: 500 }).catch((e: unknown) => e);
      expect(bad).to.be.instanceOf(ShopifyClientError).and.include({ upstreamStatus: 400 });
      expect(client.stats).to.include({ requests: 2, retries: 0 });
    });

    it('when the token is revoked, then ShopifyUnauthorizedError surfaces without retries', async () => {
      const client = clientFor(mock);
      await client.testConnection();
      mock.shop(SHOP).revokeToken();
      const error = await client.testConnection().catch((e: unknown) => e);
      expect(error).to.be.instanceOf(ShopifyUnauthorizedError).and.include({ upstreamStatus: 401, retriable: false });
      expect(client.stats).to.include({ requests: 2, retries: 0 });
    });

    it('when Shopify answers 429 with Retry-After "0.3", then the client waits 300 ms and succeeds', async () => {
      mock.setFaults({ throttleNext: 1, throttleRetryAfter: '0.3' });
      const sleep = sinon.spy(realSleep);
      const client = clientFor(mock, { sleep });
      const started = performance.now();
      await client.testConnection();
      const elapsed = performance.now() - started;
      expect(sleep.calledWith(300)).to.equal(true);
      expect(elapsed).to.be.within(290, 1500);
      expect(client.stats).to.include({ throttled: 1, retries: 1, requests: 2 });
    });

    it('when 429s outnumber the 5xx budget, then they are still retried from their own budget', async () => {
      mock.setFaults({ throttleNext: 4, throttleRetryAfter: '0.0' });
      const client = clientFor(mock, { rateLimit: false }, { SHOPIFY_MAX_RETRY_ATTEMPTS: '1' });
      await client.testConnection();
      expect(client.stats).to.include({ throttled: 4, requests: 5 });
    });

    it('when logs are captured at debug, then every request is logged and the token never appears', async () => {
      const lines: string[] = [];
      const logger = createLogger({ level: 'debug' }, { write: (s: string) => void lines.push(s) });
      const token = mock.shop(SHOP).accessToken;
      mock.setFaults({ failNext: 1 });
      const client = clientFor(mock, { logger });
      await client.testConnection();
      await client.get('products', { limit: 2 });
      await client.get('products/1').catch(() => undefined);
      mock.shop(SHOP).revokeToken();
      await client.testConnection().catch(() => undefined);
      const output = lines.join('');
      expect(output).not.to.include(token);
      const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'shopify request');
      expect(requests).to.have.length(5);
      expect(requests[0]).to.include({ method: 'GET', path: '/admin/api/2026-10/shop.json', status: 503, attempt: 0, shop: SHOP });
      expect(requests[1]).to.include({ status: 200, attempt: 1 });
      expect(requests[1]).to.have.property('durationMs').that.is.a('number');
      expect(requests[1])
        .to.have.property('callLimit')
        .that.matches(/^\d+\/40$/);
      expect(requests[2]).to.include({ path: '/admin/api/2026-10/products.json', query: 'limit=2', status: 200 });
    });
  });

  describe('locations, inventory levels and webhook subscriptions', () => {
    let mock: MockShopify;
    before(async () => {
      mock = await startMockShopify({ shops: [{ domain: SHOP, products: 4, locations: 60 }], rateLimit: { enabled: false } });
    });
    after(() => mock.close());

    it('when a shop has 60 locations, then inventory levels are fetched in chunks of ≤ 50 location ids and all arrive once', async () => {
      const client = clientFor(mock, { rateLimit: false });
      const locations = await client.locations();
      expect(locations).to.have.length(60);
      const items = mock.shop(SHOP).catalog.inventoryItemCount;
      const seen = new Set<string>();
      for await (const page of client.inventoryLevels(
        locations.map((l) => l.id),
        { limit: 100 },
      )) {
        for (const level of page.items) {
          const key = `${level.location_id}:${level.inventory_item_id}`;
          expect(seen.has(key)).to.equal(false);
          seen.add(key);
        }
      }
      expect(seen.size).to.equal(60 * items);
      expect(mock.shop(SHOP).stats.byEndpoint['GET inventory_levels']).to.be.at.least(2);
    });

    it('when the inventory page cap is hit between chunks, then it is reported', async () => {
      const client = clientFor(mock, { rateLimit: false });
      const locations = await client.locations();
      const pages = [];
      for await (const page of client.inventoryLevels(
        locations.map((l) => l.id),
        { limit: 250 },
        { maxPages: 1 },
      ))
        pages.push(page);
      expect(pages).to.have.length(1);
      expect(pages[0]).to.include({ capReached: true });
    });

    it('when webhooks are created, listed and deleted, then the shop sees exactly that', async () => {
      const client = clientFor(mock, { rateLimit: false });
      const created = await client.createWebhook('products/update', 'https://app.example/api/shopify/webhook/');
      expect(created).to.include({ topic: 'products/update', address: 'https://app.example/api/shopify/webhook/', format: 'json' });
      expect((await client.listWebhooks()).map((w) => w.id)).to.deep.equal([created.id]);
      const duplicate = await client.createWebhook('products/update', 'https://app.example/api/shopify/webhook/').catch((e: unknown) => e);
      expect(duplicate).to.be.instanceOf(ShopifyClientError).and.include({ upstreamStatus: 422 });
      await client.deleteWebhook(created.id);
      expect(await client.listWebhooks()).to.deep.equal([]);
      expect(mock.shop(SHOP).webhooks).to.deep.equal([]);
    });
  });

  describe('OAuth and webhook delivery', () => {
    let mock: MockShopify;
    let receiver: Server;
    let receiverUrl: string;
    const received: { headers: IncomingMessage['headers']; body: Buffer }[] = [];

    before(async () => {
      mock = await startMockShopify({ apiKey: 'app-key', apiSecret: 'app-secret', shops: [{ domain: SHOP, products: 5 }], rateLimit: { enabled: false } });
      receiver = createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          received.push({ headers: req.headers, body: Buffer.concat(chunks) });
          res.writeHead(200).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhook`;
    });
    after(async () => {
      await mock.close();
      await new Promise((resolve) => receiver.close(resolve));
    });
    beforeEach(() => {
      received.length = 0;
    });

    it('when a merchant authorizes, then the callback verifies and the code buys a working token once', async () => {
      const authorize = buildAuthorizeUrl({
        apiBaseUrl: mock.baseUrlTemplate,
        shop: SHOP,
        clientId: 'app-key',
        scopes: ['read_products'],
        redirectUri: 'https://app.example/oauth/callback',
        state: 'nonce-1',
      });
      const redirect = await fetch(authorize, { redirect: 'manual' });
      expect(redirect.status).to.equal(302);
      const callback = new URL(redirect.headers.get('location') ?? '');
      const query = Object.fromEntries(callback.searchParams);
      expect(Object.keys(query).sort()).to.deep.equal(['code', 'hmac', 'host', 'shop', 'state', 'timestamp']);
      expect(query.state).to.equal('nonce-1');
      expect(verifyOAuthQuery(query, 'app-secret')).to.deep.equal({ valid: true });
      expect(verifyOAuthQuery(query, 'wrong-secret')).to.deep.equal({ valid: false, reason: 'invalid-hmac' });

      const codeEndpoint = { apiBaseUrl: mock.baseUrlTemplate, shop: SHOP, clientId: 'app-key', clientSecret: 'app-secret' };
      const token = await requestCodeGrant(codeEndpoint, query.code as string, false);
      expect(token.scope).to.equal('read_products');
      const client = createShopifyClient({ redis, keys, logger: silent, config: shopifyConfig(mock), rateLimit: false }, { shopDomain: SHOP, accessToken: token.accessToken });
      expect((await client.testConnection()).myshopify_domain).to.equal(SHOP);

      const again = await requestCodeGrant(codeEndpoint, query.code as string, false).catch((e: unknown) => e);
      expect(again).to.be.instanceOf(ShopifyClientError).and.include({ upstreamStatus: 400 });
    });

    it("when a product changes, then subscribers get a signed webhook with Shopify's headers (and duplicates keep the event id)", async () => {
      const shop = mock.shop(SHOP);
      const client = clientFor(mock, { rateLimit: false });
      const sub = await client.createWebhook('products/update', receiverUrl);
      const productId = shop.catalog.products.entries[0]?.id as number;
      const before = shop.catalog.product(productId)?.updated_at as string;
      const event = shop.updateProduct(productId, { title: 'Renamed' });
      const results = await shop.deliver(event, { duplicates: true });
      expect(results.map((r) => r.status)).to.deep.equal([200, 200]);
      expect(received).to.have.length(2);
      const [first, second] = received as [(typeof received)[number], (typeof received)[number]];
      expect(verifyWebhookHmac(first.body, first.headers['x-shopify-hmac-sha256'] as string, ['app-secret'])).to.equal(true);
      expect(first.headers).to.include({ 'x-shopify-topic': 'products/update', 'x-shopify-shop-domain': SHOP, 'x-shopify-api-version': '2026-10' });
      expect(first.headers['x-shopify-event-id']).to.be.a('string').and.equal(second.headers['x-shopify-event-id']);
      expect(first.headers['x-shopify-webhook-id']).to.be.a('string');
      expect(Date.parse(first.headers['x-shopify-triggered-at'] as string)).to.be.a('number').and.not.NaN;
      const payload = JSON.parse(first.body.toString()) as ShopifyProduct;
      expect(payload).to.include({ id: productId, title: 'Renamed' });
      expect(Date.parse(payload.updated_at)).to.be.greaterThan(Date.parse(before));
      expect(payload.updated_at).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d-05:00$/);

      const updatedMin = new Date(Date.parse(payload.updated_at) - 1000).toISOString();
      const changed = [];
      for await (const page of client.pages<ShopifyProduct>('products', 'products', { updated_at_min: updatedMin })) changed.push(...page.items);
      expect(changed.map((p) => p.id)).to.deep.equal([productId]);
      await client.deleteWebhook(sub.id);
    });

    it("when deletes and compliance events are delivered to a URL, then payloads have Shopify's shapes", async () => {
      const shop = mock.shop(SHOP);
      const customer = shop.catalog.customer(shop.catalog.customers.entries[0]?.id as number);
      const events = [
        shop.deleteProduct(shop.catalog.products.entries[1]?.id as number),
        shop.complianceEvent('customers/redact', { customerId: customer?.id as number }),
        shop.complianceEvent('shop/redact'),
      ];
      const results = await shop.deliver(events, { url: receiverUrl, shuffle: 7 });
      expect(results.every((r) => r.ok)).to.equal(true);
      const byTopic = Object.fromEntries(received.map((r) => [r.headers['x-shopify-topic'] as string, JSON.parse(r.body.toString()) as Record<string, unknown>]));
      expect(byTopic['products/delete']).to.deep.equal({ id: shop.catalog.products.entries[1]?.id });
      expect(byTopic['customers/redact']).to.deep.include({ shop_id: shop.id, shop_domain: SHOP, customer: { id: customer?.id, email: customer?.email, phone: customer?.phone } });
      expect(byTopic['customers/redact']?.orders_to_redact).to.be.an('array');
      expect(byTopic['shop/redact']).to.deep.equal({ shop_id: shop.id, shop_domain: SHOP });
    });
  });

  describe('the shared rate limiter', () => {
    let mock: MockShopify;
    afterEach(() => mock.close());

    it('when Shopify reports a nearly full bucket to one client, then another client of the same shop waits', async () => {
      mock = await startMockShopify({ shops: [{ domain: SHOP }] });
      const opts = { redis, keys: redisKeys(`${prefix}:observe`), shop: SHOP, bucketSize: 40, ratePerSecond: 2 };
      const a = createRedisRateLimiter(opts);
      const b = createRedisRateLimiter(opts);
      expect(await b.acquire()).to.equal(0);
      await a.observe({ used: 40, limit: 40 }, 0);
      expect(await b.acquire()).to.be.within(400, 600); // Shopify's bucket is full: one slot leaks in 0.5 s
      await a.observe({ used: 10, limit: 40 }, 0); // below half: nothing to tell the others
      expect(await b.acquire()).to.be.within(400, 600);
      await a.throttled(5000);
      expect(await b.acquire()).to.be.within(4500, 5100);
    });

    it('when two clients in two processes share one shop, then together they fetch ≥ 200 pages with no 429', async function () {
      this.timeout(25_000);
      const rate = 50; // Shopify's 2/s scaled ×25, bucket 40
      mock = await startMockShopify({ shops: [{ domain: SHOP, products: 1000, orders: 0, customers: 0 }], rateLimit: { bucketSize: 40, leakPerSecond: 2, scale: rate / 2 } });
      const child = fileURLToPath(new URL('../support/shopify-limiter-child.ts', import.meta.url));
      const env = {
        ...process.env,
        MOCK_BASE_URL: mock.baseUrlTemplate,
        SHOP,
        TOKEN: mock.shop(SHOP).accessToken,
        REDIS_URL,
        KEY_PREFIX: `${prefix}:twoproc`,
        RATE: String(rate),
        BUCKET: '40',
        PAGE_LIMIT: '10',
      };
      const procs = [0, 1].map(() => spawn(process.execPath, ['--import', 'tsx', child], { env, stdio: ['pipe', 'pipe', 'inherit'] }));
      const outputs = procs.map((p) => {
        const lines = createInterface({ input: p.stdout! });
        const ready = new Promise<void>((resolve) => lines.once('line', () => resolve()));
        const result = new Promise<string>((resolve, reject) => {
          lines.on('line', (l) => l.startsWith('{') && resolve(l));
          p.on('exit', (code) => code !== 0 && reject(new Error(`child exited with ${code}`)));
        });
        return { ready, result };
      });
      await Promise.all(outputs.map((o) => o.ready));
      const started = performance.now();
      for (const p of procs) p.stdin!.write('go\n');
      const results = (await Promise.all(outputs.map((o) => o.result))).map((l) => JSON.parse(l) as { pages: number; items: number; stats: { throttled: number } });
      const elapsed = performance.now() - started;
      const pages = results.reduce((n, r) => n + r.pages, 0);
      expect(results.map((r) => r.items)).to.deep.equal([1000, 1000]);
      expect(pages).to.be.at.least(200);
      expect(mock.shop(SHOP).stats.throttled).to.equal(0);
      expect(results.map((r) => r.stats.throttled)).to.deep.equal([0, 0]);
      // The limiter really limited: beyond the first bucketful the pages came at the leak rate.
      expect(elapsed).to.be.at.least(((pages - 40) / rate) * 1000 * 0.9);
    });
  });
});
