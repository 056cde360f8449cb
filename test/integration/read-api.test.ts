import { expect } from 'chai';
import { ADMIN_KEY, startTestContext, type TestContext } from '../support/context.js';
import { call, expectProblem } from '../support/http.js';
import { customer, inventoryLevel, order, product, seedIntegration, seedRecords } from '../support/seed.js';

describe('read API', () => {
  let t: TestContext;
  let keyA: string;
  let keyB: string;

  before(async () => {
    t = await startTestContext();
    keyA = await t.keyFor('tenant-a');
    keyB = await t.keyFor('tenant-b');
  });
  after(async () => t?.close());

  describe('authentication', () => {
    it('when no key is sent, then 401 problem+json', async () => {
      expectProblem(await call(t.url, 'GET', '/api/shopify/products/'), 401);
    });
    it('when an unknown key is sent, then 401', async () => {
      expectProblem(await call(t.url, 'GET', '/api/shopify/products/', { key: 'sk_not-a-real-key' }), 401);
    });
    it('when a malformed authorization header is sent, then 401', async () => {
      expectProblem(await call(t.url, 'GET', '/api/shopify/products/', { headers: { authorization: `Basic ${keyA}` } }), 401);
    });
    it('when a good key is sent, then 200', async () => {
      const res = await call(t.url, 'GET', '/api/shopify/products/', { key: keyA });
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.deep.equal({ data: [], next_cursor: null });
    });
    it('when the operator key is used on a tenant route, then 403', async () => {
      expectProblem(await call(t.url, 'GET', '/api/shopify/products/', { key: ADMIN_KEY }), 403);
    });
  });

  describe('records', () => {
    let a: Awaited<ReturnType<typeof seedIntegration>>;
    let b: Awaited<ReturnType<typeof seedIntegration>>;
    before(async () => {
      a = await seedIntegration(t.ctx, 'tenant-a');
      b = await seedIntegration(t.ctx, 'tenant-b');
    });

    it('when a product is stored, then it is served with variants, UTC times and decimal money', async () => {
      const p = product({ updated_at: '2024-03-01T07:00:00-05:00' });
      await seedRecords(t.ctx, a, 'products', [p]);
      const res = await call(t.url, 'GET', `/api/shopify/products/${p.id}/`, { key: keyA });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.id).to.equal(p.id);
      expect(res.body.updated_at).to.equal('2024-03-01T12:00:00.000Z');
      expect(res.body.variants).to.have.length(1);
      expect(res.body.variants[0]).to.include({ price: '19.99', currency: 'USD', sku: p.variants[0]?.sku });
    });

    it('when tenant B asks for tenant A records, then it sees none and gets 404 by id', async () => {
      const p = product();
      const o = order();
      await seedRecords(t.ctx, a, 'products', [p]);
      await seedRecords(t.ctx, a, 'orders', [o]);
      expectProblem(await call(t.url, 'GET', `/api/shopify/products/${p.id}/`, { key: keyB }), 404);
      expectProblem(await call(t.url, 'GET', `/api/shopify/orders/${o.id}`, { key: keyB }), 404);
      const list = await call(t.url, 'GET', '/api/shopify/products/?limit=250', { key: keyB });
      expect(list.body.data.map((r: { id: number }) => r.id)).not.to.include(p.id);
      const own = await call(t.url, 'GET', `/api/shopify/orders/${o.id}`, { key: keyA });
      expect(own.status).to.equal(200);
      expect(own.body).to.include({ total_price: '42.50', currency: 'EUR', updated_at: '2024-03-02T09:00:00.000Z' });
      expect(own.body.line_items[0]).to.include({ quantity: 2, price: '20.00' });
    });

    it('when paths lack the trailing slash, then they answer the same', async () => {
      const res = await call(t.url, 'GET', '/api/shopify/customers?limit=1', { key: keyA });
      expect(res.status, res.text).to.equal(200);
    });

    it('when filters are given, then only matching records come back', async () => {
      const owner = await seedIntegration(t.ctx, 'tenant-filters');
      const key = await t.keyFor('tenant-filters');
      await seedRecords(t.ctx, owner, 'products', [
        product({ vendor: 'Zeta', status: 'draft', updated_at: '2024-01-01T00:00:00Z' }),
        product({ vendor: 'Zeta', status: 'active', updated_at: '2024-06-01T00:00:00Z' }),
        product({ vendor: 'Other', status: 'active', updated_at: '2024-06-02T00:00:00Z' }),
      ]);
      const byVendor = await call(t.url, 'GET', '/api/shopify/products/?vendor=Zeta', { key });
      expect(byVendor.body.data).to.have.length(2);
      const byStatus = await call(t.url, 'GET', '/api/shopify/products/?vendor=Zeta&status=active', { key });
      expect(byStatus.body.data).to.have.length(1);
      const byTime = await call(t.url, 'GET', '/api/shopify/products/?updated_at_min=2024-05-01T00:00:00Z&updated_at_max=2024-06-01T23:00:00Z', { key });
      expect(byTime.status, byTime.text).to.equal(200);
      expect(byTime.body.data.map((p: { vendor: string }) => p.vendor)).to.deep.equal(['Zeta']);

      const c = customer({ email: 'filter-me@example.com' });
      await seedRecords(t.ctx, owner, 'customers', [c, customer()]);
      const byEmail = await call(t.url, 'GET', '/api/shopify/customers/?email=filter-me@example.com', { key });
      expect(byEmail.status, byEmail.text).to.equal(200);
      expect(byEmail.body.data.map((x: { id: number }) => x.id)).to.deep.equal([c.id]);

      const o1 = order({ financial_status: 'refunded', customer: { id: 6_100_000_000_001 } });
      await seedRecords(t.ctx, owner, 'orders', [o1, order()]);
      const byFinancial = await call(t.url, 'GET', '/api/shopify/orders/?financial_status=refunded', { key });
      expect(byFinancial.body.data.map((x: { id: number }) => x.id)).to.deep.equal([o1.id]);
      const byCustomer = await call(t.url, 'GET', '/api/shopify/orders/?customer_id=6100000000001', { key });
      expect(byCustomer.body.data.map((x: { id: number }) => x.id)).to.deep.equal([o1.id]);

      const level = inventoryLevel({ location_id: 5_000_000_000_777 });
      await seedRecords(t.ctx, owner, 'inventory', [level, inventoryLevel({ inventory_item_id: level.inventory_item_id }), inventoryLevel()]);
      const byLocation = await call(t.url, 'GET', '/api/shopify/inventory/?location_id=5000000000777', { key });
      expect(byLocation.body.data).to.have.length(1);
      const item = await call(t.url, 'GET', `/api/shopify/inventory/${level.inventory_item_id}/`, { key });
      expect(item.status, item.text).to.equal(200);
      expect(item.body.levels.map((l: { location_id: number }) => l.location_id)).to.have.members([5_000_000_000_777, 5_000_000_000_001]);
    });

    it('when a record is deleted, then it is hidden unless include_deleted=true', async () => {
      const { markRecordsDeleted } = await import('../../src/store/records.js');
      const { RESOURCES } = await import('../../src/resources/index.js');
      const c = customer();
      await seedRecords(t.ctx, b, 'customers', [c]);
      await markRecordsDeleted(t.ctx.db, RESOURCES.customers, b, [[c.id]], new Date());
      expectProblem(await call(t.url, 'GET', `/api/shopify/customers/${c.id}/`, { key: keyB }), 404);
      const shown = await call(t.url, 'GET', `/api/shopify/customers/${c.id}/?include_deleted=true`, { key: keyB });
      expect(shown.status).to.equal(200);
      expect(shown.body.deleted_at).to.be.a('string');
      const list = await call(t.url, 'GET', '/api/shopify/customers/', { key: keyB });
      expect(list.body.data.map((x: { id: number }) => x.id)).not.to.include(c.id);
    });
  });

  describe('invalid input', () => {
    for (const [query, name] of [
      ['limit=0', 'limit'],
      ['limit=251', 'limit'],
      ['limit=abc', 'limit'],
      ['cursor=!!!', 'cursor'],
      ['cursor=bm90LWEtY3Vyc29y', 'cursor'],
      ['status=bogus', 'status'],
      ['updated_at_min=yesterday', 'updated_at_min'],
      ['unknown=1', 'unknown'],
    ]) {
      it(`when ${query}, then 400 naming ${name}`, async () => {
        const res = await call(t.url, 'GET', `/api/shopify/products/?${query}`, { key: keyA });
        expectProblem(res, 400);
        expect(res.body.errors.map((e: { name: string }) => e.name)).to.include(name);
      });
    }
    it('when the id is not a number, then 400 naming id', async () => {
      const res = await call(t.url, 'GET', '/api/shopify/orders/abc/', { key: keyA });
      expectProblem(res, 400);
      expect(res.body.errors[0]).to.include({ location: 'path', name: 'id' });
    });
    it('when the id exceeds 2^53, then 400', async () => {
      expectProblem(await call(t.url, 'GET', '/api/shopify/orders/9007199254740993/', { key: keyA }), 400);
    });
    it('when the route is unknown, then 404 problem+json', async () => {
      expectProblem(await call(t.url, 'GET', '/api/shopify/nothing-here/', { key: keyA }), 404);
      expectProblem(await call(t.url, 'GET', '/nope'), 404);
    });
  });

  describe('docs and probes', () => {
    it('serves the contract and Swagger UI', async () => {
      const spec = await call(t.url, 'GET', '/openapi.json');
      expect(spec.body.paths).to.include.keys('/api/shopify/products/', '/api/shopify/webhook/', '/readyz');
      const docs = await call(t.url, 'GET', '/docs/');
      expect(docs.status).to.equal(200);
      expect(docs.text).to.include('swagger-ui');
    });
    it('when MySQL and Redis answer, then /readyz is 200 and /healthz ok', async () => {
      const ready = await call(t.url, 'GET', '/readyz');
      expect(ready.status, ready.text).to.equal(200);
      expect(ready.body.checks.mysql.status).to.equal('up');
      expect((await call(t.url, 'GET', '/healthz')).body).to.deep.equal({ status: 'ok' });
    });
  });
});
