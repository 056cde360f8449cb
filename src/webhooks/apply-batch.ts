import type { ServiceContext } from '../context.js';
import { errorMessage, RetriableError } from '../errors.js';
import { mysqlConflict, webhookApply } from '../platform/retry-policies.js';
import { isConflict, isTransient } from '../store/mysql-errors.js';
import { eventKey, findWebhookOwners, recordedEvents } from '../store/webhook-events.js';
import { applyEvents, prepareEvent, type ApplyResult, type PreparedEvent } from './apply.js';
import type { DeadLetterInput } from './dead-letters.js';
import { decodeEnvelope, type WebhookEnvelope } from './stream.js';
import { topicLabel } from './topics.js';

/** One stream entry handed to the use case. */
export interface BatchEntry {
  id: string;
  /** Its fields; null when it was deleted from the stream meanwhile (replayed elsewhere, trimmed, redacted). */
  fields: Record<string, string> | null;
  /** How often the stream has handed it to a consumer (1 for a first read). */
  deliveries: number;
}

/** What the stream is to do with each entry of a batch: every entry is in exactly one of the three lists. */
export interface BatchOutcome {
  /** Settled (applied, already applied, refused by its integration's state, or gone): acknowledge. */
  ack: string[];
  /** Can never succeed as they are, or keep being delivered without an answer: move to the dead letters. */
  deadLetter: DeadLetterInput[];
  /** Left pending for a later delivery: failed on their own, or not tried because the caller is stopping. */
  retry: string[];
  /** Redactions among the acknowledged (also redelivered ones): what Redis still holds of them is to go too. */
  redactions: WebhookEnvelope[];
  /** Bulk operations whose finish was announced (among the acknowledged): the syncs waiting for them are to be woken. */
  bulkFinished: { integrationId: number; operation: string }[];
}

export interface ApplyBatchContext extends Pick<ServiceContext, 'db' | 'config' | 'logger' | 'metrics'> {
  /** Waits between attempts; the caller may cut it short when it stops. */
  sleep(ms: number): Promise<void>;
  /** True once the caller is stopping: a batch held while MySQL is unavailable is then left pending. */
  stopping(): boolean;
}

class Stopping extends RetriableError {
  constructor() {
    super('the webhook consumer is stopping', { code: 'consumer-stopping' });
  }
}

interface Decoded {
  entry: BatchEntry & { fields: Record<string, string> };
  envelope: WebhookEnvelope;
}

interface Prepared {
  entry: BatchEntry & { fields: Record<string, string> };
  event: PreparedEvent;
}

const deadLetterOf = (entry: Decoded['entry'], error: string): DeadLetterInput => ({ id: entry.id, fields: entry.fields, deliveries: entry.deliveries, error });

/**
 * The webhook use case, free of the stream's mechanics: decides, for a batch of stream entries, which
 * are applied (one MySQL transaction for the batch, or one per event once the batch fails), which are
 * poison, and which wait for another delivery. Entries whose integration no longer holds their shop are
 * dropped; entries delivered more than WEBHOOK_MAX_DELIVERIES times are settled without being tried again.
 * While MySQL is unavailable the batch is held and retried with backoff until it answers or the caller stops.
 */
export async function applyBatch(ctx: ApplyBatchContext, entries: BatchEntry[]): Promise<BatchOutcome> {
  const outcome: BatchOutcome = { ack: [], deadLetter: [], retry: [], redactions: [], bulkFinished: [] };
  try {
    await settleBatch(ctx, entries, outcome);
  } catch (err) {
    if (!(err instanceof Stopping)) throw err;
  }
  const placed = new Set([...outcome.ack, ...outcome.deadLetter.map((d) => d.id), ...outcome.retry]);
  for (const entry of entries) if (!placed.has(entry.id)) outcome.retry.push(entry.id);
  return outcome;
}

async function settleBatch(ctx: ApplyBatchContext, entries: BatchEntry[], outcome: BatchOutcome): Promise<void> {
  const { maxDeliveries } = ctx.config.webhooks;
  const decoded: Decoded[] = [];
  const suspects: Decoded[] = [];
  for (const entry of entries) {
    if (!entry.fields) {
      outcome.ack.push(entry.id); // deleted meanwhile: nothing left to apply
      continue;
    }
    const readable = { ...entry, fields: entry.fields };
    try {
      const envelope = decodeEnvelope(readable.fields);
      (readable.deliveries > maxDeliveries ? suspects : decoded).push({ entry: readable, envelope });
    } catch (err) {
      outcome.deadLetter.push(deadLetterOf(readable, errorMessage(err)));
    }
  }
  if (suspects.length > 0) await settleSuspects(ctx, suspects, outcome);

  const prepared = await prepareOwned(ctx, decoded, outcome);
  if (prepared.length === 0) return;
  let result: ApplyResult;
  try {
    result = await untilDone(ctx, () =>
      applyEvents(
        ctx.db,
        prepared.map((p) => p.event),
      ),
    );
  } catch (err) {
    if (err instanceof Stopping) throw err;
    ctx.logger.warn({ err: errorMessage(err), size: prepared.length }, 'webhook batch failed; applying its events one by one');
    await isolate(ctx, prepared, outcome);
    return;
  }
  countApplied(ctx, result);
  const refused = new Set(result.dropped.map((d) => d.event));
  for (const { entry, event } of prepared) settled(outcome, entry, event, refused.has(event));
  ctx.logger.debug({ applied: result.applied, duplicates: result.duplicates }, 'webhook batch applied');
}

