/**
 * Shopify faults, from the mock Shopify: server errors, latency spikes past the request timeout,
 * dropped connections, a storm of 429s, a token revoked in the middle of a sync, page_info cursors that
 * expire. A sync either converges to the exact catalog or stops with a clear error in its sync log.
 */
import { expect } from 'chai';
import type { MockShopStats } from '../../scripts/mock-shopify/index.js';
import { RESOURCE_NAMES } from '../../src/resources/index.js';
import type { Integration } from '../../src/store/schema.js';
import { enqueueSyncs } from '../../src/sync/enqueue.js';
import { getSyncState } from '../../src/store/sync-state.js';
import { expectCatalogMirrored, openSyncRuns, syncJobCounts } from '../support/fault-state.js';
import { call } from '../support/http.js';
import { eventually, integrationRow, startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import { waitFor } from '../support/webhooks.js';

const CATALOG = { products: 1500, orders: 600, customers: 600, locations: 2 };
const SHOPS = ['errors', 'spikes', 'drops', 'storm', 'chaos', 'revoked'].map((n) => `shopify-${n}.myshopify.com`);

const summary = (s: MockShopStats) => ({ requests: s.requests, serverErrors: s.serverErrors, dropped: s.dropped, throttled: s.throttled, unauthorized: s.unauthorized });

describe('Shopify faults during syncs (mock Shopify)', function () {
  this.timeout(10 * 60_000);
  let t: SyncTestContext;

  before(async () => {
    t = await startSyncTestContext(
      { shops: SHOPS.map((domain) => ({ domain, ...CATALOG })) },
      // Requests slower than 1 s time out and are retried; job attempts back off from 0.2 s.
      { SHOPIFY_REQUEST_TIMEOUT_MS: '1000', SHOPIFY_MAX_RETRY_ATTEMPTS: '3', SYNC_JOB_BACKOFF_SECONDS: '0.2', SYNC_JOB_ATTEMPTS: '10' },
    );
    await t.startWorker();
  });
  after(async () => t?.close());

  async function fullSync(integration: Integration, during?: () => Promise<void>) {
    const started = Date.now();
    await enqueueSyncs(t.ctx, integration, { mode: 'full', trigger: 'manual' });
    await during?.();
    await waitFor('every sync job to finish', async () => (await openSyncRuns(t.ctx)).length === 0 && Object.values(await syncJobCounts(t.ctx)).every((n) => n === 0), 240_000, 200);
    return Date.now() - started;
  }

  async function expectConverged(integration: Integration, tenant: string, shop: string) {
    const counts = await expectCatalogMirrored(t.ctx, tenant, t.mock.shop(shop));
    const runs = await t.runsOf(integration.id);
    for (const resource of RESOURCE_NAMES) expect(runs.filter((r) => r.resource === resource).at(-1), resource).to.include({ status: 'succeeded', mode: 'full' });
    const failed = runs.filter((r) => r.status === 'failed');
    for (const r of failed) expect(r.error, `run ${r.id}`).to.be.a('string').and.not.be.empty;
    expect((await integrationRow(t, integration.id)).token_revoked_at).to.equal(null);
    return { counts, runs: runs.length, failed: failed.map((r) => `${r.resource}: ${r.error?.slice(0, 100)}`) };
  }

  const cases: { name: string; shop: string; faults: Record<string, number | string>; spikes?: boolean; storm?: number }[] = [
    { name: '10 % of requests answer 5xx', shop: SHOPS[0]!, faults: { errorRate: 0.1, errorStatus: 500 } },
    { name: 'latency spikes past the 1 s request timeout come and go', shop: SHOPS[1]!, faults: {}, spikes: true },
    { name: '10 % of connections are dropped without an answer', shop: SHOPS[2]!, faults: { dropRate: 0.1 } },
    { name: 'a storm of 120 consecutive 429s hits the start of the sync', shop: SHOPS[3]!, faults: { throttleRetryAfter: '0.05' }, storm: 120 },
    {
      name: 'all of it at once (5xx, drops, spikes, a 429 storm)',
      shop: SHOPS[4]!,
      faults: { errorRate: 0.08, errorStatus: 502, dropRate: 0.05, throttleRetryAfter: '0.05' },
      spikes: true,
      storm: 60,
    },
  ];

  for (const c of cases) {
    it(`when ${c.name}, then the full sync converges to the exact catalog`, async () => {
      const tenant = `tenant-${c.shop.split('.')[0]}`;
      const integration = await t.connect(tenant, c.shop);
      const shop = t.mock.shop(c.shop);
      shop.setFaults({ ...c.faults, ...(c.storm ? { throttleNext: c.storm } : {}) });
      let spiking = true;
      const spikes = c.spikes
        ? (async () => {
            for (let i = 0; spiking; i++) {
              shop.setFaults({ latencyMs: i % 3 === 0 ? 1500 : 0 });
              await new Promise((resolve) => setTimeout(resolve, 400));
            }
          })()
        : Promise.resolve();
      let ms: number;
      try {
        ms = await fullSync(integration);
      } finally {
        spiking = false;
        await spikes;
        shop.resetFaults();
      }
      const result = await expectConverged(integration, tenant, c.shop);
      const stats = summary(shop.stats);
      if (c.faults.errorRate) expect(stats.serverErrors).to.be.greaterThan(0);
      if (c.faults.dropRate) expect(stats.dropped).to.be.greaterThan(0);
      if (c.storm) expect(stats.throttled).to.be.at.least(c.storm);
      console.log(`      ${c.name}: converged in ${ms} ms; mock ${JSON.stringify(stats)}; ${result.runs} runs, failed: ${JSON.stringify(result.failed)}`);
    });
  }

  it('when the token is revoked in the middle of a sync, then the runs stop with a 401 in their log, nothing is retried, the store shows disconnected, and a reconnect syncs it to the exact catalog', async () => {
    const tenant = 'tenant-shopify-revoked';
    const integration = await t.connect(tenant, SHOPS[5]!);
    const shop = t.mock.shop(SHOPS[5]!);
    shop.setFaults({ latencyMs: 30 });
    await fullSync(integration, async () => {
      await eventually(async () => (await t.runsOf(integration.id)).reduce((n, r) => n + r.pages, 0) >= 3, 30_000, 'three pages');
      shop.revokeToken();
    });
    shop.resetFaults();
    const runs = await t.runsOf(integration.id);
    expect(
      runs.filter((r) => r.status !== 'failed' && r.status !== 'succeeded'),
      'open runs',
    ).to.deep.equal([]);
    const failed = runs.filter((r) => r.status === 'failed');
    expect(failed.length).to.be.greaterThan(0);
    for (const r of failed) expect(r.error, r.resource).to.match(/401|not connected|disconnected/i);
    expect(failed.some((r) => /401/.test(r.error ?? ''))).to.equal(true);
    // A 401 is never retried: each resource ran at most once.
    for (const resource of RESOURCE_NAMES) expect(runs.filter((r) => r.resource === resource).length, resource).to.be.at.most(1);
    expect(shop.stats.unauthorized).to.be.at.most(RESOURCE_NAMES.length);
    const row = await integrationRow(t, integration.id);
    expect(row.token_revoked_at).to.be.instanceOf(Date);
    const key = await t.keyFor(tenant);
    const status = await call(t.url, 'GET', '/api/shopify/status/', { key });
    expect(status.body).to.include({ is_connected: false });
    expect(status.body.last_error_message).to.match(/401/);

    // The merchant reinstalls: a new token, a connect, and the initial sync brings the copy back in line.
    const token = shop.issueToken();
    const reconnect = await call(t.url, 'POST', '/api/shopify/connect/', { key, body: { shop_domain: SHOPS[5], access_token: token } });
    expect(reconnect.status, reconnect.text).to.equal(201);
    await waitFor(
      'the initial sync after the reconnect',
      async () => {
        const all = await t.runsOf(integration.id);
        return (await openSyncRuns(t.ctx)).length === 0 && RESOURCE_NAMES.every((r) => all.filter((x) => x.resource === r).at(-1)?.status === 'succeeded');
      },
      120_000,
      200,
    );
    const counts = await expectCatalogMirrored(t.ctx, tenant, shop);
    console.log(
      `      token revoked mid-sync: ${failed.length} runs stopped (${[...new Set(failed.map((r) => r.error?.slice(0, 90)))].join(' | ')}); reconnected and synced ${JSON.stringify(counts)}`,
    );
  });
});

describe('Shopify page_info cursors that expire during a sync (REST)', function () {
  this.timeout(120_000);
  let t: SyncTestContext;
  const SHOP = 'shopify-expiring.myshopify.com';

  before(async () => {
    // Cursors live 1 ms: every "next page" request arrives after its cursor expired. REST's Link
    // page_info, pinned with SHOPIFY_SYNC_API=rest (GraphQL cursors do not expire).
    t = await startSyncTestContext({ shops: [{ domain: SHOP, products: 800, orders: 10, customers: 10 }], pageInfoTtlMs: 1 }, { SYNC_JOB_BACKOFF_SECONDS: '0.05', SHOPIFY_SYNC_API: 'rest' });
    await t.startWorker();
  });
  after(async () => t?.close());

  it("when the next page's cursor has expired, then the run stops at once with Shopify's reason in its log, keeps what it wrote, moves no cursor, and leaves no job behind", async () => {
    const integration = await t.connect('tenant-expiring', SHOP);
    await enqueueSyncs(t.ctx, integration, { resources: ['products'], mode: 'full', trigger: 'manual' });
    const [run] = await t.waitForRuns(integration.id, 1, 30_000);
    await eventually(async () => Object.values(await syncJobCounts(t.ctx)).every((n) => n === 0), 10_000, 'the job to go');
    expect(run).to.include({ resource: 'products', status: 'failed', pages: 1, records_written: 250 });
    expect(run!.error)
      .to.match(/400/)
      .and.match(/page_info/)
      .and.match(/Expired/);
    expect((await t.runsOf(integration.id)).length, 'not retried in a loop').to.equal(1);
    const { n } = await t.ctx.db
      .selectFrom('shopify_products')
      .select((s) => s.fn.countAll<number>().as('n'))
      .where('integration_id', '=', integration.id)
      .executeTakeFirstOrThrow();
    expect(Number(n), 'the first page stays').to.equal(250);
    expect((await getSyncState(t.ctx.db, integration.id, 'products')).cursorUpdatedAt, 'no cursor moved').to.equal(null);
    expect((await integrationRow(t, integration.id)).token_revoked_at, 'not mistaken for a revoked token').to.equal(null);
    console.log(`      page_info expired: run closed as failed: ${run!.error}`);
  });
});
