import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/platform/logger.js';
import { createRedis, redisKeys, type Redis, type RedisKeys } from '../../src/platform/redis.js';
import { RESOURCES, type ResourceName } from '../../src/resources/index.js';
import { createShopifyClient } from '../../src/shopify/admin-client.js';
import { ShopifyAccessDeniedError, ShopifyClientError } from '../../src/shopify/errors.js';
import { createShopifyGraphqlClient, type GraphqlClient, type GraphqlClientDeps } from '../../src/shopify/graphql-client.js';
import { PRODUCTS_QUERY, productsCost } from '../../src/shopify/graphql/documents/index.js';
import { graphqlPages } from '../../src/shopify/graphql/pages.js';
import type { ShopifyVariant } from '../../src/shopify/types.js';
import { graphqlState, resetGraphqlStats, setGraphqlRateLimit } from '../../scripts/mock-shopify/graphql.js';
import { startMockShopify, type MockShopify } from '../../scripts/mock-shopify/index.js';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const SHOP = 'graphql-shop.myshopify.com';
type Json = Record<string, unknown>;

describe('GraphQL Admin client against the mock Shopify', function () {
  this.timeout(60_000);
  let redis: Redis;
  const prefix = `test-${randomBytes(6).toString('hex')}`;
  const silent = createLogger({ level: 'silent' });
  let clients = 0;

  const depsFor = (mock: MockShopify, keys: RedisKeys = redisKeys(`${prefix}:c${++clients}`), extra: Partial<GraphqlClientDeps> = {}): GraphqlClientDeps => ({
    redis,
    keys,
    logger: silent,
    config: loadConfig({ NODE_ENV: 'test', SHOPIFY_API_BASE_URL: mock.baseUrlTemplate, SHOPIFY_RETRY_DELAY: '0.01' }).shopify,
    ...extra,
  });
  const graphqlFor = (mock: MockShopify, keys?: RedisKeys, extra: Partial<GraphqlClientDeps> = {}): GraphqlClient =>
    createShopifyGraphqlClient(depsFor(mock, keys, extra), { shopDomain: SHOP, accessToken: mock.shop(SHOP).accessToken });

  async function collect(gen: AsyncGenerator<{ items: Json[] }, unknown>): Promise<Json[]> {
    const all: Json[] = [];
    for await (const page of gen) all.push(...page.items);
    return all;
  }

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

  describe('the same records both ways', () => {
    let mock: MockShopify;
    let bigProductId: number;
    before(async () => {
      mock = await startMockShopify({ shops: [{ domain: SHOP, products: 60, orders: 80, customers: 30, locations: 3 }], rateLimit: { enabled: false } });
      setGraphqlRateLimit(mock.shop(SHOP), { enabled: false });
      const shop = mock.shop(SHOP);
      const created = shop.createProduct({ title: 'Many Sizes Tee', status: 'active', tags: 'big, tee' }).payload;
      const variants: ShopifyVariant[] = Array.from({ length: 300 }, (_, n) => ({
        id: 90_000_000_000_000 + n,
        product_id: created.id,
        title: `Size ${n + 1}`,
        price: `${10 + n}.50`,
        compare_at_price: null,
        sku: `BIG-${n + 1}`,
        position: n + 1,
        inventory_item_id: 91_000_000_000_000 + n,
        inventory_quantity: n,
        created_at: created.created_at,
        updated_at: created.updated_at,
      }));
      shop.catalog.product(created.id)!.variants = variants;
      bigProductId = created.id;
    });
    after(() => mock.close());

    const restRecords = async (resource: ResourceName): Promise<Json[]> => {
      const rest = createShopifyClient({ ...depsFor(mock), rateLimit: false }, { shopDomain: SHOP, accessToken: mock.shop(SHOP).accessToken });
      if (resource === 'inventory') return collect(rest.inventoryLevels((await rest.locations()).map((l) => l.id)));
      if (resource === 'locations') return (await rest.locations()) as Json[];
      const def = RESOURCES[resource];
      return collect(rest.pages<Json>(def.shopify.path, def.shopify.rootKey, { ...def.shopify.params }));
    };
    const rows = (resource: ResourceName, records: Json[]) => {
      const def = RESOURCES[resource];
      const key = (r: Json) => def.keyColumns.map((c) => String(r[c])).join(':');
      return records
        .map((r) => def.map(r, { shopCurrency: 'USD' }))
        .map(({ row, children }) => ({ row: { ...row, raw: undefined }, children }))
        .sort((a, b) => key(a.row).localeCompare(key(b.row)));
    };

    for (const resource of ['products', 'orders', 'customers', 'inventory', 'locations'] as const) {
      it(`when ${resource} are read over REST and over GraphQL, then the registry maps them to identical rows and children`, async () => {
        const viaRest = rows(resource, await restRecords(resource));
        const viaGraphql = rows(resource, await collect(graphqlPages(graphqlFor(mock), RESOURCES[resource].shopify.graphql, { pageSize: 7 })));
        expect(viaGraphql.length).to.be.greaterThan(1);
        if (resource === 'products') {
          // REST cuts a product at 100 variants; GraphQL has every one.
          const big = (list: typeof viaRest) => list.find((r) => (r.row as Json).id === bigProductId)!;
          expect(big(viaRest).children).to.have.length(100);
          expect(big(viaGraphql).children).to.have.length(300);
          expect(big(viaGraphql).children.slice(0, 100)).to.deep.equal(big(viaRest).children);
          big(viaGraphql).children.length = 100;
        }
        expect(viaGraphql).to.deep.equal(viaRest);
      });
    }

    it('when a product has 300 variants, then GraphQL pages past 250 and the first 100 are what REST answers', async () => {
      const all = await collect(graphqlPages(graphqlFor(mock), RESOURCES.products.shopify.graphql, { pageSize: 250 }));
      const big = all.find((p) => p.id === bigProductId)!;
      expect((big.variants as Json[]).map((v) => v.sku)).to.deep.equal(Array.from({ length: 300 }, (_, n) => `BIG-${n + 1}`));
      expect((big.variants as Json[])[299]).to.include({ price: '309.50', inventory_item_id: 91_000_000_000_299, position: 300 });
    });

    it('when a walk is interrupted, then the cursor of its last page resumes it with the next records, for every resource', async () => {
      for (const resource of ['products', 'orders', 'customers', 'inventory'] as const) {
        const whole = await collect(graphqlPages(graphqlFor(mock), RESOURCES[resource].shopify.graphql, { pageSize: 5 }));
        const first = graphqlPages(graphqlFor(mock), RESOURCES[resource].shopify.graphql, { pageSize: 5, maxPages: 3 });
        const head: Json[] = [];
        let cursor: string | undefined;
        for await (const page of first) {
          head.push(...page.items);
          cursor = page.nextPageInfo;
        }
        const rest = await collect(graphqlPages(graphqlFor(mock), RESOURCES[resource].shopify.graphql, { pageSize: 5, ...(cursor ? { after: cursor } : {}) }));
        expect([...head, ...rest], resource).to.deep.equal(whole);
      }
    });

    it('when updatedAtMin is given, then only records updated since then come, oldest first', async () => {
      const all = await collect(graphqlPages(graphqlFor(mock), RESOURCES.customers.shopify.graphql));
      const times = all.map((c) => Date.parse(String(c.updated_at)));
      expect(times).to.deep.equal([...times].sort((a, b) => a - b));
      const since = new Date(times[Math.floor(times.length / 2)] as number);
      const recent = await collect(graphqlPages(graphqlFor(mock), RESOURCES.customers.shopify.graphql, { updatedAtMin: since }));
      expect(recent.map((c) => c.id)).to.deep.equal(all.filter((c) => Date.parse(String(c.updated_at)) >= since.getTime()).map((c) => c.id));
    });
  });

  describe('errors and the points bucket', () => {
    let mock: MockShopify;
    beforeEach(async () => {
      mock = await startMockShopify({ shops: [{ domain: SHOP, products: 600, orders: 10, customers: 10 }], rateLimit: { enabled: false } });
    });
    afterEach(() => mock.close());

    it('when the token lacks read_orders, then the query fails with an access-denied error naming that scope, not retried', async () => {
      mock.shop(SHOP).scope = 'read_products';
      const client = graphqlFor(mock);
      const error = await collect(graphqlPages(client, RESOURCES.orders.shopify.graphql)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(ShopifyAccessDeniedError);
      expect(error).to.include({ missingScope: 'read_orders', retriable: false, upstreamStatus: 403 });
      expect(client.stats.requests).to.equal(1);
    });

    it("when a query is one Shopify's schema rejects or costs more than 1,000 points, then it fails as a client error", async () => {
      const client = graphqlFor(mock);
      const unknownField = await client.query({ document: '{ shop { noSuchField } }', requestedCost: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(unknownField).to.be.instanceOf(ShopifyClientError);
      expect((unknownField as Error).message).to.match(/Cannot query field "noSuchField" on type "Shop"/);
      const tooDear = await client.query({ document: PRODUCTS_QUERY, variables: { first: 250, variantsFirst: 250 }, requestedCost: 1000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(tooDear).to.be.instanceOf(ShopifyClientError);
      expect((tooDear as Error).message).to.match(/exceeds the single query max cost limit \(1000\)/);
    });

    it('when Shopify answers THROTTLED, then the client waits what the restore rate needs and the query succeeds', async () => {
      // Shopify's bucket is nearly empty while our limiter believes it full: the first try is throttled.
      const shop = mock.shop(SHOP);
      setGraphqlRateLimit(shop, { enabled: true, maximumAvailable: 1000, restoreRate: 1000 });
      graphqlState(shop).available = 0;
      const client = graphqlFor(mock);
      const started = Date.now();
      const { cost } = await client.query<Json>({ document: PRODUCTS_QUERY, variables: { first: 10, variantsFirst: 10 }, requestedCost: productsCost(10, 10) });
      const elapsed = Date.now() - started;
      expect(client.stats.throttled).to.equal(1);
      expect(graphqlState(shop).stats.throttled).to.equal(1);
      expect(cost?.actualQueryCost).to.be.a('number').and.below(productsCost(10, 10));
      // 232 points at 1,000/s: about 232 ms, not a blind backoff.
      expect(elapsed).to.be.within(200, 1500);
    });

    it('when two clients share one bucket in Redis and walk the catalog at once, then Shopify never answers THROTTLED', async () => {
      const shop = mock.shop(SHOP);
      // A Standard plan's shape (2,000 points, 100/s) run 10× faster.
      setGraphqlRateLimit(shop, { maximumAvailable: 2000, restoreRate: 100, scale: 10 });
      resetGraphqlStats(shop);
      const shared = redisKeys(`${prefix}:shared`);
      const [a, b] = [graphqlFor(mock, shared), graphqlFor(mock, shared)];
      const started = Date.now();
      const [pa, pb] = await Promise.all([collect(graphqlPages(a, RESOURCES.products.shopify.graphql)), collect(graphqlPages(b, RESOURCES.products.shopify.graphql))]);
      const seconds = (Date.now() - started) / 1000;
      expect(pa).to.have.length(600);
      expect(pb).to.have.length(600);
      const stats = graphqlState(shop).stats;
      expect(stats.throttled).to.equal(0);
      expect(a.stats.throttled + b.stats.throttled).to.equal(0);
      // The time the bucket allows for what was spent beyond the 2,000 points it starts with.
      const allowed = Math.max(0, stats.pointsSpent - 2000) / 1000;
      console.log(
        `      two clients: ${stats.queries} queries, ${stats.pointsRequested} points requested, ${stats.pointsSpent} spent, ${seconds.toFixed(2)} s (bucket allows ${allowed.toFixed(2)} s), waited ${a.stats.limiterWaitMs + b.stats.limiterWaitMs} ms`,
      );
    });
  });
});
