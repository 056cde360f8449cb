import { expect } from 'chai';
import { sql } from 'kysely';
import type { ShopifyOrder, ShopifyProduct } from '../../src/shopify/types.js';
import { enqueueSyncs, integrationSyncJobId } from '../../src/sync/enqueue.js';
import { runSync } from '../../src/sync/run-sync.js';
import { syncQueue } from '../../src/sync/queue.js';
import type { Integration } from '../../src/store/schema.js';
import { getSyncState } from '../../src/store/sync-state.js';
import { call } from '../support/http.js';
import { order, product, seedRecords } from '../support/seed.js';
import { eventually, integrationRow, listRequests, pagesFor, recordsPerPage, startSyncTestContext, withSyncApi, type SyncApi, type SyncTestContext } from '../support/sync.js';

const BIG = 'big-store.myshopify.com';
const SMALL = 'small-store.myshopify.com';
const FLAKY = 'flaky-store.myshopify.com';
const REVOKED = 'revoked-store.myshopify.com';
const STOCK = 'stock-store.myshopify.com';
const RECENT = 'recent-orders.myshopify.com';
const CAPPED = 'capped-store.myshopify.com';
const CAPPED_REST = 'capped-rest-store.myshopify.com';
const STOCK_REST = 'stock-rest-store.myshopify.com';

async function countRows(t: SyncTestContext, table: string, integrationId: number, where = sql`TRUE`): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql.table(table)} WHERE integration_id = ${integrationId} AND ${where}`.execute(t.ctx.db);
  return Number(rows[0]?.n);
}

async function countChildren(t: SyncTestContext, table: string, tenantId: string): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql.table(table)} WHERE tenant_id = ${tenantId}`.execute(t.ctx.db);
  return Number(rows[0]?.n);
}

const iso = (shopifyTime: string | null) => (shopifyTime === null ? null : new Date(shopifyTime).toISOString());

