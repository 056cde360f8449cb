import type { JobsOptions, Queue } from 'bullmq';
import type { Config } from '../config.js';
import type { ServiceContext } from '../context.js';
import type { components } from '../generated/api.js';
import { syncJob } from '../platform/retry-policies.js';
import type { ResourceName } from '../resources/index.js';

export type SyncMode = components['schemas']['SyncMode'];
export type SyncTrigger = components['schemas']['SyncTrigger'];

/** What a sync job carries. The token never travels through Redis: the worker reads it from MySQL. */
export interface SyncJobData {
  integrationId: number;
  /** The installation the job was queued for (absent in jobs queued before installations were counted: the first). */
  installation?: number;
  tenantId: string;
  resource: ResourceName;
  mode: SyncMode;
  trigger: SyncTrigger;
  /** The `queued` sync log row written when the job was added (the first attempt takes it over). */
  logId?: number;
  /** Tells this producer's add apart from a concurrent one that won the race for the job id. */
  nonce?: string;
}

export interface FanOutJobData {
  resource: ResourceName;
}

export const SYNC_JOB_NAME = 'sync';
export const FAN_OUT_JOB_NAME = 'fan-out';

/**
 * One id per installation and resource: while a job with this id is waiting, delayed (between attempts)
 * or active, BullMQ refuses a second one. Finished jobs are removed at once, so the id is free again.
 * `integrationKey` is the installation's opaque key (`integrationJobKey`), never the sequential
 * integration id: tenants see job ids.
 */
export function syncJobId(integrationKey: string, resource: ResourceName): string {
  return `sync:${integrationKey}:${resource}`;
}

/**
 * BullMQ's built-in `exponential` backoff waits `delay * 2^(attemptsMade - 1)`: the `syncJob` policy's
 * own delays, so the job carries the policy's numbers rather than naming a custom strategy every worker
 * (and every job already queued) would have to know.
 */
export function syncJobOptions(config: Config, jobId: string): JobsOptions {
  const retry = syncJob(config.sync);
  return {
    jobId,
    attempts: retry.maxRetries + 1,
    backoff: { type: 'exponential', delay: retry.baseMs },
    removeOnComplete: true,
    removeOnFail: true,
  };
}

export const syncQueue = (ctx: Pick<ServiceContext, 'queues'>) => ctx.queues.sync as Queue<SyncJobData>;
export const fanOutQueue = (ctx: Pick<ServiceContext, 'queues'>) => ctx.queues.syncFanOut as Queue<FanOutJobData>;
