import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { startMockShopify, type MockShopify, type MockWebhookEvent } from '../../scripts/mock-shopify/index.js';
import { loadConfig } from '../../src/config.js';
import type { ServiceContext } from '../../src/context.js';
import { closeContext, createContext } from '../../src/main/context.js';
import { createLogger } from '../../src/platform/logger.js';
import { findIntegrationByShop } from '../../src/store/integrations.js';
import { startWebhookConsumers } from '../../src/webhooks/consumer.js';
import { CONSUMER_GROUP, webhookKeys } from '../../src/webhooks/stream.js';
import { startTestContext, TEST_REDIS_URL, type TestContext } from '../support/context.js';
import { captureLogs } from '../support/logs.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { buildScenario, deletedAtMatches, expectedFinalState } from '../support/webhook-scenario.js';
import { clientsReconnected, connectShop, drained, pendingCount, runConsumers, streamLength, tenantRows, waitFor, WEBHOOK_PATH } from '../support/webhooks.js';

const APP_SECRET = 'test-app-secret';
const CHILD = path.resolve(import.meta.dirname, '../support/webhook-worker-child.ts');

describe('webhook pipeline under failures', () => {
  let t: TestContext;
  let mock: MockShopify;

  before(async () => {
    t = await startTestContext({ SHOPIFY_API_SECRET: APP_SECRET, WEBHOOK_CLAIM_IDLE_MS: '500', WEBHOOK_BATCH_SIZE: '10' });
    mock = await startMockShopify({ apiSecret: APP_SECRET, shops: ['crash', 'mysqldown', 'redisdown'].map((n) => ({ domain: `${n}.myshopify.com` })) });
    for (const n of ['crash', 'mysqldown', 'redisdown']) await connectShop(t.ctx, `t-${n}`, `${n}.myshopify.com`);
  });
  after(async () => {
    await mock?.close();
    await t?.close();
  });

  async function deliver(shop: string, events: MockWebhookEvent[]) {
    const results = await mock.shop(`${shop}.myshopify.com`).deliver(events, { url: `${t.url}${WEBHOOK_PATH}`, concurrency: 32 });
    expect(
      results.filter((r) => r.status !== 200),
      'failed deliveries',
    ).to.deep.equal([]);
  }

  async function appliedCount(shop: string): Promise<number> {
    const integration = await findIntegrationByShop(t.ctx.db, `${shop}.myshopify.com`);
    const row = await t.ctx.db
      .selectFrom('shopify_webhook_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('integration_id', '=', integration!.id)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async function expectFinalState(tenant: string, events: MockWebhookEvent[]) {
    for (const [table, records] of expectedFinalState(events)) {
      const rows = await tenantRows(t.ctx, table, tenant);
      const keyOf = (r: Record<string, any>) => (table === 'shopify_inventory_levels' ? `${r.inventory_item_id}:${r.location_id}` : String(r.id));
      const actual = new Map(rows.map((r) => [keyOf(r), r]));
      expect(actual.size, `${table} rows`).to.equal(records.size);
      for (const [key, want] of records) {
        const row = actual.get(key);
        expect(row, `${table} ${key}`).to.exist;
        if (want.payload) expect(row!.raw, `${table} ${key}`).to.deep.equal(want.payload);
        else expect(deletedAtMatches(row!.deleted_at, want), `${table} ${key} deleted_at ${row!.deleted_at?.toISOString()}: ${JSON.stringify(want)}`).to.equal(true);
      }
    }
  }

  async function consumersOn(env: Record<string, string>): Promise<{ ctx: ServiceContext; logs: ReturnType<typeof captureLogs>; stop: () => Promise<void> }> {
    const config = loadConfig({ ...baseEnv(), ...env });
    const logs = captureLogs();
    const ctx = await createContext(config, createLogger({ level: 'debug' }, logs.stream));
    const stopConsumers = await startWebhookConsumers(ctx);
    return {
      ctx,
      logs,
      stop: async () => {
        await stopConsumers();
        await clientsReconnected(ctx);
        await closeContext(ctx);
      },
    };
  }

  const baseEnv = () => ({
    NODE_ENV: 'test',
    DATABASE_URL: t.databaseUrl,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_KEY_PREFIX: t.config.redisKeyPrefix,
    SHOPIFY_API_SECRET: APP_SECRET,
    WEBHOOK_CLAIM_IDLE_MS: '500',
    WEBHOOK_BATCH_SIZE: '10',
    LOG_LEVEL: 'silent',
  });

  it('when a worker is killed mid-batch (SIGKILL), then another claims its entries and nothing is lost or applied twice', async function () {
    this.timeout(60_000);
    const events = buildScenario(mock.shop('crash.myshopify.com'), 800, 21);
    await deliver('crash', events);
    expect(await streamLength(t.ctx)).to.equal(800);

    let child: ChildProcess | undefined = spawn(process.execPath, ['--import', 'tsx', CHILD], { env: { ...process.env, ...baseEnv() }, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve, reject) => {
        child!.stdout!.on('data', (chunk: Buffer) => {
          if (chunk.toString().includes('ready')) resolve();
        });
        child!.once('exit', (code) => reject(new Error(`worker exited early (${code})`)));
      });
      await waitFor('the worker to apply some events', async () => (await appliedCount('crash')) >= 100, 20_000, 5);
      child.kill('SIGKILL');
      await new Promise((resolve) => child!.once('exit', resolve));
      child = undefined;
    } finally {
      child?.kill('SIGKILL');
    }

    const applied = await appliedCount('crash');
    expect(applied, 'killed before the end').to.be.below(800);
    const summary = await t.ctx.redis.xPending(webhookKeys(t.ctx).stream, CONSUMER_GROUP);
    expect(Number(summary.pending), 'entries held by the dead worker').to.be.greaterThan(0);

    const stop = await runConsumers(t);
    try {
      await drained(t.ctx, 30_000);
    } finally {
      await stop();
    }
    expect(await appliedCount('crash')).to.equal(800);
    await expectFinalState('t-crash', events);
    const dead = await t.ctx.redis.xLen(webhookKeys(t.ctx).deadLetters);
    expect(Number(dead)).to.equal(0);
  });

  it('when MySQL goes away, then entries stay pending (not acknowledged, not dead-lettered) and are applied once it is back', async function () {
    this.timeout(30_000);
    const proxy: TcpProxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: Number(new URL(t.databaseUrl).port || 3306) });
    const dbUrl = new URL(t.databaseUrl);
    dbUrl.host = `127.0.0.1:${proxy.port}`;
    const worker = await consumersOn({ DATABASE_URL: dbUrl.toString(), WEBHOOK_CLAIM_IDLE_MS: '300', WEBHOOK_BATCH_SIZE: '100' });
    try {
      const shop = mock.shop('mysqldown.myshopify.com');
      const warmup = [shop.createProduct()];
      await deliver('mysqldown', warmup);
      await drained(t.ctx);

      proxy.cut();
      const events = Array.from({ length: 40 }, (_, i) => (i % 2 ? shop.createCustomer() : shop.createProduct()));
      await deliver('mysqldown', events);
      await waitFor('the consumers to take entries', async () => (await pendingCount(t.ctx)) > 0, 5000);
      await new Promise((resolve) => setTimeout(resolve, 1500)); // five claim periods with MySQL away
      expect(await appliedCount('mysqldown'), 'applied while MySQL was away').to.equal(1);
      expect(await streamLength(t.ctx), 'none acknowledged').to.equal(40);
      expect(await pendingCount(t.ctx), 'held by the consumers').to.be.greaterThan(0);
      expect(Number(await t.ctx.redis.xLen(webhookKeys(t.ctx).deadLetters)), 'dead letters').to.equal(0);
      const deliveries = await t.ctx.redis.xPendingRange(webhookKeys(t.ctx).stream, CONSUMER_GROUP, '-', '+', 100);
      expect(Math.max(...deliveries.map((d) => Number(d.deliveriesCounter))), 'delivery count while held').to.be.at.most(2);

      proxy.restore();
      await drained(t.ctx, 20_000);
      expect(await appliedCount('mysqldown')).to.equal(41);
      await expectFinalState('t-mysqldown', [...warmup, ...events]);
    } finally {
      proxy.restore();
      await worker.stop();
      await proxy.close();
    }
  });

  it('when Redis goes away under the consumers, then they reconnect and apply what was queued meanwhile', async function () {
    this.timeout(30_000);
    const target = new URL(TEST_REDIS_URL);
    const proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 6379) });
    const worker = await consumersOn({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
    try {
      const shop = mock.shop('redisdown.myshopify.com');
      const before = [shop.createCustomer()];
      await deliver('redisdown', before);
      await drained(t.ctx);
      proxy.cut();
      const during = Array.from({ length: 20 }, () => shop.createCustomer());
      await deliver('redisdown', during); // ingest has its own Redis connection
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await appliedCount('redisdown')).to.equal(1);
      proxy.restore();
      await drained(t.ctx, 20_000);
      expect(await appliedCount('redisdown')).to.equal(21);
      await expectFinalState('t-redisdown', [...before, ...during]);
    } finally {
      proxy.restore();
      await worker.stop();
      await proxy.close();
    }
  });
});
