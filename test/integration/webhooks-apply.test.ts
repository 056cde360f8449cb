import { expect } from 'chai';
import { sql } from 'kysely';
import { startMockShopify, type DeliverOptions, type MockShopify, type MockWebhookEvent } from '../../scripts/mock-shopify/index.js';
import { newEvent } from '../../scripts/mock-shopify/webhooks.js';
import { listDataRequests } from '../../src/store/data-requests.js';
import { findIntegrationByShop } from '../../src/store/integrations.js';
import { ADMIN_KEY, startTestContext, type TestContext } from '../support/context.js';
import { call, type ApiResponse } from '../support/http.js';
import { buildScenario, deletedAtMatches, expectedFinalState } from '../support/webhook-scenario.js';
import { connectShop, drained, runConsumers, tenantRows, WEBHOOK_PATH } from '../support/webhooks.js';

const APP_SECRET = 'test-app-secret';

describe('webhook apply (consumers)', () => {
  let t: TestContext;
  let mock: MockShopify;
  let stops: (() => Promise<void>)[] = [];
  const url = () => `${t.url}${WEBHOOK_PATH}`;

  before(async () => {
    t = await startTestContext({ SHOPIFY_API_SECRET: APP_SECRET, WEBHOOK_CLAIM_IDLE_MS: '300', WEBHOOK_MAX_DELIVERIES: '3', WEBHOOK_BATCH_SIZE: '50' });
    mock = await startMockShopify({
      apiSecret: APP_SECRET,
      shops: ['topics', 'bulk', 'redact', 'shopredact', 'uninstall', 'poison'].map((name) => ({ domain: `${name}.myshopify.com` })),
    });
    for (const name of ['topics', 'bulk', 'redact', 'shopredact', 'uninstall', 'poison']) await connectShop(t.ctx, `t-${name}`, `${name}.myshopify.com`);
    // Two consumer sets in one process: four consumers racing on the same group.
    stops = [await runConsumers(t), await runConsumers(t)];
  });
  after(async () => {
    await Promise.all(stops.map((stop) => stop()));
    await mock?.close();
    await t?.close();
  });

  async function deliver(shopName: string, events: MockWebhookEvent | MockWebhookEvent[], opts: DeliverOptions = {}) {
    const results = await mock.shop(`${shopName}.myshopify.com`).deliver(events, { url: url(), ...opts });
    for (const r of results) expect(r.status, `${r.topic}: ${r.error ?? ''}`).to.equal(200);
    await drained(t.ctx);
  }

  async function readApi(tenant: string, path: string) {
    return call(t.url, 'GET', path, { key: await t.keyFor(tenant) });
  }

  describe('each topic', () => {
    const shop = () => mock.shop('topics.myshopify.com');

    it('when products are created, updated and deleted, then the API shows each state', async () => {
      const created = shop().createProduct({ title: 'Webhook tee' });
      const id = (created.payload as { id: number }).id;
      await deliver('topics', created);
      let res = await readApi('t-topics', `/api/shopify/products/${id}/`);
      expect(res.status, res.text).to.equal(200);
      expect(res.body.title).to.equal('Webhook tee');
      expect(res.body.variants.length).to.equal((created.payload as { variants: unknown[] }).variants.length);

      await deliver('topics', shop().updateProduct(id, { title: 'Renamed tee' }));
      res = await readApi('t-topics', `/api/shopify/products/${id}/`);
      expect(res.body.title).to.equal('Renamed tee');

      const deletion = shop().deleteProduct(id);
      await deliver('topics', deletion);
      expect((await readApi('t-topics', `/api/shopify/products/${id}/`)).status).to.equal(404);
      res = await readApi('t-topics', `/api/shopify/products/${id}/?include_deleted=true`);
      expect(res.body.deleted_at).to.equal(new Date(deletion.triggeredAt).toISOString());
    });

    it('when orders go through create, paid, fulfilled, updated, cancelled and delete, then each lands', async () => {
      const created = shop().createOrder();
      const id = (created.payload as { id: number }).id;
      await deliver('topics', created);
      expect((await readApi('t-topics', `/api/shopify/orders/${id}/`)).status).to.equal(200);

      await deliver('topics', { ...shop().updateOrder(id, { financial_status: 'paid' }), topic: 'orders/paid' });
      expect((await readApi('t-topics', `/api/shopify/orders/${id}/`)).body.financial_status).to.equal('paid');
      await deliver('topics', { ...shop().updateOrder(id, { fulfillment_status: 'fulfilled' }), topic: 'orders/fulfilled' });
      expect((await readApi('t-topics', `/api/shopify/orders/${id}/`)).body.fulfillment_status).to.equal('fulfilled');
      await deliver('topics', shop().updateOrder(id, { tags: 'vip' }));
      await deliver('topics', shop().cancelOrder(id));
      const cancelled = await readApi('t-topics', `/api/shopify/orders/${id}/`);
      expect(cancelled.body.cancelled_at).to.be.a('string');
      expect(cancelled.body.financial_status).to.equal('voided');

      await deliver('topics', shop().deleteOrder(id));
      expect((await readApi('t-topics', `/api/shopify/orders/${id}/`)).status).to.equal(404);
    });

    it('when customers are created, updated and deleted, then each lands', async () => {
      const created = shop().createCustomer({ first_name: 'Ada' });
      const id = (created.payload as { id: number }).id;
      await deliver('topics', created);
      expect((await readApi('t-topics', `/api/shopify/customers/${id}/`)).body.first_name).to.equal('Ada');
      await deliver('topics', shop().updateCustomer(id, { first_name: 'Grace' }));
      expect((await readApi('t-topics', `/api/shopify/customers/${id}/`)).body.first_name).to.equal('Grace');
      await deliver('topics', shop().deleteCustomer(id));
      expect((await readApi('t-topics', `/api/shopify/customers/${id}/`)).status).to.equal(404);
    });

    it('when inventory levels are connected, updated and disconnected, then each lands', async () => {
      const level = { inventory_item_id: 81_000_000_001, location_id: 91_000_001 };
      await deliver('topics', newEvent('inventory_levels/connect', { ...level, available: 0, updated_at: '2025-02-01T10:00:00-05:00' }));
      await deliver('topics', newEvent('inventory_levels/update', { ...level, available: 12, updated_at: '2025-02-01T11:00:00-05:00' }));
      let res = await readApi('t-topics', `/api/shopify/inventory/${level.inventory_item_id}/`);
      expect(res.status, res.text).to.equal(200);
      expect(res.body.levels[0]).to.include({ location_id: level.location_id, available: 12, updated_at: '2025-02-01T16:00:00.000Z' });
      await deliver('topics', newEvent('inventory_levels/disconnect', level));
      res = await readApi('t-topics', `/api/shopify/inventory/${level.inventory_item_id}/`);
      expect(res.status).to.equal(404);
    });

    it('when the same event is delivered three times, then it is applied once', async () => {
      const event = shop().createCustomer();
      await deliver('topics', [event, event, event]);
      const integration = await findIntegrationByShop(t.ctx.db, 'topics.myshopify.com');
      const rows = await t.ctx.db.selectFrom('shopify_webhook_events').selectAll().where('integration_id', '=', integration!.id).where('event_id', '=', event.eventId).execute();
      expect(rows).to.have.length(1);
    });
  });

  it('when 500 events arrive with 20 % duplicates in shuffled order, then the tables equal applying them once in order', async function () {
    this.timeout(60_000);
    const shop = mock.shop('bulk.myshopify.com');
    const events = buildScenario(shop, 500, 11);
    const results = await shop.deliver(events, { url: url(), duplicates: 0.2, shuffle: 5, concurrency: 16 });
    expect(results.length).to.be.greaterThan(560);
    expect(
      results.filter((r) => r.status !== 200),
      'failed deliveries',
    ).to.deep.equal([]);
    await drained(t.ctx, 30_000);

    const expected = expectedFinalState(events);
    for (const [table, records] of expected) {
      const rows = await tenantRows(t.ctx, table, 't-bulk');
      const keyOf = (r: Record<string, any>) => (table === 'shopify_inventory_levels' ? `${r.inventory_item_id}:${r.location_id}` : String(r.id));
      const actual = new Map(rows.map((r) => [keyOf(r), r]));
      expect([...actual.keys()].sort(), `${table} keys`).to.deep.equal([...records.keys()].sort());
      for (const [key, want] of records) {
        const row = actual.get(key)!;
        if (want.deletedAt) {
          expect(deletedAtMatches(row.deleted_at, want), `${table} ${key} deleted_at ${row.deleted_at?.toISOString()}: ${JSON.stringify(want)}`).to.equal(true);
        } else {
          expect(row.deleted_at, `${table} ${key} deleted_at`).to.equal(null);
          expect(row.raw, `${table} ${key} raw`).to.deep.equal(want.payload);
        }
      }
    }
    // Children follow their parent's last version.
    const variants = await tenantRows(t.ctx, 'shopify_product_variants', 't-bulk');
    for (const [id, want] of expected.get('shopify_products')!) {
      if (!want.payload) continue;
      const expectedIds = (want.payload.variants as { id: number }[]).map((v) => v.id).sort();
      expect(
        variants
          .filter((v) => String(v.product_id) === id)
          .map((v) => v.id)
          .sort(),
        `variants of ${id}`,
      ).to.deep.equal(expectedIds);
    }
    const lineItems = await tenantRows(t.ctx, 'shopify_order_line_items', 't-bulk');
    for (const [id, want] of expected.get('shopify_orders')!) {
      if (!want.payload) continue;
      const expectedIds = (want.payload.line_items as { id: number }[]).map((li) => li.id).sort();
      expect(
        lineItems
          .filter((li) => String(li.order_id) === id)
          .map((li) => li.id)
          .sort(),
        `line items of ${id}`,
      ).to.deep.equal(expectedIds);
    }
    const integration = await findIntegrationByShop(t.ctx.db, 'bulk.myshopify.com');
    const recorded = await t.ctx.db
      .selectFrom('shopify_webhook_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('integration_id', '=', integration!.id)
      .executeTakeFirstOrThrow();
    expect(Number(recorded.n)).to.equal(500);
  });

  describe('compliance', () => {
    it('when customers/redact arrives, then no row of the customer or their orders holds their email, name or phone', async () => {
      const shop = mock.shop('redact.myshopify.com');
      const person = { first_name: 'Redacta', last_name: 'Privatova', email: 'redacta.privatova@example.com', phone: '+15550009876' };
      const customer = shop.createCustomer(person);
      const customerId = (customer.payload as { id: number }).id;
      const address = {
        first_name: person.first_name,
        last_name: person.last_name,
        name: `${person.first_name} ${person.last_name}`,
        address1: '1 Secret Lane',
        phone: person.phone,
        city: 'Paris',
        zip: '75001',
        country: 'FR',
      };
      const orderInput = { email: person.email, contact_email: person.email, customer: { id: customerId, ...person }, billing_address: address, shipping_address: address } as never;
      const orders = [shop.createOrder(orderInput), shop.createOrder(orderInput)];
      const bystander = shop.createCustomer({ email: 'bystander@example.com' });
      await deliver('redact', [customer, ...orders, bystander]);
      const search = async () => {
        const rows = [
          ...(await tenantRows(t.ctx, 'shopify_customers', 't-redact')),
          ...(await tenantRows(t.ctx, 'shopify_orders', 't-redact')),
          ...(await tenantRows(t.ctx, 'shopify_order_line_items', 't-redact')),
        ];
        const text = JSON.stringify(rows).toLowerCase();
        return [person.email, person.first_name, person.last_name, person.phone].filter((needle) => text.includes(needle.toLowerCase()));
      };
      expect(await search(), 'before the redaction').to.have.length(4);

      const redact = shop.complianceEvent('customers/redact', { customerId });
      expect((redact.payload as { orders_to_redact: number[] }).orders_to_redact).to.have.length(2);
      await deliver('redact', redact);
      expect(await search(), 'personal data left').to.deep.equal([]);
      const customers = await tenantRows(t.ctx, 'shopify_customers', 't-redact');
      expect(customers.find((c) => c.id === customerId)?.raw.id).to.equal(customerId);
      expect(
        customers.find((c) => c.email === 'bystander@example.com'),
        'other customers are untouched',
      ).to.exist;
      const orderRows = await tenantRows(t.ctx, 'shopify_orders', 't-redact');
      expect(
        orderRows.map((o) => o.total_price),
        'orders keep their business data',
      )
        .to.have.length(2)
        .and.not.include(null);
    });

    it('when customers/data_request arrives, then the request is recorded for the operator', async () => {
      const shop = mock.shop('redact.myshopify.com');
      const customer = shop.createCustomer({ email: 'asker@example.com' });
      await deliver('redact', customer);
      const request = shop.complianceEvent('customers/data_request', { customerId: (customer.payload as { id: number }).id });
      await deliver('redact', [request, request]);
      const rows = (await listDataRequests(t.ctx.db, 't-redact')).filter((r) => r.event_id === request.eventId);
      expect(rows).to.have.length(1);
      expect(rows[0]).to.include({ customer_id: (customer.payload as { id: number }).id, customer_email: 'asker@example.com', status: 'pending', shop_domain: 'redact.myshopify.com' });
    });

    it('when shop/redact arrives, then every record of the shop is erased', async () => {
      const shop = mock.shop('shopredact.myshopify.com');
      await deliver('shopredact', [shop.createProduct(), shop.createCustomer(), shop.createOrder()]);
      expect(await tenantRows(t.ctx, 'shopify_products', 't-shopredact')).to.have.length(1);
      await deliver('shopredact', shop.complianceEvent('shop/redact'));
      for (const table of ['shopify_products', 'shopify_product_variants', 'shopify_customers', 'shopify_orders', 'shopify_order_line_items', 'shopify_inventory_levels']) {
        expect(await tenantRows(t.ctx, table, 't-shopredact'), table).to.deep.equal([]);
      }
    });

    it('when app/uninstalled arrives, then the integration is marked revoked (not connected) and stays active', async () => {
      const shop = mock.shop('uninstall.myshopify.com');
      const event = shop.uninstall();
      await deliver('uninstall', event);
      const integration = await findIntegrationByShop(t.ctx.db, 'uninstall.myshopify.com');
      expect(integration!.token_revoked_at?.toISOString()).to.equal(new Date(event.triggeredAt).toISOString());
      expect(integration!.is_active).to.equal(1);
    });
  });

  describe('poison events and dead letters', () => {
    const shop = () => mock.shop('poison.myshopify.com');

    it('when an event cannot be mapped, then it is dead-lettered at once and the rest of its batch is applied', async () => {
      const good = [shop().createCustomer(), shop().createCustomer()];
      const bad = newEvent('customers/update', { id: 123, updated_at: 'not a date' });
      await deliver('poison', [good[0]!, bad, good[1]!], { concurrency: 3 });
      const list = await call(t.url, 'GET', '/api/admin/webhooks/dead-letters/?limit=250', { key: ADMIN_KEY });
      expect(list.status, list.text).to.equal(200);
      const letter = list.body.data.find((d: { event_id: string }) => d.event_id === bad.eventId);
      expect(letter).to.include({ topic: 'customers/update', shop_domain: 'poison.myshopify.com', deliveries: 1 });
      expect(letter.error).to.match(/updated_at/);
      const customers = await tenantRows(t.ctx, 'shopify_customers', 't-poison');
      expect(customers.map((c) => c.id)).to.include.members(good.map((g) => (g.payload as { id: number }).id));
    });

    it('when MySQL rejects one event every time, then it is dead-lettered after WEBHOOK_MAX_DELIVERIES tries, and replays once fixed', async () => {
      await sql`CREATE TRIGGER poison_guard BEFORE INSERT ON shopify_products FOR EACH ROW
        BEGIN IF NEW.title = 'Poisoned product' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'poisoned product refused'; END IF; END`.execute(t.ctx.db);
      try {
        const bad = shop().createProduct({ title: 'Poisoned product' });
        const good = [shop().createProduct(), shop().createProduct(), shop().createProduct()];
        await deliver('poison', [good[0]!, bad, good[1]!, good[2]!], { concurrency: 4 });
        const products = await tenantRows(t.ctx, 'shopify_products', 't-poison');
        expect(
          products.map((p) => p.id),
          'the good events of the batch',
        ).to.include.members(good.map((g) => (g.payload as { id: number }).id));
        const list = await call(t.url, 'GET', '/api/admin/webhooks/dead-letters/?limit=250', { key: ADMIN_KEY });
        const letter = list.body.data.find((d: { event_id: string }) => d.event_id === bad.eventId);
        expect(letter, 'dead letter').to.exist;
        expect(letter.deliveries).to.equal(3);
        expect(letter.error).to.match(/poisoned product refused/);

        await sql`DROP TRIGGER poison_guard`.execute(t.ctx.db);
        const replay = await call(t.url, 'POST', '/api/admin/webhooks/dead-letters/replay/', { key: ADMIN_KEY, body: { ids: [letter.id] } });
        expect(replay.status, replay.text).to.equal(200);
        expect(replay.body).to.deep.equal({ replayed: 1 });
        await drained(t.ctx);
        const after = await tenantRows(t.ctx, 'shopify_products', 't-poison');
        expect(after.find((p) => p.id === (bad.payload as { id: number }).id)?.title).to.equal('Poisoned product');
        const remaining = await call(t.url, 'GET', '/api/admin/webhooks/dead-letters/?limit=250', { key: ADMIN_KEY });
        expect(remaining.body.data.map((d: { event_id: string }) => d.event_id)).not.to.include(bad.eventId);
      } finally {
        await sql`DROP TRIGGER IF EXISTS poison_guard`.execute(t.ctx.db);
      }
    });

    it('when dead letters are listed page by page and all are replayed, then every one comes back (and, still poison, returns)', async () => {
      const bad = [1, 2, 3].map((i) => newEvent('products/update', { id: 500 + i, updated_at: '2025-01-01T00:00:00Z', variants: [{ id: 900 + i, price: `${i} EUR` }] }));
      await deliver('poison', bad);
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: ApiResponse = await call(t.url, 'GET', `/api/admin/webhooks/dead-letters/?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: ADMIN_KEY });
        expect(page.status, page.text).to.equal(200);
        expect(page.body.data.length).to.be.at.most(2);
        seen.push(...page.body.data.map((d: { event_id: string }) => d.event_id));
        cursor = page.body.next_cursor;
      } while (cursor);
      expect(seen).to.include.members(bad.map((b) => b.eventId));
      const total = seen.length;

      const replay = await call(t.url, 'POST', '/api/admin/webhooks/dead-letters/replay/', { key: ADMIN_KEY, body: { all: true } });
      expect(replay.body).to.deep.equal({ replayed: total });
      await drained(t.ctx);
      const stats = await call(t.url, 'GET', '/api/admin/webhooks/stats/', { key: ADMIN_KEY });
      expect(stats.status, stats.text).to.equal(200);
      expect(stats.body).to.include({ dead_letters: total, stream_length: 0, pending: 0 });
      expect(stats.body.consumers.length).to.be.at.least(4);
    });

    it('when the replay request names nothing, then 400', async () => {
      const res = await call(t.url, 'POST', '/api/admin/webhooks/dead-letters/replay/', { key: ADMIN_KEY, body: {} });
      expect(res.status, res.text).to.equal(400);
    });
  });
});
