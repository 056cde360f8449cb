import { expect } from 'chai';
import { RESOURCE_NAMES } from '../../src/resources/index.js';
import { enqueueSyncs, integrationSyncJobId } from '../../src/sync/enqueue.js';
import { syncQueue } from '../../src/sync/queue.js';
import { registerSyncSchedulers } from '../../src/sync/scheduler.js';
import { startSyncWorker } from '../../src/sync/worker.js';
import type { Integration } from '../../src/store/schema.js';
import { graphqlState } from '../../scripts/mock-shopify/index.js';
import { eventually, recordsPerPage, startSyncTestContext, type SyncTestContext } from '../support/sync.js';

const LIMITED = 'limited-store.myshopify.com';
const SLOW = 'slow-store.myshopify.com';
const SCHEDULED = 'scheduled-store.myshopify.com';

const GRAPHQL_BUCKET = 2000;
const GRAPHQL_SCALE = 50;

describe('sync workers: two processes, shutdown, schedules', function () {
  this.timeout(40_000);
  let t: SyncTestContext;

  before(async () => {
    // A small bucket (10, leaking 2/s ×5 = 10/s) so that a few pages already outrun it; the service is told the same.
    t = await startSyncTestContext(
      {
        shops: [
          {
            domain: LIMITED,
            products: 500,
            orders: 1000,
            customers: 3000,
            locations: 1,
            rateLimit: { enabled: true, bucketSize: 10, leakPerSecond: 2, scale: 5 },
            // Shopify Standard's points bucket (2,000, 100/s) at 50× speed.
            graphqlRateLimit: { enabled: true, maximumAvailable: GRAPHQL_BUCKET, restoreRate: 100, scale: GRAPHQL_SCALE },
          },
          { domain: SLOW, products: 3000, orders: 1, customers: 1 },
          { domain: SCHEDULED, products: 20, orders: 1, customers: 1 },
        ],
      },
      { SHOPIFY_BUCKET_SIZE: '10', SHOPIFY_MAX_REQUESTS_PER_SECOND: '10', SYNC_CONCURRENCY: '2' },
    );
  });
  after(async () => t?.close());

  it('when two workers share the queue, then each resource runs once and the shared limiter (points over GraphQL, requests over REST) keeps Shopify from ever answering THROTTLED or 429', async () => {
    const shop = t.mock.shop(LIMITED);
    const integration = await t.connect('tenant-limited', LIMITED);
    const stops = [await t.startWorker(), await t.startWorker()];
    const started = Date.now();
    const accepted = await enqueueSyncs(t.ctx, integration, { mode: 'full', trigger: 'manual' });
    const again = await enqueueSyncs(t.ctx, integration, { mode: 'full', trigger: 'manual' });
    expect(again.jobs.map((j) => j.state)).to.deep.equal(['already_queued', 'already_queued', 'already_queued', 'already_queued', 'already_queued']);
    const runs = await t.waitForRuns(integration.id, 4, 30_000);
    const elapsed = (Date.now() - started) / 1000;
    await Promise.all(stops.map((stop) => stop()));
    expect(accepted.jobs.map((j) => j.state)).to.deep.equal(['queued', 'queued', 'queued', 'queued', 'queued']);
    expect(runs.map((r) => [r.resource, r.status])).to.have.deep.members(RESOURCE_NAMES.map((r) => [r, 'succeeded']));
    expect(shop.stats.throttled).to.equal(0);
    if (t.config.shopify.syncApi === 'graphql') {
      const points = graphqlState(shop).stats;
      expect(points.throttled).to.equal(0);
      // The bucket allows (points spent - its size) / restore rate s: the cost limiter, not the database, set the pace.
      expect(points.pointsSpent).to.be.greaterThan(2 * GRAPHQL_BUCKET);
      expect(elapsed).to.be.at.least(((points.pointsSpent - GRAPHQL_BUCKET) / (100 * GRAPHQL_SCALE)) * 0.9);
    } else {
      const requests = shop.stats.requests;
      // The bucket allows (requests - 10) / 10 s after the burst: the rate limit, not the database, set the pace.
      expect(requests).to.be.greaterThan(20);
      expect(elapsed).to.be.at.least(((requests - 10) / 10) * 0.9);
    }
    expect(runs.find((r) => r.resource === 'inventory')?.records_written).to.equal(shop.catalog.inventoryItemCount);
  });

  it('when the worker stops mid-sync, then the run is closed as interrupted and another worker finishes the job from where it stopped', async () => {
    const shop = t.mock.shop(SLOW);
    const integration = await t.connect('tenant-slow', SLOW);
    shop.setFaults({ latencyMs: 40 });
    const stopFirst = await startSyncWorker(t.ctx);
    await enqueueSyncs(t.ctx, integration, { resources: ['products'], mode: 'full', trigger: 'manual' });
    await eventually(async () => (await t.runsOf(integration.id, 'products'))[0]?.pages === 3, 10_000, 'three pages written');
    await stopFirst();
    const [interrupted] = await t.runsOf(integration.id, 'products');
    expect(interrupted).to.include({ status: 'failed' });
    expect(interrupted?.error).to.match(/Interrupted/);
    const job = await syncQueue(t.ctx).getJob(integrationSyncJobId(t.ctx, integration.id, 'products'));
    expect(job, 'the job is still queued').to.not.equal(undefined);
    expect(job?.attemptsMade).to.equal(0);

    shop.setFaults({ latencyMs: 0 });
    await t.startWorker();
    const runs = await t.waitForRuns(integration.id, 2);
    expect(runs.map((r) => [r.status, r.error])).to.deep.equal([
      ['failed', runs[0]?.error],
      ['succeeded', null],
    ]);
    // The second run continues the walk where the interrupted one stopped (its pages saved their position).
    expect(runs[1]).to.include({ mode: 'full', resumes_from: null });
    expect(runs[0]!.records_fetched).to.be.at.least(3 * recordsPerPage(t.config.shopify.syncApi, 'products', t.config.sync.pageSize));
    expect(runs[0]!.records_fetched + runs[1]!.records_fetched).to.equal(3000);
    const { n } = await t.ctx.db
      .selectFrom('shopify_products')
      .select((s) => s.fn.countAll<number>().as('n'))
      .where('integration_id', '=', integration.id)
      .executeTakeFirstOrThrow();
    expect(Number(n)).to.equal(3000);
  });

  it('when a resource is scheduled every second, then active integrations get scheduled runs and inactive ones none', async () => {
    const active = await t.connect('tenant-scheduled', SCHEDULED);
    const inactive: Integration = await t.connect('tenant-scheduled-off', 'scheduled-off.myshopify.com', { is_active: 0 } as Partial<Integration>);
    const ctx = { ...t.ctx, config: { ...t.config, shopify: { ...t.config.shopify, syncIntervals: { products: 1, orders: 0, customers: 0, inventory: 0, locations: 0 } } } };
    const stop = await startSyncWorker(ctx);
    try {
      await eventually(async () => (await t.runsOf(active.id, 'products')).filter((r) => r.trigger === 'scheduled' && r.status === 'succeeded').length >= 2, 10_000, 'two scheduled runs');
      expect(await t.runsOf(inactive.id)).to.have.length(0);
      const runs = await t.runsOf(active.id, 'products');
      expect(runs[0]).to.include({ trigger: 'scheduled', mode: 'full' }); // a first run is always full
      expect(runs[1]).to.include({ trigger: 'scheduled', mode: 'incremental' });
    } finally {
      await stop();
      await registerSyncSchedulers(t.ctx);
    }
  });
});
