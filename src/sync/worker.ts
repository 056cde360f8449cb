import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { ServiceContext } from '../context.js';
import { errorMessage } from '../errors.js';
import { createWorker } from '../platform/queues.js';
import { isRetriable, SyncInterruptedError } from './errors.js';
import type { FanOutJobData, SyncJobData } from './queue.js';
import { runSync, type SyncResult } from './run-sync.js';
import { fanOut, registerSyncSchedulers, type FanOutResult } from './scheduler.js';

/**
 * Runs sync jobs (`SYNC_CONCURRENCY` at a time in this process; any number of processes share the
 * queue, the job ids and the Redis rate limiter per shop) and the schedulers' fan-out jobs.
 * Returns a stop function: running syncs stop at their next page and go back to the queue.
 */
export async function startSyncWorker(ctx: ServiceContext): Promise<() => Promise<void>> {
  await registerSyncSchedulers(ctx);
  const stopping = new AbortController();
  const running = new Set<Promise<unknown>>();
  const syncWorker = createWorker<SyncJobData, SyncResult>(ctx.config, ctx.logger, 'sync', (job, token) => {
    const run = processSyncJob(ctx, job, token, stopping.signal);
    const tracked = run.catch(() => undefined);
    running.add(tracked);
    void tracked.finally(() => running.delete(tracked));
    return run;
  }, { concurrency: ctx.config.sync.concurrency });
  const fanOutWorker = createWorker<FanOutJobData, FanOutResult>(ctx.config, ctx.logger, 'syncFanOut', (job) => fanOut(ctx, job.data.resource), {
    concurrency: 1,
  });
  await Promise.all([syncWorker.waitUntilReady(), fanOutWorker.waitUntilReady()]);
  return async () => {
    stopping.abort();
    // close() stops fetching at once but does not wait for running processors: they stop at their next
    // page and put their job back; wait for that too before the caller closes MySQL and Redis.
    const closing = Promise.allSettled([syncWorker.close(), fanOutWorker.close()]);
    await Promise.allSettled([...running]);
    await closing;
  };
}

/** One attempt of a sync job; tells BullMQ whether another attempt may help. */
export async function processSyncJob(ctx: ServiceContext, job: Job<SyncJobData>, token: string | undefined, signal: AbortSignal): Promise<SyncResult> {
  const { integrationId, resource, mode, trigger, logId } = job.data;
  try {
    if (signal.aborted) throw new SyncInterruptedError();
    return await runSync(ctx, { integrationId, resource, mode, trigger, jobId: job.id ?? null, ...(logId !== undefined ? { logId } : {}) }, { signal });
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
