import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { startSequencer } from '../../src/events/sequencer.js';
import { startMetricsServer } from '../../src/main/metrics-server.js';
import { startOutboundWorker } from '../../src/outbound/worker.js';
import { appendChangeEvents, type NewChangeEvent } from '../../src/store/change-events.js';
import { createRedisCostLimiter } from '../../src/shopify/graphql/cost-limiter.js';
import { createRedisRateLimiter } from '../../src/shopify/rate-limiter.js';
import type { Integration } from '../../src/store/schema.js';
import { ADMIN_KEY, startTestContext, type TestContext } from '../support/context.js';
import { call, expectProblem } from '../support/http.js';
import { eventually, startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import { runConsumers, sendWebhook, waitFor } from '../support/webhooks.js';

const SHOP = 'metrics-store.myshopify.com';
const APP_SECRET = 'test-app-secret';
/** How long the shop's shared bucket is held full before the sync starts. */
const LIMITER_HOLD_MS = 1000;

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format → samples by metric name (enough of the format for these assertions). */
function parseMetrics(text: string): Map<string, Sample[]> {
  const out = new Map<string, Sample[]>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1] as string] = l[2] as string;
    const list = out.get(m[1] as string) ?? [];
    list.push({ labels, value: Number(m[3]) });
    out.set(m[1] as string, list);
  }
  return out;
}

/** Sum of a family's samples whose labels include `labels`. */
function total(metrics: Map<string, Sample[]>, name: string, labels: Record<string, string> = {}): number {
  const samples = metrics.get(name);
  if (!samples) throw new Error(`${name} is missing from /metrics`);
  return samples.filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((sum, s) => sum + s.value, 0);
}

const basic = (password: string) => `Basic ${Buffer.from(`operator:${password}`).toString('base64')}`;

