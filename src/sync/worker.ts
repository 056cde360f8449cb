import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { ServiceContext } from '../context.js';
import { errorMessage } from '../errors.js';
import { createWorker } from '../platform/queues.js';
import { abandonOpenSyncLogsOfJob } from '../store/sync-logs.js';
import { isRetriable, SyncInterruptedError } from './errors.js';
import type { FanOutJobData, SyncJobData } from './queue.js';
import { runSync, type SyncResult } from './run-sync.js';
import { fanOut, registerSyncSchedulers, restoreMissingSyncSchedulers, type FanOutResult } from './scheduler.js';

/**
 * Runs sync jobs (`SYNC_CONCURRENCY` at a time in this process; any number of processes share the
 * queue, the job ids and the Redis rate limiter per shop) and the schedulers' fan-out jobs.
 * Returns a stop function: running syncs stop at their next page and go back to the queue.
 */
export async function startSyncWorker(ctx: ServiceContext): Promise<() => Promise<void>> {
  await registerSyncSchedulers(ctx);
  const stopping = new AbortController();
  const running = new Set<Promise<unknown>>();
  // maxStalledCount: a job whose worker died (SIGKILL, OOM) goes back to the queue as often as it may
  // fail; BullMQ's default (once) failed a sync for good when a second crash hit the same long run.
  const syncWorker = createWorker<SyncJobData, SyncResult>(
    ctx.config,
    ctx.logger,
    'sync',
    (job, token) => {
      const run = processSyncJob(ctx, job, token, stopping.signal);
      const tracked = run.catch(() => undefined);
      running.add(tracked);
      void tracked.finally(() => running.delete(tracked));
      return run;
    },
    { concurrency: ctx.config.sync.concurrency, maxStalledCount: ctx.config.sync.jobAttempts },
  );
  syncWorker.on('failed', (job) => {
    if (job) void closeRunsOfFailedJob(ctx, job);
  });
  const fanOutWorker = createWorker<FanOutJobData, FanOutResult>(ctx.config, ctx.logger, 'syncFanOut', (job) => fanOut(ctx, job.data.resource), {
    concurrency: 1,
  });
  await Promise.all([syncWorker.waitUntilReady(), fanOutWorker.waitUntilReady()]);
  const watchdog = watchSchedulers(ctx);
  return async () => {
    clearInterval(watchdog);
    stopping.abort();
    // close() stops fetching at once but does not wait for running processors: they stop at their next
    // page and put their job back; wait for that too before the caller closes MySQL and Redis.
    const closing = Promise.allSettled([syncWorker.close(), fanOutWorker.close()]);
    await Promise.allSettled([...running]);
    await closing;
  };
}

/** Checks that the schedulers still exist, as often as the shortest interval (at most every minute). */
function watchSchedulers(ctx: ServiceContext): NodeJS.Timeout | undefined {
  const intervals = Object.values(ctx.config.shopify.syncIntervals).filter((s) => s > 0);
  if (intervals.length === 0) return undefined;
  const timer = setInterval(
    () => {
      restoreMissingSyncSchedulers(ctx).catch((error) => ctx.logger.warn({ err: errorMessage(error) }, 'could not check the sync schedulers'));
    },
    Math.min(60_000, Math.min(...intervals) * 1000),
  );
  timer.unref();
  return timer;
}

/**
 * A failed attempt normally closes its own run, and the next attempt closes what a dead one left open.
 * A job that fails for good gets no next attempt: one BullMQ fails because it stalled too often (its
 * worker died each time), or whose last run could not be written (MySQL away). Its open runs are closed
 * here, so none stays `running` for ever. (`finishedOn` is set only when no retry follows.)
 */
async function closeRunsOfFailedJob(ctx: ServiceContext, job: Job<SyncJobData>): Promise<void> {
  if (!job.id || !job.finishedOn) return;
  try {
    await abandonOpenSyncLogsOfJob(ctx.db, { integrationId: job.data.integrationId, resource: job.data.resource, jobId: job.id }, `Failed: ${job.failedReason ?? 'the job failed'}`, {
      before: new Date(job.finishedOn),
      statuses: ['queued', 'running'],
    });
  } catch (error) {
    ctx.logger.warn({ err: errorMessage(error), jobId: job.id }, 'could not close the runs of a failed sync job');
  }
}

/** One attempt of a sync job; tells BullMQ whether another attempt may help. */
export async function processSyncJob(ctx: ServiceContext, job: Job<SyncJobData>, token: string | undefined, signal: AbortSignal): Promise<SyncResult> {
  const { integrationId, resource, mode, trigger, logId } = job.data;
  // Jobs queued before installations were counted belong to the first one.
  const installation = job.data.installation ?? 1;
  try {
    if (signal.aborted) throw new SyncInterruptedError();
    const result = await runSync(
      ctx,
      { integrationId, installation, resource, mode, trigger, jobId: job.id ?? null, ...(logId !== undefined ? { logId } : {}), ...(job.failedReason ? { lastJobError: job.failedReason } : {}) },
      { signal },
    );
    if (result.status === 'waiting') {
      // A bulk operation runs at Shopify: the job sleeps without holding a worker; its finish webhook
      // promotes it (wakeBulkSync), else it looks again when the delay is over. No attempt is spent.
      await job.moveToDelayed(Date.now() + result.retryInMs, token);
      throw new DelayedError();
    }
    return result;
  } catch (error) {
    if (error instanceof SyncInterruptedError) {
      // Back to the queue without spending an attempt; another worker (or this one after restart) resumes.
      await job.moveToDelayed(Date.now(), token);
      throw new DelayedError();
    }
    if (!isRetriable(error)) throw new UnrecoverableError(errorMessage(error));
    throw error;
  }
}
