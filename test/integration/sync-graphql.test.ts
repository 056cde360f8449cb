import { expect } from 'chai';
import { parse, validate } from 'graphql';
import { loadAdminSchema } from '../../scripts/mock-shopify/admin-schema.js';
import { graphqlState } from '../../scripts/mock-shopify/index.js';
import { registerWebhooks } from '../../src/connection/webhook-subscriptions.js';
import { createShopifyClient } from '../../src/shopify/admin-client.js';
import { WEBHOOK_DOCUMENTS } from '../../src/shopify/graphql/documents/webhooks.js';
import type { ShopifyVariant } from '../../src/shopify/types.js';
import { runSync } from '../../src/sync/run-sync.js';
import { call } from '../support/http.js';
import { order, seedRecords } from '../support/seed.js';
import { startSyncTestContext, withSyncApi, type SyncTestContext } from '../support/sync.js';

const WIDE = 'wide-catalog.myshopify.com';
const WIDE_REST = 'wide-catalog-rest.myshopify.com';
const RECENT = 'recent-only.myshopify.com';
const HOOKS = 'hooks-graphql.myshopify.com';
const HOOKS_REST = 'hooks-rest.myshopify.com';

/**
 * Syncs and webhook subscriptions over the GraphQL Admin API (SHOPIFY_SYNC_API=graphql, the default),
 * against the mock Shopify's GraphQL endpoint served from Shopify's own schema.
 */
