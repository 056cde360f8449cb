/**
 * Outbound webhook faults: tenants' receivers misbehave, the worker delivering to them is SIGKILLed in the
 * middle of a request, and its Redis or MySQL is cut (through a TCP proxy) while changes are applied and
 * delivered. Changes are real: a full sync against the mock Shopify, then signed Shopify webhooks
 * through the API, applied by the worker process. Afterwards every receiver must have acknowledged
 * every event of its tenant's change feed, per record in order, a repeat only under the same webhook-id
 * (Standard Webhooks' at-least-once), and the service must account for each delivery as delivered.
 */
import { expect } from 'chai';
import { RESOURCE_NAMES } from '../../src/resources/index.js';
import type { Integration } from '../../src/store/schema.js';
import { runSync } from '../../src/sync/run-sync.js';
import { expectReplayEqualsApi, readFeed, type FeedEvent } from '../support/change-feed.js';
import { proxiedDatabase, proxiedRedis } from '../support/fault-context.js';
import { killAll, serviceEnv, startServiceProcess, type ServiceProcess } from '../support/fault-processes.js';
import { sendUntilAcknowledged } from '../support/fault-sender.js';
import { call, type ApiResponse } from '../support/http.js';
import { expectDeliveriesSettled, expectFeedDelivered, waitUntilDelivered, type DeliveryReport } from '../support/outbound-deliveries.js';
import { OK, OutboundReceiver, type ReceiverBehaviour } from '../support/outbound-receiver.js';
import { eventually, startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import type { TcpProxy } from '../support/tcp-proxy.js';
import { buildScenario } from '../support/webhook-scenario.js';
import { drained } from '../support/webhooks.js';

const APP_SECRET = 'test-app-secret';
const SHOPS = {
  receivers: 'outbound-receivers.myshopify.com',
  killed: 'outbound-killed.myshopify.com',
  redis: 'outbound-redis.myshopify.com',
  mysql: 'outbound-mysql.myshopify.com',
};
const TIMEOUT_MS = 1000;
/**
 * How long the worst fault here may hold a delivery back: a job left active in BullMQ by a dead worker or
 * a cut connection is found by BullMQ's stalled check within about 10 s (5 s lock, 5 s between checks),
 * and until then its id keeps the re-queue pass from queueing that attempt again; an attempt that could
 * not write its outcome runs again as its job is retried. Plus room for a loaded machine.
 */
const SETTLE_MS = 60_000;
const OUTBOUND_ENV = {
  OUTBOUND_ALLOW_PRIVATE_TARGETS: 'true',
  OUTBOUND_TIMEOUT_MS: String(TIMEOUT_MS),
  OUTBOUND_POLL_MS: '20',
  // 40 retries 250 ms apart (± 10 %): a receiver failing for a few seconds never exhausts them.
  OUTBOUND_RETRY_SCHEDULE_MS: Array(40).fill('250').join(','),
  OUTBOUND_REQUEUE_MS: '300',
  EVENTS_SEQUENCE_INTERVAL_MS: '20',
  // Stream entries a killed worker held are claimed by the next one after a second.
  WEBHOOK_CLAIM_IDLE_MS: '1000',
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Endpoint {
  id: number;
  secret: string;
  path: string;
}

interface Tenant {
  integration: Integration;
  key: string;
  /** The feed's cursor when the endpoints were created: they get every event after it. */
  cursor: string;
  endpoints: Endpoint[];
  /** Events of the initial sync, the first the endpoints get (a fault meant for webhook changes waits until these are delivered). */
  synced: number;
}

describe('outbound webhook faults (receivers failing, the worker killed, Redis and MySQL cut)', function () {
  this.timeout(4 * 60_000);
  let t: SyncTestContext;
  let receiver: OutboundReceiver;
  const children: (ServiceProcess | undefined)[] = [];
  const proxies: TcpProxy[] = [];

  before(async () => {
    const shops = Object.values(SHOPS).map((domain) => ({ domain, products: 6, customers: 3, orders: 3, locations: 2 }));
    t = await startSyncTestContext({ apiSecret: APP_SECRET, shops }, { ...OUTBOUND_ENV, SHOPIFY_API_SECRET: APP_SECRET });
    receiver = new OutboundReceiver();
    await receiver.start();
  });
  afterEach(async function () {
    if (this.currentTest?.state === 'failed') for (const child of children) if (child) console.log(`      ${child.kind} ${child.pid}, last lines:\n${child.lines.slice(-15).join('\n')}`);
    await killAll(children.splice(0));
    for (const proxy of proxies.splice(0)) await proxy.close();
  });
  after(async () => {
    await receiver?.close();
    await t?.close();
  });

  /** The service's own worker entry point, sharing the test's database and key prefix (`env` may point it through a proxy). */
  async function startWorker(env: Record<string, string> = {}): Promise<ServiceProcess> {
    const worker = await startServiceProcess('worker', serviceEnv(t, { ...OUTBOUND_ENV, ...env }));
    children.push(worker);
    return worker;
  }

  /** A tenant connected to its mock shop, with an endpoint per receiver path, and its copy fully synced (events the endpoints receive). */
  async function tenantWithEndpoints(tenantId: string, shop: string, paths: Record<string, ReceiverBehaviour>): Promise<Tenant> {
    const integration = await t.connect(tenantId, shop);
    const key = await t.keyFor(tenantId);
    const { cursor } = await readFeed(t.url, key);
    const endpoints: Endpoint[] = [];
    for (const [path, behaviour] of Object.entries(paths)) {
      const res = await call(t.url, 'POST', '/api/webhook-endpoints/', { key, body: { url: receiver.url(path, behaviour), description: `receiver ${path}` } });
      expect(res.status, res.text).to.equal(201);
      endpoints.push({ id: res.body.id, secret: res.body.secret, path });
    }
    for (const resource of RESOURCE_NAMES) {
      const run = await runSync(t.ctx, { integrationId: integration.id, resource, mode: 'full', trigger: 'manual', jobId: null });
      expect(run.status, `${resource} sync`).to.equal('succeeded');
    }
    const synced = (await readFeed(t.url, key, { after: cursor })).events.length;
    return { integration, key, cursor, endpoints, synced };
  }

  /** Signed Shopify webhooks of `count` changes at the shop (from simulated hour `hour`), sent through the API until each is acknowledged. */
  async function sendChanges(shop: string, count: number, seed: number, hour = 12): Promise<void> {
    const events = buildScenario(t.mock.shop(shop), count, seed, { startMs: Date.UTC(2025, 0, 6, hour) });
    const report = await sendUntilAcknowledged(events, { baseUrl: () => t.url, shop, secret: APP_SECRET, concurrency: 4, retryDelayMs: 100 });
    expect(report.acknowledged, 'webhooks acknowledged by the API').to.equal(events.length);
  }

  /** Once every change is applied: the tenant's feed since its endpoints were created. */
  async function settledFeed(tenant: Tenant): Promise<FeedEvent[]> {
    await drained(t.ctx, 90_000);
    const { events } = await readFeed(t.url, tenant.key, { after: tenant.cursor });
    expect(events.filter((e) => e.resource !== null).length, 'record events in the feed').to.be.greaterThan(50);
    return events;
  }

  /** Every endpoint of the tenant got its feed, as `expectFeedDelivered` defines, and the service says so too. */
  async function expectAllDelivered(tenant: Tenant, feed: FeedEvent[], timeoutMs: number): Promise<Record<string, DeliveryReport>> {
    const reports: Record<string, DeliveryReport> = {};
    for (const endpoint of tenant.endpoints) {
      // The service's account first: once every delivery is recorded delivered, no request is still to come.
      await expectDeliveriesSettled(t.ctx, t.url, tenant.key, endpoint.id, feed.length, timeoutMs);
      await waitUntilDelivered(receiver, endpoint.path, feed, 1000);
      reports[endpoint.path] = expectFeedDelivered(receiver, endpoint.path, endpoint.secret, feed);
    }
    return reports;
  }

  /** Every attempt the API lists for an endpoint (newest first, page by page). */
  async function attemptsOf(tenant: Tenant, endpoint: Endpoint): Promise<{ ok: boolean; status_code: number | null; error: string | null }[]> {
    const attempts = [];
    let cursor: string | null = null;
    do {
      const res: ApiResponse = await call(t.url, 'GET', `/api/webhook-endpoints/${endpoint.id}/attempts/?limit=250${cursor ? `&cursor=${cursor}` : ''}`, { key: tenant.key });
      expect(res.status, res.text).to.equal(200);
      attempts.push(...res.body.data);
      cursor = res.body.next_cursor;
    } while (cursor);
    return attempts;
  }

  it('when receivers time out, answer 500 or reset the connection for a while and then recover, then each gets every event, per record in order, a repeat only under its webhook-id', async () => {
    const tenant = await tenantWithEndpoints('tenant-outbound-receivers', SHOPS.receivers, {
      '/silent': { kind: 'no-answer' },
      '/error': { kind: 'status', status: 500 },
      '/reset': { kind: 'reset' },
    });
    await startWorker();
    const sending = sendChanges(SHOPS.receivers, 150, 61);
    // Failing for a while: until each receiver turned several requests away, and two seconds more.
    await eventually(() => tenant.endpoints.every((e) => receiver.at(e.path).length >= 5), 30_000, 'requests turned away by every receiver');
    await sleep(2000);
    for (const endpoint of tenant.endpoints) receiver.behave(endpoint.path, OK);
    await sending;

    const feed = await settledFeed(tenant);
    const reports = await expectAllDelivered(tenant, feed, 60_000);
    for (const [path, report] of Object.entries(reports)) expect(report.repeats, `${path}: events sent again after a failure`).to.be.greaterThan(0);

    // The attempts the API lists say why each receiver failed.
    const expectedFailure = { '/silent': /timed out after 1000 ms/, '/error': /answered 500/, '/reset': /connection (reset|closed) by the receiver/ } as const;
    for (const endpoint of tenant.endpoints) {
      const failed = (await attemptsOf(tenant, endpoint)).filter((a) => !a.ok);
      const unacknowledged = reports[endpoint.path]!.unacknowledged;
      if (endpoint.path === '/reset') {
        // A reset on a kept-alive connection may be the receiver closing it while idle: the message goes once
        // more on a fresh connection within the same attempt, so an attempt may stand for two requests.
        expect(failed.length, `${endpoint.path}: failed attempts`).to.be.within(Math.ceil(unacknowledged / 2), unacknowledged);
      } else expect(failed.length, `${endpoint.path}: failed attempts`).to.equal(unacknowledged);
      for (const attempt of failed) expect(attempt.error, endpoint.path).to.match(expectedFailure[endpoint.path as keyof typeof expectedFailure]);
    }
    console.log(`      ${feed.length} events per receiver; ${JSON.stringify(reports)}`);
  });

  it('when the worker is SIGKILLed while the receiver holds its requests open, then a new worker delivers every event, the held ones again under their webhook-id', async () => {
    const tenant = await tenantWithEndpoints('tenant-outbound-killed', SHOPS.killed, { '/held': OK });
    const first = await startWorker();
    const sending = sendChanges(SHOPS.killed, 200, 62);
    await eventually(() => receiver.acknowledged('/held').length >= tenant.synced + 20, 30_000, 'changes delivered before the kill');

    // From now on the receiver reads requests and never answers; the kill comes while the first is open.
    const firstHeld = receiver.nextUnanswered('/held');
    receiver.behave('/held', { kind: 'no-answer' });
    const { seq } = await firstHeld;
    await sleep(100);
    const exit = await first.kill('SIGKILL');
    const held = receiver.at('/held').filter((r) => r.seq >= seq);
    receiver.behave('/held', OK);
    expect(exit).to.equal('SIGKILL');
    const killedAt = Date.now();

    await startWorker();
    await sending;
    const feed = await settledFeed(tenant);
    const [report] = Object.values(await expectAllDelivered(tenant, feed, SETTLE_MS));
    const acknowledgedIds = new Set(receiver.acknowledged('/held').map((r) => r.webhookId));
    expect(
      held.filter((r) => !acknowledgedIds.has(r.webhookId)).map((r) => r.webhookId),
      'requests held at the kill, delivered again under the same webhook-id',
    ).to.deep.equal([]);
    console.log(`      ${held.length} requests open at the kill; all ${feed.length} events delivered ${Date.now() - killedAt} ms after it; ${JSON.stringify(report)}`);
  });

  it('when Redis is cut under the worker while changes are applied and delivered, then after it is back every event is delivered and replaying the feed gives the API data', async () => {
    const { proxy, url } = await proxiedRedis(t.config.redisUrl);
    proxies.push(proxy);
    const tenant = await tenantWithEndpoints('tenant-outbound-redis', SHOPS.redis, { '/redis': { kind: 'ok', delayMs: 20 } });
    const worker = await startWorker({ REDIS_URL: url });
    await sendChanges(SHOPS.redis, 100, 63);
    await eventually(() => receiver.acknowledged('/redis').length >= tenant.synced + 20, 30_000, 'changes delivered before the cut');

    proxy.cut();
    const deliveredAtCut = receiver.acknowledged('/redis').length;
    // More changes arrive while the worker cannot reach Redis (the API can: they wait in the stream).
    await sendChanges(SHOPS.redis, 100, 64, 13);
    await sleep(3000);
    const duringCut = receiver.acknowledged('/redis').length - deliveredAtCut;
    proxy.restore();

    const feed = await settledFeed(tenant);
    expect(deliveredAtCut, 'events delivered when Redis was cut').to.be.below(feed.length);
    const [report] = Object.values(await expectAllDelivered(tenant, feed, SETTLE_MS));
    await expectReplayEqualsApi(t.url, tenant.key, (await readFeed(t.url, tenant.key)).events);
    expect(await worker.kill('SIGTERM'), 'the worker ran on and stopped cleanly').to.equal(0);
    console.log(`      ${deliveredAtCut} of ${feed.length} events delivered at the cut, ${duringCut} while cut; ${JSON.stringify(report)}`);
  });

  it('when MySQL is cut under the worker while changes are applied and delivered, then every event is delivered and replaying the feed still gives the API data', async () => {
    const { proxy, url } = await proxiedDatabase(t.databaseUrl);
    proxies.push(proxy);
    // A receiver taking a moment, so requests are in flight when MySQL goes.
    const tenant = await tenantWithEndpoints('tenant-outbound-mysql', SHOPS.mysql, { '/mysql': { kind: 'ok', delayMs: 30 } });
    const worker = await startWorker({ DATABASE_URL: url });
    await sendChanges(SHOPS.mysql, 100, 65);
    await eventually(() => receiver.acknowledged('/mysql').length >= tenant.synced + 20, 30_000, 'changes delivered before the cut');

    proxy.cut();
    const deliveredAtCut = receiver.acknowledged('/mysql').length;
    // More changes arrive while the worker cannot reach MySQL (the API can: they wait in the stream).
    await sendChanges(SHOPS.mysql, 100, 66, 13);
    await sleep(3000);
    proxy.restore();

    const feed = await settledFeed(tenant);
    expect(deliveredAtCut, 'events delivered when MySQL was cut').to.be.below(feed.length);
    const [report] = Object.values(await expectAllDelivered(tenant, feed, SETTLE_MS));
    await expectReplayEqualsApi(t.url, tenant.key, (await readFeed(t.url, tenant.key)).events);
    expect(await worker.kill('SIGTERM'), 'the worker ran on and stopped cleanly').to.equal(0);
    console.log(`      ${deliveredAtCut} of ${feed.length} events delivered at the cut; ${JSON.stringify(report)}`);
  });
});
