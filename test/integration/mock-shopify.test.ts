import { expect } from 'chai';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startMockShopify, type MockShop, type MockShopify } from '../../scripts/mock-shopify/index.js';

/** The mock Shopify itself: it must be as unkind as Shopify, or the service's tests prove nothing. */
describe('mock Shopify behaves as Shopify does', () => {
  let mock: MockShopify;
  let receiver: Server;
  let receiverUrl: string;
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];

  before(async () => {
    mock = await startMockShopify({
      rateLimit: { enabled: false },
      shops: [
        { domain: 'unkind.myshopify.com', products: 6, orders: 5, customers: 4, locations: 2 },
        { domain: 'kuwait.myshopify.com', products: 3, orders: 3, customers: 2, currency: 'KWD' },
        { domain: 'narrow.myshopify.com', products: 1, scope: 'read_products,read_orders' },
      ],
    });
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  });
  after(async () => {
    await mock?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });
  beforeEach(() => {
    received.length = 0;
  });
  afterEach(() => mock.clock.resume());

  const shop = (name = 'unkind'): MockShop => mock.shop(`${name}.myshopify.com`);
  async function get<T = any>(s: MockShop, path: string): Promise<T> {
    const res = await fetch(`${mock.url}/${s.domain}${path}`, { headers: { 'x-shopify-access-token': s.accessToken } });
    expect(res.status, path).to.equal(200);
    return (await res.json()) as T;
  }
  const levelsOf = async (s: MockShop, itemIds: number[]) =>
    (await get<{ inventory_levels: { inventory_item_id: number; location_id: number }[] }>(s, `/admin/api/2026-10/inventory_levels.json?inventory_item_ids=${itemIds.join(',')}`)).inventory_levels;

  describe('versions', () => {
    it('when an order is created and paid in the same second, then both versions share updated_at and Triggered-At orders them', () => {
      mock.clock.set(Date.UTC(2025, 5, 1, 10, 0, 0, 100));
      const created = shop().createOrder();
      mock.clock.advance(300);
      const paid = shop().updateOrder(created.payload.id, { financial_status: 'paid' }, 'orders/paid');
      expect(paid.payload.updated_at).to.equal(created.payload.updated_at);
      expect(paid.topic).to.equal('orders/paid');
      expect(created.triggeredAt).to.equal('2025-06-01T10:00:00.100Z');
      expect(paid.triggeredAt).to.equal('2025-06-01T10:00:00.400Z');
    });

    it('when two stock changes happen in one millisecond, then they share updated_at and Triggered-At still strictly increases', () => {
      mock.clock.set(Date.UTC(2025, 5, 1, 11, 0, 0, 500));
      const s = shop();
      const item = s.catalog.product(s.catalog.products.entries[0]!.id)!.variants[0]!.inventory_item_id;
      const location = s.catalog.locations.entries[0]!.id;
      const first = s.setInventoryLevel(item, location, 5);
      const second = s.setInventoryLevel(item, location, 7);
      expect(second.payload.updated_at).to.equal(first.payload.updated_at);
      expect(Date.parse(second.triggeredAt)).to.be.greaterThan(Date.parse(first.triggeredAt));
    });

    it('when the clock is set back, then updated_at never goes backwards', () => {
      const s = shop();
      const id = s.catalog.customers.entries[0]!.id;
      mock.clock.set(Date.UTC(2025, 6, 1));
      const later = s.updateCustomer(id, { note: 'later' });
      mock.clock.set(Date.UTC(2025, 5, 1));
      const earlierClock = s.updateCustomer(id, { note: 'clock behind' });
      expect(earlierClock.payload.updated_at).to.equal(later.payload.updated_at);
    });
  });

  describe('deliveries', () => {
    it('when a chosen order repeats an event hours later, then the retry keeps event id, webhook id and Triggered-At', async () => {
      const s = shop();
      mock.clock.set(Date.UTC(2025, 8, 1, 8));
      const a = s.createCustomer({ first_name: 'A' });
      const b = s.updateCustomer(a.payload.id, { first_name: 'B' });
      mock.clock.advance(4 * 3_600_000);
      const c = s.updateCustomer(a.payload.id, { first_name: 'C' });
      const results = await s.deliver([b, c, a, b], { url: receiverUrl });
      expect(results.map((r) => r.duplicate)).to.deep.equal([false, false, false, true]);
      const retry = await s.deliver(b, { url: receiverUrl });

      const seen = received.map((r) => ({ event: r.headers['x-shopify-event-id'], webhook: r.headers['x-shopify-webhook-id'], at: r.headers['x-shopify-triggered-at'] }));
      expect(seen.map((x) => x.event)).to.deep.equal([b.eventId, c.eventId, a.eventId, b.eventId, b.eventId]);
      expect(seen[3]).to.deep.equal(seen[0]);
      expect(seen[4]).to.deep.equal(seen[0]);
      expect(retry[0]!.webhookId).to.equal(results[0]!.webhookId);
      expect(seen[0]!.at)
        .to.equal(b.triggeredAt)
        .and.to.match(/\.\d{3}Z$/);
      expect(c.triggeredAt).to.equal('2025-09-01T12:00:00.000Z');
    });
  });

  describe('inventory follows products and locations', () => {
    it('when a product is deleted, then its inventory items are deleted with events and their levels leave the listing', async () => {
      const s = shop();
      const product = s.createProduct({ title: 'Short-lived' }).payload;
      const items = product.variants.map((v) => v.inventory_item_id);
      expect(await levelsOf(s, items)).to.have.length(items.length * 2);
      s.takeEvents();
      s.deleteProduct(product.id);
      const events = s.takeEvents();
      expect(events.map((e) => e.topic)).to.deep.equal(['products/delete', ...items.map(() => 'inventory_items/delete')]);
      expect(events.slice(1).map((e) => e.payload)).to.deep.equal(items.map((id) => ({ id })));
      expect(await levelsOf(s, items)).to.deep.equal([]);
      expect(s.truth().deleted.inventory).to.include.members(items.flatMap((id) => s.catalog.locations.entries.map((l) => `${id}:${l.id}`)));
    });

    it("when a product update drops a variant, then that variant's item is deleted with an event", async () => {
      const s = shop();
      const product = s.catalog.products.entries.map((e) => s.catalog.product(e.id)).find((p) => p && p.variants.length > 1)!;
      const dropped = product.variants[product.variants.length - 1]!;
      s.takeEvents();
      const update = s.updateProduct(product.id, { variants: product.variants.slice(0, -1) });
      expect(update.payload.variants.map((v) => v.id)).to.not.include(dropped.id);
      expect(s.takeEvents().map((e) => [e.topic, e.payload === update.payload ? 'product' : e.payload])).to.deep.equal([
        ['products/update', 'product'],
        ['inventory_items/delete', { id: dropped.inventory_item_id }],
      ]);
      expect(await levelsOf(s, [dropped.inventory_item_id])).to.deep.equal([]);
    });

    it('when a location is deleted, then an event says so and its levels and the location leave the listings', async () => {
      const s = shop();
      const location = s.catalog.locations.entries[1]!.id;
      s.takeEvents();
      const event = s.deleteLocation(location);
      expect(event).to.include({ topic: 'locations/delete' });
      expect(event.payload).to.deep.equal({ id: location });
      expect(
        s
          .takeEvents()
          .slice(1)
          .every((e) => e.topic === 'products/update'),
      ).to.equal(true);
      const locations = await get<{ locations: { id: number }[] }>(s, '/admin/api/2026-10/locations.json');
      expect(locations.locations.map((l) => l.id)).to.not.include(location);
      const levels = await get<{ inventory_levels: unknown[] }>(s, `/admin/api/2026-10/inventory_levels.json?location_ids=${location}`);
      expect(levels.inventory_levels).to.deep.equal([]);
    });
  });

  describe('tokens, compliance, money and tags', () => {
    it("when a token asks for its access scopes, then the shop's scopes are listed (all read scopes by default)", async () => {
      const all = await get<{ access_scopes: { handle: string }[] }>(shop(), '/admin/oauth/access_scopes.json');
      expect(all.access_scopes.map((s) => s.handle)).to.include.members(['read_products', 'read_orders', 'read_all_orders', 'read_customers', 'read_inventory', 'read_locations']);
      const narrow = await get<{ access_scopes: { handle: string }[] }>(shop('narrow'), '/admin/oauth/access_scopes.json');
      expect(narrow.access_scopes).to.deep.equal([{ handle: 'read_products' }, { handle: 'read_orders' }]);
      const refused = await fetch(`${mock.url}/${shop().domain}/admin/oauth/access_scopes.json`, { headers: { 'x-shopify-access-token': 'shpat_wrong' } });
      expect(refused.status).to.equal(401);
    });

    it('when a customer with orders is redacted, then customers/redact lists the orders; shop/redact and app/uninstalled exist', () => {
      const s = shop();
      const customer = s.createCustomer({ email: 'gone@example.com' }).payload;
      const order = s.createOrder({ customer: { id: customer.id, email: customer.email } } as never).payload;
      const redact = s.complianceEvent('customers/redact', { customerId: customer.id });
      expect(redact.payload).to.deep.include({ shop_domain: s.domain, orders_to_redact: [order.id] });
      expect(s.complianceEvent('shop/redact').payload).to.deep.equal({ shop_id: s.id, shop_domain: s.domain });
      expect(s.catalog.customer(customer.id)!.orders_count).to.equal(1);
      const leaving = mock.addShop({ domain: 'leaving.myshopify.com', products: 1 });
      const uninstalled = leaving.uninstall();
      expect(uninstalled.topic).to.equal('app/uninstalled');
      expect(uninstalled.payload).to.include({ myshopify_domain: leaving.domain });
      expect(leaving.accessTokens.size).to.equal(0);
    });

    it('when a shop trades in KWD, then its amounts have three decimals', async () => {
      const s = shop('kuwait');
      const { products } = await get<{ products: { variants: { price: string }[] }[] }>(s, '/admin/api/2026-10/products.json');
      expect(products.flatMap((p) => p.variants.map((v) => v.price)).every((price) => /^\d+\.\d{3}$/.test(price))).to.equal(true);
      const { orders } = await get<{ orders: { total_price: string; currency: string }[] }>(s, '/admin/api/2026-10/orders.json?status=any');
      expect(orders[0]).to.include({ currency: 'KWD' });
      expect(orders[0]!.total_price).to.match(/^\d+\.\d{3}$/);
      expect(s.truth().products[0]!.variants[0]!.currency).to.equal('KWD');
    });

    it('when a product has a multibyte tag list over 65,535 bytes, then the mock keeps and serves it whole', async () => {
      const s = shop();
      const tags = Array.from({ length: 3000 }, (_, i) => `étiquette-été-${i}`).join(', ');
      expect(tags.length).to.be.below(65_535);
      expect(Buffer.byteLength(tags)).to.be.above(65_535);
      const id = s.createProduct({ tags }).payload.id;
      const { product } = await get<{ product: { tags: string } }>(s, `/admin/api/2026-10/products/${id}.json`);
      expect(product.tags).to.equal(tags);
    });
  });

  describe('truth', () => {
    it("when records change, then the truth serves them in the API's shape and lists the deleted ones", () => {
      const s = shop();
      mock.clock.set(Date.UTC(2025, 7, 1, 9, 30, 15, 250));
      const product = s.createProduct({ title: 'Truthful' }).payload;
      const customer = s.catalog.customers.entries.find((e) => !e.deleted)!.id;
      s.deleteCustomer(customer);
      const truth = s.truth();
      const served = truth.products.find((p) => p.id === product.id)!;
      expect(served).to.include({ title: 'Truthful', updated_at: '2025-08-01T09:30:15.000Z', deleted_at: null });
      expect(served.variants[0]).to.include({ product_id: product.id, currency: 'USD', price: product.variants[0]!.price });
      expect(truth.customers.map((c) => c.id)).to.not.include(customer);
      expect(truth.deleted.customers).to.include(customer);
      expect(truth.orders.every((o) => Array.isArray(o.line_items) && o.line_items.length > 0)).to.equal(true);
      expect(truth.inventory.length).to.be.greaterThan(0);
    });
  });
});
