import { expect } from 'chai';
import { sealWebhookSecret } from '../../src/store/integration-secrets.js';
import { startMockShopify, type MockShopify } from '../../scripts/mock-shopify/index.js';
import { RESOURCE_NAMES, type ResourceName } from '../../src/resources/index.js';
import { updateIntegration } from '../../src/store/integrations.js';
import { createSyncLog } from '../../src/store/sync-logs.js';
import { integrationSyncJobId } from '../../src/sync/enqueue.js';
import { syncQueue } from '../../src/sync/queue.js';
import { startWebhookConsumers } from '../../src/webhooks/consumer.js';
import { ADMIN_KEY, startTestContext, type TestContext } from '../support/context.js';
import { loadContract, operationsOf } from '../support/fuzz-requests.js';
import { call, expectProblem } from '../support/http.js';
import { recordIdOf as idOf, walkList } from '../support/pages.js';
import { customer, inventoryLevel, location as locationRecord, order, product, seedIntegration, seedRecords } from '../support/seed.js';
import { drained, sendWebhook } from '../support/webhooks.js';

const APP_SECRET = 'test-app-secret';
const SHOP_A = 'iso-a.myshopify.com';
const SHOP_B = 'iso-b.myshopify.com';
const A_SECRET = 'iso-a-custom-app-secret';

interface Tenant {
  key: string;
  integrationId: number;
  ids: Record<ResourceName, number[]>;
  customerId: number;
  locationId: number;
  vendor: string;
  email: string;
  runIds: number[];
}

/** Records of one tenant, every value unique to it, so a leak is visible in any list or filter. */
async function seedTenant(t: TestContext, tenantId: string, shop: string, tag: string, location: number): Promise<Tenant> {
  const owner = await seedIntegration(t.ctx, tenantId, shop);
  const vendor = `Vendor-${tag}`;
  const email = `buyer-${tag}@example.com`;
  const buyer = customer({ email });
  const products = Array.from({ length: 5 }, () => product({ vendor }));
  const orders = Array.from({ length: 5 }, () => order({ email, customer: { id: buyer.id, email } }));
  const levels = Array.from({ length: 5 }, () => inventoryLevel({ location_id: location }));
  await seedRecords(t.ctx, owner, 'products', products);
  await seedRecords(t.ctx, owner, 'orders', orders);
  await seedRecords(t.ctx, owner, 'customers', [buyer, customer(), customer()]);
  await seedRecords(t.ctx, owner, 'inventory', levels);
  const locations = [locationRecord({ id: location }), locationRecord()];
  await seedRecords(t.ctx, owner, 'locations', locations);
  const runIds: number[] = [];
  for (const resource of RESOURCE_NAMES) {
    runIds.push(
      await createSyncLog(t.ctx.db, {
        tenant_id: tenantId,
        integration_id: owner.integrationId,
        resource,
        trigger: 'manual',
        mode: 'full',
        status: 'succeeded',
        job_id: null,
        finished_at: new Date(),
      }),
    );
  }
  return {
    key: await t.keyFor(tenantId),
    integrationId: owner.integrationId,
    ids: {
      products: products.map((p) => p.id),
      orders: orders.map((o) => o.id),
      customers: [buyer.id],
      inventory: levels.map((l) => l.inventory_item_id as number),
      locations: locations.map((l) => l.id),
    },
    customerId: buyer.id,
    locationId: location,
    vendor,
    email,
    runIds,
  };
}

const walk = (t: TestContext, key: string, path: string) => walkList(t.url, key, path);

