import { expect } from 'chai';
import { mapRecordsForTenant } from '../../src/mappings/apply.js';
import { startTestContext, type TestContext } from '../support/context.js';
import { call, expectProblem } from '../support/http.js';
import { inventoryLevel, order, product, seedIntegration, seedRecords } from '../support/seed.js';

const PRODUCT_MODEL = '{ "sku": variants[0].sku, "name": title, "price_cents": $round($number(variants[0].price) * 100) }';
const CATASTROPHIC_REGEX = `$match("${'a'.repeat(40)}!", /^(a+)+$/)`;

describe('mappings: JSONata models of the records, per tenant and resource', function () {
  this.timeout(60_000);
  let t: TestContext;
  let keyA: string;
  let keyB: string;
  const products = [product({ title: 'Alpha' }), product({ title: 'Beta' }), product({ title: 'Gamma' })];
  const itemId = 7_900_000_000_001;
  const levels = [
    inventoryLevel({ inventory_item_id: itemId, location_id: 5_000_000_000_001, available: 3 }),
    inventoryLevel({ inventory_item_id: itemId, location_id: 5_000_000_000_002, available: 9 }),
  ];
  const productB = product({ title: 'Only B' });
  const orderA = order();

  const put = (key: string, resource: string, expression: unknown) => call(t.url, 'PUT', `/api/mappings/${resource}/`, { key, body: { expression } });
  const get = (key: string, path: string) => call(t.url, 'GET', path, { key });

  before(async () => {
    t = await startTestContext();
    keyA = await t.keyFor('map-tenant-a');
    keyB = await t.keyFor('map-tenant-b');
    const a = await seedIntegration(t.ctx, 'map-tenant-a');
    const b = await seedIntegration(t.ctx, 'map-tenant-b');
    await seedRecords(t.ctx, a, 'products', products);
    await seedRecords(t.ctx, a, 'inventory', levels);
    await seedRecords(t.ctx, a, 'orders', [orderA]);
    await seedRecords(t.ctx, b, 'products', [productB]);
  });
  after(async () => t?.close());

  describe('saving', () => {
    it('when a valid expression is saved, then it is created (201), listed, read back, and replaced (200)', async () => {
      const created = await put(keyA, 'products', PRODUCT_MODEL);
      expect(created.status, created.text).to.equal(201);
      expect(created.body).to.include({ resource: 'products', expression: PRODUCT_MODEL });
      expect(created.body.created_at).to.be.a('string');
      const read = await get(keyA, '/api/mappings/products/');
      expect(read.status, read.text).to.equal(200);
      expect(read.body.expression).to.equal(PRODUCT_MODEL);
      const replaced = await put(keyA, 'products', `${PRODUCT_MODEL}`);
      expect(replaced.status, replaced.text).to.equal(200);
      const list = await get(keyA, '/api/mappings/');
      expect(list.status, list.text).to.equal(200);
      expect(list.body.data.map((m: { resource: string }) => m.resource)).to.deep.equal(['products']);
      expect(list.body.next_cursor).to.equal(null);
    });

    it('when the expression does not compile, then 422 names the JSONata error and its position, and nothing is saved', async () => {
      const res = await put(keyA, 'orders', '{ "total": total_price, "n": name ');
      expectProblem(res, 422);
      expect(res.body.type).to.match(/mapping-syntax$/);
      expect(res.body.detail).to.match(/^S0\d{3} at position \d+: /);
      expect(res.body.errors).to.deep.equal([{ location: 'body', name: 'expression', message: res.body.detail }]);
      expectProblem(await get(keyA, '/api/mappings/orders/'), 404);
    });

    it("when the expression fails on the tenant's latest record, then 422 names the evaluation error", async () => {
      const res = await put(keyA, 'products', 'title + 1');
      expectProblem(res, 422);
      expect(res.body.detail).to.match(/^T2001 at position 7: /);
      expect((await get(keyA, '/api/mappings/products/')).body.expression, 'the saved mapping is unchanged').to.equal(PRODUCT_MODEL);
    });

    it("when the tenant has no record of the resource, then the expression is tried on the contract's example", async () => {
      // Tenant A has no customers: the example customer has a string email, so arithmetic on it fails.
      const refused = await put(keyA, 'customers', 'email * 2');
      expectProblem(refused, 422);
      expect(refused.body.detail).to.match(/T2001/);
      const saved = await put(keyA, 'customers', '{ "contact": email, "full_name": first_name & " " & last_name }');
      expect(saved.status, saved.text).to.equal(201);
    });

    it('when an expression runs away (recursion, a catastrophic regex, a huge output), then it is refused with 422 within the limits', async () => {
      const started = Date.now();
      const recursion = await put(keyA, 'locations', '($f := function($n) { $n + $f($n + 1) }; $f(0))');
      expectProblem(recursion, 422);
      expect(recursion.body.type).to.match(/mapping-depth$/);
      const regex = await put(keyA, 'locations', CATASTROPHIC_REGEX);
      expectProblem(regex, 422);
      expect(regex.body.type).to.match(/mapping-timeout$/);
      const huge = await put(keyA, 'locations', '$pad("", 100000, "x")');
      expectProblem(huge, 422);
      expect(huge.body.type).to.match(/mapping-output-too-large$/);
      expect(Date.now() - started).to.be.lessThan(5000);
      // The API still maps afterwards (the stuck thread was replaced).
      expect((await put(keyA, 'locations', '{ "where": city }')).status).to.equal(201);
    });

    it('when the body or the resource is not what the contract says, then 400', async () => {
      expectProblem(await put(keyA, 'products', ''), 400);
      expectProblem(await put(keyA, 'products', 42), 400);
      expectProblem(await put(keyA, 'widgets', 'title'), 400);
      expectProblem(await call(t.url, 'PUT', '/api/mappings/products/', { key: keyA, body: { expression: 'title', extra: 1 } }), 400);
      expectProblem(await put(keyA, 'products', 'x'.repeat(16_385)), 400);
    });
  });

  describe('preview', () => {
    it('when an expression is previewed, then the first records come mapped and nothing is saved', async () => {
      const res = await call(t.url, 'POST', '/api/mappings/orders/preview/', { key: keyA, body: { expression: 'total_price & " " & currency' } });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.data).to.deep.equal([{ id: String(orderA.id), mapped: '42.50 EUR' }]);
      const products2 = await call(t.url, 'POST', '/api/mappings/products/preview/', { key: keyA, body: { expression: '$uppercase(title)', limit: 2 } });
      expect(products2.status, products2.text).to.equal(200);
      const sorted = [...products].sort((x, y) => x.id - y.id);
      expect(products2.body.data).to.deep.equal(sorted.slice(0, 2).map((p) => ({ id: String(p.id), mapped: p.title.toUpperCase() })));
      expect((await get(keyA, '/api/mappings/products/')).body.expression).to.equal(PRODUCT_MODEL);
    });

    it('when ids are given, then exactly those records are previewed; an inventory item id previews its levels', async () => {
      const res = await call(t.url, 'POST', '/api/mappings/products/preview/', { key: keyA, body: { ids: [products[1]!.id], expression: 'title' } });
      expect(res.body.data).to.deep.equal([{ id: String(products[1]!.id), mapped: 'Beta' }]);
      const inv = await call(t.url, 'POST', '/api/mappings/inventory/preview/', { key: keyA, body: { ids: [itemId], expression: 'available * 10' } });
      expect(inv.status, inv.text).to.equal(200);
      expect(inv.body.data).to.deep.equal([
        { id: `${itemId}:5000000000001`, mapped: 30 },
        { id: `${itemId}:5000000000002`, mapped: 90 },
      ]);
    });

    it('when no expression is given, then the saved mapping is previewed; a failing record carries its error', async () => {
      const saved = await call(t.url, 'POST', '/api/mappings/products/preview/', { key: keyA, body: { ids: [products[0]!.id] } });
      expect(saved.body.data).to.deep.equal([{ id: String(products[0]!.id), mapped: { sku: products[0]!.variants[0]!.sku, name: 'Alpha', price_cents: 1999 } }]);
      const failing = await call(t.url, 'POST', '/api/mappings/products/preview/', { key: keyA, body: { expression: 'title = "Beta" ? $number(title) : title', limit: 3 } });
      expect(failing.status, failing.text).to.equal(200);
      const beta = failing.body.data.find((r: { id: string }) => r.id === String(products[1]!.id));
      expect(beta.error.title).to.equal('Mapping evaluation error');
      expect(beta.error.detail).to.match(/D3030/);
      expect(beta).not.to.have.property('mapped');
      expect(failing.body.data.filter((r: { mapped?: string }) => r.mapped !== undefined).map((r: { mapped: string }) => r.mapped)).to.have.members(['Alpha', 'Gamma']);
    });

    it('when the previewed expression does not compile, then 422; without an expression or a saved mapping, 409', async () => {
      const bad = await call(t.url, 'POST', '/api/mappings/products/preview/', { key: keyA, body: { expression: 'title[' } });
      expectProblem(bad, 422);
      expect(bad.body.errors[0]).to.include({ location: 'body', name: 'expression' });
      const none = await call(t.url, 'POST', '/api/mappings/orders/preview/', { key: keyA, body: {} });
      expectProblem(none, 409);
      expect(none.body.detail).to.equal('no mapping for orders');
    });
  });

  describe('view=mapped on the record routes', () => {
    it('when a list is read with view=mapped, then each record comes as its id and mapped result, and the default view is unchanged', async () => {
      const mapped = await get(keyA, '/api/shopify/products/?view=mapped&limit=2');
      expect(mapped.status, mapped.text).to.equal(200);
      const sorted = [...products].sort((x, y) => x.id - y.id);
      expect(mapped.body.data).to.deep.equal(sorted.slice(0, 2).map((p) => ({ id: String(p.id), mapped: { sku: p.variants[0]!.sku, name: p.title, price_cents: 1999 } })));
      expect(mapped.body.next_cursor).to.be.a('string');
      const next = await get(keyA, `/api/shopify/products/?view=mapped&limit=2&cursor=${mapped.body.next_cursor}`);
      expect(next.body.data.map((r: { id: string }) => r.id)).to.deep.equal([String(sorted[2]!.id)]);

      const plain = await get(keyA, '/api/shopify/products/?limit=2');
      const explicit = await get(keyA, '/api/shopify/products/?limit=2&view=record');
      expect(plain.body.data[0]).to.include.keys('title', 'variants');
      expect(explicit.body).to.deep.equal(plain.body);
    });

    it('when a record is retrieved with view=mapped, then it comes mapped; an inventory item answers its mapped levels', async () => {
      const one = await get(keyA, `/api/shopify/products/${products[2]!.id}/?view=mapped`);
      expect(one.status, one.text).to.equal(200);
      expect(one.body).to.deep.equal({ id: String(products[2]!.id), mapped: { sku: products[2]!.variants[0]!.sku, name: 'Gamma', price_cents: 1999 } });
      expect((await put(keyA, 'inventory', '{ "stock": available, "at": location_id }')).status).to.equal(201);
      const item = await get(keyA, `/api/shopify/inventory/${itemId}/?view=mapped`);
      expect(item.status, item.text).to.equal(200);
      expect(item.body).to.deep.equal({
        inventory_item_id: itemId,
        levels: [
          { id: `${itemId}:5000000000001`, mapped: { stock: 3, at: 5_000_000_000_001 } },
          { id: `${itemId}:5000000000002`, mapped: { stock: 9, at: 5_000_000_000_002 } },
        ],
      });
      expectProblem(await get(keyA, '/api/shopify/products/1/?view=mapped'), 404);
    });

    it('when the tenant has no mapping for the resource, then view=mapped answers 409 naming it', async () => {
      const list = await get(keyA, '/api/shopify/orders/?view=mapped');
      expectProblem(list, 409);
      expect(list.body.detail).to.equal('no mapping for orders');
      expectProblem(await get(keyA, `/api/shopify/orders/${orderA.id}/?view=mapped`), 409);
      expect((await get(keyA, `/api/shopify/orders/${orderA.id}/`)).status, 'the default view').to.equal(200);
      expectProblem(await get(keyA, '/api/shopify/products/?view=everything'), 400);
    });

    it('when a mapping is replaced or deleted, then the next read uses the new one or answers 409', async () => {
      expect((await put(keyA, 'locations', 'name')).status).to.equal(200);
      expect((await put(keyA, 'products', 'title')).status).to.equal(200);
      const renamed = await get(keyA, `/api/shopify/products/${products[0]!.id}/?view=mapped`);
      expect(renamed.body).to.deep.equal({ id: String(products[0]!.id), mapped: 'Alpha' });
      const deleted = await call(t.url, 'DELETE', '/api/mappings/products/', { key: keyA });
      expect(deleted.status, deleted.text).to.equal(204);
      expectProblem(await get(keyA, '/api/shopify/products/?view=mapped'), 409);
      expect((await call(t.url, 'DELETE', '/api/mappings/products/', { key: keyA })).status, 'deleting again').to.equal(204);
      expectProblem(await get(keyA, '/api/mappings/products/'), 404);
      expect((await put(keyA, 'products', PRODUCT_MODEL)).status).to.equal(201);
    });
  });

  describe('tenant isolation', () => {
    it("when tenant B reads, then it never sees or uses tenant A's mappings", async () => {
      const list = await get(keyB, '/api/mappings/');
      expect(list.body).to.deep.equal({ data: [], next_cursor: null });
      expectProblem(await get(keyB, '/api/mappings/products/'), 404);
      expectProblem(await get(keyB, '/api/shopify/products/?view=mapped'), 409);
      expectProblem(await call(t.url, 'POST', '/api/mappings/products/preview/', { key: keyB, body: {} }), 409);
      // B's preview by A's ids finds nothing of A's.
      const byIds = await call(t.url, 'POST', '/api/mappings/products/preview/', { key: keyB, body: { ids: products.map((p) => p.id), expression: 'title' } });
      expect(byIds.body.data).to.deep.equal([]);
    });

    it('when tenant B saves its own mapping, then each tenant gets its own result', async () => {
      expect((await put(keyB, 'products', '"B sees " & title')).status).to.equal(201);
      const b = await get(keyB, '/api/shopify/products/?view=mapped');
      expect(b.body.data).to.deep.equal([{ id: String(productB.id), mapped: 'B sees Only B' }]);
      const a = await get(keyA, `/api/shopify/products/${products[0]!.id}/?view=mapped`);
      expect(a.body.mapped).to.deep.include({ name: 'Alpha' });
      expect((await call(t.url, 'DELETE', '/api/mappings/products/', { key: keyB })).status).to.equal(204);
      expect((await get(keyA, '/api/mappings/products/')).status, "B's delete leaves A's mapping").to.equal(200);
    });
  });

  describe('mapRecordsForTenant (change feed and outbound webhooks)', () => {
    it('when the tenant has no mapping, then null; otherwise one outcome per record, in order, failures as errors', async () => {
      const mapper = t.ctx.mapper!;
      expect(await mapRecordsForTenant(mapper, t.ctx.db, 'map-tenant-b', 'products', [{ title: 'x' }])).to.equal(null);
      const outcomes = await mapRecordsForTenant(mapper, t.ctx.db, 'map-tenant-a', 'locations', [{ name: 'Depot' }, { city: 'Ottawa' }]);
      expect(outcomes).to.deep.equal([{ mapped: 'Depot' }, { mapped: null }]);
      const failing = await mapRecordsForTenant(mapper, t.ctx.db, 'map-tenant-a', 'products', [
        { title: 'ok', variants: [{ sku: 'S', price: '1.00' }] },
        { title: 'bad', variants: [{ price: 'abc' }] },
      ]);
      expect(failing?.[0]).to.deep.equal({ mapped: { sku: 'S', name: 'ok', price_cents: 100 } });
      expect(failing?.[1]?.error?.detail).to.match(/D3030/);
    });
  });
});
