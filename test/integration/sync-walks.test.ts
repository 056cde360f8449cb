import { expect } from 'chai';
import type { ServiceContext } from '../../src/context.js';
import type { ResourceName } from '../../src/resources/index.js';
import { runSync, type SyncResult } from '../../src/sync/run-sync.js';
import { getSyncState } from '../../src/store/sync-state.js';
import { call } from '../support/http.js';
import { product, seedRecords } from '../support/seed.js';
import { startSyncTestContext, withSyncApi, type SyncTestContext } from '../support/sync.js';

const LARGE = 'larger-than-a-run.myshopify.com';
const CHANGING = 'changing-store.myshopify.com';
const STOCKED = 'many-locations.myshopify.com';
const EXPIRING = 'expiring-cursors.myshopify.com';

// 3 × (cap × page size) + 7 records: three capped runs, then a fourth that completes the walk.
const CAP = 2;
const PAGE = 10;
const STORE = 3 * CAP * PAGE + 7;

interface ApiProduct {
  id: number;
  title: string;
  updated_at: string;
  deleted_at: string | null;
}
interface ApiSyncLog {
  id: number;
  mode: string;
  status: string;
  pages: number;
  records_fetched: number;
  records_deleted: number;
  page_cap_reached: boolean;
  resumes_from: string | null;
}

/**
 * Stores larger than one run's page cap (SYNC_MAX_PAGES) converge: a capped run saves where its walk
 * stopped, the next run continues there, and deletions are marked only once a walk has completed.
 */
