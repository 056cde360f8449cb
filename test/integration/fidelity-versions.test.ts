import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import type { MockWebhookEvent } from '../../scripts/mock-shopify/index.js';
import type { ShopifyProduct } from '../../src/shopify/types.js';
import { runSync } from '../../src/sync/run-sync.js';
import type { Integration } from '../../src/store/schema.js';
import { applyEvents, prepareEvent } from '../../src/webhooks/apply.js';
import type { WebhookEnvelope } from '../../src/webhooks/stream.js';
import { call } from '../support/http.js';
import { startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import { deliverInOrder } from '../support/webhook-scenario.js';
import { drained, runConsumers, tenantRows, WEBHOOK_PATH } from '../support/webhooks.js';

const SHOP = 'versions.myshopify.com';
const TENANT = 't-versions';
const SECRET = 'test-app-secret';

/** A whole second plus 100 ms: the next 800 ms of the mock's clock stamp the same `updated_at`. */
const secondStart = () => Math.floor(Date.now() / 1000) * 1000 - 5000 + 100;

describe('copy fidelity: versions that share one second', function () {
  this.timeout(60_000);
  let t: SyncTestContext;
  let integration: Integration;
  let stopConsumers: () => Promise<void>;
  const shop = () => t.mock.shop(SHOP);

  before(async () => {
    t = await startSyncTestContext({ apiSecret: SECRET, shops: [{ domain: SHOP, products: 5, customers: 3, orders: 3, locations: 1 }] }, { SHOPIFY_API_SECRET: SECRET });
    integration = await t.connect(TENANT, SHOP);
    stopConsumers = await runConsumers(t);
  });
  after(async () => {
    await stopConsumers?.();
    await t?.close();
  });

  /** Delivers each event (in this order), waiting for each to be applied: each lands in its own batch. */
  async function deliverOneByOne(...events: MockWebhookEvent[]) {
    for (const event of events) {
      await deliverInOrder(shop(), `${t.url}${WEBHOOK_PATH}`, [event]);
      await drained(t.ctx);
    }
  }
  const read = async (path: string) => call(t.url, 'GET', path, { key: await t.keyFor(TENANT) });
  const fullSync = (resource: 'products' | 'orders' | 'customers' | 'inventory') => runSync(t.ctx, { integrationId: integration.id, resource, mode: 'full', trigger: 'manual', jobId: null });

  it('when orders/create and orders/paid share an updated_at, then the copy holds the paid version whichever is delivered first', async () => {
    shop().clock.set(secondStart());
    const first = shop().createOrder();
    const second = shop().createOrder();
    shop().clock.advance(200);
    const firstPaid = shop().updateOrder(first.payload.id, { financial_status: 'paid' }, 'orders/paid');
    const secondPaid = shop().updateOrder(second.payload.id, { financial_status: 'paid' }, 'orders/paid');
    shop().clock.resume();
    expect(firstPaid.payload.updated_at, 'one second').to.equal(first.payload.updated_at);

    await deliverOneByOne(firstPaid, first); // late create after the paid version
    await deliverOneByOne(second, secondPaid);
    for (const order of [first, second]) {
      const res = await read(`/api/shopify/orders/${order.payload.id}/`);
      expect(res.status, res.text).to.equal(200);
      expect(res.body.financial_status, `order ${order.payload.id}`).to.equal('paid');
    }
  });

  it('when two inventory_levels/update share a second, then the later one stays whatever the delivery order', async () => {
    const location = shop().catalog.locations.entries[0]!.id;
    const item = shop().catalog.product(shop().catalog.products.entries[0]!.id)!.variants[0]!.inventory_item_id;
    shop().clock.set(secondStart());
    const earlier = shop().setInventoryLevel(item, location, 5);
    shop().clock.advance(300);
    const later = shop().setInventoryLevel(item, location, 9);
    shop().clock.resume();
    expect(later.payload.updated_at).to.equal(earlier.payload.updated_at);

    await deliverOneByOne(later, earlier);
    const res = await read(`/api/shopify/inventory/${item}/`);
    expect(res.status, res.text).to.equal(200);
    expect(res.body.levels.find((l: { location_id: number }) => l.location_id === location)).to.include({ available: 9 });
  });

  it('when a sync page is read after a same-second webhook, then the page overwrites it (a lost same-second update is repaired)', async () => {
    shop().clock.set(secondStart());
    const created = shop().createProduct({ title: 'First title' });
    shop().clock.advance(200);
    const renamed = shop().updateProduct(created.payload.id, { title: 'Second title' }); // its webhook is lost
    shop().clock.resume();
    expect(renamed.payload.updated_at).to.equal(created.payload.updated_at);

    await deliverOneByOne(created);
    expect((await read(`/api/shopify/products/${created.payload.id}/`)).body.title).to.equal('First title');
    const result = await fullSync('products');
    expect(result.status).to.equal('succeeded');
    expect((await read(`/api/shopify/products/${created.payload.id}/`)).body.title).to.equal('Second title');
  });

  it('when a full sync finds nothing changed, then it writes nothing (same second, same content)', async () => {
    await fullSync('products');
    const again = await fullSync('products');
    expect(again.status === 'succeeded' && again.counts.records_written).to.equal(0);
  });

  it('when a record was wrongly marked deleted, then a full walk that sees it revives it (its updated_at did not move)', async () => {
    await fullSync('products');
    const id = shop().catalog.products.entries[1]!.id;
    await sql`UPDATE shopify_products SET deleted_at = NOW(3) WHERE tenant_id = ${TENANT} AND id = ${id}`.execute(t.ctx.db);
    expect((await read(`/api/shopify/products/${id}/`)).status).to.equal(404);

    await fullSync('products');
    const res = await read(`/api/shopify/products/${id}/`);
    expect(res.status, res.text).to.equal(200);
    expect(res.body.deleted_at).to.equal(null);
  });

  it('when a products/update triggered before products/delete arrives after it, then the product stays deleted', async () => {
    const created = shop().createProduct();
    const updated = shop().updateProduct(created.payload.id, { title: 'Late title' });
    const deleted = shop().deleteProduct(created.payload.id);
    await deliverOneByOne(created, deleted, updated);
    expect((await read(`/api/shopify/products/${created.payload.id}/`)).status).to.equal(404);
  });

  it('when v1 and v2 of the same new products race in concurrent transactions, then every product ends at v2 with v2 variants', async () => {
    const owner = { tenantId: TENANT, integrationId: integration.id, shopCurrency: 'USD' };
    const envelope = (topic: string, payload: unknown, triggeredAt: Date): WebhookEnvelope => ({
      topic,
      shop: SHOP,
      integrationId: integration.id,
      tenantId: TENANT,
      webhookId: null,
      eventId: randomUUID(),
      triggeredAt,
      apiVersion: null,
      receivedAt: new Date(),
      body: JSON.stringify(payload),
    });
    const version = (id: number, v: 1 | 2, at: Date) => {
      const variantIds = v === 1 ? [id * 10 + 1, id * 10 + 2] : [id * 10 + 1, id * 10 + 3];
      const payload: Partial<ShopifyProduct> = {
        id,
        title: `Product ${id} v${v}`,
        updated_at: new Date(at.getTime() + (v - 1) * 1000).toISOString(),
        variants: variantIds.map((vid, i) => ({ id: vid, product_id: id, title: `V${vid}`, price: '1.00', sku: `S${vid}`, position: i + 1 })) as never,
      };
      return prepareEvent(randomUUID(), envelope('products/update', payload, new Date(at.getTime() + (v - 1) * 1000)), owner);
    };
    /** A deadlock between the two is retried, as the consumer does. */
    const apply = async (events: ReturnType<typeof version>[]) => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await applyEvents(t.ctx.db, events);
        } catch (error) {
          if ((error as { errno?: number }).errno !== 1213 || attempt >= 5) throw error;
        }
      }
    };
    const rounds = 25;
    const perRound = 20;
    const ids: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const at = new Date(Date.UTC(2025, 5, 1, 0, 0, round));
      const roundIds = Array.from({ length: perRound }, (_, i) => 9_100_000_000 + round * 100 + i);
      ids.push(...roundIds);
      const v1 = roundIds.map((id) => version(id, 1, at));
      const v2 = roundIds.map((id) => version(id, 2, at));
      await Promise.all(round % 2 ? [apply(v1), apply(v2)] : [apply(v2), apply(v1)]);
    }
    const products = new Map((await tenantRows(t.ctx, 'shopify_products', TENANT)).map((p) => [Number(p.id), p]));
    const variants = await tenantRows(t.ctx, 'shopify_product_variants', TENANT);
    const wrong = ids.filter((id) => {
      const own = variants
        .filter((v) => Number(v.product_id) === id)
        .map((v) => Number(v.id))
        .sort();
      return products.get(id)?.title !== `Product ${id} v2` || JSON.stringify(own) !== JSON.stringify([id * 10 + 1, id * 10 + 3]);
    });
    expect(wrong, 'products not at v2 with v2 variants').to.deep.equal([]);
  });
});
