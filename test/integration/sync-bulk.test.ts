import { expect } from 'chai';
import { RESOURCE_NAMES, type ResourceName } from '../../src/resources/index.js';
import { ShopifyAccessDeniedError } from '../../src/shopify/errors.js';
import { BULK_EXPORT_QUERIES } from '../../src/shopify/graphql/documents/bulk.js';
import { runSync, type SyncRequest, type SyncResult } from '../../src/sync/run-sync.js';
import { clientForIntegration } from '../../src/connection/shopify.js';
import { registerWebhooks } from '../../src/connection/webhook-subscriptions.js';
import { startWorkers } from '../../src/main/workers.js';
import { findIntegrationById } from '../../src/store/integrations.js';
import { enqueueSync } from '../../src/sync/enqueue.js';
import { syncQueue } from '../../src/sync/queue.js';
import { call } from '../support/http.js';
import { expectCopyEqualsStore } from '../support/copy-equals-store.js';
import { startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import { WEBHOOK_PATH, drained, runConsumers, waitFor } from '../support/webhooks.js';
import { deliverInOrder } from '../support/webhook-scenario.js';

const SECRET = 'bulk-app-secret';
const SHOP = 'bulk-sync.myshopify.com';
const OLD_VERSION_SHOP = 'bulk-sync-2025.myshopify.com';
const TENANT = 'tenant-bulk';

/**
 * Full syncs as bulk operations against the mock's bulk exports (children interleaved, as Shopify's
 * `groupObjects: false` files are): the copy equals the store, record for record, after first and
 * later runs, a webhook racing the file, a cut download, a crash between start and save, a timeout
 * with partial data, and a denied scope.
 */
describe('full syncs as bulk operations', function () {
  this.timeout(90_000);
  let t: SyncTestContext;
  let integrationId: number;
  let key: string;

  const shop = () => t.mock.shop(SHOP);
  const request = (resource: ResourceName, id = integrationId): SyncRequest => ({ integrationId: id, resource, mode: 'full', trigger: 'manual', jobId: null });

  /** Runs as the worker would: a waiting run is run again after its delay, until it ends. */
  async function syncToEnd(req: SyncRequest): Promise<{ result: SyncResult; waits: number }> {
    for (let waits = 0; waits < 400; waits++) {
      const result = await runSync(t.ctx, req);
      if (result.status !== 'waiting') return { result, waits };
      await new Promise((resolve) => setTimeout(resolve, Math.min(result.retryInMs, 100)));
    }
    throw new Error('the bulk sync kept waiting');
  }

  async function syncAll(): Promise<void> {
    for (const resource of RESOURCE_NAMES) {
      const { result } = await syncToEnd(request(resource));
      expect(result.status, `${resource} sync`).to.equal('succeeded');
    }
  }

  before(async () => {
    t = await startSyncTestContext(
      {
        apiSecret: SECRET,
        shops: [
          { domain: SHOP, products: 60, orders: 40, customers: 25, locations: 3 },
          { domain: OLD_VERSION_SHOP, products: 8, customers: 4, locations: 1 },
        ],
      },
      { SHOPIFY_API_SECRET: SECRET, SYNC_FULL_VIA_BULK: 'true' },
    );
    integrationId = (await t.connect(TENANT, SHOP)).id;
    key = await t.keyFor(TENANT);
    // Children far from their parents, as Shopify may write them.
    shop().bulk.configure({ interleave: { window: 24, farShare: 0.1, farLines: 200 }, seed: 7 });
  });
  after(async () => t?.close());

  it('when a store is first synced, then every resource comes by one bulk operation and the copy equals the store', async () => {
    const before = shop().bulk.stats.started;
    await syncAll();
    expect(shop().bulk.stats.started - before).to.equal(RESOURCE_NAMES.length);
    await expectCopyEqualsStore(t, key, shop());

    const [log] = (await t.runsOf(integrationId, 'products')).slice(-1);
    expect(log!.status).to.equal('succeeded');
    expect(log!.bulk_operation_id).to.match(/^gid:\/\/shopify\/BulkOperation\/\d+$/);
    expect(log!.bulk_status).to.equal('COMPLETED');
    expect(Number(log!.bulk_object_count)).to.be.greaterThan(60);
    expect(Number(log!.bytes_downloaded)).to.be.greaterThan(1000);

    // The service validates its responses against the contract in tests.
    const res = await call(t.url, 'GET', `/api/shopify/sync-logs/${log!.id}/`, { key });
    expect(res.status).to.equal(200);
    expect(res.body.bulk_operation).to.deep.include({ id: log!.bulk_operation_id, status: 'COMPLETED' });
  });

  it('when the store changes (a variant removed, a product deleted, records added), then the next full run leaves the copy equal to the store', async () => {
    const s = shop();
    const product = s.catalog.products.entries[4]!;
    const variants = s.catalog.product(product.id)!.variants;
    s.updateProduct(product.id, { variants: variants.slice(1).map((v) => ({ id: v.id })) as never });
    s.deleteProduct(s.catalog.products.entries[9]!.id);
    s.createProduct({ title: 'Arrived since' });
    s.updateCustomer(s.catalog.customers.entries[2]!.id, { first_name: 'Renamed' });
    s.deleteCustomer(s.catalog.customers.entries[5]!.id);
    s.takeEvents();
    await syncAll();
    await expectCopyEqualsStore(t, key, s);
  });

  it("when two full runs start within one second of Shopify's clock and a variant goes between them, then the second run still removes it", async () => {
    const s = shop();
    // Shopify's createdAt has whole seconds: both exports are created in the same one (a second behind ours).
    s.clock.set(Math.floor(Date.now() / 1000) * 1000 - 1000);
    try {
      await syncToEnd(request('products'));
      const product = s.catalog.products.entries[6]!;
      const variants = s.catalog.product(product.id)!.variants;
      expect(variants.length).to.be.greaterThan(1);
      s.updateProduct(product.id, { variants: variants.slice(1).map((v) => ({ id: v.id })) as never });
      s.takeEvents();
      await syncToEnd(request('products'));
      const runs = (await t.runsOf(integrationId, 'products')).slice(-2);
      expect(new Set(runs.map((r) => r.bulk_operation_id)).size).to.equal(2);
    } finally {
      s.clock.resume();
    }
    await expectCopyEqualsStore(t, key, s);
  });

  it('when a webhook brings a newer version while the file is waiting to be applied, then the newer version and its children stay', async () => {
    const s = shop();
    s.bulk.configure({ hold: true });
    const first = await runSync(t.ctx, request('products'));
    expect(first.status).to.equal('waiting');
    const [operation] = s.bulk.operations().filter((op) => op.status === 'RUNNING' || op.status === 'CREATED');
    s.bulk.configure({ hold: false });
    s.bulk.release(operation!.id);
    await s.bulk.settled(operation!.id);
    // The file is written; the store changes after its snapshot and the webhook is applied first.
    const product = s.catalog.products.entries[12]!;
    const kept = s.catalog
      .product(product.id)!
      .variants.slice(0, 1)
      .map((v) => ({ id: v.id }));
    const stopConsumers = await runConsumers(t);
    try {
      await deliverInOrder(s, `${t.url}${WEBHOOK_PATH}`, [s.updateProduct(product.id, { title: 'Newer than the file', variants: kept as never })]);
      await drained(t.ctx);
    } finally {
      await stopConsumers();
    }
    s.takeEvents();
    const { result } = await syncToEnd(request('products'));
    expect(result.status).to.equal('succeeded');
    await expectCopyEqualsStore(t, key, s);
  });

  it('when the download is cut midway, then it resumes with a range request and the copy equals the store', async () => {
    const s = shop();
    s.updateProduct(s.catalog.products.entries[20]!.id, { title: 'Changed before the cut' });
    s.takeEvents();
    const cutsBefore = s.bulk.stats.cutDownloads;
    s.bulk.cutNextDownload(4000);
    const { result } = await syncToEnd(request('products'));
    expect(result.status).to.equal('succeeded');
    expect(s.bulk.stats.cutDownloads).to.equal(cutsBefore + 1);
    await expectCopyEqualsStore(t, key, s);
  });

  it('when a worker died after starting an operation but before saving it, then the next run follows that operation instead of starting another', async () => {
    const s = shop();
    s.bulk.configure({ hold: true });
    const run = s.bulk.start(t.config.shopify.apiVersion, s.accessToken, BULK_EXPORT_QUERIES.customers, false);
    if (!('operation' in run)) throw new Error('the mock refused the operation');
    const started = run.operation;
    const before = s.bulk.stats.started;
    expect((await runSync(t.ctx, request('customers'))).status).to.equal('waiting');
    s.bulk.configure({ hold: false });
    s.bulk.release(started.id);
    const { result } = await syncToEnd(request('customers'));
    expect(result.status).to.equal('succeeded');
    expect(s.bulk.stats.started).to.equal(before);
    const [log] = (await t.runsOf(integrationId, 'customers')).slice(-1);
    expect(log!.bulk_operation_id).to.equal(started.id);
  });

  it('when the operation times out, then its partial data is applied, the rest is read paginated, and nothing present is marked deleted', async () => {
    const s = shop();
    s.updateProduct(s.catalog.products.entries[30]!.id, { title: 'Changed before the timeout' });
    s.takeEvents();
    s.bulk.failNext({ errorCode: 'TIMEOUT', afterRootObjects: 10 });
    const first = await runSync(t.ctx, request('products'));
    expect(first.status).to.equal('waiting');
    const { result } = await syncToEnd(request('products'));
    expect(result.status).to.equal('succeeded');
    const runs = (await t.runsOf(integrationId, 'products')).slice(-2);
    expect(runs[0]!.error).to.match(/failed \(TIMEOUT\); its partial data was applied/);
    expect(runs[0]!.records_deleted).to.equal(0);
    expect(runs[1]!.bulk_operation_id).to.equal(null);
    await expectCopyEqualsStore(t, key, s);
  });

  it('when every file URL has expired before it is read, then new operations are started, the walk gives up after three and the next run starts afresh', async () => {
    const s = shop();
    s.bulk.configure({ urlLifetimeMs: 0 });
    const before = s.bulk.stats.started;
    let error: unknown;
    try {
      await syncToEnd(request('locations'));
    } catch (e) {
      error = e;
    }
    expect((error as Error).message).to.match(/started 4 times without completing \(last: file expired\)/);
    expect(s.bulk.stats.started - before).to.equal(4);
    s.bulk.configure({ urlLifetimeMs: 7 * 86_400_000 });
    const { result } = await syncToEnd(request('locations'));
    expect(result.status).to.equal('succeeded');
    await expectCopyEqualsStore(t, key, s);
  });

  it('when Shopify denies the export, then the run fails naming the scope, and the next run starts a new operation', async () => {
    const s = shop();
    s.bulk.failNext({ errorCode: 'ACCESS_DENIED', afterRootObjects: 0 });
    let error: unknown;
    try {
      await syncToEnd(request('orders'));
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(ShopifyAccessDeniedError);
    expect((error as Error).message).to.contain('read_orders');
    const [log] = (await t.runsOf(integrationId, 'orders')).slice(-1);
    expect(log!.status).to.equal('failed');
    expect(log!.error).to.contain('read_orders');
    const { result } = await syncToEnd(request('orders'));
    expect(result.status).to.equal('succeeded');
    await expectCopyEqualsStore(t, key, s);
  });

  it('when the bulk_operations/finish webhook arrives, then the waiting job runs at once rather than at its next look', async () => {
    const s = shop();
    const integration = (await findIntegrationById(t.ctx.db, integrationId))!;
    // The store delivers its webhooks (the finish topic among them) to this service, as after a connect.
    t.ctx.config.shopify.webhookBaseUrl = t.url;
    const registration = await registerWebhooks(clientForIntegration(t.ctx, integration), t.ctx.config, t.ctx.logger);
    expect([...registration.created, ...registration.existing]).to.include('bulk_operations/finish');
    // Polling alone would look again only after a minute.
    t.ctx.config.sync.bulkPollMinSeconds = 60;
    t.ctx.config.sync.bulkPollMaxSeconds = 60;
    s.bulk.configure({ hold: true });
    const workers = await startWorkers(t.ctx);
    try {
      const runsBefore = (await t.runsOf(integrationId, 'customers')).length;
      await enqueueSync(t.ctx, integration, 'customers', 'full', 'manual');
      const operation = await waitFor('the export to start', async () => s.bulk.operations().find((op) => op.status === 'RUNNING' || op.status === 'CREATED'));
      await waitFor('the job to wait', async () => (await syncQueue(t.ctx).getDelayedCount()) === 1);
      s.bulk.configure({ hold: false });
      s.bulk.release(operation.id);
      const t0 = Date.now();
      await t.waitForRuns(integrationId, runsBefore + 1, 20_000);
      expect(Date.now() - t0, 'woken by the webhook, not by the 60 s poll').to.be.below(20_000);
      expect(s.bulk.deliveries.filter((d) => d.ok).length).to.be.greaterThan(0);
    } finally {
      await workers.stop();
      t.ctx.config.sync.bulkPollMinSeconds = 0.05;
      t.ctx.config.sync.bulkPollMaxSeconds = 0.5;
    }
    await expectCopyEqualsStore(t, key, s);
  });

  it('when the sync worker runs every resource at once, then at most five operations run at a time (one before API 2026-01) and all complete', async () => {
    const old = await t.connect('tenant-bulk-old', OLD_VERSION_SHOP, { api_version: '2025-10' });
    const stopWorker = await t.startWorker();
    let runsBefore: number;
    try {
      runsBefore = (await t.runsOf(integrationId)).length;
      for (const id of [integrationId, old.id]) {
        const integration = (await findIntegrationById(t.ctx.db, id))!;
        for (const resource of RESOURCE_NAMES) await enqueueSync(t.ctx, integration, resource, 'full', 'manual');
      }
      await t.waitForRuns(integrationId, runsBefore + RESOURCE_NAMES.length, 60_000);
      await t.waitForRuns(old.id, RESOURCE_NAMES.length, 60_000);
    } finally {
      await stopWorker();
    }
    expect(shop().bulk.stats.concurrentMax).to.be.at.most(5);
    expect(t.mock.shop(OLD_VERSION_SHOP).bulk.stats.concurrentMax).to.equal(1);
    // One export each: an operation that finished while another resource's became the shop's newest is still followed.
    expect(t.mock.shop(OLD_VERSION_SHOP).bulk.stats.started).to.equal(RESOURCE_NAMES.length);
    for (const id of [integrationId, old.id]) {
      const runs = (await t.runsOf(id)).slice(id === integrationId ? runsBefore : 0);
      expect(runs.filter((r) => r.status !== 'succeeded').map((r) => `${r.resource}: ${r.error}`)).to.deep.equal([]);
    }
    await expectCopyEqualsStore(t, key, shop());
  });
});