describe('sync walks across runs (page cap, mock Shopify, MariaDB)', function () {
  this.timeout(60_000);
  let t: SyncTestContext;

  before(async () => {
    t = await startSyncTestContext(
      {
        shops: [
          { domain: LARGE, products: STORE },
          { domain: CHANGING, products: 30 },
          { domain: STOCKED, products: 2, locations: 55 },
        ],
      },
      { SYNC_MAX_PAGES: String(CAP), SYNC_PAGE_SIZE: String(PAGE), SYNC_OVERLAP_SECONDS: '0' },
    );
  });
  after(async () => t?.close());

  const sync = (integrationId: number, resource: ResourceName, mode: 'full' | 'incremental', ctx: ServiceContext = t.ctx) =>
    runSync(ctx, { integrationId, resource, mode, trigger: 'manual', jobId: null });

  // GraphQL (the default) walks in updated_at order and resumes at the connection's cursor; REST in id order with since_id.
  const graphql = () => t.config.shopify.syncApi === 'graphql';
  const resumePoint = (ids: number[], index: number) => (graphql() ? /^after=\S+$/ : `since_id=${ids[index]}`);
  const expectResumesAt = (value: string | null, ids: number[], index: number, what: string) => {
    const expected = resumePoint(ids, index);
    if (typeof expected === 'string') expect(value, what).to.equal(expected);
    else expect(value, what).to.match(expected);
  };

  const succeeded = (result: SyncResult) => {
    if (result.status !== 'succeeded') throw new Error(`the run did not succeed: ${JSON.stringify(result)}`);
    return result;
  };

  /** Every product of the tenant through the API, deleted ones included, in id order. */
  async function apiProducts(key: string): Promise<ApiProduct[]> {
    const all: ApiProduct[] = [];
    let cursor: string | null = null;
    do {
      const res = await call(t.url, 'GET', `/api/shopify/products/?limit=250&include_deleted=true${cursor ? `&cursor=${cursor}` : ''}`, { key });
      expect(res.status, res.text).to.equal(200);
      all.push(...(res.body.data as ApiProduct[]));
      cursor = res.body.next_cursor as string | null;
    } while (cursor);
    return all;
  }

  /** The mock's live products as the API should show them. */
  function mockProducts(domain: string) {
    const c = t.mock.shop(domain).catalog;
    return c.products.entries
      .filter((e) => !e.deleted)
      .map((e) => {
        const p = c.products.record(e);
        return { id: p.id, title: p.title, updated_at: new Date(p.updated_at).toISOString(), deleted_at: null };
      });
  }

  const live = (products: ApiProduct[]) => products.filter((p) => p.deleted_at === null).map(({ id, title, updated_at, deleted_at }) => ({ id, title, updated_at, deleted_at }));

  async function syncLogs(key: string): Promise<ApiSyncLog[]> {
    const res = await call(t.url, 'GET', '/api/shopify/sync-logs/?limit=100', { key });
    expect(res.status, res.text).to.equal(200);
    return (res.body.data as ApiSyncLog[]).reverse();
  }

  describe('a full walk of a store larger than one run', () => {
    it(`when a store holds ${STORE} products and a run may read ${CAP} pages of ${PAGE}, then four runs converge and only the fourth marks deletions`, async () => {
      const integration = await t.connect('tenant-large', LARGE);
      const key = await t.keyFor('tenant-large');
      // A row the store no longer has: only a complete walk may mark it deleted.
      const gone = product({ id: 8_999_999_999_001 });
      await seedRecords(t.ctx, { tenantId: 'tenant-large', integrationId: integration.id }, 'products', [gone]);
      const ids = t.mock.shop(LARGE).catalog.products.entries.map((e) => e.id);

      for (let run = 1; run <= 3; run++) {
        const result = succeeded(await sync(integration.id, 'products', 'full'));
        expect(result, `run ${run}`).to.deep.include({ mode: 'full', pageCapReached: true, walkComplete: false });
        expectResumesAt(result.resumesFrom, ids, run * CAP * PAGE - 1, `run ${run}`);
        expect(result.counts, `run ${run}`).to.include({ pages: CAP, records_fetched: CAP * PAGE, records_deleted: 0 });
        const state = await getSyncState(t.ctx.db, integration.id, 'products');
        // In updated_at order the cursor follows the pages; in id order it waits for the walk's end.
        if (graphql()) expect(state.cursorUpdatedAt, 'the cursor moves with each page').to.be.instanceOf(Date);
        else expect(state.cursorUpdatedAt, 'no cursor before the walk is complete').to.equal(null);
        expect(state.lastFullSyncAt).to.equal(null);
        expect(live(await apiProducts(key)).map((p) => p.id)).to.include(gone.id);
      }

      const last = succeeded(await sync(integration.id, 'products', 'full'));
      expect(last).to.deep.include({ mode: 'full', pageCapReached: false, walkComplete: true, resumesFrom: null });
      expect(last.counts).to.include({ pages: 1, records_fetched: 7, records_deleted: 1 });
      const state = await getSyncState(t.ctx.db, integration.id, 'products');
      expect(state.cursorUpdatedAt).to.be.instanceOf(Date);
      expect(state.lastFullSyncAt).to.be.instanceOf(Date);
      expect(state.walk).to.equal(null);

      const products = await apiProducts(key);
      expect(live(products)).to.deep.equal(mockProducts(LARGE));
      expect(products.find((p) => p.id === gone.id)?.deleted_at).to.be.a('string');

      const logs = await syncLogs(key);
      expect(logs.map((l) => [l.status, l.page_cap_reached, l.records_fetched, l.records_deleted])).to.deep.equal([
        ['succeeded', true, 20, 0],
        ['succeeded', true, 20, 0],
        ['succeeded', true, 20, 0],
        ['succeeded', false, 7, 1],
      ]);
      [19, 39, 59].forEach((index, run) => expectResumesAt(logs[run]!.resumes_from, ids, index, `log ${run + 1}`));
      expect(logs[3]!.resumes_from).to.equal(null);
    });

    it("when a product past the first run's cap is deleted at Shopify, then it is marked deleted only after the walk completes", async () => {
      const integration = await t.ctx.db.selectFrom('shopify_integrations').select('id').where('tenant_id', '=', 'tenant-large').executeTakeFirstOrThrow();
      const key = await t.keyFor('tenant-large');
      const shop = t.mock.shop(LARGE);
      const pastCap = shop.catalog.products.entries[45]!.id;
      const early = shop.catalog.products.entries[3]!.id;
      shop.deleteProduct(pastCap);
      shop.deleteProduct(early);

      for (let run = 1; run <= 3; run++) {
        const result = succeeded(await sync(integration.id, 'products', 'full'));
        expect(result, `run ${run}`).to.deep.include({ walkComplete: false });
        expect(result.counts.records_deleted, `run ${run}`).to.equal(0);
        const deleted = (await apiProducts(key)).filter((p) => p.deleted_at !== null).map((p) => p.id);
        expect(deleted, `nothing new is marked deleted by partial run ${run}`).to.deep.equal([8_999_999_999_001]);
      }
      const last = succeeded(await sync(integration.id, 'products', 'full'));
      expect(last).to.deep.include({ walkComplete: true });
      expect(last.counts.records_deleted).to.equal(2);
      const products = await apiProducts(key);
      expect(products.filter((p) => p.deleted_at !== null).map((p) => p.id)).to.have.members([8_999_999_999_001, pastCap, early]);
      expect(live(products)).to.deep.equal(mockProducts(LARGE));
    });

    it('when an incremental run is asked while a full walk is unfinished, then it continues the full walk', async () => {
      const integration = await t.ctx.db.selectFrom('shopify_integrations').select('id').where('tenant_id', '=', 'tenant-large').executeTakeFirstOrThrow();
      const first = succeeded(await sync(integration.id, 'products', 'full'));
      expect(first).to.deep.include({ walkComplete: false });
      const next = succeeded(await sync(integration.id, 'products', 'incremental'));
      expect(next).to.deep.include({ mode: 'full', walkComplete: false });
      expect(next.resumesFrom).to.not.equal(first.resumesFrom);
      // Finish the walk, so later tests start from a complete state.
      while (!succeeded(await sync(integration.id, 'products', 'incremental')).walkComplete);
    });
  });

  describe('incremental walks beyond the cap', () => {
    it('when more changes than one run reads happened, then the incremental walk continues across runs and the cursor moves with each page (GraphQL) or only at its end (REST)', async () => {
      const integration = await t.connect('tenant-changing', CHANGING);
      const key = await t.keyFor('tenant-changing');
      while (!succeeded(await sync(integration.id, 'products', 'full')).walkComplete);
      const cursorBefore = (await getSyncState(t.ctx.db, integration.id, 'products')).cursorUpdatedAt;
      expect(cursorBefore).to.be.instanceOf(Date);

      const shop = t.mock.shop(CHANGING);
      const entries = shop.catalog.products.entries;
      // 25 changed records: more than the 20 one run may read.
      for (let i = 0; i < 25; i++) shop.updateProduct(entries[i]!.id, { title: `Changed ${i}` });

      const first = succeeded(await sync(integration.id, 'products', 'incremental'));
      expect(first).to.deep.include({ mode: 'incremental', pageCapReached: true, walkComplete: false });
      expect(first.resumesFrom).to.match(graphql() ? /^after=\S+$/ : /^since_id=\d+$/);
      const cursorMidWalk = (await getSyncState(t.ctx.db, integration.id, 'products')).cursorUpdatedAt;
      if (graphql()) expect(cursorMidWalk!.getTime()).to.be.greaterThan(cursorBefore!.getTime());
      else expect(cursorMidWalk?.getTime()).to.equal(cursorBefore!.getTime());

      const second = succeeded(await sync(integration.id, 'products', 'incremental'));
      expect(second).to.deep.include({ mode: 'incremental', walkComplete: true, resumesFrom: null });
      expect(first.counts.records_written + second.counts.records_written).to.equal(25);
      const cursorAfter = (await getSyncState(t.ctx.db, integration.id, 'products')).cursorUpdatedAt;
      expect(cursorAfter!.getTime()).to.be.greaterThan(cursorBefore!.getTime());
      expect(live(await apiProducts(key))).to.deep.equal(mockProducts(CHANGING));
    });
  });

  describe('inventory levels over REST, listed per batch of 50 locations', () => {
    it('when a batch has more pages than a run may read, then the next run continues inside the batch and then the next batch', async () => {
      const shop = t.mock.shop(STOCKED);
      const integration = await t.connect('tenant-stocked', STOCKED);
      const items = shop.catalog.inventoryItemCount;
      // Batch 1 (50 locations) holds 50 × items levels: pages of 10 × items, so 5 pages; batch 2 one page.
      // REST behaviour (location_ids batches, Link page_info), pinned: SHOPIFY_SYNC_API=rest.
      const ctx = withSyncApi({ ...t.ctx, config: { ...t.config, sync: { ...t.config.sync, maxPages: 3, pageSize: 10 * items } } }, 'rest');
      const first = succeeded(await sync(integration.id, 'inventory', 'full', ctx));
      expect(first).to.deep.include({ walkComplete: false });
      expect(first.resumesFrom).to.match(/^locations after 0 through \d+, page_info=/);
      expect(first.counts).to.include({ pages: 3, records_fetched: 30 * items, records_deleted: 0 });
      const second = succeeded(await sync(integration.id, 'inventory', 'full', ctx));
      expect(second).to.deep.include({ walkComplete: true, resumesFrom: null });
      expect(second.counts).to.include({ pages: 3, records_fetched: 25 * items, records_deleted: 0 });
      const res = await call(t.url, 'GET', '/api/shopify/inventory/?limit=250', { key: await t.keyFor('tenant-stocked') });
      const rows = [...res.body.data];
      for (let cursor = res.body.next_cursor; cursor;) {
        const more = await call(t.url, 'GET', `/api/shopify/inventory/?limit=250&cursor=${cursor}`, { key: await t.keyFor('tenant-stocked') });
        rows.push(...more.body.data);
        cursor = more.body.next_cursor;
      }
      expect(rows).to.have.length(55 * items);
    });
  });
});

