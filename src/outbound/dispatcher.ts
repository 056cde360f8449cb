import type { ServiceContext } from '../context.js';
import { errorMessage } from '../errors.js';
import { lastSequencedPosition } from '../store/change-events.js';
import { dispatchEndpointBatch, runnableDue } from '../store/webhook-deliveries.js';
import { advanceIdleEndpoints, endpointsBehind, tenantsWithEventsBetween } from '../store/webhook-endpoints.js';
import { enqueueDeliveries, tryEnqueueDeliveries } from './jobs.js';

/** Events moved into deliveries per endpoint and transaction. */
const BATCH_SIZE = 500;
/** The longest stretch of the feed scanned for the tenants it concerns (longer ones: endpoint by endpoint). */
const IDLE_SCAN_MAX = 50_000;
/** Endpoints behind are looked for at least this often even when the feed did not move (one just enabled). */
const LOOK_EVERY_MS = 1000;
/** Deliveries queued again per re-queue pass (the next pass takes the rest). */
const REQUEUE_LIMIT = 1000;

/**
 * Follows the feed up to `position` for every enabled endpoint behind it, and queues what may run.
 * Endpoints of tenants without events in the new stretch of the feed (most of them, as the feed is
 * shared) move in one statement; the others take a transaction per batch.
 */
export async function dispatchUpTo(ctx: ServiceContext, position: number): Promise<number> {
  const behind = await endpointsBehind(ctx.db, position);
  if (behind.length === 0) return 0;
  const from = Math.min(...behind.map((e) => e.lastPosition));
  let busy = behind;
  if (position - from <= IDLE_SCAN_MAX) {
    const withEvents = await tenantsWithEventsBetween(ctx.db, from, position);
    await advanceIdleEndpoints(
      ctx.db,
      behind.filter((e) => !withEvents.has(e.tenantId)).map((e) => e.id),
      from,
      position,
    );
    busy = behind.filter((e) => withEvents.has(e.tenantId));
  }
  let dispatched = 0;
  for (const { id: endpointId } of busy) {
    for (;;) {
      const batch = await dispatchEndpointBatch(ctx.db, endpointId, position, BATCH_SIZE);
      dispatched += batch.runnable.length;
      await tryEnqueueDeliveries(ctx, batch.runnable);
      if (batch.caughtUp) break;
    }
  }
  return dispatched;
}

/**
 * Queues pending deliveries that were due more than `graceMs` ago and may run: their jobs were lost
 * (Redis flushed or failed over) or never queued (Redis away when they were due). Queueing an attempt
 * whose job still exists does nothing, so any number of processes may run this.
 */
export async function requeueLost(ctx: ServiceContext, graceMs: number, endpointId?: number): Promise<number> {
  const due = await runnableDue(ctx.db, new Date(Date.now() - graceMs), REQUEUE_LIMIT, endpointId);
  await enqueueDeliveries(ctx, due);
  return due.length;
}

/** Repeats `pass` every `everyMs` (after the previous one ended) until the returned stop is called. */
function every(ctx: ServiceContext, everyMs: number, what: string, pass: () => Promise<void>): () => Promise<void> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const loop = () => {
    running = pass()
      .catch((error) => ctx.logger.warn({ err: errorMessage(error) }, `outbound ${what} failed; trying again`))
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, everyMs);
      });
  };
  loop();
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await running;
  };
}

/**
 * The worker's two loops around the outbound queue: the dispatcher polls the feed's last position every
 * OUTBOUND_POLL_MS and, when it moved, turns new events into deliveries; the re-queue pass (every
 * OUTBOUND_REQUEUE_MS, one process at a time through a Redis lock) puts lost jobs back from MySQL.
 */
export function startDispatcher(ctx: ServiceContext): () => Promise<void> {
  let lastSeen = -1;
  let lastLook = 0;
  const stopDispatch = every(ctx, ctx.config.outbound.pollMs, 'dispatch', async () => {
    const position = await lastSequencedPosition(ctx.db);
    if (position === lastSeen && Date.now() - lastLook < LOOK_EVERY_MS) return;
    lastLook = Date.now();
    await dispatchUpTo(ctx, position);
    lastSeen = position;
  });
  const lockKey = ctx.keys.key('outbound', 'requeue');
  const { requeueMs } = ctx.config.outbound;
  const stopRequeue = every(ctx, requeueMs, 're-queue pass', async () => {
    if ((await ctx.redis.set(lockKey, String(process.pid), { NX: true, PX: requeueMs })) !== 'OK') return;
    const requeued = await requeueLost(ctx, requeueMs);
    if (requeued > 0) ctx.logger.debug({ requeued }, 'due outbound deliveries queued again');
  });
  return async () => {
    await Promise.all([stopDispatch(), stopRequeue()]);
  };
}
