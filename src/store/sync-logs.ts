import type { Transaction } from 'kysely';
import { appendChangeEvents, inTransaction } from './change-events.js';
import { pageOf, type Page } from './page.js';
import type { Db } from './schema.js';
import type { Database, NewSyncLog, SyncLog } from './schema.js';

type Executor = Db | Transaction<Database>;

export type SyncLogStatus = 'queued' | 'running' | 'succeeded' | 'failed';

export interface SyncCounts {
  pages: number;
  records_fetched: number;
  records_written: number;
  records_deleted: number;
}

const ERROR_MAX = 2000;
const RESUME_MAX = 2048;
const clip = (message: string, max = ERROR_MAX) => (message.length > max ? `${message.slice(0, max - 1)}…` : message);

export async function createSyncLog(db: Executor, values: NewSyncLog): Promise<number> {
  const result = await db.insertInto('shopify_sync_logs').values(values).executeTakeFirstOrThrow();
  return Number(result.insertId);
}

export function findSyncLog(db: Executor, id: number): Promise<SyncLog | undefined> {
  return db.selectFrom('shopify_sync_logs').selectAll().where('id', '=', id).executeTakeFirst();
}

/** A queued row becomes the running one; false when it is not queued any more (taken, cancelled, deleted). */
export async function claimQueuedSyncLog(db: Executor, id: number, values: { mode: string; job_id: string; started_at: Date }): Promise<boolean> {
  const result = await db
    .updateTable('shopify_sync_logs')
    .set({ ...values, status: 'running' })
    .where('id', '=', id)
    .where('status', '=', 'queued')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/** Progress of a running sync, so a run can be followed while it goes. */
export async function updateSyncLogProgress(db: Executor, id: number, counts: SyncCounts): Promise<void> {
  await db.updateTable('shopify_sync_logs').set(counts).where('id', '=', id).execute();
}

export async function finishSyncLog(
  db: Executor,
  id: number,
  outcome: SyncCounts & { status: 'succeeded' | 'failed'; page_cap_reached: boolean; error: string | null; finished_at?: Date; resumes_from?: string | null },
): Promise<void> {
  const { page_cap_reached, error, finished_at, resumes_from, ...rest } = outcome;
  await inTransaction(db, async (trx) => {
    await trx
      .updateTable('shopify_sync_logs')
      .set({
        ...rest,
        page_cap_reached: page_cap_reached ? 1 : 0,
        error: error === null ? null : clip(error),
        finished_at: finished_at ?? new Date(),
        resumes_from: resumes_from ? clip(resumes_from, RESUME_MAX) : null,
      })
      .where('id', '=', id)
      .execute();
    await announceFinishedRuns(trx, [id]);
  });
}

/** `sync.succeeded` / `sync.failed` for runs just finished, in the transaction that finished them. */
async function announceFinishedRuns(trx: Transaction<Database>, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  const runs = await trx.selectFrom('shopify_sync_logs').selectAll().where('id', 'in', ids).execute();
  await appendChangeEvents(
    trx,
    runs.map((run) => ({
      tenantId: run.tenant_id,
      integrationId: Number(run.integration_id),
      type: `sync.${run.status}`,
      resource: null,
      recordKey: null,
      shopifyUpdatedAt: null,
      data: {
        run_id: run.id,
        resource: run.resource,
        mode: run.mode,
        trigger: run.trigger,
        status: run.status,
        started_at: run.started_at.toISOString(),
        finished_at: run.finished_at ? run.finished_at.toISOString() : null,
        records_written: run.records_written,
        records_deleted: run.records_deleted,
        error: run.error,
      },
    })),
  );
}

/** Closes a row that will not run or did not finish (cancelled job, crashed worker) as failed. */
export async function abandonSyncLog(db: Executor, id: number, reason: string, fromStatuses: SyncLogStatus[] = ['queued', 'running']): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const result = await trx
      .updateTable('shopify_sync_logs')
      .set({ status: 'failed', error: clip(reason), finished_at: new Date() })
      .where('id', '=', id)
      .where('status', 'in', fromStatuses)
      .executeTakeFirst();
    const closed = Number(result.numUpdatedRows) > 0;
    if (closed) await announceFinishedRuns(trx, [id]);
    return closed;
  });
}

/**
 * Closes, as failed, the runs of a job that attempts which died left open (a killed worker cannot close
 * its run; a job BullMQ fails after too many stalls never runs again): every row of this job id in one
 * of `statuses` begun before `before`, except `keepId` (the run of the attempt now starting). One attempt
 * of a job id runs at a time, so such rows belong to no live attempt. Returns how many were closed.
 */
