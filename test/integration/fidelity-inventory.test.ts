import { expect } from 'chai';
import type { MockWebhookEvent } from '../../scripts/mock-shopify/index.js';
import { RESOURCE_NAMES } from '../../src/resources/index.js';
import { runSync } from '../../src/sync/run-sync.js';
import type { Integration } from '../../src/store/schema.js';
import { applyEvents, prepareEvent } from '../../src/webhooks/apply.js';
import { expectCopyEqualsStore } from '../support/copy-equals-store.js';
import { call } from '../support/http.js';
import { startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import { buildScenario, deletedAtMatches, deliverInOrder, expectedFinalState } from '../support/webhook-scenario.js';
import { connectShop, drained, runConsumers, WEBHOOK_PATH } from '../support/webhooks.js';

const SHOP = 'inventory-follows.myshopify.com';
/** A shop of its own for the replayed scenario: its clock starts where the scenario sets it. */
const SCENARIO_SHOP = 'inventory-orders.myshopify.com';
const TENANT = 't-inventory-follows';
const SECRET = 'test-app-secret';

describe('copy fidelity: inventory follows products and locations', function () {
  this.timeout(60_000);
  let t: SyncTestContext;
  let integration: Integration;
  let key: string;
  let stopConsumers: () => Promise<void>;
  const shop = () => t.mock.shop(SHOP);

  before(async () => {
    t = await startSyncTestContext({ apiSecret: SECRET, shops: [{ domain: SHOP, products: 12, customers: 2, orders: 2, locations: 3 }, { domain: SCENARIO_SHOP }] }, { SHOPIFY_API_SECRET: SECRET });
    integration = await t.connect(TENANT, SHOP);
    key = await t.keyFor(TENANT);
    for (const resource of RESOURCE_NAMES) {
      const result = await runSync(t.ctx, { integrationId: integration.id, resource, mode: 'full', trigger: 'manual', jobId: null });
      expect(result.status, `${resource} sync`).to.equal('succeeded');
    }
    stopConsumers = await runConsumers(t);
    shop().takeEvents();
  });
  after(async () => {
    await stopConsumers?.();
    await t?.close();
  });

  const deliver = async (events: MockWebhookEvent[]) => {
    await deliverInOrder(shop(), `${t.url}${WEBHOOK_PATH}`, events);
    await drained(t.ctx);
  };
  /** The item's live levels through the API (its retrieve answers 404 once none is left). */
  const liveLevelsOf = async (item: number) => {
    const res = await call(t.url, 'GET', `/api/shopify/inventory/${item}/`, { key });
    if (res.status === 404) return 0;
    expect(res.status, res.text).to.equal(200);
    return (res.body.levels as { deleted_at: string | null }[]).filter((l) => l.deleted_at === null).length;
  };
  const itemsOf = (productId: number) =>
    shop()
      .catalog.product(productId)!
      .variants.map((v) => v.inventory_item_id);
  const productAt = (i: number) => shop().catalog.products.entries[i]!.id;

  it("when products/delete arrives alone, then its variants' levels are hidden at once, and inventory_items/delete later changes nothing", async () => {
    const product = productAt(1);
    const items = itemsOf(product);
    for (const item of items) expect(await liveLevelsOf(item), `item ${item} before`).to.be.greaterThan(0);
    const deleted = shop().deleteProduct(product);
    const itemDeletes = shop()
      .takeEvents()
      .filter((e) => e.topic === 'inventory_items/delete');
    expect(itemDeletes).to.have.length(items.length);

    await deliver([deleted]);
    for (const item of items) expect(await liveLevelsOf(item), `item ${item} after products/delete`).to.equal(0);
    await deliver(itemDeletes);
    await expectCopyEqualsStore(t, key, shop());
  });

  it("when a product update drops a variant, then that variant's levels are hidden and the other variants' stay", async () => {
    const product = productAt(2);
    const variants = shop().catalog.product(product)!.variants;
    expect(variants.length, 'a product with several variants').to.be.greaterThan(1);
    const [kept, ...dropped] = variants;
    const update = shop().updateProduct(product, { variants: [kept!] } as never);
    const itemDeletes = shop()
      .takeEvents()
      .filter((e) => e.topic === 'inventory_items/delete');

    await deliver([update]);
    for (const v of dropped) expect(await liveLevelsOf(v.inventory_item_id), `dropped item ${v.inventory_item_id}`).to.equal(0);
    expect(await liveLevelsOf(kept!.inventory_item_id), 'kept item').to.be.greaterThan(0);
    await deliver(itemDeletes);
    await expectCopyEqualsStore(t, key, shop());
  });

  it('when locations/delete arrives, then every level of that location is hidden', async () => {
    const location = shop().catalog.locations.entries[2]!.id;
    const deleted = shop().deleteLocation(location);
    const others = shop()
      .takeEvents()
      .filter((e) => e !== deleted);
    await deliver([deleted, ...others.filter((e) => e.topic !== 'locations/delete')]);
    const res = await call(t.url, 'GET', `/api/shopify/inventory/?location_id=${location}&limit=250`, { key });
    expect(res.body.data, 'live levels at the deleted location').to.deep.equal([]);
    await expectCopyEqualsStore(t, key, shop());
  });

  it('when a level update triggered before its item was deleted arrives after the deletion, then the level is stored deleted, never live', async () => {
    const product = productAt(4);
    const item = itemsOf(product)[0]!;
    const location = shop().catalog.locations.entries[0]!.id;
    const levelUpdate = shop().setInventoryLevel(item, location, 42);
    const deleted = shop().deleteProduct(product);
    const rest = shop()
      .takeEvents()
      .filter((e) => e !== levelUpdate && e !== deleted);

    await deliver([deleted, ...rest, levelUpdate]);
    expect(await liveLevelsOf(item)).to.equal(0);
    await expectCopyEqualsStore(t, key, shop());
  });

  it('when a full products sync finds a variant gone, then its levels are hidden too', async () => {
    const product = productAt(5);
    const [kept, ...dropped] = shop().catalog.product(product)!.variants;
    shop().updateProduct(product, { variants: [kept!] } as never);
    shop().takeEvents(); // no webhooks: only the sync learns of it
    const result = await runSync(t.ctx, { integrationId: integration.id, resource: 'products', mode: 'full', trigger: 'manual', jobId: null });
    expect(result.status).to.equal('succeeded');
    for (const v of dropped) expect(await liveLevelsOf(v.inventory_item_id), `dropped item ${v.inventory_item_id}`).to.equal(0);
    await expectCopyEqualsStore(t, key, shop());
  });

  it("when a scenario's 200 events are applied one by one in 12 random orders, then every inventory level ends where applying them in order allows", async () => {
    const scenario = buildScenario(t.mock.shop(SCENARIO_SHOP), 200, 11);
    const expected = expectedFinalState(scenario).get('shopify_inventory_levels')!;
    let seed = 7;
    const random = () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
    for (let round = 0; round < 12; round++) {
      const tenant = `perm-${round}`;
      const shopDomain = `perm-${round}.myshopify.com`;
      const { integrationId } = await connectShop(t.ctx, tenant, shopDomain);
      const owner = { integrationId, tenantId: tenant, shopCurrency: 'USD' };
      const order = [...scenario].sort(() => random() - 0.5);
      for (const e of order) {
        const envelope = {
          topic: e.topic,
          shop: shopDomain,
          integrationId: owner.integrationId,
          tenantId: tenant,
          webhookId: null,
          eventId: e.eventId,
          triggeredAt: new Date(e.triggeredAt),
          apiVersion: null,
          receivedAt: new Date(),
          body: JSON.stringify(e.payload),
        };
        await applyEvents(t.ctx.db, [prepareEvent(`${round}-0`, envelope, owner)]);
      }
      const rows = await t.ctx.db.selectFrom('shopify_inventory_levels').select(['inventory_item_id', 'location_id', 'deleted_at']).where('tenant_id', '=', tenant).execute();
      const wrong = rows.filter((r) => {
        const want = expected.get(`${r.inventory_item_id}:${r.location_id}`);
        return !want || (want.payload ? r.deleted_at !== null : !deletedAtMatches(r.deleted_at, want));
      });
      expect(rows.length, `round ${round}: levels`).to.equal(expected.size);
      expect(
        wrong.map((r) => `${r.inventory_item_id}:${r.location_id} ${r.deleted_at?.toISOString()} want ${JSON.stringify(expected.get(`${r.inventory_item_id}:${r.location_id}`))}`),
        `round ${round}`,
      ).to.deep.equal([]);
    }
  });
});
