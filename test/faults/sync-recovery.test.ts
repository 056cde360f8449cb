/**
 * Quick, deterministic checks of how sync runs are closed after attempts that died (the long process
 * fault test shows the same with real SIGKILLs): no run may stay `running` for ever.
 */
import { expect } from 'chai';
import { createSyncLog, findSyncLog } from '../../src/store/sync-logs.js';
import { enqueueSync, integrationSyncJobId } from '../../src/sync/enqueue.js';
import { runSync } from '../../src/sync/run-sync.js';
import { syncQueue } from '../../src/sync/queue.js';
import { eventually, startSyncTestContext, type SyncTestContext } from '../support/sync.js';

const SHOP = 'recovery-shop.myshopify.com';

describe('sync runs left open by attempts that died', function () {
  this.timeout(60_000);
  let t: SyncTestContext;

  before(async () => {
    t = await startSyncTestContext({ shops: [{ domain: SHOP, products: 30, orders: 5, customers: 5 }] });
  });
  after(async () => t?.close());

  it('when two earlier attempts of a job were killed (two runs left running), then the next attempt closes both, naming the last job error, and runs to success', async () => {
    const integration = await t.connect('tenant-recovery', SHOP);
    const jobId = integrationSyncJobId(t.ctx, integration.id, 'products');
    const base = { tenant_id: 'tenant-recovery', integration_id: integration.id, resource: 'products', trigger: 'manual', mode: 'full', job_id: jobId } as const;
    const queued = await createSyncLog(t.ctx.db, { ...base, status: 'running', started_at: new Date(Date.now() - 60_000) });
    const second = await createSyncLog(t.ctx.db, { ...base, status: 'running', started_at: new Date(Date.now() - 30_000) });
    const result = await runSync(t.ctx, {
      integrationId: integration.id,
      resource: 'products',
      mode: 'full',
      trigger: 'manual',
      jobId,
      logId: queued,
      lastJobError: 'Connection lost: The server closed the connection.',
    });
    expect(result.status).to.equal('succeeded');
    for (const id of [queued, second]) {
      const run = await findSyncLog(t.ctx.db, id);
      expect(run, `run ${id}`).to.include({ status: 'failed' });
      expect(run!.error).to.match(/^Interrupted: .*Connection lost/);
      expect(run!.finished_at).to.be.instanceOf(Date);
    }
    const runs = await t.runsOf(integration.id, 'products');
    expect(runs.map((r) => r.status)).to.deep.equal(['failed', 'failed', 'succeeded']);
  });

  it('when BullMQ fails a job for good because it stalled too often, then the run it left open is closed with that reason', async () => {
    const integration = await t.connect('tenant-stalled', 'stalled-shop.myshopify.com');
    const accepted = await enqueueSync(t.ctx, integration, 'customers', 'full', 'manual');
    expect(accepted.state).to.equal('queued');
    const jobId = integrationSyncJobId(t.ctx, integration.id, 'customers');
    // What a dead attempt leaves behind: its run `running`; and what BullMQ does to a job past its stall
    // limit: a deferred failure, applied by the next worker that takes the job.
    const [run] = await t.runsOf(integration.id, 'customers');
    await t.ctx.db
      .updateTable('shopify_sync_logs')
      .set({ status: 'running', started_at: new Date(Date.now() - 60_000) })
      .where('id', '=', run!.id)
      .execute();
    const queue = syncQueue(t.ctx);
    await (await queue.client).hset(`${queue.keys['']}${jobId}`, { defa: 'job stalled more than allowable limit' });
    await t.startWorker();
    await eventually(async () => (await findSyncLog(t.ctx.db, run!.id))?.status === 'failed', 15_000, 'the open run to be closed');
    const closed = await findSyncLog(t.ctx.db, run!.id);
    expect(closed!.error).to.match(/stalled more than allowable limit/);
    expect(await queue.getJob(jobId)).to.equal(undefined);
  });
});