function settled(outcome: BatchOutcome, entry: BatchEntry, event: PreparedEvent, refused: boolean): void {
  outcome.ack.push(entry.id);
  if (!refused && (event.action.kind === 'customer-redact' || event.action.kind === 'shop-redact')) outcome.redactions.push(event.envelope);
  if (!refused && event.bulkOperation) outcome.bulkFinished.push({ integrationId: event.owner.integrationId, operation: event.bulkOperation });
}

/**
 * Entries delivered more than WEBHOOK_MAX_DELIVERIES times without an acknowledgement or a recorded
 * failure: a consumer may be dying on them. Those already applied (a consumer died between commit
 * and XACK) are acknowledged; the others are dead-lettered rather than tried again.
 */
async function settleSuspects(ctx: ApplyBatchContext, suspects: Decoded[], outcome: BatchOutcome): Promise<void> {
  const applied = await untilDone(ctx, () =>
    recordedEvents(
      ctx.db,
      suspects.map((s) => ({ integrationId: s.envelope.integrationId, eventId: s.envelope.eventId })),
    ),
  );
  for (const { entry, envelope } of suspects) {
    if (applied.has(eventKey(envelope.integrationId, envelope.eventId))) outcome.ack.push(entry.id);
    else outcome.deadLetter.push(deadLetterOf(entry, `delivered ${entry.deliveries} times without being acknowledged (a consumer may crash on it)`));
  }
}

/** Finds each entry's owner and maps it outside any transaction: entries of another installation are dropped, unmappable ones are poison. */
async function prepareOwned(ctx: ApplyBatchContext, decoded: Decoded[], outcome: BatchOutcome): Promise<Prepared[]> {
  const ownerOf = await untilDone(ctx, () =>
    findWebhookOwners(
      ctx.db,
      decoded.map((d) => ({ integrationId: d.envelope.integrationId, shop: d.envelope.shop })),
    ),
  );
  const prepared: Prepared[] = [];
  for (const { entry, envelope } of decoded) {
    const owner = ownerOf(envelope.integrationId, envelope.shop);
    if (!owner) {
      ctx.logger.warn(
        { integrationId: envelope.integrationId, shop: envelope.shop, topic: envelope.topic, eventId: envelope.eventId },
        'webhook of a shop its integration no longer holds (another installation): dropped',
      );
      outcome.ack.push(entry.id);
      ctx.metrics.webhooksApplied.inc({ topic: topicLabel(envelope.topic), result: 'other-shop' });
      continue;
    }
    try {
      prepared.push({ entry, event: prepareEvent(entry.id, envelope, owner) });
    } catch (err) {
      outcome.deadLetter.push(deadLetterOf(entry, errorMessage(err)));
    }
  }
  return prepared;
}

/** One event per transaction, so one bad event cannot hold back the rest of its batch. */
async function isolate(ctx: ApplyBatchContext, prepared: Prepared[], outcome: BatchOutcome): Promise<void> {
  const { maxDeliveries } = ctx.config.webhooks;
  for (const { entry, event } of prepared) {
    let result: ApplyResult;
    try {
      result = await untilDone(ctx, () => applyEvents(ctx.db, [event]));
    } catch (err) {
      if (err instanceof Stopping) throw err;
      const error = `${event.envelope.topic}: ${errorMessage(err)}`;
      if (entry.deliveries >= maxDeliveries) {
        outcome.deadLetter.push(deadLetterOf(entry, error));
      } else {
        // Left pending: after claimIdleMs a consumer claims it again (and the delivery count grows).
        ctx.logger.warn({ err: error, id: entry.id, deliveries: entry.deliveries }, 'webhook event failed; it will be retried');
        outcome.retry.push(entry.id);
      }
      continue;
    }
    countApplied(ctx, result);
    settled(outcome, entry, event, result.dropped.length > 0);
  }
}

/**
 * Runs `fn` until it succeeds or fails for a reason of its own. Lock conflicts are retried after short
 * waits (`mysqlConflict`); past those, and while MySQL is unavailable, the batch is held (the caller
 * keeps its entries claimed), retrying with backoff (`webhookApply`) until MySQL answers or the caller stops.
 */
async function untilDone<T>(ctx: ApplyBatchContext, fn: () => Promise<T>): Promise<T> {
  let attempt = 0;
  let conflicts = 0;
  while (true) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err)) throw err;
      if (isConflict(err) && conflicts < mysqlConflict.maxRetries) {
        await ctx.sleep(mysqlConflict.delayMs(conflicts++));
        continue;
      }
      if (ctx.stopping()) throw new Stopping();
      if (attempt === 0 || attempt % 10 === 0) ctx.logger.warn({ err: errorMessage(err), attempt }, 'MySQL unavailable; webhook batch kept pending and retried');
      await ctx.sleep(webhookApply.delayMs(attempt++));
      if (ctx.stopping()) throw new Stopping();
    }
  }
}

function countApplied(ctx: ApplyBatchContext, result: ApplyResult): void {
  for (const { event, reason } of result.dropped) {
    const { envelope } = event;
    ctx.logger.info(
      { integrationId: envelope.integrationId, shop: envelope.shop, topic: envelope.topic, eventId: envelope.eventId, triggeredAt: envelope.triggeredAt, reason },
      'webhook changed nothing: the store is disconnected, was purged after it, or it belongs to an earlier installation',
    );
    ctx.metrics.webhooksApplied.inc({ topic: topicLabel(envelope.topic), result: reason });
  }
  for (const [topic, n] of result.byTopic) {
    const label = topicLabel(topic);
    if (n.applied > 0) ctx.metrics.webhooksApplied.inc({ topic: label, result: 'applied' }, n.applied);
    if (n.duplicates > 0) ctx.metrics.webhooksApplied.inc({ topic: label, result: 'duplicate' }, n.duplicates);
  }
}
