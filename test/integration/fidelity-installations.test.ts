import { expect } from 'chai';
import type { MockWebhookEvent } from '../../scripts/mock-shopify/index.js';
import { listDataRequests } from '../../src/store/data-requests.js';
import type { Integration } from '../../src/store/schema.js';
import { encodeEnvelope, webhookKeys } from '../../src/webhooks/stream.js';
import { expectCopyEqualsStore, readAll } from '../support/copy-equals-store.js';
import { call } from '../support/http.js';
import { eventually, startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import { deliverInOrder } from '../support/webhook-scenario.js';
import { drained, runConsumers, WEBHOOK_PATH } from '../support/webhooks.js';

const SECRET = 'test-app-secret';
const SHOPS = {
  uninstall: 'inst-uninstall.myshopify.com',
  from: 'inst-from.myshopify.com',
  to: 'inst-to.myshopify.com',
  takenOver: 'inst-taken.myshopify.com',
  next: 'inst-next.myshopify.com',
  purged: 'inst-purged.myshopify.com',
  scopes: 'inst-scopes.myshopify.com',
};

/**
 * Installations have identity; purges are permanent. Every store is connected through the real API
 * (a pasted token, as a merchant would), synced by a real worker, fed by the real webhook consumers,
 * and compared record for record with the mock Shopify's truth.
 */
describe('copy fidelity: installations have identity, purges stick', function () {
  this.timeout(90_000);
  let t: SyncTestContext;

  before(async () => {
    t = await startSyncTestContext(
      {
        apiSecret: SECRET,
        shops: [
          { domain: SHOPS.uninstall, products: 4, customers: 3, orders: 3, locations: 1 },
          // Many small pages, each slowed down: the switch below lands in the middle of this shop's walk.
          { domain: SHOPS.from, products: 120, customers: 2, orders: 2, locations: 1 },
          { domain: SHOPS.to, products: 5, customers: 3, orders: 3, locations: 1 },
          { domain: SHOPS.takenOver, products: 4, customers: 3, orders: 3, locations: 1 },
          { domain: SHOPS.next, products: 3, customers: 2, orders: 2, locations: 1 },
          { domain: SHOPS.purged, products: 4, customers: 3, orders: 3, locations: 1 },
          { domain: SHOPS.scopes, products: 2, customers: 2, orders: 6, locations: 1 },
        ],
      },
      { SHOPIFY_API_SECRET: SECRET, SYNC_PAGE_SIZE: '10' },
    );
    await t.startWorker();
  });
  after(async () => {
    await t?.close();
  });

  const keys = new Map<string, string>();
  async function keyOf(tenant: string): Promise<string> {
    if (!keys.has(tenant)) keys.set(tenant, await t.keyFor(tenant));
    return keys.get(tenant) as string;
  }
  async function connect(tenant: string, shop: string, token = t.mock.shop(shop).accessToken) {
    const res = await call(t.url, 'POST', '/api/shopify/connect/', { key: await keyOf(tenant), body: { shop_domain: shop, access_token: token } });
    expect(res.status, res.text).to.equal(201);
    return res.body as { integration: { is_connected: boolean; scopes: string[] }; initial_sync: { jobs: { resource: string; job_id: string; state: string }[] } };
  }
  const integrationOf = async (tenant: string): Promise<Integration> => t.ctx.db.selectFrom('shopify_integrations').selectAll().where('tenant_id', '=', tenant).executeTakeFirstOrThrow();
  const statusOf = async (tenant: string) => (await call(t.url, 'GET', '/api/shopify/status/', { key: await keyOf(tenant) })).body;
  async function deliver(shop: string, ...events: MockWebhookEvent[]) {
    await deliverInOrder(t.mock.shop(shop), `${t.url}${WEBHOOK_PATH}`, events);
  }
  async function metric(family: 'webhooksApplied' | 'webhooksReceived', labels: Record<string, string>): Promise<number> {
    const { values } = await t.ctx.metrics[family].get();
    return values.filter((v) => Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want)).reduce((n, v) => n + v.value, 0);
  }

  it('when an app/uninstalled triggered before a reinstall is applied after it, then the store stays connected and syncs run; a later uninstall still disconnects it', async () => {
    const TENANT = 't-inst-uninstall';
    const shop = t.mock.shop(SHOPS.uninstall);
    await connect(TENANT, SHOPS.uninstall);
    const integration = await integrationOf(TENANT);
    await t.waitForRuns(integration.id, 4);
    const stopConsumers = await runConsumers(t);
    try {
      // Uninstalled at T0 (60 s ago, by Shopify's clock), reinstalled now with a new token; Shopify's
      // app/uninstalled delivery arrives only after the reinstall.
      shop.clock.set(Date.now() - 60_000);
      const uninstalled = shop.uninstall();
      shop.clock.resume();
      const reinstalled = await connect(TENANT, SHOPS.uninstall, shop.issueToken());
      expect(reinstalled.integration.is_connected).to.equal(true);
      await deliver(SHOPS.uninstall, uninstalled);
      await drained(t.ctx);

      expect((await statusOf(TENANT)).is_connected, 'connected after the late uninstall').to.equal(true);
      expect(await metric('webhooksApplied', { topic: 'app/uninstalled', result: 'earlier-installation' })).to.equal(1);
      shop.updateProduct(shop.catalog.products.entries[0]!.id, { title: 'Changed after the reinstall' });
      const runsBefore = (await t.waitForRuns(integration.id, 8)).length;
      const sync = await call(t.url, 'POST', '/api/shopify/sync/', { key: await keyOf(TENANT), body: { mode: 'full' } });
      expect(sync.status, sync.text).to.equal(202);
      const runs = await t.waitForRuns(integration.id, runsBefore + 4);
      expect(runs.slice(-4).map((r) => r.status)).to.deep.equal(['succeeded', 'succeeded', 'succeeded', 'succeeded']);
      await expectCopyEqualsStore(t, await keyOf(TENANT), shop);

      // An uninstall of the current installation is applied as before.
      await deliver(SHOPS.uninstall, shop.uninstall());
      await drained(t.ctx);
      expect((await statusOf(TENANT)).is_connected, 'after a current uninstall').to.equal(false);
    } finally {
      await stopConsumers();
    }
  });

  it('when a tenant switches shops while a sync of the old shop runs, then the old run stops without writing, its webhooks are dropped, and the new shop syncs from scratch', async () => {
    const TENANT = 't-inst-switch';
    const from = t.mock.shop(SHOPS.from);
    t.mock.setFaults({ latencyMs: 40 }, SHOPS.from);
    const first = await connect(TENANT, SHOPS.from);
    const integration = await integrationOf(TENANT);
    // The old shop's walk is under way; a webhook of the old shop waits in the stream (no consumer yet).
    await eventually(async () => (await t.runsOf(integration.id, 'products')).some((r) => r.status === 'running' && r.pages >= 2), 20_000, "the old shop's products walk to be under way");
    await deliver(SHOPS.from, from.updateProduct(from.catalog.products.entries[0]!.id, { title: 'Old shop, late' }));

    const switched = await connect(TENANT, SHOPS.to);
    expect(
      switched.initial_sync.jobs.map((j) => j.state),
      'the new shop\'s syncs are queued, not "already queued"',
    ).to.deep.equal(['queued', 'queued', 'queued', 'queued', 'queued']);
    const oldIds = new Set(first.initial_sync.jobs.map((j) => j.job_id));
    for (const job of switched.initial_sync.jobs) expect(oldIds.has(job.job_id), `${job.resource} job id`).to.equal(false);

    const stopConsumers = await runConsumers(t);
    try {
      await drained(t.ctx);
      const runs = await t.waitForRuns(integration.id, 8, 30_000);
      const oldProducts = runs.find((r) => r.resource === 'products' && r.job_id === first.initial_sync.jobs.find((j) => j.resource === 'products')!.job_id);
      expect(oldProducts?.status).to.equal('failed');
      expect(oldProducts?.error).to.match(/another installation/);
      expect(await metric('webhooksApplied', { topic: 'products/update', result: 'other-shop' })).to.be.at.least(1);
      await expectCopyEqualsStore(t, await keyOf(TENANT), t.mock.shop(SHOPS.to));

      // The cursor saved is the new shop's: an incremental sync after a change there brings exactly it.
      const to = t.mock.shop(SHOPS.to);
      to.updateProduct(to.catalog.products.entries[1]!.id, { title: 'New shop, changed' });
      const runsBefore = runs.length;
      const sync = await call(t.url, 'POST', '/api/shopify/sync/', { key: await keyOf(TENANT), body: { resources: ['products'], mode: 'incremental' } });
      expect(sync.status, sync.text).to.equal(202);
      await t.waitForRuns(integration.id, runsBefore + 1);
      await expectCopyEqualsStore(t, await keyOf(TENANT), to);
    } finally {
      t.mock.setFaults({ latencyMs: 0 }, SHOPS.from);
      await stopConsumers();
    }
  });

  it("when another tenant takes over a disconnected shop and the first tenant then connects a new shop, then each tenant's API serves exactly its current shop", async () => {
    const FIRST = 't-inst-first';
    const SECOND = 't-inst-second';
    await connect(FIRST, SHOPS.takenOver);
    const first = await integrationOf(FIRST);
    await t.waitForRuns(first.id, 4);
    const disconnected = await call(t.url, 'DELETE', '/api/shopify/connect/', { key: await keyOf(FIRST) });
    expect(disconnected.status, disconnected.text).to.equal(200);

    await connect(SECOND, SHOPS.takenOver);
    const second = await integrationOf(SECOND);
    await t.waitForRuns(second.id, 4);
    expect(await readAll(t.url, await keyOf(FIRST), '/api/shopify/products/'), "the first tenant's copy of the shop that moved").to.deep.equal([]);

    await connect(FIRST, SHOPS.next);
    await t.waitForRuns(first.id, 8);
    await expectCopyEqualsStore(t, await keyOf(FIRST), t.mock.shop(SHOPS.next));
    await expectCopyEqualsStore(t, await keyOf(SECOND), t.mock.shop(SHOPS.takenOver));
    expect(await statusOf(FIRST)).to.include({ shop_domain: SHOPS.next, is_connected: true, connected_elsewhere_at: null });
  });

  it("when a store is purged, then retried deliveries, backlog entries and a later reinstall's retries of older events write nothing back, while compliance webhooks are still handled", async () => {
    const TENANT = 't-inst-purged';
    const shop = t.mock.shop(SHOPS.purged);
    await connect(TENANT, SHOPS.purged);
    const integration = await integrationOf(TENANT);
    await t.waitForRuns(integration.id, 4);
    const stopConsumers = await runConsumers(t);
    try {
      const created = shop.createProduct();
      const updated = shop.updateProduct(shop.catalog.products.entries[0]!.id, { title: 'Before the purge' });
      await deliver(SHOPS.purged, created);
      await drained(t.ctx);
      expect((await readAll(t.url, await keyOf(TENANT), '/api/shopify/products/')).map((p) => p.id)).to.include(created.payload.id);

      const purged = await call(t.url, 'DELETE', '/api/shopify/connect/?purge=true', { key: await keyOf(TENANT) });
      expect(purged.status, purged.text).to.equal(200);

      // Shopify retries what it sent before the disconnect: 200, nothing queued.
      const before = await metric('webhooksReceived', { outcome: 'disconnected' });
      const retried = await t.mock.shop(SHOPS.purged).deliver([created, updated], { url: `${t.url}${WEBHOOK_PATH}`, concurrency: 1 });
      expect(retried.map((r) => r.status)).to.deep.equal([200, 200]);
      expect(await metric('webhooksReceived', { outcome: 'disconnected' })).to.equal(before + 2);
      // An entry queued before the disconnect (another API process still had the store as connected).
      const envelope = {
        topic: 'products/update',
        shop: SHOPS.purged,
        integrationId: integration.id,
        tenantId: TENANT,
        webhookId: null,
        eventId: 'queued-before-the-purge',
        triggeredAt: new Date(updated.triggeredAt),
        apiVersion: null,
        receivedAt: new Date(),
        body: JSON.stringify(updated.payload),
      };
      await t.ctx.redis.xAdd(webhookKeys(t.ctx).stream, '*', encodeEnvelope(envelope));
      await drained(t.ctx);
      expect(await metric('webhooksApplied', { topic: 'products/update', result: 'disconnected' })).to.equal(1);
      for (const path of ['/api/shopify/products/', '/api/shopify/orders/', '/api/shopify/customers/', '/api/shopify/inventory/']) {
        expect(await readAll(t.url, await keyOf(TENANT), path), path).to.deep.equal([]);
      }

      // Compliance webhooks of a disconnected store are handled (GDPR).
      await deliver(SHOPS.purged, shop.complianceEvent('customers/data_request'));
      await drained(t.ctx);
      expect(await listDataRequests(t.ctx.db, TENANT)).to.have.length(1);
      await deliver(SHOPS.purged, shop.complianceEvent('shop/redact'));
      await drained(t.ctx);
      expect(await t.ctx.db.selectFrom('shopify_redactions').select('resource').where('tenant_id', '=', TENANT).where('resource', '=', 'shop').execute()).to.have.length(1);

      // While disconnected the product goes at Shopify; after a reinstall, a retry of its creation (from before the purge) must not bring it back.
      shop.deleteProduct(created.payload.id);
      await connect(TENANT, SHOPS.purged);
      await t.waitForRuns(integration.id, 8);
      await deliver(SHOPS.purged, created);
      await drained(t.ctx);
      expect(await metric('webhooksApplied', { topic: 'products/create', result: 'before-purge' })).to.equal(1);
      await expectCopyEqualsStore(t, await keyOf(TENANT), shop);
    } finally {
      await stopConsumers();
    }
  });

  it('when a store is connected with a pasted token, then its scopes are read from Shopify, and with read_all_orders a full sync finds orders deleted long ago', async () => {
    const TENANT = 't-inst-scopes';
    const shop = t.mock.shop(SHOPS.scopes);
    const connected = await connect(TENANT, SHOPS.scopes);
    expect(connected.integration.scopes).to.have.members(shop.scope.split(','));
    expect(connected.integration.scopes).to.include('read_all_orders');
    const integration = await integrationOf(TENANT);
    await t.waitForRuns(integration.id, 4);

    // A seeded order (created in 2023, long before the last 60 days) is deleted at Shopify without a webhook.
    const old = shop.catalog.orders.entries.find((e) => !e.deleted)!;
    shop.deleteOrder(old.id);
    const sync = await call(t.url, 'POST', '/api/shopify/sync/', { key: await keyOf(TENANT), body: { resources: ['orders'], mode: 'full' } });
    expect(sync.status, sync.text).to.equal(202);
    await t.waitForRuns(integration.id, 5);
    await expectCopyEqualsStore(t, await keyOf(TENANT), shop);
  });
});
