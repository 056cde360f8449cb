import { Queue, Worker, type Processor, type WorkerOptions } from 'bullmq';
import type { Config } from '../config.js';
import type { Logger } from './logger.js';
import { bullConnectionFromUrl } from './redis.js';

/**
 * BullMQ queues of the service. Every key BullMQ writes lives under `{<REDIS_KEY_PREFIX>}`: the braces
 * are a Redis Cluster hash tag, so all keys of a queue (which BullMQ's Lua scripts touch together)
 * land in one slot; tests get their own queues through their own prefix.
 */
export const QUEUE_NAMES = {
  /** One job per integration and resource: a sync run. */
  sync: 'sync',
  /** Job schedulers' ticks: each fans out sync jobs to the active integrations. */
  syncFanOut: 'sync-fan-out',
  /** One job per attempt of an outbound webhook delivery (the delivery itself lives in MySQL). */
  outbound: 'outbound-deliveries',
} as const;
export type QueueName = keyof typeof QUEUE_NAMES;
export type Queues = Record<QueueName, Queue>;

export function bullPrefix(redisKeyPrefix: string): string {
  return `{${redisKeyPrefix}}`;
}

/**
 * Producers fail fast while Redis is unreachable (no offline queue, one retry) so an API request answers
 * 503 instead of hanging; workers keep BullMQ's own blocking connection (retries forever).
 */
function producerConnection(config: Config) {
  return { ...bullConnectionFromUrl(config.redisUrl), enableOfflineQueue: false, maxRetriesPerRequest: 1 };
}

export async function createQueues(config: Config, logger: Logger): Promise<Queues> {
  const prefix = bullPrefix(config.redisKeyPrefix);
  const entries = (Object.keys(QUEUE_NAMES) as QueueName[]).map((key) => {
    const queue = new Queue(QUEUE_NAMES[key], { connection: producerConnection(config), prefix });
    queue.on('error', (err: Error) => logger.warn({ err: err.message, queue: queue.name }, 'queue connection error'));
    return [key, queue] as const;
  });
  const queues = Object.fromEntries(entries) as Queues;
  await Promise.all(Object.values(queues).map((q) => q.waitUntilReady()));
  return queues;
}

/** Closes every queue; a connection still reconnecting is disconnected outright so it cannot retry forever. */
export async function closeQueues(queues: Queues): Promise<void> {
  await Promise.allSettled(
    Object.values(queues).map(async (queue) => {
      try {
        await queue.close();
      } finally {
        await queue.disconnect().catch(() => undefined);
      }
    }),
  );
}

/** A worker on one of the service's queues (same prefix), not started until `run()` unless `autorun`. */
export function createWorker<Data, Result>(
  config: Config,
  logger: Logger,
  name: QueueName,
  processor: Processor<Data, Result>,
  opts: Omit<WorkerOptions, 'connection' | 'prefix'> = {},
): Worker<Data, Result> {
  const worker = new Worker<Data, Result>(QUEUE_NAMES[name], processor, {
    ...opts,
    connection: bullConnectionFromUrl(config.redisUrl),
    prefix: bullPrefix(config.redisKeyPrefix),
  });
  worker.on('error', (err: Error) => logger.warn({ err: err.message, queue: QUEUE_NAMES[name] }, 'worker error'));
  return worker;
}
