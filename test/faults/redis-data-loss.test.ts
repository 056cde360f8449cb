/**
 * Redis restarted without persistence (every key of the deployment gone) while the worker runs: the
 * consumers recreate their group, the schedulers come back without a restart, and the next scheduled
 * sync repairs what the lost webhooks would have changed.
 */
import { expect } from 'chai';
import type { MockWebhookEvent } from '../../scripts/mock-shopify/index.js';
import { bullPrefix } from '../../src/platform/queues.js';
import { fanOutQueue } from '../../src/sync/queue.js';
import { schedulerId } from '../../src/sync/scheduler.js';
import { startWebhookConsumers } from '../../src/webhooks/consumer.js';
import { deleteKeys } from '../support/context.js';
import { sendUntilAcknowledged } from '../support/fault-sender.js';
import { appliedEvents, streamHealth } from '../support/fault-state.js';
import { eventually, startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import { waitFor } from '../support/webhooks.js';

const APP_SECRET = 'test-app-secret';
const SHOP = 'data-loss.myshopify.com';

describe('Redis loses its data (no persistence) under a running worker', function () {
  this.timeout(120_000);
  let t: SyncTestContext;

  before(async () => {
    t = await startSyncTestContext({ apiSecret: APP_SECRET, shops: [{ domain: SHOP, products: 60, orders: 5, customers: 5 }] }, { SHOPIFY_SYNC_INTERVAL_PRODUCTS: '2', WEBHOOK_CLAIM_IDLE_MS: '500' });
  });
  after(async () => t?.close());

  /** What a Redis restart without persistence does to this deployment: every one of its keys is gone. */
  async function loseRedisData() {
    await deleteKeys(t.ctx, `${t.config.redisKeyPrefix}*`);
    await deleteKeys(t.ctx, `${bullPrefix(t.config.redisKeyPrefix)}*`);
  }

  const deliver = async (events: MockWebhookEvent[]) => {
    const report = await sendUntilAcknowledged(events, { baseUrl: () => t.url, shop: SHOP, secret: APP_SECRET, concurrency: 8 });
    expect(report.acknowledged).to.equal(events.length);
  };

  it('when every key is lost, then consumers recover their group, schedulers come back by themselves, and a scheduled sync brings back what the lost webhooks carried', async () => {
    const integration = await t.connect('tenant-data-loss', SHOP);
    const shop = t.mock.shop(SHOP);
    await t.startWorker();
    let stopConsumers = await startWebhookConsumers(t.ctx);
    await eventually(async () => (await t.runsOf(integration.id, 'products')).some((r) => r.trigger === 'scheduled' && r.status === 'succeeded'), 30_000, 'a first scheduled sync');

    // 1. Lost under running consumers: the next webhooks are still applied (the group is created again).
    await loseRedisData();
    const after = Array.from({ length: 5 }, () => shop.createProduct());
    await deliver(after);
    await waitFor('webhooks after the loss to be applied', async () => (await appliedEvents(t.ctx, integration.id)) === 5, 20_000, 100);

    // 2. Lost with a backlog: 20 changes acknowledged to Shopify, never applied, then Redis loses them.
    await stopConsumers();
    const ids = shop.catalog.products.entries.slice(0, 20).map((e) => e.id);
    await deliver(ids.map((id, i) => shop.updateProduct(id, { title: `Changed while Redis lost it ${i}` })));
    expect((await streamHealth(t.ctx)).length).to.equal(20);
    const lostAt = new Date();
    await loseRedisData();
    expect(await fanOutQueue(t.ctx).getJobScheduler(schedulerId('products')), 'the scheduler went with the data').to.equal(undefined);
    stopConsumers = await startWebhookConsumers(t.ctx);
    try {
      await eventually(async () => Boolean(await fanOutQueue(t.ctx).getJobScheduler(schedulerId('products'))), 20_000, 'the scheduler to be re-created');
      await waitFor(
        'a scheduled sync after the loss',
        async () => (await t.runsOf(integration.id, 'products')).some((r) => r.trigger === 'scheduled' && r.status === 'succeeded' && r.started_at > lostAt),
        30_000,
        200,
      );
    } finally {
      await stopConsumers();
    }
    const titles = await t.ctx.db.selectFrom('shopify_products').select(['id', 'title']).where('id', 'in', ids).execute();
    expect(titles.map((r) => r.title).sort()).to.deep.equal(ids.map((_, i) => `Changed while Redis lost it ${i}`).sort());
    expect(await appliedEvents(t.ctx, integration.id), 'the lost webhooks themselves were never applied').to.equal(5);
    expect(t.logs.text()).to.include('sync schedulers were missing from Redis');
  });
});
