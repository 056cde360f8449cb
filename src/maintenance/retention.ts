import type { ServiceContext } from '../context.js';
import { errorMessage } from '../errors.js';
import { deleteChangeEventsBefore } from '../store/change-events.js';
import { deleteSyncLogsFinishedBefore } from '../store/sync-logs.js';
import { deleteFinishedDeliveriesBefore } from '../store/webhook-deliveries.js';
import { deleteWebhookEventsProcessedBefore } from '../store/webhook-events.js';
import { trimDeadLettersBefore } from '../webhooks/dead-letters.js';
import { webhookKeys } from '../webhooks/stream.js';

const DAY_MS = 86_400_000;
/** Rows per DELETE: short statements, so applying webhooks never waits long behind the pruning. */
const CHUNK = 5000;
/** Outbound deliveries looked at per transaction: each takes its attempts along (up to one per retry). */
const DELIVERY_CHUNK = 500;
const EVERY_MS = 3_600_000;

export interface Pruned {
  webhookEvents: number;
  syncLogs: number;
  changeEvents: number;
  outboundDelivered: number;
  outboundDead: number;
}

async function inChunks(remove: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const removed = await remove(CHUNK);
    total += removed;
    if (removed < CHUNK) return total;
  }
}

/** Deletes one status of finished outbound deliveries, with their attempts, that finished before `before`. */
async function pruneDeliveries(ctx: Pick<ServiceContext, 'db'>, status: 'delivered' | 'dead', before: Date): Promise<number> {
  let total = 0;
  let afterId: number | null = 0;
  while (afterId !== null) {
    const step = await deleteFinishedDeliveriesBefore(ctx.db, status, before, DELIVERY_CHUNK, afterId);
    total += step.deleted;
    afterId = step.nextAfterId;
  }
  return total;
}

/**
 * Deletes what is kept only for a while: webhook event ids past WEBHOOK_EVENT_RETENTION_DAYS (a
 * redelivery after that would be applied again, and the order-free upsert makes that a no-op),
 * finished sync runs past SYNC_LOG_RETENTION_DAYS (the latest run of each resource always stays),
 * change events past EVENTS_RETENTION_DAYS (a feed cursor before them answers 410), and outbound
 * deliveries with their attempts: delivered ones past OUTBOUND_DELIVERY_RETENTION_DAYS, dead ones (dead
 * letters, no longer replayable then) past OUTBOUND_DEAD_LETTER_RETENTION_DAYS.
 */
export async function pruneExpired(ctx: Pick<ServiceContext, 'db' | 'config'>, now = new Date()): Promise<Pruned> {
  const { webhookEventDays, syncLogDays, changeEventDays, outboundDeliveredDays, outboundDeadDays } = ctx.config.retention;
  const webhookEvents = await inChunks((limit) => deleteWebhookEventsProcessedBefore(ctx.db, new Date(now.getTime() - webhookEventDays * DAY_MS), limit));
  const syncLogs = await inChunks((limit) => deleteSyncLogsFinishedBefore(ctx.db, new Date(now.getTime() - syncLogDays * DAY_MS), limit));
  const changeEvents = await inChunks((limit) => deleteChangeEventsBefore(ctx.db, new Date(now.getTime() - changeEventDays * DAY_MS), limit));
  const outboundDelivered = await pruneDeliveries(ctx, 'delivered', new Date(now.getTime() - outboundDeliveredDays * DAY_MS));
  const outboundDead = await pruneDeliveries(ctx, 'dead', new Date(now.getTime() - outboundDeadDays * DAY_MS));
  return { webhookEvents, syncLogs, changeEvents, outboundDelivered, outboundDead };
}

/**
 * Deletes webhook dead letters older than WEBHOOK_DEAD_LETTER_RETENTION_DAYS: they hold customers'
 * personal data, and an operator who has not replayed one within the week will not. (The stream's
 * MAXLEN cap still bounds their number meanwhile.)
 */
export async function trimExpiredDeadLetters(ctx: Pick<ServiceContext, 'redis' | 'keys' | 'config'>, now = new Date()): Promise<number> {
  return trimDeadLettersBefore(ctx.redis, webhookKeys(ctx), new Date(now.getTime() - ctx.config.retention.deadLetterDays * DAY_MS));
}

/**
 * Prunes at start and then hourly in every worker process; a Redis lock held for most of the hour
 * makes one process do it per hour. A failed pass is logged and tried again at the next tick.
 */
export function startRetention(ctx: ServiceContext): () => Promise<void> {
  const lockKey = ctx.keys.key('maintenance', 'retention');
  const pass = async () => {
    try {
      const won = await ctx.redis.set(lockKey, String(process.pid), { NX: true, PX: EVERY_MS - 60_000 });
      if (won !== 'OK') return;
      const pruned = { ...(await pruneExpired(ctx)), deadLetters: await trimExpiredDeadLetters(ctx) };
      if (Object.values(pruned).some((n) => n > 0)) ctx.logger.info(pruned, 'expired webhook event ids, sync runs, change events, outbound deliveries and dead letters deleted');
    } catch (error) {
      ctx.logger.warn({ err: errorMessage(error) }, 'could not delete expired webhook event ids, sync runs, change events, outbound deliveries and dead letters; next try in an hour');
    }
  };
  let running = pass();
  const timer = setInterval(() => {
    running = pass();
  }, EVERY_MS);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}
