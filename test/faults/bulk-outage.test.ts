/**
 * Outages while a bulk full sync applies its file: MySQL cut (through a TCP proxy), Redis cut, the worker
 * process SIGKILLed, each once the file is partly applied. The sync must finish by itself afterwards
 * with the same bulk operation (none started again at the mock), resuming at the line it reached, mark
 * nothing present as deleted, and leave the copy equal to the store record for record.
 */
import { expect } from 'chai';
import type { MockBulkOperation, MockShop } from '../../scripts/mock-shopify/index.js';
import { RESOURCE_NAMES, type ResourceName } from '../../src/resources/index.js';
import { BULK_EXPORT_QUERIES } from '../../src/shopify/graphql/documents/bulk.js';
import type { Integration, SyncLog } from '../../src/store/schema.js';
import { enqueueSync } from '../../src/sync/enqueue.js';
import { runSync } from '../../src/sync/run-sync.js';
import { startSyncWorker } from '../../src/sync/worker.js';
import { expectCopyEqualsStore } from '../support/copy-equals-store.js';
import { proxiedDatabase, proxiedRedis, startSideContext } from '../support/fault-context.js';
import { killAll, serviceEnv, startServiceProcess, type ServiceProcess } from '../support/fault-processes.js';
import { openSyncRuns, syncJobCounts } from '../support/fault-state.js';
import { startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import type { TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/webhooks.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const SHOPS = { mysql: 'bulk-cut-mysql.myshopify.com', redis: 'bulk-cut-redis.myshopify.com', kill: 'bulk-kill-worker.myshopify.com' } as const;
type Fault = keyof typeof SHOPS;
/** Products per shop: about 12,000 lines (1–5 variants each), some 25 pages of the apply. */
const PRODUCTS = 3000;

interface SavedFile {
  offset: number;
  line: number;
}

describe('outages while a bulk full sync applies its file', function () {
  this.timeout(4 * 60_000);
  let t: SyncTestContext;
  const children: (ServiceProcess | undefined)[] = [];

  before(async () => {
    t = await startSyncTestContext(
      { shops: Object.values(SHOPS).map((domain) => ({ domain, products: PRODUCTS, orders: 30, customers: 30, locations: 1 })) },
      // Job retries back off 0.5, 1, 2, 4 … s: a worker rides out a few seconds of outage without giving up.
      { SYNC_FULL_VIA_BULK: 'true', SYNC_JOB_BACKOFF_SECONDS: '0.5', SYNC_JOB_ATTEMPTS: '8', SHOPIFY_SYNC_INTERVAL_LOCATIONS: '0' },
    );
    for (const domain of Object.values(SHOPS)) {
      // Children far from their parents (across page boundaries), as Shopify may write them; no finish webhooks.
      t.mock.shop(domain).bulk.configure({ interleave: { window: 24, farShare: 0.1, farLines: 200 }, seed: 11, webhooks: false });
    }
  });
  afterEach(async () => killAll(children.splice(0)));
  after(async () => t?.close());

  /** The store synced once by bulk (no fault), as the worker would run it, then changed. */
  async function syncedThenChanged(fault: Fault): Promise<{ integration: Integration; shop: MockShop; key: string; tenant: string }> {
    const tenant = `tenant-bulk-${fault}`;
    const integration = await t.connect(tenant, SHOPS[fault]);
    const shop = t.mock.shop(SHOPS[fault]);
    // Inventory levels are synced once, after the products run under test (see expectCompleted).
    for (const resource of RESOURCE_NAMES.filter((r) => r !== 'inventory')) await syncToEnd(integration.id, resource);
    const products = shop.catalog.products.entries;
    const trimmed = products[40]!;
    shop.updateProduct(trimmed.id, {
      variants: shop.catalog
        .product(trimmed.id)!
        .variants.slice(1)
        .map((v) => ({ id: v.id })) as never,
    });
    shop.updateProduct(products[1500]!.id, { title: 'Renamed before the outage' });
    shop.deleteProduct(products[2200]!.id);
    shop.createProduct({ title: 'Arrived before the outage' });
    shop.takeEvents();
    return { integration, shop, key: await t.keyFor(tenant), tenant };
  }

  async function syncToEnd(integrationId: number, resource: ResourceName): Promise<void> {
    for (let waits = 0; waits < 400; waits++) {
      const result = await runSync(t.ctx, { integrationId, resource, mode: 'full', trigger: 'manual', jobId: null });
      if (result.status === 'succeeded') return;
      if (result.status !== 'waiting') throw new Error(`${resource} sync ${result.status}`);
      await sleep(Math.min(result.retryInMs, 100));
    }
    throw new Error(`the ${resource} bulk sync kept waiting`);
  }

  const productExports = (shop: MockShop): MockBulkOperation[] => shop.bulk.operations().filter((op) => op.query === BULK_EXPORT_QUERIES.products);

  /** Where the products walk of the integration stands in its bulk file (saved with each page). */
  async function savedFile(integrationId: number): Promise<SavedFile | undefined> {
    const row = await t.ctx.db.selectFrom('shopify_sync_state').select('walk_position').where('integration_id', '=', integrationId).where('resource', '=', 'products').executeTakeFirst();
    const position = typeof row?.walk_position === 'string' ? JSON.parse(row.walk_position) : row?.walk_position;
    return position?.bulk?.file;
  }

  /** Queues the products sync and resolves once its file is between a fifth and two thirds applied (the moment to break it). */
  async function applyUnderway(integration: Integration, shop: MockShop): Promise<{ operation: MockBulkOperation; at: SavedFile }> {
    const exportsBefore = productExports(shop).length;
    await enqueueSync(t.ctx, integration, 'products', 'full', 'manual');
    const operation = await waitFor(
      'the products export to complete',
      async () =>
        productExports(shop)
          .slice(exportsBefore)
          .find((op) => op.status === 'COMPLETED'),
      60_000,
      20,
    );
    const size = operation.fileSize ?? 0;
    const at = await waitFor(
      'the apply to pass a fifth of the file',
      async () => {
        const file = await savedFile(integration.id);
        return file && file.offset >= size / 5 ? file : undefined;
      },
      60_000,
      5,
    );
    expect(at.offset, 'the file is still being applied when it is broken').to.be.below((size * 2) / 3);
    return { operation, at };
  }

  async function allJobsDone(timeoutMs: number): Promise<void> {
    await waitFor('every sync job to finish', async () => (await openSyncRuns(t.ctx)).length === 0 && Object.values(await syncJobCounts(t.ctx)).every((n) => n === 0), timeoutMs, 100);
  }

  /**
   * The run went on with its operation (no other export started), resumed at the line it reached when
   * `resumedIn` holds the worker's log (each line of the file counted once across the attempts), swept
   * only the product deleted at the store, and the copy equals the store.
   */
  async function expectCompleted(c: { integration: Integration; shop: MockShop; key: string }, operation: MockBulkOperation, exportsBefore: number, resumedIn?: string): Promise<SyncLog[]> {
    const exports = productExports(c.shop);
    expect(exports.length - exportsBefore, 'products exports started for the run').to.equal(1);
    const runs = (await t.runsOf(c.integration.id, 'products')).filter((r) => r.bulk_operation_id === operation.id);
    // Normally one log row, kept across the attempts; a row an attempt managed to close as failed is followed by another.
    expect(runs.at(-1), 'the last run of the operation').to.include({ status: 'succeeded', bulk_status: 'COMPLETED', records_deleted: 1 });
    for (const r of runs.slice(0, -1)) expect(r, `run ${r.id}`).to.include({ status: 'failed' });
    expect(
      runs.reduce((n, r) => n + r.records_fetched, 0),
      'lines of the file applied across the attempts',
    ).to.equal(operation.objectCount);
    if (resumedIn !== undefined) expect(resumedIn, 'the next attempt resumed the file').to.include('bulk file resumed at the line an earlier attempt reached');
    expect(await savedFile(c.integration.id), 'no walk left in progress').to.equal(undefined);
    // Inventory levels are their own resource (the items of the deleted and the new product come with its sync).
    await syncToEnd(c.integration.id, 'inventory');
    await expectCopyEqualsStore(t, c.key, c.shop);
    return runs;
  }

  async function cutWhileApplying(fault: 'mysql' | 'redis', proxy: TcpProxy, env: Record<string, string>, downMs: number, breaksTheApply: boolean) {
    const c = await syncedThenChanged(fault);
    const exportsBefore = productExports(c.shop).length;
    const worker = await startSideContext(t, env);
    const stop = await startSyncWorker(worker.ctx);
    try {
      const { operation, at } = await applyUnderway(c.integration, c.shop);
      proxy.cut();
      await sleep(downMs);
      const duringOutage = await savedFile(c.integration.id);
      proxy.restore();
      await allJobsDone(90_000);
      const runs = await expectCompleted(c, operation, exportsBefore, breaksTheApply ? worker.logs.text() : undefined);
      return { operation, at, duringOutage, runs, logs: worker.logs, fileSize: operation.fileSize };
    } finally {
      proxy.restore();
      await stop();
      await worker.close();
    }
  }

  it('when MySQL connections are reset midway through the file (3 s away), then the job retries, goes on with the same operation from the saved line, and the copy equals the store', async () => {
    const { proxy, url } = await proxiedDatabase(t.databaseUrl);
    try {
      const r = await cutWhileApplying('mysql', proxy, { DATABASE_URL: url }, 3000, true);
      // The outage stopped the apply midway: the attempt it hit failed, and a later one finished the same run.
      expect(r.duringOutage?.offset, 'bytes applied when MySQL came back').to.be.below(r.fileSize ?? 0);
      expect(r.logs.text())
        .to.include('sync failed')
        .and.match(/ECONNRESET|ECONNREFUSED|closed state|Connection lost|PROTOCOL_CONNECTION_LOST/);
      console.log(`      MySQL cut at byte ${r.at.offset} of ${r.fileSize} (line ${r.at.line}); runs ${JSON.stringify(r.runs.map((x) => [x.id, x.status, x.records_fetched, x.error]))}`);
    } finally {
      await proxy.close();
    }
  });

  it('when Redis connections are reset midway through the file (3 s away), then the apply goes on, the job completes once Redis is back, with the same operation, and the copy equals the store', async () => {
    const { proxy, url } = await proxiedRedis(t.config.redisUrl);
    try {
      const r = await cutWhileApplying('redis', proxy, { REDIS_URL: url }, 3000, false);
      // The worker lost Redis (its queues, its limiter), yet the apply, which needs MySQL and the file only, went on meanwhile.
      expect(r.logs.text()).to.include('queue connection error').and.include('ECONNRESET');
      if (r.duringOutage) expect(r.duringOutage.offset, 'bytes applied while Redis was away').to.be.above(r.at.offset);
      console.log(
        `      Redis cut at byte ${r.at.offset} of ${r.fileSize} (line ${r.at.line}), at byte ${r.duringOutage?.offset ?? 'end'} when it returned; runs ${JSON.stringify(r.runs.map((x) => [x.id, x.status, x.records_fetched, x.error]))}`,
      );
    } finally {
      await proxy.close();
    }
  });

  it('when the worker process is SIGKILLed midway through the file, then another worker takes the stalled job over and finishes the same operation from the saved line', async () => {
    const env = serviceEnv(t, { SHOPIFY_SYNC_INTERVAL_LOCATIONS: '0' });
    // The worker boots while the store is first synced (no job is queued before applyUnderway).
    const [first, c] = await Promise.all([startServiceProcess('worker', env), syncedThenChanged('kill')]);
    children.push(first);
    const exportsBefore = productExports(c.shop).length;
    const { operation } = await applyUnderway(c.integration, c.shop);
    const exit = await first.kill('SIGKILL');
    const killedAt = await savedFile(c.integration.id);
    expect(killedAt?.offset, 'bytes applied when the worker died').to.be.below(operation.fileSize ?? 0);
    const killed = Date.now();
    // BullMQ hands a job whose lock expired (30 s) to the next worker's stalled-job check.
    const next = await startServiceProcess('worker', env);
    children.push(next);
    const ready = Date.now() - killed;
    await allJobsDone(150_000);
    const runs = await expectCompleted(c, operation, exportsBefore, next.lines.join('\n'));
    const resumedAt = next.lines.find((l) => l.includes('bulk file resumed'));
    console.log(
      `      worker killed (${exit}) at byte ${killedAt?.offset} of ${operation.fileSize} (line ${killedAt?.line}); next worker ready after ${ready} ms, resumed ${resumedAt ? new Date(JSON.parse(resumedAt).time).getTime() - killed : '?'} ms after the kill, done after ${Date.now() - killed} ms; runs ${JSON.stringify(runs.map((x) => [x.id, x.status, x.records_fetched, x.error]))}`,
    );
  });
});