describe('security: tenant isolation over every endpoint', () => {
  let t: TestContext;
  let mock: MockShopify;
  let a: Tenant;
  let b: Tenant;
  let lonely: string;

  before(async () => {
    mock = await startMockShopify({ apiSecret: APP_SECRET, shops: [{ domain: SHOP_A }, { domain: SHOP_B }], rateLimit: { enabled: false } });
    t = await startTestContext({ SHOPIFY_API_BASE_URL: mock.baseUrlTemplate, SHOPIFY_API_SECRET: APP_SECRET, SHOPIFY_MAX_RETRY_ATTEMPTS: '0', WEBHOOK_CLAIM_IDLE_MS: '500' });
    a = await seedTenant(t, 'tenant-a', SHOP_A, 'a', 5_200_000_000_001);
    b = await seedTenant(t, 'tenant-b', SHOP_B, 'b', 5_200_000_000_002);
    lonely = await t.keyFor('tenant-without-store');
    await updateIntegration(t.ctx.db, a.integrationId, { webhook_secret_encrypted: sealWebhookSecret(t.ctx.secrets, { tenant_id: 'tenant-a', shop_domain: SHOP_A }, A_SECRET) });
  });
  after(async () => {
    await t?.close();
    await mock?.close();
  });

  it("when tenant B asks for each of tenant A's records by id, then 404, with or without include_deleted, while A gets each", async () => {
    let checked = 0;
    for (const resource of RESOURCE_NAMES) {
      for (const id of a.ids[resource]) {
        for (const query of ['', '?include_deleted=true']) {
          expectProblem(await call(t.url, 'GET', `/api/shopify/${resource}/${id}/${query}`, { key: b.key }), 404);
          expectProblem(await call(t.url, 'GET', `/api/shopify/${resource}/${id}/${query}`, { key: lonely }), 404);
          checked++;
        }
        expect((await call(t.url, 'GET', `/api/shopify/${resource}/${id}/`, { key: a.key })).status, `${resource} ${id} for its owner`).to.equal(200);
      }
    }
    expect(checked).to.be.greaterThan(30);
  });

  it("when tenant B walks every list (all pages, deleted included) and filters by A's values, then none of A's records appears", async () => {
    for (const resource of RESOURCE_NAMES) {
      const seen = (await walk(t, b.key, `/api/shopify/${resource}/?include_deleted=true`)).map((r) => idOf(resource, r));
      for (const id of a.ids[resource]) expect(seen, `${resource} ${id}`).not.to.include(id);
      expect(seen.length, `${resource} of B`).to.be.greaterThan(0);
    }
    const filters = [
      `/api/shopify/products/?vendor=${a.vendor}`,
      `/api/shopify/orders/?customer_id=${a.customerId}`,
      `/api/shopify/orders/?email=${encodeURIComponent(a.email)}`,
      `/api/shopify/customers/?email=${encodeURIComponent(a.email)}`,
      `/api/shopify/inventory/?location_id=${a.locationId}`,
    ];
    for (const path of filters) {
      expect((await call(t.url, 'GET', path, { key: b.key })).body.data, path).to.deep.equal([]);
      expect((await call(t.url, 'GET', path, { key: a.key })).body.data, `${path} for its owner`).to.not.be.empty;
    }
  });

  it("when tenant B pages with a cursor taken from tenant A's listing, then it still sees only its own records", async () => {
    for (const resource of RESOURCE_NAMES) {
      const first = await call(t.url, 'GET', `/api/shopify/${resource}/?limit=1`, { key: a.key });
      const cursor = first.body.next_cursor as string;
      expect(cursor, resource).to.be.a('string');
      const res = await call(t.url, 'GET', `/api/shopify/${resource}/?limit=250&cursor=${cursor}`, { key: b.key });
      expect(res.status, res.text).to.equal(200);
      for (const r of res.body.data) expect(a.ids[resource], resource).not.to.include(idOf(resource, r));
    }
  });

  it('when tenants read sync logs and status, then each sees only its own; a tenant without a store gets 404', async () => {
    const runsOfB = (await walk(t, b.key, '/api/shopify/sync-logs/')).map((r) => r.id as number);
    expect(runsOfB).to.include.members(b.runIds);
    for (const id of a.runIds) expect(runsOfB).not.to.include(id);
    for (const filter of ['?status=succeeded', '?resource=products']) {
      for (const r of (await call(t.url, 'GET', `/api/shopify/sync-logs/${filter}`, { key: b.key })).body.data) expect(a.runIds).not.to.include(r.id);
    }
    expect((await call(t.url, 'GET', '/api/shopify/sync-logs/', { key: lonely })).body.data).to.deep.equal([]);

    expect((await call(t.url, 'GET', '/api/shopify/status/', { key: a.key })).body.shop_domain).to.equal(SHOP_A);
    const statusB = await call(t.url, 'GET', '/api/shopify/status/', { key: b.key });
    expect(statusB.body.shop_domain).to.equal(SHOP_B);
    expect(statusB.text).not.to.include(SHOP_A);
    expectProblem(await call(t.url, 'GET', '/api/shopify/status/', { key: lonely }), 404);
  });

  it("when tenant B triggers syncs, then only B's integration gets jobs; B cannot start A's through the operator route; a tenant without a store gets 404", async () => {
    const res = await call(t.url, 'POST', '/api/shopify/sync/', { key: b.key, body: { mode: 'full' } });
    expect(res.status, res.text).to.equal(202);
    expect(res.body.jobs.map((j: { job_id: string }) => j.job_id)).to.deep.equal(RESOURCE_NAMES.map((r) => integrationSyncJobId(t.ctx, b.integrationId, r)));
    for (const resource of RESOURCE_NAMES) expect(await syncQueue(t.ctx).getJob(integrationSyncJobId(t.ctx, a.integrationId, resource)), resource).to.equal(undefined);
    const queuedForA = await t.ctx.db.selectFrom('shopify_sync_logs').select('id').where('integration_id', '=', a.integrationId).where('status', '=', 'queued').execute();
    expect(queuedForA).to.deep.equal([]);

    expectProblem(await call(t.url, 'POST', `/api/admin/integrations/${a.integrationId}/sync/`, { key: b.key, body: {} }), 401);
    expectProblem(await call(t.url, 'POST', '/api/shopify/sync/', { key: lonely, body: {} }), 404);
  });

  it("when a webhook claims tenant A's shop but is signed with another store's or the app's secret, then 401; B's webhook about the same Shopify id lands in B only", async () => {
    const sharedId = a.ids.products[0] as number;
    const body = JSON.stringify(product({ id: sharedId, title: 'Written by B', vendor: b.vendor, updated_at: '2030-01-01T00:00:00Z' }));
    for (const secret of ['iso-b-secret', APP_SECRET]) {
      const res = await sendWebhook(t.url, { topic: 'products/update', shop: SHOP_A, body, secret });
      expectProblem(res, 401);
    }
    const stop = await startWebhookConsumers(t.ctx);
    try {
      expect((await sendWebhook(t.url, { topic: 'products/update', shop: SHOP_B, body, secret: APP_SECRET })).status).to.equal(200);
      await drained(t.ctx);
    } finally {
      await stop();
    }
    expect((await call(t.url, 'GET', `/api/shopify/products/${sharedId}/`, { key: b.key })).body.title).to.equal('Written by B');
    expect((await call(t.url, 'GET', `/api/shopify/products/${sharedId}/`, { key: a.key })).body.title).to.equal(`Product ${sharedId}`);
  });

  it('when tenant keys call operator operations, then 401 on every one; the operator key on tenant operations, 403', async () => {
    const ops = operationsOf(loadContract());
    const fill = (path: string) => path.replace('{id}', String(a.integrationId));
    let checked = 0;
    for (const op of ops.filter((o) => o.auth === 'admin')) {
      for (const key of [a.key, b.key, undefined]) {
        const res = await call(t.url, op.method, fill(op.path), { ...(key ? { key } : {}), ...(op.method === 'POST' ? { body: {} } : {}) });
        expectProblem(res, 401);
        checked++;
      }
    }
    for (const op of ops.filter((o) => o.auth === 'tenant')) {
      const res = await call(t.url, op.method, fill(op.path).replace('{id}', '1'), { key: ADMIN_KEY, ...(op.method === 'POST' ? { body: {} } : {}) });
      expectProblem(res, 403);
      checked++;
    }
    expect(checked).to.be.greaterThan(20);
    // Operator pages outside the contract (metrics, queue dashboard), where mounted, never open to a tenant key.
    for (const path of ['/metrics', '/admin/queues', '/admin/queues/api/queues']) {
      const res = await call(t.url, 'GET', path, { key: a.key });
      expect(res.status, `${path} with a tenant key`).to.be.within(400, 499);
    }
  });

  it("when tenant B disconnects with purge, then A's store and records are untouched", async () => {
    const before = await walk(t, a.key, '/api/shopify/products/');
    const res = await call(t.url, 'DELETE', '/api/shopify/connect/?purge=true', { key: b.key });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ shop_domain: SHOP_B, purged: true });
    expect((await call(t.url, 'GET', '/api/shopify/status/', { key: a.key })).body).to.include({ shop_domain: SHOP_A, is_active: true });
    expect(await walk(t, a.key, '/api/shopify/products/')).to.deep.equal(before);
    expect(await walk(t, b.key, '/api/shopify/products/')).to.deep.equal([]);
  });
});