export async function abandonOpenSyncLogsOfJob(
  db: Executor,
  job: { integrationId: number; resource: string; jobId: string },
  reason: string,
  opts: { before: Date; statuses: SyncLogStatus[]; keepId?: number },
): Promise<number> {
  return inTransaction(db, async (trx) => {
    let open = trx
      .selectFrom('shopify_sync_logs')
      .select('id')
      .where('integration_id', '=', job.integrationId)
      .where('resource', '=', job.resource)
      .where('job_id', '=', job.jobId)
      .where('status', 'in', opts.statuses)
      .where('started_at', '<', opts.before);
    if (opts.keepId !== undefined) open = open.where('id', '!=', opts.keepId);
    const ids = (await open.forUpdate().execute()).map((r) => r.id);
    if (ids.length === 0) return 0;
    await trx
      .updateTable('shopify_sync_logs')
      .set({ status: 'failed', error: clip(reason), finished_at: new Date() })
      .where('id', 'in', ids)
      .execute();
    await announceFinishedRuns(trx, ids);
    return ids.length;
  });
}

export async function deleteSyncLog(db: Executor, id: number): Promise<void> {
  await db.deleteFrom('shopify_sync_logs').where('id', '=', id).execute();
}

export interface SyncLogQuery {
  limit: number;
  /** Keyset position: rows with a smaller id (newest first). */
  beforeId?: number;
  resource?: string;
  status?: string;
  /** Only these runs. */
  ids?: number[];
}

/** One run of a tenant's store; undefined when it is another tenant's or gone. */
export function findTenantSyncLog(db: Db, tenantId: string, id: number): Promise<SyncLog | undefined> {
  return db.selectFrom('shopify_sync_logs').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
}

/** A tenant's runs, newest first, walking (tenant_id, id) backwards. */
export async function listSyncLogs(db: Db, tenantId: string, query: SyncLogQuery): Promise<Page<SyncLog, number>> {
  let q = db.selectFrom('shopify_sync_logs').selectAll().where('tenant_id', '=', tenantId);
  if (query.beforeId !== undefined) q = q.where('id', '<', query.beforeId);
  if (query.resource !== undefined) q = q.where('resource', '=', query.resource);
  if (query.status !== undefined) q = q.where('status', '=', query.status);
  if (query.ids !== undefined) q = q.where('id', 'in', query.ids);
  // Newest first: the next page holds the ids below the last one.
  return pageOf(
    await q
      .orderBy('id', 'desc')
      .limit(query.limit + 1)
      .execute(),
    query.limit,
    (last) => last.id,
  );
}

/**
 * Deletes up to `limit` finished runs that ended before `before`, oldest first, except the latest run of
 * each integration and resource (status pages show it however old it is). Returns how many went.
 */
export async function deleteSyncLogsFinishedBefore(db: Db, before: Date, limit: number): Promise<number> {
  const expired = await db
    .selectFrom('shopify_sync_logs as l')
    .select('l.id')
    .where('l.finished_at', '<', before)
    .where('l.status', 'in', ['succeeded', 'failed'])
    .where(({ exists, selectFrom }) =>
      exists(selectFrom('shopify_sync_logs as n').select('n.id').whereRef('n.integration_id', '=', 'l.integration_id').whereRef('n.resource', '=', 'l.resource').whereRef('n.id', '>', 'l.id')),
    )
    .orderBy('l.finished_at')
    .limit(limit)
    .execute();
  if (expired.length === 0) return 0;
  const result = await db
    .deleteFrom('shopify_sync_logs')
    .where(
      'id',
      'in',
      expired.map((r) => r.id),
    )
    .executeTakeFirst();
  return Number(result.numDeletedRows);
}

/** What a bulk run last saw of its operation, and the bytes of its file applied so far. */
export async function updateSyncLogBulk(db: Executor, id: number, bulk: { operationId: string; status: string; objectCount: number | null; bytesDownloaded?: number }): Promise<void> {
  await db
    .updateTable('shopify_sync_logs')
    .set({
      bulk_operation_id: bulk.operationId,
      bulk_status: bulk.status,
      bulk_object_count: bulk.objectCount,
      ...(bulk.bytesDownloaded !== undefined ? { bytes_downloaded: bulk.bytesDownloaded } : {}),
    })
    .where('id', '=', id)
    .execute();
}