describe('syncs and webhook subscriptions over GraphQL (mock Shopify, MariaDB, Redis)', function () {
  this.timeout(60_000);
  let t: SyncTestContext;

  before(async () => {
    t = await startSyncTestContext({
      shops: [
        { domain: WIDE, products: 5 },
        { domain: WIDE_REST, products: 5 },
        // Without read_all_orders Shopify lists only the orders of the last 60 days.
        { domain: RECENT, products: 1, orders: 5, customers: 2, scope: 'read_products,read_orders,read_customers' },
        { domain: HOOKS, products: 1 },
        { domain: HOOKS_REST, products: 1 },
      ],
    });
  });
  after(async () => t?.close());

  /** Gives a product of `domain` 300 variants (Shopify allows 2,048; REST answers the first 100). */
  function widenProduct(domain: string): number {
    const shop = t.mock.shop(domain);
    const productId = shop.catalog.products.entries[0]!.id;
    const base = shop.catalog.products.record(shop.catalog.products.entries[0]!);
    const variants: ShopifyVariant[] = Array.from({ length: 300 }, (_, n) => ({
      ...base.variants[0]!,
      id: 70_000_000_000_000 + shop.index * 1000 + n,
      title: `Size ${n + 1}`,
      sku: `WIDE-${n + 1}`,
      position: n + 1,
      inventory_item_id: 71_000_000_000_000 + shop.index * 1000 + n,
    }));
    shop.updateProduct(productId, { variants });
    return productId;
  }

  it('when the schema package holds every supported version, then the webhook subscription documents are valid in each', () => {
    for (const version of ['2025-10', '2026-01', '2026-04', '2026-07', '2026-10']) {
      const schema = loadAdminSchema(version);
      for (const [name, document] of Object.entries(WEBHOOK_DOCUMENTS))
        expect(
          validate(schema, parse(document)).map((e) => e.message),
          `${name} ${version}`,
        ).to.deep.equal([]);
    }
  });

  describe('products with more than 100 variants', () => {
    it('when a product has 300 variants, then a GraphQL sync stores every one of them, and the API serves them all', async () => {
      const productId = widenProduct(WIDE);
      const integration = await t.connect('tenant-wide', WIDE);
      const result = await runSync(t.ctx, { integrationId: integration.id, resource: 'products', mode: 'full', trigger: 'manual', jobId: null });
      expect(result).to.deep.include({ status: 'succeeded', walkComplete: true });
      const stored = await t.ctx.db.selectFrom('shopify_product_variants').select('sku').where('product_id', '=', productId).orderBy('position').execute();
      expect(stored.map((v) => v.sku)).to.deep.equal(Array.from({ length: 300 }, (_, n) => `WIDE-${n + 1}`));
      const res = await call(t.url, 'GET', `/api/shopify/products/${productId}/`, { key: await t.keyFor('tenant-wide') });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.variants).to.have.length(300);
      // Nested pagination: the product's first variants came with it, the rest in follow-up queries.
      expect(graphqlState(t.mock.shop(WIDE)).stats.throttled).to.equal(0);
    });

    it('when the same product is synced over REST (SHOPIFY_SYNC_API=rest), then Shopify cuts it at 100 variants, as it does', async () => {
      const productId = widenProduct(WIDE_REST);
      const integration = await t.connect('tenant-wide-rest', WIDE_REST);
      const result = await runSync(withSyncApi(t.ctx, 'rest'), { integrationId: integration.id, resource: 'products', mode: 'full', trigger: 'manual', jobId: null });
      expect(result).to.deep.include({ status: 'succeeded' });
      const stored = await t.ctx.db.selectFrom('shopify_product_variants').select('id').where('product_id', '=', productId).execute();
      expect(stored).to.have.length(100);
      expect(t.mock.shop(WIDE_REST).stats.byEndpoint['POST graphql'] ?? 0).to.equal(0);
    });
  });

  describe('orders without read_all_orders', () => {
    it('when the token lacks read_all_orders, then GraphQL lists the orders of the last 60 days whatever their status, and older stored orders are not marked deleted', async () => {
      const shop = t.mock.shop(RECENT);
      const open = shop.createOrder().payload;
      const closed = shop.createOrder().payload;
      shop.closeOrder(closed.id);
      const cancelled = shop.createOrder().payload;
      shop.cancelOrder(cancelled.id);
      const integration = await t.connect('tenant-recent', RECENT);
      expect(integration.scopes).to.not.include('read_all_orders');
      // An order stored long ago (the seeded catalog's are from 2023–2024): Shopify no longer lists it to this token.
      const old = order({ created_at: '2023-01-02T10:00:00Z', updated_at: '2023-01-02T10:00:00Z' });
      await seedRecords(t.ctx, { tenantId: 'tenant-recent', integrationId: integration.id }, 'orders', [old]);

      const result = await runSync(t.ctx, { integrationId: integration.id, resource: 'orders', mode: 'full', trigger: 'manual', jobId: null });
      expect(result.status === 'succeeded' && result.counts).to.include({ records_fetched: 3, records_deleted: 0 });
      const rows = await t.ctx.db.selectFrom('shopify_orders').select(['id', 'closed_at', 'cancelled_at', 'deleted_at']).where('tenant_id', '=', 'tenant-recent').orderBy('id').execute();
      expect(rows.map((r) => r.id)).to.have.members([old.id, open.id, closed.id, cancelled.id]);
      expect(rows.find((r) => r.id === closed.id)?.closed_at).to.be.instanceOf(Date);
      expect(rows.find((r) => r.id === cancelled.id)?.cancelled_at).to.be.instanceOf(Date);
      expect(rows.every((r) => r.deleted_at === null)).to.equal(true);
    });
  });

  describe('webhook subscriptions', () => {
    it('when a store is connected and disconnected, then its subscriptions are registered, listed and removed through GraphQL', async () => {
      const shop = t.mock.shop(HOOKS);
      const key = await t.keyFor('tenant-hooks');
      const connected = await call(t.url, 'POST', '/api/shopify/connect/', { key, body: { shop_domain: HOOKS, access_token: shop.accessToken } });
      expect(connected.status, connected.text).to.equal(201);
      const address = `${t.config.shopify.webhookBaseUrl}/api/shopify/webhook/`;
      const expected = t.config.shopify.webhookTopics.filter((topic) => !['customers/data_request', 'customers/redact', 'shop/redact'].includes(topic));
      expect(connected.body.webhooks).to.deep.include({ address, existing: [], failed: [] });
      expect(connected.body.webhooks.created).to.deep.equal(expected);
      expect(shop.webhooks.map((w) => [w.topic, w.address])).to.have.deep.members(expected.map((topic) => [topic, address]));
      expect(shop.stats.byEndpoint['POST webhooks'] ?? 0, 'no REST subscription call').to.equal(0);
      expect(shop.stats.byEndpoint['GET webhooks'] ?? 0).to.equal(0);

      // A second connect lists them and creates nothing.
      const again = await call(t.url, 'POST', '/api/shopify/connect/', { key, body: { shop_domain: HOOKS, access_token: shop.accessToken } });
      expect(again.body.webhooks).to.deep.include({ created: [], existing: expected, failed: [] });

      const disconnected = await call(t.url, 'DELETE', '/api/shopify/connect/', { key });
      expect(disconnected.status, disconnected.text).to.equal(200);
      expect(shop.webhooks).to.deep.equal([]);
      expect(shop.stats.byEndpoint['DELETE webhooks/:id'] ?? 0).to.equal(0);
    });

    it('when SHOPIFY_SYNC_API=rest, then subscriptions go through webhooks.json instead', async () => {
      const shop = t.mock.shop(HOOKS_REST);
      const config = withSyncApi(t.ctx, 'rest').config;
      const client = createShopifyClient(
        { redis: t.ctx.redis, keys: t.ctx.keys, logger: t.ctx.logger, config: config.shopify, rateLimit: false },
        { shopDomain: HOOKS_REST, accessToken: shop.accessToken },
      );
      const result = await registerWebhooks(client, config, t.ctx.logger);
      expect(result.failed).to.deep.equal([]);
      expect(shop.stats.byEndpoint['POST webhooks']).to.equal(result.created.length);
      expect(shop.stats.byEndpoint['POST graphql'] ?? 0).to.equal(0);
    });
  });

  describe('faults on the GraphQL route', () => {
    it('when the mock answers 5xx, drops connections, is slow and answers 429, then GraphQL pages are retried and the sync converges', async () => {
      const shop = t.mock.shop(WIDE);
      const integration = await t.ctx.db.selectFrom('shopify_integrations').selectAll().where('shop_domain', '=', WIDE).executeTakeFirstOrThrow();
      shop.resetStats();
      shop.setFaults({ failNext: 2, dropNext: 1, throttleNext: 2, throttleRetryAfter: '0.05', latencyMs: 20 });
      const result = await runSync(t.ctx, { integrationId: integration.id, resource: 'customers', mode: 'full', trigger: 'manual', jobId: null });
      shop.resetFaults();
      expect(result).to.deep.include({ status: 'succeeded' });
      expect(shop.stats).to.include({ serverErrors: 2, dropped: 1, throttled: 2 });
      expect(shop.stats.byEndpoint['POST graphql']).to.be.at.least(6);
    });
  });
});
