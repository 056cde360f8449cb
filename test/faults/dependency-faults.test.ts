/**
 * Dependency faults: MySQL and Redis connections reset (through a TCP proxy) while a sync runs and while
 * webhooks are ingested and applied. Work must resume by itself once the dependency is back, and the
 * end state must be exact: the catalog mirrored, every acknowledged webhook applied once.
 */
import { expect } from 'chai';
import { startMockShopify, type MockShopify } from '../../scripts/mock-shopify/index.js';
import { RESOURCE_NAMES } from '../../src/resources/index.js';
import type { Integration } from '../../src/store/schema.js';
import { enqueueSyncs } from '../../src/sync/enqueue.js';
import { startSyncWorker } from '../../src/sync/worker.js';
import { startWebhookConsumers } from '../../src/webhooks/consumer.js';
import { startTestContext, type TestContext } from '../support/context.js';
import { proxiedDatabase, proxiedRedis, startSideContext } from '../support/fault-context.js';
import { sendUntilAcknowledged } from '../support/fault-sender.js';
import { appliedEvents, expectCatalogMirrored, expectWebhookState, openSyncRuns, streamHealth, syncJobCounts } from '../support/fault-state.js';
import { call, expectProblem } from '../support/http.js';
import { eventually, startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import type { TcpProxy } from '../support/tcp-proxy.js';
import { buildScenario } from '../support/webhook-scenario.js';
import { clientsReconnected, connectShop, waitFor } from '../support/webhooks.js';

const APP_SECRET = 'test-app-secret';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('dependency faults during a sync (MySQL, Redis cut under the worker)', function () {
  this.timeout(10 * 60_000);
  let t: SyncTestContext;
  const shops = { mysql: 'cut-mysql.myshopify.com', redis: 'cut-redis.myshopify.com' };

  before(async () => {
    t = await startSyncTestContext(
      { apiSecret: APP_SECRET, shops: Object.values(shops).map((domain) => ({ domain, products: 3000, orders: 1000, customers: 1000, locations: 2 })) },
      // Job retries back off 1, 2, 4, 8 s: a worker rides out a 15-second outage without giving up.
      { SYNC_JOB_BACKOFF_SECONDS: '1', SYNC_JOB_ATTEMPTS: '6' },
    );
  });
  after(async () => t?.close());

  /** Runs a full sync of every resource with a worker on `env`, cutting `proxy` as told; returns when all jobs are done. */
  async function syncThrough(integration: Integration, shop: string, env: Record<string, string>, proxy: TcpProxy, outages: { afterPages: number; downMs: number }[]) {
    const worker = await startSideContext(t, env);
    const stop = await startSyncWorker(worker.ctx);
    const started = Date.now();
    try {
      t.mock.setFaults({ latencyMs: 40 }, shop);
      await enqueueSyncs(t.ctx, integration, { mode: 'full', trigger: 'manual' });
      for (const outage of outages) {
        const pages = async () => (await t.runsOf(integration.id)).reduce((n, r) => n + r.pages, 0);
        const target = (await pages()) + outage.afterPages;
        await eventually(async () => (await pages()) >= target, 60_000, `${outage.afterPages} more pages`);
        proxy.cut();
        await sleep(outage.downMs);
        proxy.restore();
      }
      t.mock.setFaults({ latencyMs: 0 }, shop);
      await waitFor('every sync job to finish', async () => (await openSyncRuns(t.ctx)).length === 0 && Object.values(await syncJobCounts(t.ctx)).every((n) => n === 0), 180_000, 250);
    } finally {
      proxy.restore();
      await stop();
      await worker.close();
    }
    return { ms: Date.now() - started, logs: worker.logs };
  }

  async function expectConverged(integration: Integration, tenant: string, shop: string) {
    const counts = await expectCatalogMirrored(t.ctx, tenant, t.mock.shop(shop));
    const runs = await t.runsOf(integration.id);
    expect(
      runs.filter((r) => r.status === 'queued' || r.status === 'running'),
      'runs left open',
    ).to.deep.equal([]);
    for (const resource of RESOURCE_NAMES) expect(runs.filter((r) => r.resource === resource).at(-1), resource).to.include({ status: 'succeeded' });
    const failed = runs.filter((r) => r.status === 'failed');
    for (const r of failed) expect(r.error, `run ${r.id}`).to.be.a('string').and.not.be.empty;
    return { counts, runs: runs.length, failed: failed.map((r) => `${r.resource}: ${r.error}`) };
  }

  it('when MySQL connections are reset twice during a full sync (a blip, then 4 s away), then the runs that broke are closed as failed with the reason, the jobs retry, and the copy converges to the exact catalog', async () => {
    const integration = await t.connect('tenant-cut-mysql', shops.mysql);
    const { proxy, url } = await proxiedDatabase(t.databaseUrl);
    try {
      const { ms } = await syncThrough(integration, shops.mysql, { DATABASE_URL: url }, proxy, [
        { afterPages: 4, downMs: 50 },
        { afterPages: 10, downMs: 4000 },
      ]);
      const result = await expectConverged(integration, 'tenant-cut-mysql', shops.mysql);
      expect(result.failed.length, 'runs broken by the outage').to.be.greaterThan(0);
      // Each names what broke it, whether the attempt closed its own run or the next one did.
      for (const f of result.failed) expect(f).to.match(/ECONNRESET|ECONNREFUSED|closed state|Connection lost|PROTOCOL_CONNECTION_LOST/);
      console.log(`      MySQL cut twice: converged in ${ms} ms over ${result.runs} runs; failed runs: ${JSON.stringify(result.failed)}; catalog ${JSON.stringify(result.counts)}`);
    } finally {
      await proxy.close();
    }
  });

  it('when Redis connections are reset during a full sync (4 s away: limiter, locks and job state), then the worker reconnects by itself and the copy converges to the exact catalog', async () => {
    const integration = await t.connect('tenant-cut-redis', shops.redis);
    const { proxy, url } = await proxiedRedis(t.config.redisUrl);
    try {
      const { ms, logs } = await syncThrough(integration, shops.redis, { REDIS_URL: url }, proxy, [{ afterPages: 4, downMs: 4000 }]);
      const result = await expectConverged(integration, 'tenant-cut-redis', shops.redis);
      expect(logs.text(), 'the limiter fell back to limiting in-process').to.include('rate limiter unavailable');
      console.log(`      Redis cut: converged in ${ms} ms over ${result.runs} runs; failed runs: ${JSON.stringify(result.failed)}; catalog ${JSON.stringify(result.counts)}`);
    } finally {
      await proxy.close();
    }
  });
});

describe('dependency faults during webhook ingest and apply (Redis cut under the API and the consumers)', function () {
  this.timeout(5 * 60_000);
  let t: TestContext;
  let mock: MockShopify;
  let proxy: TcpProxy;
  const SHOP = 'cut-ingest.myshopify.com';

  before(async () => {
    const redis = await proxiedRedis(process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
    proxy = redis.proxy;
    mock = await startMockShopify({ apiSecret: APP_SECRET, shops: [{ domain: SHOP }] });
    t = await startTestContext({ REDIS_URL: redis.url, SHOPIFY_API_SECRET: APP_SECRET, WEBHOOK_CLAIM_IDLE_MS: '1000', WEBHOOK_BATCH_SIZE: '50' });
  });
  after(async () => {
    proxy?.restore();
    if (t) await clientsReconnected(t.ctx).catch(() => undefined);
    await t?.close();
    await proxy?.close();
    await mock?.close();
  });

  it('when Redis goes away twice while 3,000 webhooks arrive and are applied, then ingest answers 503 (never 200) while it is away, and every acknowledged webhook is applied exactly once', async () => {
    const owner = await connectShop(t.ctx, 'tenant-cut-ingest', SHOP);
    const events = buildScenario(mock.shop(SHOP), 3000, 31);
    const stopConsumers = await startWebhookConsumers(t.ctx);
    const progress = { acknowledged: 0, attempts: 0 };
    const sending = sendUntilAcknowledged(events, { baseUrl: () => t.url, shop: SHOP, secret: APP_SECRET, concurrency: 16, retryDelayMs: 100, progress });
    const outages: { acknowledgedBefore: number; readiness: number; retryAfter: string | null }[] = [];
    try {
      for (const after of [800, 1800]) {
        await eventually(() => progress.acknowledged >= after, 60_000, `${after} acknowledged webhooks`);
        proxy.cut();
        const acknowledgedBefore = progress.acknowledged;
        await sleep(300);
        const ready = await call(t.url, 'GET', '/readyz');
        expectProblem(ready, 503);
        expect(ready.body.checks.redis.status).to.equal('down');
        await sleep(2000);
        outages.push({ acknowledgedBefore, readiness: ready.status, retryAfter: ready.headers.get('retry-after') });
        proxy.restore();
      }
      const report = await sending;
      expect(report.acknowledged, 'acknowledged in the end').to.equal(events.length);
      expect(report.failedAttempts[503] ?? 0, 'attempts answered 503 while Redis was away').to.be.greaterThan(0);
      expect(
        Object.keys(report.failedAttempts).filter((s) => s !== '503' && s !== '0'),
        'other failures',
      ).to.deep.equal([]);
      await waitFor(
        'the stream to drain',
        async () => {
          const s = await streamHealth(t.ctx);
          return s.length === 0 && s.pending === 0;
        },
        60_000,
        100,
      );
    } finally {
      proxy.restore();
      await stopConsumers();
    }
    // Every event the sender saw acknowledged (all of them) is applied, once.
    expect(await appliedEvents(t.ctx, owner.integrationId)).to.equal(events.length);
    await expectWebhookState(t.ctx, 'tenant-cut-ingest', events);
    expect((await streamHealth(t.ctx)).deadLetters).to.equal(0);
    const report = await sending;
    console.log(
      `      Redis cut twice during ingest: ${JSON.stringify(outages)}; ${progress.attempts} attempts for ${events.length} events, failed attempts by status ${JSON.stringify(report.failedAttempts)}`,
    );
  });
});
