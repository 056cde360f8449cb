import type { JobsOptions, Queue } from 'bullmq';
import type { ServiceContext } from '../context.js';
import type { RunnableDelivery } from '../store/webhook-deliveries.js';

/**
 * The outbound queue holds one job per attempt of a delivery; MySQL holds the delivery itself. The job id
 * names the delivery and the attempt, so queueing the same attempt twice (the dispatcher, a finished
 * predecessor and the re-queue pass may all try) keeps one job.
 */
export interface DeliveryJobData {
  deliveryId: number;
  /** The attempt this job makes (the delivery's `attempts` + 1 when queued). */
  attempt: number;
}

export const DELIVERY_JOB_NAME = 'deliver';

export const deliveryJobId = (deliveryId: number, attempt: number) => `delivery-${deliveryId}-${attempt}`;

export const outboundQueue = (ctx: Pick<ServiceContext, 'queues'>) => ctx.queues.outbound as Queue<DeliveryJobData>;

/**
 * BullMQ's own attempts cover only failures of the service (MySQL or Redis away mid-job); a receiver's
 * failure is an outcome the job records and schedules itself.
 */
const JOB_OPTIONS: JobsOptions = { attempts: 5, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true, removeOnFail: true };

/** Queues the next attempt of each delivery, delayed until it is due. */
export async function enqueueDeliveries(ctx: Pick<ServiceContext, 'queues'>, deliveries: RunnableDelivery[], now = Date.now()): Promise<void> {
  if (deliveries.length === 0) return;
  await outboundQueue(ctx).addBulk(
    deliveries.map((d) => {
      const attempt = Number(d.attempts) + 1;
      const delay = d.next_attempt_at === null ? 0 : Math.max(0, d.next_attempt_at.getTime() - now);
      return { name: DELIVERY_JOB_NAME, data: { deliveryId: Number(d.id), attempt }, opts: { ...JOB_OPTIONS, jobId: deliveryJobId(Number(d.id), attempt), delay } };
    }),
  );
}

/** Like {@link enqueueDeliveries}, but a Redis failure is only logged: the re-queue pass finds due deliveries in MySQL. */
export async function tryEnqueueDeliveries(ctx: Pick<ServiceContext, 'queues' | 'logger'>, deliveries: RunnableDelivery[]): Promise<void> {
  try {
    await enqueueDeliveries(ctx, deliveries);
  } catch (error) {
    ctx.logger.warn({ err: error instanceof Error ? error.message : String(error), deliveries: deliveries.length }, 'could not queue outbound deliveries; the re-queue pass will');
  }
}
