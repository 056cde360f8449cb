import type { ServiceContext } from '../context.js';
import { errorMessage } from '../errors.js';
import { deleteSyncLogsFinishedBefore } from '../store/sync-logs.js';
import { deleteWebhookEventsProcessedBefore } from '../store/webhook-events.js';
import { trimDeadLettersBefore } from '../webhooks/dead-letters.js';
import { webhookKeys } from '../webhooks/stream.js';

const DAY_MS = 86_400_000;
/** Rows per DELETE: short statements, so applying webhooks never waits long behind the pruning. */
const CHUNK = 5000;
const EVERY_MS = 3_600_000;

export interface Pruned {
  webhookEvents: number;
  syncLogs: number;
}

async function inChunks(remove: (limit: number) => Promise<number>): Promise<number> {
  let total = 0;
  for (;;) {
    const removed = await remove(CHUNK);
    total += removed;
    if (removed < CHUNK) return total;
  }
}

/**
 * Deletes what is kept only for a while: webhook event ids past WEBHOOK_EVENT_RETENTION_DAYS (a
 * redelivery after that would be applied again, and the order-free upsert makes that a no-op) and
 * finished sync runs past SYNC_LOG_RETENTION_DAYS (the latest run of each resource always stays).
 */
export async function pruneExpired(ctx: Pick<ServiceContext, 'db' | 'config'>, now = new Date()): Promise<Pruned> {
  const { webhookEventDays, syncLogDays } = ctx.config.retention;
  const webhookEvents = await inChunks((limit) => deleteWebhookEventsProcessedBefore(ctx.db, new Date(now.getTime() - webhookEventDays * DAY_MS), limit));
  const syncLogs = await inChunks((limit) => deleteSyncLogsFinishedBefore(ctx.db, new Date(now.getTime() - syncLogDays * DAY_MS), limit));
  return { webhookEvents, syncLogs };
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
      if (pruned.webhookEvents + pruned.syncLogs + pruned.deadLetters > 0) ctx.logger.info(pruned, 'expired webhook event ids, sync runs and dead letters deleted');
    } catch (error) {
      ctx.logger.warn({ err: errorMessage(error) }, 'could not delete expired webhook event ids, sync runs and dead letters; next try in an hour');
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
