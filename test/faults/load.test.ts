/**
 * Load: webhook ingest at 1,000 requests/s for 60 s through the API process while a worker process
 * applies the stream at the same time. What is checked is correctness under load — every acknowledged
 * webhook applied, exactly once; latency is reported (p50/p99), not judged (benchmarks judge it).
 * LOAD_RATE and LOAD_SECONDS change the load (e.g. a quick local run).
 */
import { expect } from 'chai';
import { startTestContext, type TestContext } from '../support/context.js';
import { freePort, killAll, serviceEnv, startServiceProcess, type ServiceProcess } from '../support/fault-processes.js';
import { offerLoad } from '../support/fault-load.js';
import { appliedEventIds, streamHealth } from '../support/fault-state.js';
import { connectShop, waitFor } from '../support/webhooks.js';

const APP_SECRET = 'test-app-secret';
const SHOP = 'load-shop.myshopify.com';
const RATE = Number(process.env.LOAD_RATE ?? 1000);
const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);

/** A ~1 KB product as Shopify sends it, its id derived from n (every event a new product). */
function productEvent(n: number) {
  const id = 8_100_000_000_000 + n;
  const at = new Date(Date.UTC(2025, 0, 1) + n * 1000).toISOString();
  const variants = [1, 2, 3].map((v) => ({
    id: id * 10 + v,
    product_id: id,
    title: `Size ${v}`,
    price: `${10 + v}.99`,
    sku: `SKU-${id}-${v}`,
    position: v,
    inventory_item_id: id * 10 + v + 5,
    inventory_quantity: v * 3,
    created_at: at,
    updated_at: at,
  }));
  const product = {
    id,
    title: `Load product ${n}`,
    handle: `load-product-${n}`,
    vendor: 'Load Vendor',
    product_type: 'Shirts',
    status: 'active',
    tags: 'load, test, webhook',
    body_html: '<p>A product created under load, with a description long enough to make the body about one kilobyte.</p>',
    created_at: at,
    updated_at: at,
    variants,
  };
  return { topic: 'products/create', body: JSON.stringify(product) };
}

describe('load: webhook ingest with the worker applying concurrently', function () {
  this.timeout((SECONDS + 600) * 1000);
  let t: TestContext;
  const children: (ServiceProcess | undefined)[] = [];

  before(async () => {
    t = await startTestContext({ SHOPIFY_API_SECRET: APP_SECRET, WEBHOOK_STREAM_MAXLEN: '10000000' });
  });
  after(async () => {
    await killAll(children);
    await t?.close();
  });

  it(`when ${RATE} webhooks/s arrive for ${SECONDS} s, then every acknowledged one is applied exactly once (latency reported)`, async () => {
    const owner = await connectShop(t.ctx, 'tenant-load', SHOP);
    const port = await freePort();
    // Info level: quiet under webhook load (2xx answers and batches log at debug), and it carries the start lines.
    const env = serviceEnv(t, { LOG_LEVEL: 'info', WEBHOOK_STREAM_MAXLEN: '10000000' });
    children.push(
      await startServiceProcess('api', { ...env, PORT: String(port), HOST: '127.0.0.1', NODE_ENV: 'production', TOKEN_ENCRYPTION_KEY: Buffer.from(t.config.encryption.key).toString('base64') }),
    );
    children.push(await startServiceProcess('worker', { ...env, NODE_ENV: 'production', TOKEN_ENCRYPTION_KEY: Buffer.from(t.config.encryption.key).toString('base64') }));
    const url = `http://127.0.0.1:${port}`;

    // Warm-up (counted for correctness, not for latency), then the measured run.
    const warm = await offerLoad({ url, shop: SHOP, secret: APP_SECRET, rate: 200, seconds: 2, event: (n) => productEvent(10_000_000 + n) });
    const result = await offerLoad({ url, shop: SHOP, secret: APP_SECRET, rate: RATE, seconds: SECONDS, maxInFlight: 512, event: productEvent });
    const stream = await streamHealth(t.ctx);
    console.log(
      `      offered ${result.offered} webhooks at ${result.achievedRate} req/s over ${result.seconds} s; acknowledged ${result.acknowledged}; statuses ${JSON.stringify(result.statuses)}, ${result.errors} without an answer within 5 s`,
    );
    console.log(
      `      ingest latency (acknowledged requests) ms: p50 ${result.latencyMs.p50}, p90 ${result.latencyMs.p90}, p99 ${result.latencyMs.p99}, p99.9 ${result.latencyMs.p999}, max ${result.latencyMs.max}`,
    );

    // What was not acknowledged, Shopify sends again (same event id) until it is.
    const retried = [...warm.unacknowledged.map((u) => ({ ...u, n: 10_000_000 + u.n })), ...result.unacknowledged];
    let pending = retried;
    for (let round = 0; pending.length > 0 && round < 20; round++) {
      const ids = new Map(pending.map((u) => [u.n, u.eventId]));
      const again = await offerLoad({ url, shop: SHOP, secret: APP_SECRET, rate: 200, seconds: 0, only: pending.map((u) => u.n), eventId: (n) => ids.get(n) as string, event: productEvent });
      pending = again.unacknowledged;
    }
    expect(pending, 'events never acknowledged').to.deep.equal([]);

    const drainStarted = Date.now();
    await waitFor(
      'the worker to apply the backlog',
      async () => {
        const s = await streamHealth(t.ctx);
        return s.length === 0 && s.pending === 0;
      },
      600_000,
      500,
    );
    const drainMs = Date.now() - drainStarted;

    const applied = await appliedEventIds(t.ctx, owner.integrationId);
    const acknowledged = [...warm.acknowledgedIds, ...result.acknowledgedIds, ...retried.map((u) => u.eventId)];
    const lost = acknowledged.filter((id) => !applied.has(id.toLowerCase()));
    expect(lost.length, 'acknowledged webhooks not applied').to.equal(0);
    expect(applied.size, 'every event applied once').to.equal(warm.offered + result.offered);
    const { n } = await t.ctx.db
      .selectFrom('shopify_products')
      .select((s) => s.fn.countAll<number>().as('n'))
      .where('tenant_id', '=', 'tenant-load')
      .executeTakeFirstOrThrow();
    expect(Number(n), 'one product per event').to.equal(applied.size);
    expect((await streamHealth(t.ctx)).deadLetters).to.equal(0);
    console.log(
      `      ${retried.length} not acknowledged at first, all acknowledged when sent again; backlog when sending stopped: ${stream.length} entries (${stream.pending} in hand); drained ${drainMs} ms later; ${applied.size} events applied once each, none lost`,
    );
  });
});
