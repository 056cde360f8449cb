import { expect } from 'chai';
import { RESOURCE_NAMES } from '../../src/resources/index.js';
import { runSync } from '../../src/sync/run-sync.js';
import type { Integration } from '../../src/store/schema.js';
import { expectCopyEqualsStore } from '../support/copy-equals-store.js';
import { call } from '../support/http.js';
import { startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import { deliverInOrder } from '../support/webhook-scenario.js';
import { drained, runConsumers, WEBHOOK_PATH } from '../support/webhooks.js';

const SHOP = 'locations.myshopify.com';
const TENANT = 't-locations';
const SECRET = 'test-app-secret';

describe('locations: synced, kept fresh by webhooks, served', function () {
  this.timeout(60_000);
  let t: SyncTestContext;
  let integration: Integration;
  let key: string;
  let stopConsumers: () => Promise<void>;
  const shop = () => t.mock.shop(SHOP);
  const deliver = async () => {
    await deliverInOrder(shop(), `${t.url}${WEBHOOK_PATH}`, shop().takeEvents());
    await drained(t.ctx);
  };
  const sync = async (resource: (typeof RESOURCE_NAMES)[number], mode: 'full' | 'incremental' = 'full') => {
    const result = await runSync(t.ctx, { integrationId: integration.id, resource, mode, trigger: 'manual', jobId: null });
    expect(result.status, `${resource} sync`).to.equal('succeeded');
    return result;
  };

  before(async () => {
    t = await startSyncTestContext({ apiSecret: SECRET, shops: [{ domain: SHOP, products: 6, customers: 2, orders: 2, locations: 3 }] }, { SHOPIFY_API_SECRET: SECRET });
    integration = await t.connect(TENANT, SHOP);
    key = await t.keyFor(TENANT);
    for (const resource of RESOURCE_NAMES) await sync(resource);
    stopConsumers = await runConsumers(t);
    shop().takeEvents();
  });
  after(async () => {
    await stopConsumers?.();
    await t?.close();
  });

  it('when the store is synced, then GET /locations/ and /locations/{id}/ serve every location with its name, state and address', async () => {
    const list = await call(t.url, 'GET', '/api/shopify/locations/', { key });
    expect(list.status).to.equal(200);
    const ids = shop().catalog.locations.entries.map((e) => e.id);
    expect(list.body.data.map((l: { id: number }) => l.id)).to.deep.equal(ids);
    expect(list.body.next_cursor).to.equal(null);
    const one = await call(t.url, 'GET', `/api/shopify/locations/${ids[0]}/`, { key });
    expect(one.status).to.equal(200);
    expect(one.body).to.include({ id: ids[0], name: 'Main Warehouse', active: true, address1: '100 Commerce Street', deleted_at: null });
    expect(one.body.updated_at).to.match(/Z$/);
    const missing = await call(t.url, 'GET', '/api/shopify/locations/999999/', { key });
    expect(missing.status).to.equal(404);
    expect(missing.body.detail).to.equal('Location 999999 not found');
  });

  it('when locations are synced full or incremental, then locations.json is read whole in one page (it has no pagination or filters)', async () => {
    const full = await sync('locations', 'full');
    const incremental = await sync('locations', 'incremental');
    for (const result of [full, incremental]) {
      if (result.status !== 'succeeded') throw new Error('sync skipped');
      expect(result.counts.pages).to.equal(1);
      expect(result.counts.records_fetched).to.equal(shop().catalog.locations.size);
    }
  });

  it('when locations are created, updated and deleted at the shop, then their webhooks keep the copy equal to the store, levels of the deleted one included', async () => {
    const created = shop().createLocation({ name: 'Harbour Depot', city: 'Halifax', active: true });
    await deliver();
    const fresh = await call(t.url, 'GET', `/api/shopify/locations/${created.payload.id}/`, { key });
    expect(fresh.body).to.include({ name: 'Harbour Depot', city: 'Halifax' });

    const [first, second] = shop().catalog.locations.entries;
    shop().updateLocation(first!.id, { name: 'Main Warehouse (north)', active: false });
    shop().deleteLocation(second!.id);
    await deliver();

    const renamed = await call(t.url, 'GET', `/api/shopify/locations/${first!.id}/`, { key });
    expect(renamed.body).to.include({ name: 'Main Warehouse (north)', active: false });
    expect((await call(t.url, 'GET', `/api/shopify/locations/${second!.id}/`, { key })).status).to.equal(404);
    const gone = await call(t.url, 'GET', `/api/shopify/locations/${second!.id}/?include_deleted=true`, { key });
    expect(gone.body.deleted_at).to.be.a('string');
    const levels = await call(t.url, 'GET', `/api/shopify/inventory/?location_id=${second!.id}`, { key });
    expect(levels.body.data).to.deep.equal([]);

    await expectCopyEqualsStore(t, key, shop());
    // A full sync afterwards agrees with the webhooks.
    for (const resource of RESOURCE_NAMES) await sync(resource);
    await expectCopyEqualsStore(t, key, shop());
  });

  it("when inventory is filtered by inventory_item_id (one or several), variant_id or sku, then only those items' levels are listed", async () => {
    const product = shop()
      .catalog.products.entries.map((e) => shop().catalog.product(e.id))
      .find((p) => p && p.variants.length >= 2)!;
    const [a, b] = product.variants as [(typeof product.variants)[number], (typeof product.variants)[number]];
    const itemsOf = (res: { body: { data: { inventory_item_id: number }[] } }) => [...new Set(res.body.data.map((l) => l.inventory_item_id))];

    const one = await call(t.url, 'GET', `/api/shopify/inventory/?inventory_item_id=${a.inventory_item_id}`, { key });
    expect(one.status).to.equal(200);
    expect(itemsOf(one)).to.deep.equal([a.inventory_item_id]);
    expect(one.body.data.length).to.be.greaterThan(0);
    const several = await call(t.url, 'GET', `/api/shopify/inventory/?inventory_item_id=${a.inventory_item_id},${b.inventory_item_id}`, { key });
    expect(itemsOf(several)).to.have.members([a.inventory_item_id, b.inventory_item_id]);
    const byVariant = await call(t.url, 'GET', `/api/shopify/inventory/?variant_id=${b.id}`, { key });
    expect(itemsOf(byVariant)).to.deep.equal([b.inventory_item_id]);
    const bySku = await call(t.url, 'GET', `/api/shopify/inventory/?sku=${encodeURIComponent(String(a.sku))}`, { key });
    expect(itemsOf(bySku)).to.include(a.inventory_item_id);
    const none = await call(t.url, 'GET', '/api/shopify/inventory/?sku=NO-SUCH-SKU', { key });
    expect(none.body.data).to.deep.equal([]);
    const bad = await call(t.url, 'GET', '/api/shopify/inventory/?inventory_item_id=abc', { key });
    expect(bad.status).to.equal(400);
  });
});
