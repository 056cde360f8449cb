import { expect } from 'chai';
import { pruneExpired, startRetention } from '../../src/maintenance/retention.js';
import { createSyncLog } from '../../src/store/sync-logs.js';
import type { Owner } from '../../src/store/records.js';
import { startTestContext, type TestContext } from '../support/context.js';
import { call } from '../support/http.js';
import { seedIntegration } from '../support/seed.js';

const DAY = 86_400_000;
const daysAgo = (n: number) => new Date(Date.now() - n * DAY);

describe('retention: webhook event ids and finished sync runs are deleted when expired', () => {
  let t: TestContext;
  let owner: Owner;
  let key: string;

  before(async () => {
    t = await startTestContext({ WEBHOOK_EVENT_RETENTION_DAYS: '7', SYNC_LOG_RETENTION_DAYS: '30' });
    owner = await seedIntegration(t.ctx, 'retention-tenant');
    key = await t.keyFor('retention-tenant');
  });
  after(async () => {
    await t?.close();
  });

  const addEvents = (prefix: string, processedAt: Date, n: number) =>
    t.ctx.db
      .insertInto('shopify_webhook_events')
      .values(
        Array.from({ length: n }, (_, i) => ({
          integration_id: owner.integrationId,
          tenant_id: owner.tenantId,
          event_id: `${prefix}-${i}`,
          topic: 'products/update',
          webhook_id: null,
          triggered_at: null,
          received_at: processedAt,
          processed_at: processedAt,
        })),
      )
      .execute();
  const addRun = (resource: string, status: 'succeeded' | 'failed' | 'running', endedDaysAgo: number) =>
    createSyncLog(t.ctx.db, {
      tenant_id: owner.tenantId,
      integration_id: owner.integrationId,
      resource,
      trigger: 'scheduled',
      mode: 'incremental',
      status,
      started_at: daysAgo(endedDaysAgo + 0.01),
      finished_at: status === 'running' ? null : daysAgo(endedDaysAgo),
    });
  const eventIds = async () => (await t.ctx.db.selectFrom('shopify_webhook_events').select('event_id').orderBy('event_id').execute()).map((r) => r.event_id);
  const runIds = async () => (await t.ctx.db.selectFrom('shopify_sync_logs').select('id').orderBy('id').execute()).map((r) => Number(r.id));

  it('when event ids and runs are past their retention, then a pass deletes them and keeps the rest, the latest run of each resource and open runs', async () => {
    await addEvents('old', daysAgo(8), 3);
    await addEvents('new', daysAgo(6), 2);
    const oldProducts = [await addRun('products', 'succeeded', 40), await addRun('products', 'failed', 35)];
    const stuck = await addRun('products', 'running', 40);
    const recentProducts = await addRun('products', 'succeeded', 1);
    const onlyOrders = await addRun('orders', 'succeeded', 200);

    expect(await pruneExpired(t.ctx)).to.deep.equal({ webhookEvents: 3, syncLogs: 2 });
    expect(await eventIds()).to.deep.equal(['new-0', 'new-1']);
    expect(await runIds()).to.deep.equal([stuck, recentProducts, onlyOrders]);
    expect(oldProducts.every((id) => id < stuck)).to.equal(true);

    // The API still shows the orders run, however old: it is the latest of its resource.
    const logs = await call(t.url, 'GET', '/api/shopify/sync-logs/?resource=orders', { key });
    expect(logs.status).to.equal(200);
    expect(logs.body.data.map((r: { id: number }) => r.id)).to.deep.equal([onlyOrders]);
    expect(await pruneExpired(t.ctx), 'a second pass').to.deep.equal({ webhookEvents: 0, syncLogs: 0 });
  });

  it('when several worker processes start, then one pass per hour prunes (the others find the lock taken)', async () => {
    await addEvents('early', daysAgo(9), 2);
    const stopFirst = startRetention(t.ctx);
    await stopFirst();
    expect(await eventIds(), 'pruned by the first').not.to.include('early-0');
    await addEvents('later', daysAgo(9), 2);
    const stopSecond = startRetention(t.ctx);
    await stopSecond();
    expect(await eventIds(), 'kept until the next hour').to.include.members(['later-0', 'later-1']);
    expect(await t.ctx.redis.pTTL(t.ctx.keys.key('maintenance', 'retention'))).to.be.greaterThan(55 * 60_000);
  });
});
