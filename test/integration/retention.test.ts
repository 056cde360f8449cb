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
    t = await startTestContext({ WEBHOOK_EVENT_RETENTION_DAYS: '7', SYNC_LOG_RETENTION_DAYS: '30', OUTBOUND_DELIVERY_RETENTION_DAYS: '7', OUTBOUND_DEAD_LETTER_RETENTION_DAYS: '30' });
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

    expect(await pruneExpired(t.ctx)).to.deep.include({ webhookEvents: 3, syncLogs: 2 });
    expect(await eventIds()).to.deep.equal(['new-0', 'new-1']);
    expect(await runIds()).to.deep.equal([stuck, recentProducts, onlyOrders]);
    expect(oldProducts.every((id) => id < stuck)).to.equal(true);

    // The API still shows the orders run, however old: it is the latest of its resource.
    const logs = await call(t.url, 'GET', '/api/shopify/sync-logs/?resource=orders', { key });
    expect(logs.status).to.equal(200);
    expect(logs.body.data.map((r: { id: number }) => r.id)).to.deep.equal([onlyOrders]);
    expect(await pruneExpired(t.ctx), 'a second pass').to.deep.equal({ webhookEvents: 0, syncLogs: 0, changeEvents: 0, outboundDelivered: 0, outboundDead: 0 });
  });

  describe('outbound deliveries', () => {
    let endpointId: number;
    let nextEvent = 1;

    before(async () => {
      // A public address literal: accepted without a lookup, and nothing is sent (no worker runs here).
      const created = await call(t.url, 'POST', '/api/webhook-endpoints/', { key, body: { url: 'https://93.184.215.14/hooks' } });
      expect(created.status, created.text).to.equal(201);
      endpointId = created.body.id;
    });

    /** Deliveries as the worker leaves them (finished ones have no next attempt), `attempts` attempts each. */
    async function addDeliveries(n: number, status: 'pending' | 'delivered' | 'dead', createdDaysAgo: number, finishedDaysAgo: number, attempts = 2): Promise<number[]> {
      const first = nextEvent;
      nextEvent += n;
      await t.ctx.db
        .insertInto('webhook_deliveries')
        .values(
          Array.from({ length: n }, (_, i) => ({
            endpoint_id: endpointId,
            tenant_id: owner.tenantId,
            event_id: first + i,
            event_position: first + i,
            event_type: 'product.updated',
            ordering_key: `products:${first + i}`,
            status,
            attempts,
            next_attempt_at: status === 'pending' ? daysAgo(finishedDaysAgo) : null,
            last_error: status === 'dead' ? 'the receiver answered 500' : null,
            created_at: daysAgo(createdDaysAgo),
            updated_at: daysAgo(finishedDaysAgo),
          })),
        )
        .execute();
      const rows = await t.ctx.db
        .selectFrom('webhook_deliveries')
        .select('id')
        .where('event_id', '>=', first)
        .where('event_id', '<', first + n)
        .orderBy('id')
        .execute();
      const ids = rows.map((r) => Number(r.id));
      for (let attempt = 1; attempt <= attempts; attempt++) {
        await t.ctx.db
          .insertInto('webhook_delivery_attempts')
          .values(
            ids.map((id) => ({
              delivery_id: id,
              endpoint_id: endpointId,
              attempt,
              attempted_at: daysAgo(finishedDaysAgo),
              duration_ms: 12,
              ok: status === 'delivered' && attempt === attempts ? 1 : 0,
              status_code: status === 'delivered' && attempt === attempts ? 200 : 500,
              error: null,
              response_excerpt: null,
            })),
          )
          .execute();
      }
      return ids;
    }
    const deliveryIds = async () => (await t.ctx.db.selectFrom('webhook_deliveries').select('id').orderBy('id').execute()).map((r) => Number(r.id));
    const attemptedDeliveries = async () =>
      [...new Set((await t.ctx.db.selectFrom('webhook_delivery_attempts').select('delivery_id').execute()).map((r) => Number(r.delivery_id)))].sort((a, b) => a - b);

    it('when delivered ones are past OUTBOUND_DELIVERY_RETENTION_DAYS and dead ones past OUTBOUND_DEAD_LETTER_RETENTION_DAYS, then a pass deletes them with their attempts, in chunks, and keeps the rest', async () => {
      const oldDelivered = await addDeliveries(1, 'delivered', 10, 8);
      // Created long ago, delivered lately (a replayed dead letter): its age counts from delivery.
      const lateDelivered = await addDeliveries(1, 'delivered', 40, 6);
      // More than one chunk of expired deliveries.
      const manyDelivered = await addDeliveries(1100, 'delivered', 9, 9, 1);
      const oldDead = await addDeliveries(1, 'dead', 35, 31);
      const youngDead = await addDeliveries(1, 'dead', 25, 20);
      const stillPending = await addDeliveries(1, 'pending', 40, 0.01);
      const recentDelivered = await addDeliveries(1, 'delivered', 1, 1);

      expect(await pruneExpired(t.ctx)).to.deep.include({ outboundDelivered: 1101, outboundDead: 1 });
      const kept = [...lateDelivered, ...youngDead, ...stillPending, ...recentDelivered];
      expect(await deliveryIds()).to.deep.equal(kept);
      expect(await attemptedDeliveries(), 'attempts of the deleted deliveries').to.deep.equal(kept);
      expect([...oldDelivered, ...manyDelivered, ...oldDead].some((id) => kept.includes(id))).to.equal(false);

      // A dead letter within its retention is still listed (and replayable); the expired one is gone.
      const deadLetters = await call(t.url, 'GET', `/api/webhook-endpoints/${endpointId}/dead-letters/`, { key });
      expect(deadLetters.status, deadLetters.text).to.equal(200);
      expect(deadLetters.body.data.map((d: { id: number }) => d.id)).to.deep.equal(youngDead);
      const attempts = await call(t.url, 'GET', `/api/webhook-endpoints/${endpointId}/attempts/?limit=250`, { key });
      expect(attempts.status, attempts.text).to.equal(200);
      expect([...new Set(attempts.body.data.map((a: { delivery_id: number }) => a.delivery_id))].sort((a, b) => Number(a) - Number(b))).to.deep.equal(kept);

      expect(await pruneExpired(t.ctx), 'a second pass').to.deep.include({ outboundDelivered: 0, outboundDead: 0 });
    });
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
