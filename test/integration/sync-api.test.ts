import { expect } from 'chai';
import { QUEUE_NAMES } from '../../src/platform/queues.js';
import { createSyncLog } from '../../src/store/sync-logs.js';
import { cancelIntegrationSyncs, enqueueSyncs, integrationSyncJobId } from '../../src/sync/enqueue.js';
import { fanOutQueue, syncQueue } from '../../src/sync/queue.js';
import { fanOut, registerSyncSchedulers, schedulerId } from '../../src/sync/scheduler.js';
import type { Integration } from '../../src/store/schema.js';
import { ADMIN_KEY } from '../support/context.js';
import { call, expectProblem } from '../support/http.js';
import { startSyncTestContext, type SyncTestContext } from '../support/sync.js';

const SHOP = 'api-store.myshopify.com';
const OTHER = 'other-store.myshopify.com';

describe('sync API, queue and scheduler', function () {
  this.timeout(30_000);
  let t: SyncTestContext;
  let key: string;
  let integration: Integration;

  before(async () => {
    t = await startSyncTestContext({
      shops: [
        { domain: SHOP, products: 60, orders: 5, customers: 5 },
        { domain: OTHER, products: 5 },
      ],
    });
    integration = await t.connect('tenant-api', SHOP);
    key = await t.keyFor('tenant-api');
  });
  after(async () => t?.close());
  afterEach(async () => {
    await syncQueue(t.ctx).obliterate({ force: true });
    // Runs queued by a test and dropped with the queue above: closed, so the next test counts only its own.
    await t.ctx.db.updateTable('shopify_sync_logs').set({ status: 'failed', error: 'dropped by the test' }).where('status', '=', 'queued').execute();
  });

  describe('POST /api/shopify/sync/', () => {
    it('when called without a body, then 202 with one queued job per resource, incremental, and a link to the logs', async () => {
      const res = await call(t.url, 'POST', '/api/shopify/sync/', { key });
      expect(res.status, res.text).to.equal(202);
      expect(res.body.mode).to.equal('incremental');
      expect(res.body.links).to.deep.equal({ sync_logs: '/api/shopify/sync-logs/' });
      expect(res.body.jobs.map(({ run_id: _runId, ...job }: { run_id: number }) => job)).to.have.deep.members(
        (['products', 'orders', 'customers', 'inventory', 'locations'] as const).map((r) => ({ resource: r, job_id: integrationSyncJobId(t.ctx, integration.id, r), state: 'queued' })),
      );
      // Each job names its own run: the queued sync log that will record it.
      const runIds = res.body.jobs.map((j: { run_id: number }) => j.run_id);
      expect(new Set(runIds).size).to.equal(runIds.length);
      const logs = await t.ctx.db.selectFrom('shopify_sync_logs').select(['id', 'resource', 'status']).where('id', 'in', runIds).execute();
      expect(logs.map((l) => `${l.resource}:${l.status}`).sort()).to.deep.equal(res.body.jobs.map((j: { resource: string }) => `${j.resource}:queued`).sort());
      const job = await syncQueue(t.ctx).getJob(integrationSyncJobId(t.ctx, integration.id, 'orders'));
      expect(job?.data).to.include({ integrationId: integration.id, tenantId: 'tenant-api', resource: 'orders', mode: 'incremental', trigger: 'manual' });
      expect(JSON.stringify(job?.data)).not.to.include('shpat_'); // the token never travels through Redis
    });

    it('when the same sync is triggered twice, then the second is already_queued and no second job exists', async () => {
      const first = await call(t.url, 'POST', '/api/shopify/sync/', { key, body: { resources: ['products'] } });
      const second = await call(t.url, 'POST', '/api/shopify/sync/', { key, body: { resources: ['products'] } });
      expect(first.body.jobs[0].state).to.equal('queued');
      expect(second.status).to.equal(202);
      // The repeat names the run already queued, so the caller can follow the work it asked for.
      expect(second.body.jobs).to.deep.equal([{ resource: 'products', run_id: first.body.jobs[0].run_id, job_id: integrationSyncJobId(t.ctx, integration.id, 'products'), state: 'already_queued' }]);
      expect((await syncQueue(t.ctx).getJobCounts('waiting')).waiting).to.equal(1);
      const queuedLogs = await t.ctx.db.selectFrom('shopify_sync_logs').selectAll().where('integration_id', '=', integration.id).where('status', '=', 'queued').execute();
      expect(queuedLogs.filter((l) => l.resource === 'products')).to.have.length(1);
    });

    it('when many triggers race, then exactly one job is queued', async () => {
      const answers = await Promise.all(Array.from({ length: 8 }, () => enqueueSyncs(t.ctx, integration, { resources: ['customers'], mode: 'incremental', trigger: 'manual' })));
      const states = answers.map((a) => a.jobs[0]?.state);
      expect(states.filter((s) => s === 'queued')).to.have.length(1);
      expect(states.filter((s) => s === 'already_queued')).to.have.length(7);
      expect((await syncQueue(t.ctx).getJobCounts('waiting')).waiting).to.equal(1);
      const logs = await t.ctx.db.selectFrom('shopify_sync_logs').selectAll().where('integration_id', '=', integration.id).where('resource', '=', 'customers').where('status', '=', 'queued').execute();
      expect(logs).to.have.length(1);
    });

    it('when a full sync is asked while an incremental one waits, then the waiting job becomes full', async () => {
      const waiting = await call(t.url, 'POST', '/api/shopify/sync/', { key, body: { resources: ['orders'] } });
      const res = await call(t.url, 'POST', '/api/shopify/sync/', { key, body: { resources: ['orders'], mode: 'full' } });
      expect(res.body).to.deep.include({
        mode: 'full',
        jobs: [{ resource: 'orders', run_id: waiting.body.jobs[0].run_id, job_id: integrationSyncJobId(t.ctx, integration.id, 'orders'), state: 'already_queued' }],
      });
      expect((await syncQueue(t.ctx).getJob(integrationSyncJobId(t.ctx, integration.id, 'orders')))?.data.mode).to.equal('full');
    });

    it('when resources or mode are not in the contract, then 400 naming the field', async () => {
      for (const body of [{ resources: ['widgets'] }, { resources: [] }, { mode: 'sometimes' }, { resources: ['products', 'products'] }, { extra: 1 }]) {
        const res = await call(t.url, 'POST', '/api/shopify/sync/', { key, body });
        expectProblem(res, 400);
      }
      const bad = await call(t.url, 'POST', '/api/shopify/sync/', { key, body: { resources: ['widgets'] } });
      expect(bad.body.errors[0].name).to.match(/resources/);
    });

    it('when the tenant has no integration, then 404', async () => {
      const lonely = await t.keyFor('tenant-without-store');
      expectProblem(await call(t.url, 'POST', '/api/shopify/sync/', { key: lonely }), 404);
    });

    it('when the integration is inactive or its token was revoked, then 409 and nothing is queued', async () => {
      await t.connect('tenant-inactive', 'inactive-store.myshopify.com', { is_active: 0 } as Partial<Integration>);
      await t.connect('tenant-revoked', 'revoked-store.myshopify.com', { token_revoked_at: new Date() });
      for (const tenant of ['tenant-inactive', 'tenant-revoked']) {
        const res = await call(t.url, 'POST', '/api/shopify/sync/', { key: await t.keyFor(tenant) });
        expectProblem(res, 409);
      }
      expect(await syncQueue(t.ctx).count()).to.equal(0);
    });

    it('when no key is sent, then 401', async () => {
      expectProblem(await call(t.url, 'POST', '/api/shopify/sync/'), 401);
    });
  });

  describe('GET /api/shopify/sync-logs/{id}/ and ?run_id=', () => {
    it('when the run ids of a sync are followed, then each is the run of that request, and the list filters on them', async () => {
      const started = await call(t.url, 'POST', '/api/shopify/sync/', { key, body: { resources: ['products', 'customers'], mode: 'full' } });
      const runIds: number[] = started.body.jobs.map((j: { run_id: number }) => j.run_id);
      for (const job of started.body.jobs as { resource: string; run_id: number; job_id: string }[]) {
        const res = await call(t.url, 'GET', `/api/shopify/sync-logs/${job.run_id}/`, { key });
        expect(res.status, res.text).to.equal(200);
        expect(res.body).to.include({ id: job.run_id, resource: job.resource, mode: 'full', trigger: 'manual', status: 'queued', job_id: job.job_id });
      }
      const listed = await call(t.url, 'GET', `/api/shopify/sync-logs/?${runIds.map((id) => `run_id=${id}`).join('&')}`, { key });
      expect(listed.status, listed.text).to.equal(200);
      expect(listed.body.data.map((r: { id: number }) => r.id)).to.have.members(runIds);
      expect(listed.body.data).to.have.length(runIds.length);
    });

    it('when another tenant asks for the run, or the id is unknown, then 404', async () => {
      const started = await call(t.url, 'POST', '/api/shopify/sync/', { key, body: { resources: ['orders'] } });
      const other = await t.keyFor('tenant-snooping');
      expectProblem(await call(t.url, 'GET', `/api/shopify/sync-logs/${started.body.jobs[0].run_id}/`, { key: other }), 404);
      expectProblem(await call(t.url, 'GET', '/api/shopify/sync-logs/999999999/', { key }), 404);
      const foreignList = await call(t.url, 'GET', `/api/shopify/sync-logs/?run_id=${started.body.jobs[0].run_id}`, { key: other });
      expect(foreignList.body.data).to.deep.equal([]);
    });
  });

  describe('POST /api/admin/integrations/{id}/sync/', () => {
    it('when the operator starts a sync, then 202 with admin-triggered jobs', async () => {
      const res = await call(t.url, 'POST', `/api/admin/integrations/${integration.id}/sync/`, { key: ADMIN_KEY, body: { resources: ['inventory'], mode: 'full' } });
      expect(res.status, res.text).to.equal(202);
      expect(res.body.jobs).to.deep.equal([{ resource: 'inventory', run_id: res.body.jobs[0].run_id, job_id: integrationSyncJobId(t.ctx, integration.id, 'inventory'), state: 'queued' }]);
      expect(res.body.jobs[0].run_id).to.be.a('number');
      expect((await syncQueue(t.ctx).getJob(integrationSyncJobId(t.ctx, integration.id, 'inventory')))?.data).to.include({ trigger: 'admin', mode: 'full' });
    });
    it('when the integration does not exist, then 404', async () => {
      expectProblem(await call(t.url, 'POST', '/api/admin/integrations/999999/sync/', { key: ADMIN_KEY }), 404);
    });
    it('when a tenant key or no key is used, then 401', async () => {
      expectProblem(await call(t.url, 'POST', `/api/admin/integrations/${integration.id}/sync/`, { key }), 401);
      expectProblem(await call(t.url, 'POST', `/api/admin/integrations/${integration.id}/sync/`), 401);
    });
  });

  describe('cancelIntegrationSyncs', () => {
    it('when a store disconnects, then its waiting jobs are removed and their queued runs closed', async () => {
      await enqueueSyncs(t.ctx, integration, { mode: 'incremental', trigger: 'manual' });
      expect(await cancelIntegrationSyncs(t.ctx, integration.id)).to.equal(5);
      expect(await syncQueue(t.ctx).count()).to.equal(0);
      const queued = await t.ctx.db.selectFrom('shopify_sync_logs').selectAll().where('integration_id', '=', integration.id).where('status', '=', 'queued').execute();
      expect(queued).to.have.length(0);
      const again = await enqueueSyncs(t.ctx, integration, { resources: ['products'], mode: 'incremental', trigger: 'manual' });
      expect(again.jobs[0]?.state).to.equal('queued');
    });
  });

  describe('GET /api/shopify/sync-logs/', () => {
    let otherKey: string;
    before(async () => {
      const other = await t.connect('tenant-logs-other', OTHER);
      otherKey = await t.keyFor('tenant-logs-other');
      const base = { tenant_id: 'tenant-api', integration_id: integration.id, trigger: 'manual', mode: 'incremental', job_id: null };
      for (let i = 0; i < 7; i++) {
        await createSyncLog(t.ctx.db, {
          ...base,
          resource: i % 2 ? 'orders' : 'products',
          status: i === 3 ? 'failed' : 'succeeded',
          pages: i,
          records_fetched: i * 250,
          records_written: i,
          started_at: new Date(Date.UTC(2026, 0, 1, 0, i)),
          finished_at: new Date(Date.UTC(2026, 0, 1, 0, i, 30)),
          error: i === 3 ? 'boom' : null,
        });
      }
      await createSyncLog(t.ctx.db, { ...base, tenant_id: 'tenant-logs-other', integration_id: other.id, resource: 'products', status: 'succeeded' });
    });

    it('when listed, then newest first, with counts and durations, and cursor pages walk them all once', async () => {
      const first = await call(t.url, 'GET', '/api/shopify/sync-logs/?limit=3', { key });
      expect(first.status, first.text).to.equal(200);
      expect(first.body.data).to.have.length(3);
      const ids = first.body.data.map((l: { id: number }) => l.id);
      expect([...ids].sort((a, b) => b - a)).to.deep.equal(ids);
      const seen = [...ids];
      let cursor = first.body.next_cursor;
      while (cursor) {
        const page = await call(t.url, 'GET', `/api/shopify/sync-logs/?limit=3&cursor=${cursor}`, { key });
        expect(page.status, page.text).to.equal(200);
        seen.push(...page.body.data.map((l: { id: number }) => l.id));
        cursor = page.body.next_cursor;
      }
      expect(new Set(seen).size).to.equal(seen.length);
      const all = await call(t.url, 'GET', '/api/shopify/sync-logs/?limit=250', { key });
      expect(seen).to.deep.equal(all.body.data.map((l: { id: number }) => l.id));
      const failed = all.body.data.find((l: { status: string }) => l.status === 'failed');
      expect(failed).to.include({ resource: 'orders', error: 'boom', duration_ms: 30_000, pages: 3, records_fetched: 750, page_cap_reached: false, trigger: 'manual', mode: 'incremental' });
      expect(failed.started_at).to.equal('2026-01-01T00:03:00.000Z');
    });

    it('when filtered by resource and status, then only matching runs come back', async () => {
      const orders = await call(t.url, 'GET', '/api/shopify/sync-logs/?resource=orders&status=succeeded', { key });
      expect(orders.body.data.length).to.be.greaterThan(0);
      for (const l of orders.body.data) expect(l).to.include({ resource: 'orders', status: 'succeeded' });
      expectProblem(await call(t.url, 'GET', '/api/shopify/sync-logs/?resource=widgets', { key }), 400);
      expectProblem(await call(t.url, 'GET', '/api/shopify/sync-logs/?cursor=bm90LWEtY3Vyc29y', { key }), 400);
    });

    it('when another tenant lists, then it sees only its own runs', async () => {
      const res = await call(t.url, 'GET', '/api/shopify/sync-logs/', { key: otherKey });
      expect(res.body.data).to.have.length(1);
      const mine = await call(t.url, 'GET', '/api/shopify/sync-logs/?limit=250', { key });
      expect(mine.body.data.map((l: { id: number }) => l.id)).not.to.include(res.body.data[0].id);
    });
  });

  describe('scheduler', () => {
    it('when a fan-out runs, then jobs are queued for active and connected integrations only', async () => {
      const inactive = await t.connect('tenant-fan-inactive', 'fan-inactive.myshopify.com', { is_active: 0 } as Partial<Integration>);
      const revoked = await t.connect('tenant-fan-revoked', 'fan-revoked.myshopify.com', { token_revoked_at: new Date() });
      const active = await t.connect('tenant-fan-active', 'fan-active.myshopify.com');
      const result = await fanOut(t.ctx, 'products');
      const queue = syncQueue(t.ctx);
      expect(await queue.getJob(integrationSyncJobId(t.ctx, active.id, 'products'))).to.not.equal(undefined);
      expect(await queue.getJob(integrationSyncJobId(t.ctx, integration.id, 'products'))).to.not.equal(undefined);
      expect(await queue.getJob(integrationSyncJobId(t.ctx, inactive.id, 'products'))).to.equal(undefined);
      expect(await queue.getJob(integrationSyncJobId(t.ctx, revoked.id, 'products'))).to.equal(undefined);
      expect((await queue.getJob(integrationSyncJobId(t.ctx, active.id, 'products')))?.data).to.include({ trigger: 'scheduled', mode: 'incremental' });
      expect(result.failed).to.equal(0);
      const again = await fanOut(t.ctx, 'products');
      expect(again.queued).to.equal(0);
      expect(again.alreadyQueued).to.equal(result.queued);
    });

    it('when schedulers are registered at every boot, then one per enabled resource exists with its interval, and 0 removes it', async () => {
      const ctx = { ...t.ctx, config: { ...t.config, shopify: { ...t.config.shopify, syncIntervals: { products: 3600, orders: 900, customers: 0, inventory: 1800, locations: 0 } } } };
      await registerSyncSchedulers(ctx);
      await registerSyncSchedulers(ctx);
      const queue = fanOutQueue(t.ctx);
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers.map((s) => [s.key, s.every]).sort()).to.deep.equal(
        [
          [schedulerId('inventory'), 1_800_000],
          [schedulerId('orders'), 900_000],
          [schedulerId('products'), 3_600_000],
        ].sort(),
      );
      // Re-registering does not pile up ticks: one pending fan-out job per scheduler.
      expect(await queue.count()).to.equal(3);
      await registerSyncSchedulers(t.ctx); // the test configuration: every interval 0
      expect(await queue.getJobSchedulers()).to.have.length(0);
      expect(QUEUE_NAMES.syncFanOut).to.equal(queue.name);
    });
  });
});
