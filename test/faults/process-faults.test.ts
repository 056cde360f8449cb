/**
 * Process faults: the worker and the API run as the service's own child processes and are killed the
 * way production loses them. Afterwards the database must equal the expected state exactly, every sync
 * run must be closed, and no job or stream entry may be left held by a dead process.
 */
import { expect } from 'chai';
import type { MockWebhookEvent } from '../../scripts/mock-shopify/index.js';
import { RESOURCE_NAMES } from '../../src/resources/index.js';
import type { Integration, SyncLog } from '../../src/store/schema.js';
import { enqueueSyncs } from '../../src/sync/enqueue.js';
import { freePort, killAll, serviceEnv, startServiceProcess, type ServiceProcess } from '../support/fault-processes.js';
import { sendUntilAcknowledged } from '../support/fault-sender.js';
import { appliedEvents, expectCatalogMirrored, expectWebhookState, openSyncRuns, streamHealth, syncJobCounts } from '../support/fault-state.js';
import { eventually, startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import { buildScenario } from '../support/webhook-scenario.js';
import { waitFor } from '../support/webhooks.js';

const APP_SECRET = 'test-app-secret';
const SYNC_SHOP = 'crash-sync.myshopify.com';
const HOOK_SHOP = 'crash-hooks.myshopify.com';
const API_SHOP = 'restart-api.myshopify.com';

const chunk = <T>(list: T[], parts: number): T[][] => Array.from({ length: parts }, (_, i) => list.slice(Math.floor((i * list.length) / parts), Math.floor(((i + 1) * list.length) / parts)));

describe('process faults (worker and API as child processes)', function () {
  this.timeout(15 * 60_000);
  let t: SyncTestContext;
  const children: (ServiceProcess | undefined)[] = [];

  before(async () => {
    t = await startSyncTestContext(
      {
        apiSecret: APP_SECRET,
        shops: [
          { domain: SYNC_SHOP, products: 4000, orders: 1500, customers: 1500, locations: 2 },
          { domain: HOOK_SHOP, products: 5, orders: 5, customers: 5 },
          { domain: API_SHOP, products: 5, orders: 5, customers: 5 },
        ],
      },
      // Entries a dead consumer held are claimed after 2 s (production: 60 s); job retries back off 0.5 s.
      { WEBHOOK_CLAIM_IDLE_MS: '2000', WEBHOOK_BATCH_SIZE: '50', SYNC_JOB_BACKOFF_SECONDS: '0.5' },
    );
  });
  afterEach(async () => killAll(children.splice(0)));
  after(async () => t?.close());

  /** Delivers as Shopify does: an event not answered within 5 s is sent again. */
  async function deliver(shop: string, events: MockWebhookEvent[], progress?: { acknowledged: number; attempts: number }): Promise<void> {
    const report = await sendUntilAcknowledged(events, { baseUrl: () => t.url, shop, secret: APP_SECRET, concurrency: 32, retryDelayMs: 200, timeoutMs: 5000, ...(progress ? { progress } : {}) });
    expect(report.acknowledged, 'deliveries acknowledged').to.equal(events.length);
  }

  async function startWorker(env: Record<string, string> = {}): Promise<ServiceProcess> {
    const worker = await startServiceProcess('worker', serviceEnv(t, env));
    children.push(worker);
    return worker;
  }

  const runs = (integrationId: number): Promise<SyncLog[]> => t.runsOf(integrationId);

  it('when the worker is SIGKILLed three times during a 10,000-event backlog and a full sync, then after recovery nothing is lost, duplicated, open or stuck', async () => {
    const syncIntegration: Integration = await t.connect('tenant-crash-sync', SYNC_SHOP);
    const hookIntegration: Integration = await t.connect('tenant-crash-hooks', HOOK_SHOP);
    const events = buildScenario(t.mock.shop(HOOK_SHOP), 10_000, 77);
    const [first, ...later] = chunk(events, 4) as [MockWebhookEvent[], ...MockWebhookEvent[][]];

    // Slow pages keep the sync running long enough to be killed in the middle of it, every time.
    t.mock.setFaults({ latencyMs: 250 }, SYNC_SHOP);
    await enqueueSyncs(t.ctx, syncIntegration, { mode: 'full', trigger: 'manual' });
    await deliver(HOOK_SHOP, first);

    const kills: { applied: number; streamLength: number; pending: number; runningSyncs: string[]; waitedForSyncMs: number }[] = [];
    for (const next of later) {
      const started = Date.now();
      // One consumer taking small batches: slower than ingest, so a burst builds a backlog to die in.
      const worker = await startWorker({ WEBHOOK_CONSUMERS: '1', WEBHOOK_BATCH_SIZE: '10' });
      // A sync is running when one of its runs writes a page after this worker started.
      const pagesAtStart = new Map((await runs(syncIntegration.id)).map((r) => [r.id, r.pages]));
      await waitFor('a sync run to make progress', async () => (await runs(syncIntegration.id)).some((r) => r.status === 'running' && r.pages > (pagesAtStart.get(r.id) ?? 0)), 150_000, 200);
      const waitedForSyncMs = Date.now() - started;

      // A burst of webhooks arrives while the worker applies; kill it in the middle of the burst, once it
      // applied some of it and a backlog is waiting in the stream.
      const appliedBefore = await appliedEvents(t.ctx, hookIntegration.id);
      const progress = { acknowledged: 0, attempts: 0 };
      const delivering = deliver(HOOK_SHOP, next, progress);
      await waitFor(
        'a backlog the worker is working through',
        async () => progress.acknowledged >= next.length * 0.6 && (await appliedEvents(t.ctx, hookIntegration.id)) >= appliedBefore + 100,
        60_000,
        20,
      );
      const health = await streamHealth(t.ctx);
      const runningSyncs = (await runs(syncIntegration.id)).filter((r) => r.status === 'running').map((r) => `${r.resource}#${r.id} p${r.pages}`);
      const applied = await appliedEvents(t.ctx, hookIntegration.id);
      await worker.kill('SIGKILL');
      kills.push({ applied, streamLength: health.length, pending: health.pending, runningSyncs, waitedForSyncMs });
      await delivering;
    }

    expect(kills).to.have.length(3);
    for (const k of kills) {
      expect(k.streamLength, 'a webhook backlog at each kill').to.be.greaterThan(0);
      expect(k.runningSyncs, 'a sync running at each kill').to.not.be.empty;
    }
    expect(await appliedEvents(t.ctx, hookIntegration.id), 'killed before the backlog was applied').to.be.below(10_000);

    // Recovery: one more worker (default settings), no operator. Shopify is fast again.
    t.mock.setFaults({ latencyMs: 0 }, SYNC_SHOP);
    const recoveryStarted = Date.now();
    await startWorker({ WEBHOOK_BATCH_SIZE: '200' });
    await waitFor(
      'the stream to drain and every sync to finish',
      async () => {
        const stream = await streamHealth(t.ctx);
        const counts = await syncJobCounts(t.ctx);
        const open = await openSyncRuns(t.ctx);
        return stream.length === 0 && stream.pending === 0 && open.length === 0 && Object.values(counts).every((n) => n === 0);
      },
      300_000,
      500,
    );
    const recoveryMs = Date.now() - recoveryStarted;

    // Webhooks: every event applied exactly once, the tables equal applying the scenario once in order.
    expect(await appliedEvents(t.ctx, hookIntegration.id)).to.equal(10_000);
    await expectWebhookState(t.ctx, 'tenant-crash-hooks', events);
    const stream = await streamHealth(t.ctx);
    expect(stream).to.deep.equal({ length: 0, pending: 0, deadLetters: 0, holders: [] });

    // Sync: the copy equals the catalog; every run is closed; the last run of each resource succeeded.
    const counts = await expectCatalogMirrored(t.ctx, 'tenant-crash-sync', t.mock.shop(SYNC_SHOP));
    const all = await runs(syncIntegration.id);
    expect(all.filter((r) => r.status === 'queued' || r.status === 'running')).to.deep.equal([]);
    for (const resource of RESOURCE_NAMES) {
      const last = all.filter((r) => r.resource === resource).at(-1);
      expect(last, resource).to.include({ status: 'succeeded', mode: 'full', error: null });
    }
    for (const failed of all.filter((r) => r.status === 'failed')) expect(failed.error, `run ${failed.id}`).to.be.a('string').and.not.be.empty;
    expect(await syncJobCounts(t.ctx)).to.deep.equal({ active: 0, waiting: 0, delayed: 0, prioritized: 0, 'waiting-children': 0, paused: 0, failed: 0 });

    console.log(`      worker SIGKILLed ${kills.length}×: ${JSON.stringify(kills)}`);
    console.log(
      `      recovery took ${recoveryMs} ms; ${all.length} sync runs (${all.filter((r) => r.status === 'failed').length} closed as failed: ${[...new Set(all.filter((r) => r.status === 'failed').map((r) => r.error))].join(' | ')})`,
    );
    console.log(`      checked: 10,000 webhook events; catalog ${JSON.stringify(counts)}`);
  });

  it("when the API process is SIGKILLed and later SIGTERMed during ingest, then the sender's retries get every event acknowledged and applied once", async () => {
    const integration = await t.connect('tenant-restart-api', API_SHOP);
    const port = await freePort();
    const apiEnv = serviceEnv(t, { PORT: String(port), HOST: '127.0.0.1' });
    const startApi = async () => {
      const api = await startServiceProcess('api', apiEnv);
      children.push(api);
      return api;
    };
    await startWorker();
    let api = await startApi();
    const events = buildScenario(t.mock.shop(API_SHOP), 4000, 9);
    const progress = { acknowledged: 0, attempts: 0 };
    const sending = sendUntilAcknowledged(events, { baseUrl: () => `http://127.0.0.1:${port}`, shop: API_SHOP, secret: APP_SECRET, concurrency: 16, retryDelayMs: 50, progress });

    const restarts: { signal: string; acknowledgedBefore: number; exit: number | string; downMs: number }[] = [];
    for (const [signal, after] of [
      ['SIGKILL', 1000],
      ['SIGTERM', 2500],
    ] as const) {
      await eventually(() => progress.acknowledged >= after, 60_000, `${after} acknowledged webhooks`);
      const acknowledgedBefore = progress.acknowledged;
      const down = Date.now();
      const exit = await api.kill(signal);
      api = await startApi();
      restarts.push({ signal, acknowledgedBefore, exit, downMs: Date.now() - down });
    }
    const report = await sending;

    expect(report.acknowledged, 'events acknowledged in the end').to.equal(events.length);
    expect(report.failedAttempts[0] ?? 0, 'attempts that got no answer (the API was down)').to.be.greaterThan(0);
    expect(
      Object.keys(report.failedAttempts).filter((s) => Number(s) >= 500),
      'server errors',
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
    expect(await appliedEvents(t.ctx, integration.id)).to.equal(events.length);
    await expectWebhookState(t.ctx, 'tenant-restart-api', events);
    expect((await streamHealth(t.ctx)).deadLetters).to.equal(0);
    console.log(
      `      API restarts: ${JSON.stringify(restarts)}; ${report.outcomes.reduce((n, o) => n + o.attempts.length, 0)} attempts for ${events.length} events, failed attempts by status ${JSON.stringify(report.failedAttempts)}`,
    );
  });
});