describe('metrics and the queue dashboard', function () {
  this.timeout(20_000);
  let t: SyncTestContext;
  let integration: Integration;
  let key: string;
  let metrics: Map<string, Sample[]>;
  let productId: number;

  before(async () => {
    t = await startSyncTestContext({ shops: [{ domain: SHOP, products: 12, orders: 4, customers: 4, locations: 1 }] });
    integration = await t.connect('tenant-metrics', SHOP);
    key = await t.keyFor('tenant-metrics');
    await t.startWorker();
    const stopConsumers = await runConsumers(t);
    try {
      // A sync against the mock, through one 429 and one 503 (each retried by the client), starting with
      // the shop's shared buckets full for a moment (as after another process's 429), so its limiter makes it wait.
      await holdShopLimiters(LIMITER_HOLD_MS);
      t.mock.setFaults({ throttleNext: 1, throttleRetryAfter: '0.05', failNext: 1, errorStatus: 503 }, SHOP);
      const sync = await call(t.url, 'POST', '/api/shopify/sync/', { key, body: { resources: ['products'], mode: 'full' } });
      expect(sync.status, sync.text).to.equal(202);
      await t.waitForRuns(integration.id, 1);

      // Reads: a list and one record (the route label must be the pattern, not the id).
      const list = await call(t.url, 'GET', '/api/shopify/products/?limit=2', { key });
      expect(list.status, list.text).to.equal(200);
      productId = list.body.data[0].id;
      expect((await call(t.url, 'GET', `/api/shopify/products/${productId}/`, { key })).status).to.equal(200);

      // Webhooks: one applied, the same event again (duplicate), one with a bad signature, one that cannot be mapped.
      const update = { ...t.mock.shop(SHOP).updateProduct(productId, { title: 'Renamed by webhook' }) };
      const body = JSON.stringify(update.payload);
      expect((await sendWebhook(t.url, { topic: 'products/update', shop: SHOP, body, secret: APP_SECRET, eventId: update.eventId })).status).to.equal(200);
      expect((await sendWebhook(t.url, { topic: 'products/update', shop: SHOP, body, secret: 'not-the-secret' })).status).to.equal(401);
      expect((await sendWebhook(t.url, { topic: 'made/up', shop: SHOP, body: '{}', secret: 'not-the-secret' })).status).to.equal(401);
      await waitFor(
        'the webhook applied',
        async () => (await t.ctx.db.selectFrom('shopify_webhook_events').select('event_id').where('event_id', '=', update.eventId).executeTakeFirst()) !== undefined,
      );
      expect((await sendWebhook(t.url, { topic: 'products/update', shop: SHOP, body, secret: APP_SECRET, eventId: update.eventId })).status).to.equal(200);
      expect((await sendWebhook(t.url, { topic: 'products/update', shop: SHOP, body: '{"title":"no id"}', secret: APP_SECRET })).status).to.equal(200);
      await waitFor('the duplicate and the dead letter counted', async () => {
        const m = await scrape();
        return total(m, 'webhooks_applied_total', { result: 'duplicate' }) === 1 && total(m, 'webhooks_dead_lettered_total') === 1;
      });
    } finally {
      await stopConsumers();
    }
    metrics = await scrape();
  });
  after(async () => t?.close());

  /**
   * Holds the shop's shared buckets for `ms`, as a 429 seen by another process does: the request bucket
   * (REST) and the points bucket (GraphQL), the latter restoring fast afterwards so a query's own cost adds
   * only a few ms to the wait.
   */
  async function holdShopLimiters(ms: number): Promise<void> {
    const { bucketSize, maxRequestsPerSecond } = t.config.shopify;
    const shared = { redis: t.ctx.redis, keys: t.ctx.keys, shop: SHOP };
    await createRedisRateLimiter({ ...shared, bucketSize, ratePerSecond: maxRequestsPerSecond }).throttled(ms);
    const points = createRedisCostLimiter(shared);
    await points.settle(0, { requestedQueryCost: 0, actualQueryCost: 0, throttleStatus: { maximumAvailable: 2000, currentlyAvailable: 2000, restoreRate: 100_000 } });
    await points.throttledFor(ms);
  }

  async function scrape(): Promise<Map<string, Sample[]>> {
    const res = await call(t.url, 'GET', '/metrics', { key: ADMIN_KEY });
    expect(res.status, res.text).to.equal(200);
    return parseMetrics(res.text);
  }

  describe('GET /metrics', () => {
    it('when scraped with the admin key, then it answers the Prometheus text format', async () => {
      const res = await call(t.url, 'GET', '/metrics', { key: ADMIN_KEY });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/plain; version=0\.0\.4/);
      expect(res.text).to.include('# TYPE http_request_duration_seconds histogram');
    });

    it('when requests were served, then they are counted by route pattern and status, never by raw URL', () => {
      expect(total(metrics, 'http_request_duration_seconds_count', { method: 'GET', route: '/api/shopify/products/', status: '200' })).to.equal(1);
      expect(total(metrics, 'http_request_duration_seconds_count', { method: 'GET', route: '/api/shopify/products/{id}/', status: '200' })).to.equal(1);
      expect(total(metrics, 'http_request_duration_seconds_count', { method: 'POST', route: '/api/shopify/sync/', status: '202' })).to.equal(1);
      expect(total(metrics, 'http_request_duration_seconds_count', { method: 'POST', route: '/api/shopify/webhook', status: '401' })).to.equal(2);
      expect(total(metrics, 'http_request_duration_seconds_bucket', { route: '/api/shopify/products/', le: '+Inf' })).to.equal(1);
      const routes = new Set(metrics.get('http_request_duration_seconds_count')?.map((s) => s.labels.route));
      expect([...routes].join(' ')).not.to.include(String(productId));
    });

    it('when webhooks arrived, then they are counted by topic and outcome, unknown topics as "other"', () => {
      expect(total(metrics, 'webhooks_received_total', { topic: 'products/update', outcome: 'queued' })).to.equal(3);
      expect(total(metrics, 'webhooks_received_total', { topic: 'products/update', outcome: 'rejected' })).to.equal(1);
      expect(total(metrics, 'webhooks_received_total', { topic: 'other', outcome: 'rejected' })).to.equal(1);
      expect(metrics.get('webhooks_received_total')?.map((s) => s.labels.topic)).not.to.include('made/up');
    });

    it('when the worker applied them, then applied, duplicate and dead-lettered are counted by topic', () => {
      expect(total(metrics, 'webhooks_applied_total', { topic: 'products/update', result: 'applied' })).to.equal(1);
      expect(total(metrics, 'webhooks_applied_total', { topic: 'products/update', result: 'duplicate' })).to.equal(1);
      expect(total(metrics, 'webhooks_dead_lettered_total', { topic: 'products/update' })).to.equal(1);
    });

    it('when scraped, then the stream gauges are read from Redis (length, pending, lag, dead letters)', () => {
      for (const state of ['length', 'pending', 'lag']) expect(total(metrics, 'webhook_stream_entries', { state }), state).to.equal(0);
      expect(total(metrics, 'webhook_stream_entries', { state: 'dead_letters' })).to.equal(1);
    });

    it('when a sync ran, then runs, duration and records are counted by resource and outcome', () => {
      expect(total(metrics, 'sync_runs_total', { resource: 'products', outcome: 'succeeded' })).to.equal(1);
      expect(total(metrics, 'sync_run_duration_seconds_count', { resource: 'products' })).to.equal(1);
      expect(total(metrics, 'sync_records_total', { resource: 'products', kind: 'fetched' })).to.equal(12);
      expect(total(metrics, 'sync_records_total', { resource: 'products', kind: 'written' })).to.equal(12);
      expect(total(metrics, 'sync_records_total', { resource: 'products', kind: 'deleted' })).to.equal(0);
    });

    it('when Shopify answered 429 and 503, then calls by status, retries, 429s and limiter wait are counted', () => {
      expect(total(metrics, 'shopify_requests_total', { status: '200' })).to.be.at.least(1);
      expect(total(metrics, 'shopify_requests_total', { status: '429' })).to.equal(1);
      expect(total(metrics, 'shopify_requests_total', { status: '503' })).to.equal(1);
      expect(total(metrics, 'shopify_retries_total')).to.equal(2);
      expect(total(metrics, 'shopify_throttled_total')).to.equal(1);
      // In seconds: at most the hold and a query's cost at the restore rate, far below what milliseconds would show.
      expect(total(metrics, 'shopify_limiter_wait_seconds_total'))
        .to.be.above(0)
        .and.below(LIMITER_HOLD_MS / 1000 + 1);
    });

    it('when scraped, then the default process metrics are there', () => {
      expect(total(metrics, 'process_cpu_user_seconds_total')).to.be.greaterThan(0);
      expect(total(metrics, 'nodejs_heap_size_used_bytes')).to.be.greaterThan(0);
    });

    it('when called without the admin key, with a tenant key or a wrong one, then 401 problem', async () => {
      const none = await call(t.url, 'GET', '/metrics');
      expectProblem(none, 401);
      expect(none.headers.get('www-authenticate')).to.match(/^Bearer/);
      expectProblem(await call(t.url, 'GET', '/metrics', { key }), 401);
      expectProblem(await call(t.url, 'GET', '/metrics', { key: `${ADMIN_KEY}x` }), 401);
    });

    it('when the admin key comes as the HTTP Basic password, then 200', async () => {
      expect((await call(t.url, 'GET', '/metrics', { headers: { authorization: basic(ADMIN_KEY) } })).status).to.equal(200);
    });
  });

  describe('the worker metrics listener', () => {
    it('when started, then it serves /metrics behind the admin key and nothing else', async () => {
      const server = await startMetricsServer(t.ctx, 0, '127.0.0.1');
      try {
        expectProblem(await call(server.url, 'GET', '/metrics'), 401);
        const res = await call(server.url, 'GET', '/metrics', { key: ADMIN_KEY });
        expect(res.status).to.equal(200);
        expect(res.text).to.include('sync_runs_total{resource="products",outcome="succeeded"} 1');
        expectProblem(await call(server.url, 'GET', '/api/shopify/products/', { key }), 404);
      } finally {
        await server.stop();
      }
    });
  });

  describe('GET /admin/queues', () => {
    it('when opened without the admin key, then 401 asking for HTTP Basic (the browser prompts)', async () => {
      const res = await call(t.url, 'GET', '/admin/queues');
      expectProblem(res, 401);
      expect(res.headers.get('www-authenticate')).to.match(/^Basic realm=/);
      expectProblem(await call(t.url, 'GET', '/admin/queues', { headers: { authorization: basic('wrong-password') } }), 401);
      expectProblem(await call(t.url, 'GET', '/admin/queues/api/queues', { key }), 401);
    });

    it('when opened with the admin key as the Basic password, then the dashboard page is served', async () => {
      const res = await call(t.url, 'GET', '/admin/queues', { headers: { authorization: basic(ADMIN_KEY) } });
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/html/);
      expect(res.text).to.include('<base href="/admin/queues/"');
    });

    it("when its API is called with the admin key, then it lists the service's queues", async () => {
      const res = await call(t.url, 'GET', '/admin/queues/api/queues?activeQueue=sync&page=1&jobsPerPage=10', { key: ADMIN_KEY });
      expect(res.status, res.text).to.equal(200);
      expect(res.body.queues.map((q: { name: string }) => q.name)).to.have.members(['sync', 'sync-fan-out', 'outbound-deliveries']);
      expect(res.headers.get('x-powered-by')).to.equal(null);
    });
  });
});