describe('sync engine (mock Shopify over HTTP, MariaDB, Redis, BullMQ)', function () {
  this.timeout(60_000);
  let t: SyncTestContext;

  before(async () => {
    t = await startSyncTestContext({
      shops: [
        { domain: BIG, products: 3000, orders: 2000, customers: 1000, locations: 1 },
        { domain: SMALL, products: 600, orders: 10, customers: 10, locations: 1 },
        { domain: FLAKY, products: 1500, orders: 10, customers: 10 },
        { domain: REVOKED, products: 300 },
        { domain: STOCK, products: 12, locations: 55 },
        { domain: RECENT, products: 1, orders: 10, customers: 5 },
        { domain: CAPPED, products: 600 },
        { domain: CAPPED_REST, products: 600 },
        { domain: STOCK_REST, products: 12, locations: 55 },
      ],
    });
  });
  after(async () => t?.close());

  describe('full and incremental syncs of a 3,000-product / 2,000-order / 1,000-customer store', () => {
    let integration: Integration;
    let key: string;

    before(async () => {
      integration = await t.connect('tenant-big', BIG);
      key = await t.keyFor('tenant-big');
      await t.startWorker();
      await enqueueSyncs(t.ctx, integration, { resources: ['products', 'orders', 'customers'], mode: 'full', trigger: 'manual' });
      await t.waitForRuns(integration.id, 3, 45_000);
    });

    it('when the full sync ran, then every record landed exactly once and the logs carry the counts', async () => {
      const c = t.mock.shop(BIG).catalog;
      const variants = c.products.entries.reduce((n, e) => n + c.products.record(e).variants.length, 0);
      const lineItems = c.orders.entries.reduce((n, e) => n + c.orders.record(e).line_items.length, 0);
      expect(await countRows(t, 'shopify_products', integration.id)).to.equal(3000);
      expect(await countChildren(t, 'shopify_product_variants', 'tenant-big')).to.equal(variants);
      expect(await countRows(t, 'shopify_orders', integration.id)).to.equal(2000);
      expect(await countChildren(t, 'shopify_order_line_items', 'tenant-big')).to.equal(lineItems);
      expect(await countRows(t, 'shopify_customers', integration.id)).to.equal(1000);

      const runs = await t.runsOf(integration.id);
      const byResource = Object.fromEntries(runs.map((r) => [r.resource, r]));
      for (const [resource, total] of [
        ['products', 3000],
        ['orders', 2000],
        ['customers', 1000],
      ] as const) {
        const pages = pagesFor(t.config.shopify.syncApi, resource, total);
        expect(byResource[resource], resource).to.include({
          status: 'succeeded',
          mode: 'full',
          trigger: 'manual',
          pages,
          records_fetched: total,
          records_written: total,
          records_deleted: 0,
          page_cap_reached: 0,
          error: null,
        });
        expect(byResource[resource]?.finished_at).to.be.instanceOf(Date);
      }
      const after = await integrationRow(t, integration.id);
      expect(after.last_sync_at).to.be.instanceOf(Date);
      expect(after.error_count).to.equal(0);
    });

    it('when closed and cancelled orders exist at Shopify, then they are synced too (status=any)', async () => {
      const c = t.mock.shop(BIG).catalog;
      const orders = c.orders.entries.map((e) => c.orders.record(e));
      const cancelled = orders.filter((o) => o.cancelled_at !== null).length;
      const closed = orders.filter((o) => o.closed_at !== null).length;
      expect(cancelled).to.be.greaterThan(0);
      expect(closed).to.be.greaterThan(0);
      expect(await countRows(t, 'shopify_orders', integration.id, sql`cancelled_at IS NOT NULL`)).to.equal(cancelled);
      expect(await countRows(t, 'shopify_orders', integration.id, sql`closed_at IS NOT NULL`)).to.equal(closed);
    });

    it('when a sample of records is read back through the API, then fields, variants and line items match the mock', async () => {
      const c = t.mock.shop(BIG).catalog;
      for (const entry of c.products.entries.filter((_, i) => i % 151 === 0)) {
        const p: ShopifyProduct = c.products.record(entry);
        const res = await call(t.url, 'GET', `/api/shopify/products/${p.id}/`, { key });
        expect(res.status, res.text).to.equal(200);
        expect(res.body).to.include({ title: p.title, handle: p.handle, vendor: p.vendor, product_type: p.product_type, status: p.status, tags: p.tags, updated_at: iso(p.updated_at) });
        expect(res.body.variants.map((v: { id: number; sku: string; price: string; position: number }) => [v.id, v.sku, v.price, v.position])).to.deep.equal(
          p.variants.map((v) => [v.id, v.sku, v.price, v.position]),
        );
      }
      for (const entry of c.orders.entries.filter((_, i) => i % 97 === 0)) {
        const o: ShopifyOrder = c.orders.record(entry);
        const res = await call(t.url, 'GET', `/api/shopify/orders/${o.id}/`, { key });
        expect(res.status, res.text).to.equal(200);
        expect(res.body).to.include({
          name: o.name,
          total_price: o.total_price,
          currency: o.currency,
          financial_status: o.financial_status,
          cancelled_at: iso(o.cancelled_at),
          closed_at: iso(o.closed_at),
        });
        expect(res.body.line_items.map((li: { id: number; quantity: number; price: string }) => [li.id, li.quantity, li.price])).to.deep.equal(
          o.line_items.map((li) => [li.id, li.quantity, li.price]),
        );
      }
      const customer = c.customers.record(c.customers.entries[500]!);
      const res = await call(t.url, 'GET', `/api/shopify/customers/${customer.id}/`, { key });
      expect(res.body).to.include({ email: customer.email, first_name: customer.first_name, last_name: customer.last_name, updated_at: iso(customer.updated_at) });
    });

    it('when 50 records changed at Shopify, then an incremental sync writes exactly those 50', async () => {
      const shop = t.mock.shop(BIG);
      const c = shop.catalog;
      for (let i = 0; i < 20; i++) shop.updateProduct(c.products.entries[i * 100]!.id, { title: `Renamed ${i}` });
      const open = c.orders.entries.filter((e) => c.orders.record(e).closed_at === null && c.orders.record(e).cancelled_at === null);
      for (let i = 0; i < 20; i++) shop.closeOrder(open[i]!.id);
      for (let i = 0; i < 10; i++) shop.updateCustomer(c.customers.entries[i * 50]!.id, { tags: 'changed' });
      const before = (await t.runsOf(integration.id)).length;
      await enqueueSyncs(t.ctx, integration, { resources: ['products', 'orders', 'customers'], mode: 'incremental', trigger: 'manual' });
      const runs = (await t.waitForRuns(integration.id, before + 3)).slice(before);
      expect(runs.map((r) => [r.resource, r.mode, r.status, r.records_written])).to.have.deep.members([
        ['products', 'incremental', 'succeeded', 20],
        ['orders', 'incremental', 'succeeded', 20],
        ['customers', 'incremental', 'succeeded', 10],
      ]);
      expect(runs.reduce((n, r) => n + r.records_written, 0)).to.equal(50);
      // Incremental: only the overlap window and the changes were read, not the store.
      for (const r of runs) expect(r.records_fetched).to.be.lessThan(500);
      const renamed = await call(t.url, 'GET', `/api/shopify/products/${c.products.entries[0]!.id}/`, { key });
      expect(renamed.body.title).to.equal('Renamed 0');
    });

    it('when a product was deleted at Shopify, then a full sync marks it deleted and nothing else', async () => {
      const shop = t.mock.shop(BIG);
      const gone = shop.catalog.products.entries[1234]!.id;
      shop.deleteProduct(gone);
      const before = (await t.runsOf(integration.id)).length;
      await enqueueSyncs(t.ctx, integration, { resources: ['products'], mode: 'full', trigger: 'manual' });
      const [run] = (await t.waitForRuns(integration.id, before + 1)).slice(before);
      expect(run).to.include({ status: 'succeeded', mode: 'full', records_deleted: 1, records_written: 0, records_fetched: 2999 });
      expect(await countRows(t, 'shopify_products', integration.id, sql`deleted_at IS NOT NULL`)).to.equal(1);
      const row = await t.ctx.db.selectFrom('shopify_products').select('deleted_at').where('id', '=', gone).executeTakeFirstOrThrow();
      expect(row.deleted_at).to.be.instanceOf(Date);
      const res = await call(t.url, 'GET', `/api/shopify/products/${gone}/?include_deleted=true`, { key });
      expect(res.body.deleted_at).to.be.a('string');
    });
  });

  describe('changes while a sync runs', () => {
    it('when records change mid-sync, then none is lost: later pages carry them, the next incremental the rest', async () => {
      const shop = t.mock.shop(SMALL);
      const integration = await t.connect('tenant-small', SMALL);
      const first = shop.catalog.products.entries[0]!.id;
      const last = shop.catalog.products.entries[599]!.id;
      shop.setFaults({ latencyMs: 40 });
      const running = runSync(t.ctx, { integrationId: integration.id, resource: 'products', mode: 'full', trigger: 'manual', jobId: null });
      await eventually(() => listRequests(shop, t.config.shopify.syncApi, 'GET products') >= 2, 5000, 'the second page request');
      shop.updateProduct(first, { title: 'Changed after its page was read' });
      shop.updateProduct(last, { title: 'Changed before its page was read' });
      const result = await running;
      shop.setFaults({ latencyMs: 0 });
      expect(result).to.include({ status: 'succeeded' });
      const title = async (id: number) => (await t.ctx.db.selectFrom('shopify_products').select('title').where('id', '=', id).executeTakeFirstOrThrow()).title;
      expect(await title(last)).to.equal('Changed before its page was read');

      const next = await runSync(t.ctx, { integrationId: integration.id, resource: 'products', mode: 'incremental', trigger: 'manual', jobId: null });
      expect(next).to.include({ status: 'succeeded', mode: 'incremental' });
      expect(await title(first)).to.equal('Changed after its page was read');
      expect(await countRows(t, 'shopify_products', integration.id)).to.equal(600);
    });
  });

  describe('records Shopify sends that cannot be mapped', () => {
    it('when one product is malformed, then it is skipped and reported, the rest is written, and it is not marked deleted', async () => {
      const shop = t.mock.shop(SMALL);
      const integration = await integrationRow(t, (await t.ctx.db.selectFrom('shopify_integrations').select('id').where('tenant_id', '=', 'tenant-small').executeTakeFirstOrThrow()).id);
      const bad = shop.catalog.products.entries[10]!.id;
      const before = await t.ctx.db.selectFrom('shopify_products').select(['title', 'updated_at']).where('id', '=', bad).executeTakeFirstOrThrow();
      // A variant id past 2^53: valid for Shopify's schema, but no id the copy can keep exactly.
      const variant = shop.catalog.products.record(shop.catalog.products.entries[10]!).variants[0]!;
      shop.updateProduct(bad, { title: 'Broken', variants: [{ ...variant, id: 2 ** 60 }] });
      const result = await runSync(t.ctx, { integrationId: integration.id, resource: 'products', mode: 'full', trigger: 'manual', jobId: null });
      expect(result).to.deep.include({ status: 'succeeded', recordsSkipped: 1 });
      const run = (await t.runsOf(integration.id, 'products')).at(-1);
      expect(run).to.include({ status: 'succeeded', records_fetched: 600, records_deleted: 0 });
      expect(run?.error).to.match(/1 record\(s\) could not be mapped/);
      const after = await t.ctx.db.selectFrom('shopify_products').select(['title', 'updated_at', 'deleted_at']).where('id', '=', bad).executeTakeFirstOrThrow();
      expect(after).to.deep.equal({ ...before, deleted_at: null });
      expect(t.logs.text()).to.include('could not be mapped');
    });
  });

  describe('failures', () => {
    it('when Shopify answers 5xx in bursts and at random, then the sync still converges: the retried job continues where the failed attempt stopped', async () => {
      const shop = t.mock.shop(FLAKY);
      const integration = await t.connect('tenant-flaky', FLAKY);
      await t.startWorker();
      shop.setFaults({ errorRate: 0.25 });
      // Once a page is written: a burst longer than the client's 3 retries fails the attempt; the job retries.
      let burst = false;
      const watcher = eventually(
        async () => {
          if (!burst && (await countRows(t, 'shopify_products', integration.id)) > 0) {
            burst = true;
            shop.setFaults({ failNext: 6 });
          }
          return burst;
        },
        10_000,
        'the first written page',
      );
      await enqueueSyncs(t.ctx, integration, { resources: ['products'], mode: 'full', trigger: 'manual' });
      await watcher;
      await eventually(async () => (await t.runsOf(integration.id)).some((r) => r.status === 'succeeded'), 20_000, 'a successful run');
      shop.setFaults({ errorRate: 0 });
      const runs = await t.runsOf(integration.id);
      expect(runs.filter((r) => r.status === 'failed').length).to.be.greaterThan(0);
      expect(runs.at(-1)).to.include({ status: 'succeeded', resumes_from: null });
      // Each page was read once across the attempts: a failed attempt saved where its walk stopped.
      expect(runs.reduce((n, r) => n + r.records_fetched, 0)).to.equal(1500);
      const failed = runs.filter((r) => r.status === 'failed');
      expect(failed[0]?.error).to.match(/503/);
      expect(failed[0]?.resumes_from).to.match(t.config.shopify.syncApi === 'graphql' ? /^after=\S+$/ : /^since_id=\d+$/);
      expect(shop.stats.serverErrors).to.be.at.least(6);
      expect(await countRows(t, 'shopify_products', integration.id)).to.equal(1500);
      const row = await integrationRow(t, integration.id);
      expect(row.token_revoked_at).to.equal(null);
      expect(row.error_count).to.equal(0); // reset by the success
    });

    it('when Shopify answers 401, then the sync stops at once, is not retried and the integration is marked disconnected', async () => {
      const shop = t.mock.shop(REVOKED);
      const integration = await t.connect('tenant-revoked', REVOKED);
      await t.startWorker();
      shop.revokeToken();
      await enqueueSyncs(t.ctx, integration, { resources: ['products', 'customers'], mode: 'incremental', trigger: 'manual' });
      const runs = await t.waitForRuns(integration.id, 1);
      await eventually(async () => (await syncQueue(t.ctx).getJob(integrationSyncJobId(t.ctx, integration.id, 'customers'))) === undefined, 5000, 'the customers job to go');
      const all = await t.runsOf(integration.id);
      const failed = all.filter((r) => r.status === 'failed');
      expect(failed.some((r) => /401/.test(r.error ?? ''))).to.equal(true);
      // One failed attempt at most per resource: a 401 is never retried; a job starting after the mark is skipped.
      expect(failed.filter((r) => r.resource === 'products').length).to.equal(1);
      expect(runs.length).to.be.at.most(2);
      const row = await integrationRow(t, integration.id);
      expect(row.token_revoked_at).to.be.instanceOf(Date);
      expect(row.last_error_message).to.match(/401/);
      expect(await syncQueue(t.ctx).getJob(integrationSyncJobId(t.ctx, integration.id, 'products'))).to.equal(undefined);
      expect(shop.stats.unauthorized).to.be.at.most(2);
    });
  });

  describe('what a full sync may not mark deleted', () => {
    it('when the store lacks read_all_orders, then only orders of the last 60 days can be marked deleted', async () => {
      const integration = await t.connect('tenant-recent', RECENT, { scopes: 'read_products,read_orders' });
      const owner = { tenantId: 'tenant-recent', integrationId: integration.id };
      const now = new Date().toISOString();
      const old = order({ created_at: '2023-01-02T10:00:00Z', updated_at: '2023-01-02T10:00:00Z' });
      const recent = order({ created_at: now, updated_at: now });
      await seedRecords(t.ctx, owner, 'orders', [old, recent]);
      const result = await runSync(t.ctx, { integrationId: integration.id, resource: 'orders', mode: 'full', trigger: 'manual', jobId: null });
      expect(result.status === 'succeeded' && result.counts).to.include({ records_fetched: 10, records_deleted: 1 });
      const deleted = await t.ctx.db.selectFrom('shopify_orders').select(['id', 'deleted_at']).where('tenant_id', '=', 'tenant-recent').where('deleted_at', 'is not', null).execute();
      expect(deleted.map((r) => r.id)).to.deep.equal([recent.id]);
    });

    for (const [api, domain] of [
      ['graphql', CAPPED],
      ['rest', CAPPED_REST],
    ] as const) {
      it(`when the page cap stops a ${api} walk, then the log says where it resumes, nothing is marked deleted until the next run completes the walk, and the cursor moves ${api === 'graphql' ? 'with each page' : 'only then'}`, async () => {
        const tenant = `tenant-capped-${api}`;
        const integration = await t.connect(tenant, domain);
        const owner = { tenantId: tenant, integrationId: integration.id };
        await seedRecords(t.ctx, owner, 'products', [product()]);
        const capped = withSyncApi({ ...t.ctx, config: { ...t.config, sync: { ...t.config.sync, maxPages: 2 } } }, api);
        const perPage = recordsPerPage(api, 'products', t.config.sync.pageSize);
        const result = await runSync(capped, { integrationId: integration.id, resource: 'products', mode: 'full', trigger: 'manual', jobId: null });
        expect(result).to.deep.include({ status: 'succeeded', pageCapReached: true });
        const [run] = await t.runsOf(integration.id);
        // REST walks in id order (since_id); GraphQL in updated_at order, resumed by the connection's cursor.
        const entries = t.mock.shop(domain).catalog.products.entries;
        const resumesFrom = api === 'rest' ? `since_id=${entries[2 * perPage - 1]!.id}` : run!.resumes_from;
        expect(resumesFrom).to.match(api === 'rest' ? /^since_id=/ : /^after=\S+$/);
        expect(run).to.include({ status: 'succeeded', pages: 2, records_fetched: 2 * perPage, records_deleted: 0, page_cap_reached: 1, resumes_from: resumesFrom });
        expect(await countRows(t, 'shopify_products', integration.id, sql`deleted_at IS NOT NULL`)).to.equal(0);
        const cursor = (await getSyncState(t.ctx.db, integration.id, 'products')).cursorUpdatedAt;
        if (api === 'rest') expect(cursor).to.equal(null);
        else {
          // Pages come oldest first: everything up to the newest record read so far was read, so an incremental read may start there.
          const newestRead = entries.map((e) => e.updatedMs).sort((a, b) => a - b)[2 * perPage - 1]!;
          expect(cursor).to.be.instanceOf(Date);
          expect(cursor!.getTime()).to.be.closeTo(newestRead, 1000);
        }
        const key = await t.keyFor(tenant);
        const api1 = await call(t.url, 'GET', '/api/shopify/sync-logs/', { key });
        expect(api1.body.data[0]).to.include({ page_cap_reached: true, pages: 2, resumes_from: resumesFrom });

        const rest = 600 - 2 * perPage;
        const remainingPages = Math.ceil(rest / perPage);
        const more = await runSync(withSyncApi({ ...capped, config: { ...capped.config, sync: { ...capped.config.sync, maxPages: remainingPages } } }, api), {
          integrationId: integration.id,
          resource: 'products',
          mode: 'full',
          trigger: 'manual',
          jobId: null,
        });
        expect(more).to.deep.include({ status: 'succeeded', pageCapReached: false, walkComplete: true, resumesFrom: null });
        expect(more.status === 'succeeded' && more.counts).to.include({ pages: remainingPages, records_fetched: rest, records_deleted: 1 });
        expect(await countRows(t, 'shopify_products', integration.id, sql`deleted_at IS NULL`)).to.equal(600);
        expect((await getSyncState(t.ctx.db, integration.id, 'products')).cursorUpdatedAt).to.be.instanceOf(Date);
        const after = await call(t.url, 'GET', '/api/shopify/sync-logs/', { key });
        expect(after.body.data[0]).to.include({ page_cap_reached: false, pages: remainingPages, resumes_from: null });
      });
    }
  });

  describe('inventory', () => {
    for (const [api, domain] of [
      ['graphql', STOCK],
      ['rest', STOCK_REST],
    ] as [SyncApi, string][]) {
      it(`when a store has 55 locations, then levels are read per location (${api === 'rest' ? 'REST: in chunks of 50 location ids' : 'GraphQL: location by location'}) and all land`, async () => {
        const shop = t.mock.shop(domain);
        const integration = await t.connect(`tenant-stock-${api}`, domain);
        const ctx = withSyncApi(t.ctx, api);
        const result = await runSync(ctx, { integrationId: integration.id, resource: 'inventory', mode: 'full', trigger: 'manual', jobId: null });
        const items = shop.catalog.inventoryItemCount;
        expect(result).to.include({ status: 'succeeded' });
        expect(await countRows(t, 'shopify_inventory_levels', integration.id)).to.equal(items * 55);
        // REST: two chunks of location ids; GraphQL: the locations, then one query per location.
        const calls = listRequests(shop, api, 'GET inventory_levels');
        expect(calls).to.be.at.least(api === 'rest' ? 2 : 56);
        const item = shop.catalog.itemAt(3);
        const location = shop.catalog.locations.entries[52]!.id;
        const expected = shop.catalog.level(location, item.id, item.createdMs).available;
        const row = await t.ctx.db.selectFrom('shopify_inventory_levels').select('available').where('inventory_item_id', '=', item.id).where('location_id', '=', location).executeTakeFirstOrThrow();
        expect(row.available).to.equal(expected);

        shop.setInventoryLevel(item.id, location, 999);
        const next = await runSync(ctx, { integrationId: integration.id, resource: 'inventory', mode: 'incremental', trigger: 'manual', jobId: null });
        expect(next).to.deep.include({ status: 'succeeded', mode: 'incremental' });
        expect(next.status === 'succeeded' && next.counts.records_written).to.equal(1);
      });
    }
  });
});