describe('sync walks when Shopify expires page_info between runs (REST)', function () {
  this.timeout(30_000);
  let t: SyncTestContext;

  before(async () => {
    // REST's Link page_info expiry: pinned to SHOPIFY_SYNC_API=rest (GraphQL cursors do not expire).
    t = await startSyncTestContext({ shops: [{ domain: EXPIRING, products: 2, locations: 3 }], pageInfoTtlMs: 1000 }, { SHOPIFY_SYNC_API: 'rest' });
  });
  after(async () => t?.close());

  it('when the saved page_info has expired, then the batch is read again from its first page and the walk still completes', async () => {
    const shop = t.mock.shop(EXPIRING);
    const integration = await t.connect('tenant-expiring', EXPIRING);
    const items = shop.catalog.inventoryItemCount;
    const ctx = { ...t.ctx, config: { ...t.config, sync: { ...t.config.sync, maxPages: 2, pageSize: items } } };
    const run = async () => {
      const result = await runSync(ctx, { integrationId: integration.id, resource: 'inventory', mode: 'full', trigger: 'manual', jobId: null });
      if (result.status !== 'succeeded') throw new Error('skipped');
      return result;
    };
    // One batch of 3 locations, one location per page: the cap stops the first run inside it.
    const first = await run();
    expect(first).to.deep.include({ walkComplete: false });
    expect(first.resumesFrom).to.match(/page_info=/);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    const second = await run(); // the batch starts again: two of three pages, capped again
    expect(second).to.deep.include({ walkComplete: false });
    expect(second.counts.records_fetched).to.equal(2 * items);
    const third = await run(); // its page_info is fresh: the last page
    expect(third).to.deep.include({ walkComplete: true });
    expect(third.counts.records_fetched).to.equal(items);
    expect(t.logs.text()).to.not.include('sync failed');
  });
});