describe('metrics of the change feed and outbound webhooks', function () {
  this.timeout(30_000);
  const TENANT = 'tenant-outbound-metrics';
  let t: TestContext;
  let receiver: Server;
  let receiverUrl: string;
  let stopSequencer: () => Promise<void>;
  let stopWorker: () => Promise<void>;
  let key: string;
  let metrics: Map<string, Sample[]>;

  const scrape = async () => {
    const res = await call(t.url, 'GET', '/metrics', { key: ADMIN_KEY });
    expect(res.status, res.text).to.equal(200);
    return { text: res.text, metrics: parseMetrics(res.text) };
  };
  const event = (type: string, resource: string | null, recordKey: string | null): NewChangeEvent => ({
    tenantId: TENANT,
    integrationId: null,
    type,
    resource,
    recordKey,
    shopifyUpdatedAt: null,
    data: { id: recordKey },
  });
  const endpoint = async (body: Record<string, unknown>) => {
    const res = await call(t.url, 'POST', '/api/webhook-endpoints/', { key, body });
    expect(res.status, res.text).to.equal(201);
    return res.body as { id: number };
  };

  before(async () => {
    // One retry ~600 ms after the first failure, and endpoints disabled after 0.36 s of failing: the
    // failing endpoint's one delivery fails, fails again (dead) and its endpoint is disabled.
    t = await startTestContext({
      OUTBOUND_ALLOW_PRIVATE_TARGETS: 'true',
      OUTBOUND_POLL_MS: '20',
      OUTBOUND_RETRY_SCHEDULE_MS: '600',
      OUTBOUND_REQUEUE_MS: '300',
      OUTBOUND_TIMEOUT_MS: '3000',
      OUTBOUND_DISABLE_AFTER_HOURS: '0.0001',
      EVENTS_SEQUENCE_INTERVAL_MS: '20',
    });
    receiver = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(req.url === '/ok' ? 204 : 503).end());
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
    key = await t.keyFor(TENANT);
    stopSequencer = startSequencer(t.ctx);
    stopWorker = await startOutboundWorker(t.ctx);

    const ok = await endpoint({ url: `${receiverUrl}/ok`, event_types: ['product.created', 'product.updated'] });
    const failing = await endpoint({ url: `${receiverUrl}/failing`, event_types: ['order.updated'] });
    // As committed changes append them; the worker's sequencer gives them positions.
    await appendChangeEvents(t.ctx.db, [event('product.created', 'products', '1'), event('product.updated', 'products', '2'), event('order.updated', 'orders', '3')]);
    const statusOf = async (id: number) => (await t.ctx.db.selectFrom('webhook_deliveries').select('status').where('endpoint_id', '=', id).execute()).map((d) => d.status);
    await eventually(async () => (await statusOf(ok.id)).join() === 'delivered,delivered', 10_000, 'both product events delivered');
    await eventually(async () => (await statusOf(failing.id)).join() === 'dead', 10_000, 'the order event dead-lettered');
    await eventually(async () => total((await scrape()).metrics, 'change_events_total', { family: 'endpoint' }) === 1, 5000, 'endpoint.disabled sequenced');
    metrics = (await scrape()).metrics;
  });
  after(async () => {
    await stopWorker?.();
    await stopSequencer?.();
    receiver?.closeAllConnections();
    await new Promise((resolve) => receiver?.close(resolve));
    await t?.close();
  });

  it('when deliveries were attempted, then attempts are counted by outcome: delivered, failed (retried), dead', () => {
    expect(total(metrics, 'outbound_delivery_attempts_total', { outcome: 'delivered' })).to.equal(2);
    expect(total(metrics, 'outbound_delivery_attempts_total', { outcome: 'failed' })).to.equal(1);
    expect(total(metrics, 'outbound_delivery_attempts_total', { outcome: 'dead' })).to.equal(1);
  });

  it("when events were delivered, then the latency from each event's occurrence to its delivery is observed", () => {
    expect(total(metrics, 'outbound_delivery_latency_seconds_count')).to.equal(2);
    expect(total(metrics, 'outbound_delivery_latency_seconds_bucket', { le: '+Inf' })).to.equal(2);
    expect(total(metrics, 'outbound_delivery_latency_seconds_sum')).to.be.above(0).and.below(10);
  });

  it('when an endpoint kept failing, then its disabling is counted and the endpoint and delivery gauges are read from MySQL', () => {
    expect(total(metrics, 'outbound_endpoints_disabled_total')).to.equal(1);
    expect(total(metrics, 'outbound_endpoints', { state: 'enabled' })).to.equal(1);
    expect(total(metrics, 'outbound_endpoints', { state: 'failing' })).to.equal(0);
    expect(total(metrics, 'outbound_endpoints', { state: 'disabled' })).to.equal(1);
    expect(total(metrics, 'outbound_deliveries', { state: 'pending' })).to.equal(0);
    expect(total(metrics, 'outbound_deliveries', { state: 'due' })).to.equal(0);
    expect(total(metrics, 'outbound_deliveries', { state: 'dead' })).to.equal(1);
  });

  it('when events were sequenced, then they are counted by type family (endpoint.disabled included)', () => {
    expect(total(metrics, 'change_events_total', { family: 'product' })).to.equal(2);
    expect(total(metrics, 'change_events_total', { family: 'order' })).to.equal(1);
    expect(total(metrics, 'change_events_total', { family: 'endpoint' })).to.equal(1);
    expect(total(metrics, 'change_events_unsequenced')).to.equal(0);
    expect(total(metrics, 'change_events_unsequenced_age_seconds')).to.equal(0);
  });

  it('when the sequencer stops, then the unsequenced backlog and its age show; the feed route sequences and counts them', async () => {
    await stopSequencer();
    await appendChangeEvents(t.ctx.db, [event('integration.connected', null, null)]);
    await t.ctx.db
      .updateTable('change_events')
      .set({ occurred_at: new Date(Date.now() - 120_000) })
      .where('position', 'is', null)
      .execute();
    const waiting = (await scrape()).metrics;
    expect(total(waiting, 'change_events_unsequenced')).to.equal(1);
    expect(total(waiting, 'change_events_unsequenced_age_seconds')).to.be.within(120, 180);

    const feed = await call(t.url, 'GET', '/api/events/?types=integration.connected', { key });
    expect(feed.status, feed.text).to.equal(200);
    expect(feed.body.data.map((e: { type: string }) => e.type)).to.deep.equal(['integration.connected']);
    const after = (await scrape()).metrics;
    expect(total(after, 'change_events_unsequenced')).to.equal(0);
    expect(total(after, 'change_events_unsequenced_age_seconds')).to.equal(0);
    expect(total(after, 'change_events_total', { family: 'integration' })).to.equal(1);
  });

  it('when scraped, then no label carries a tenant, an endpoint URL or an event type beyond its family', async () => {
    const { text } = await scrape();
    const outboundLines = text.split('\n').filter((line) => /^(outbound_|change_events_)/.test(line));
    expect(outboundLines).not.to.be.empty;
    for (const line of outboundLines) {
      expect(line).not.to.include(TENANT);
      expect(line).not.to.include('127.0.0.1');
      expect(line).not.to.match(/\.(created|updated|disabled|connected)/);
    }
  });
});
