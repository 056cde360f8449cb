import { hostname } from 'node:os';
import type { ServiceContext } from '../context.js';
import { errorMessage } from '../errors.js';
import type { Redis } from '../platform/redis.js';
import { eventKey, findWebhookOwners, recordedEvents, type WebhookOwner } from '../store/webhook-events.js';
import { applyEvents, decodeEntry, prepareEvent, type ApplyResult, type PreparedEvent } from './apply.js';
import { eraseFromWebhookStreams, streamRedactionOf } from './compliance.js';
import { moveToDeadLetters, type DeadLetterInput } from './dead-letters.js';
import { backoffMs, isConflict, isTransient } from './failures.js';
import { topicLabel } from './topics.js';
import { CONSUMER_GROUP, ensureConsumerGroup, entriesOf, isNoGroupError, webhookKeys, type StreamEntry, type WebhookEnvelope, type WebhookKeys } from './stream.js';

type Source = 'new' | 'history' | 'claim';

interface Delivered {
  id: string;
  fields: Record<string, string>;
  /** How often Redis has handed this entry to a consumer (1 for a first read). */
  deliveries: number;
}

class Stopped extends Error {}

/** Lock conflicts are retried at once this many times before the batch counts as unavailable for now. */
const CONFLICT_RETRIES = 8;
/** Consumer sets started in this process (tests start several), so consumer names stay unique. */
const slotsInUse = new Set<number>();

/**
 * One reader of the consumer group, on its own Redis connection (XREADGROUP BLOCK holds it).
 * Loop: its own pending entries first (after a start or a Redis error) → entries idle too long at dead
 * consumers (XAUTOCLAIM, every claimIdleMs / 2) → new entries. Each batch is applied in one MySQL
 * transaction and acknowledged (XACK + XDEL) only after the commit.
 */
class StreamConsumer {
  private readonly reader: Redis;
  private running = true;
  private blockingRead = false;
  private groupReady = false;
  /** Non-null while re-reading this consumer's own pending entries, from this id on. */
  private historyFrom: string | null = '0';
  private claimCursor = '0-0';
  private nextClaimAt = 0;
  private readonly claimEveryMs: number;
  private readonly blockMs: number;
  private readonly heartbeatMs: number;
  private loop: Promise<void> | undefined;
  /** Entries of the batch in hand (kept claimed while MySQL is unavailable). */
  private heldIds: string[] = [];
  private wake: (() => void) | undefined;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly keys: WebhookKeys,
    readonly name: string,
  ) {
    this.reader = ctx.redis.duplicate();
    this.reader.on('error', (err: Error) => ctx.logger.debug({ err: err.message, consumer: name }, 'webhook reader connection error'));
    this.claimEveryMs = Math.max(50, Math.floor(ctx.config.webhooks.claimIdleMs / 2));
    this.blockMs = Math.min(2000, this.claimEveryMs);
    this.heartbeatMs = Math.max(30, Math.floor(ctx.config.webhooks.claimIdleMs / 3));
  }

  start(): void {
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    if (this.blockingRead) this.reader.destroy();
    await this.loop;
    if (this.reader.isOpen) this.reader.destroy();
    await this.forgetSelfIfIdle();
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        if (!this.reader.isOpen) await this.reader.connect();
        if (!this.groupReady) {
          await ensureConsumerGroup(this.reader, this.keys);
          this.groupReady = true;
        }
        await this.step();
        failures = 0;
      } catch (err) {
        if (!this.running || err instanceof Stopped) break;
        if (isNoGroupError(err)) this.groupReady = false;
        // After any error here (mostly Redis), re-read this consumer's pending entries: an XACK may have been lost.
        this.historyFrom = '0';
        this.ctx.logger.warn({ err: errorMessage(err), consumer: this.name }, 'webhook consumer error (Redis?); retrying');
        await this.sleep(backoffMs(failures++, 200, 5000));
      }
    }
  }

  private async step(): Promise<void> {
    const { batchSize } = this.ctx.config.webhooks;
    if (this.historyFrom !== null) {
      const entries = entriesOf(await this.reader.xReadGroup(CONSUMER_GROUP, this.name, { key: this.keys.stream, id: this.historyFrom }, { COUNT: batchSize }));
      if (entries.length === 0) {
        this.historyFrom = null;
        return;
      }
      this.historyFrom = (entries[entries.length - 1] as StreamEntry).id;
      await this.process(entries, 'history');
      return;
    }
    if (Date.now() >= this.nextClaimAt) {
      const claimed = await this.reader.xAutoClaim(this.keys.stream, CONSUMER_GROUP, this.name, this.ctx.config.webhooks.claimIdleMs, this.claimCursor, { COUNT: batchSize });
      this.claimCursor = claimed.nextId;
      if (claimed.nextId === '0-0') this.nextClaimAt = Date.now() + this.claimEveryMs;
      if (claimed.deletedMessages.length > 0) {
        this.ctx.logger.error({ ids: claimed.deletedMessages, consumer: this.name }, 'webhook entries were trimmed from the stream before being applied (WEBHOOK_STREAM_MAXLEN too small for the backlog)');
      }
      const entries = (claimed.messages as (StreamEntry | null)[]).filter((m): m is StreamEntry => m !== null);
      if (entries.length > 0) {
        this.ctx.logger.info({ count: entries.length, consumer: this.name }, 'claimed webhook entries idle at another consumer');
        await this.process(entries, 'claim');
      }
      return;
    }
    this.blockingRead = true;
    let reply;
    try {
      reply = await this.reader.xReadGroup(CONSUMER_GROUP, this.name, { key: this.keys.stream, id: '>' }, { COUNT: batchSize, BLOCK: this.blockMs });
    } finally {
      this.blockingRead = false;
    }
    const entries = entriesOf(reply);
    if (entries.length > 0) await this.process(entries, 'new');
  }

  /** Delivery counts of re-read or claimed entries (XPENDING), to spot entries a consumer keeps dying on. */
  private async deliveryCounts(entries: StreamEntry[], source: Source): Promise<Map<string, number>> {
    if (source === 'new' || entries.length === 0) return new Map();
    const pending = await this.reader.xPendingRange(this.keys.stream, CONSUMER_GROUP, (entries[0] as StreamEntry).id, (entries[entries.length - 1] as StreamEntry).id, entries.length, { consumer: this.name });
    return new Map(pending.map((p) => [p.id, Number(p.deliveriesCounter)]));
  }

  private async process(entries: StreamEntry[], source: Source): Promise<void> {
    this.heldIds = entries.map((e) => e.id);
    // While a batch is in hand (a slow transaction, MySQL away) its entries stay claimed, so other consumers do not take them over.
    const heartbeat = setInterval(() => {
      this.keepClaimed().catch(() => {});
    }, this.heartbeatMs);
    try {
      await this.processHeld(entries, source);
    } finally {
      clearInterval(heartbeat);
      this.heldIds = [];
    }
  }

  private async processHeld(entries: StreamEntry[], source: Source): Promise<void> {
    const { maxDeliveries } = this.ctx.config.webhooks;
    const counts = await this.deliveryCounts(entries, source);
    const gone: string[] = [];
    const dead: DeadLetterInput[] = [];
    const decoded: { delivered: Delivered; envelope: WebhookEnvelope }[] = [];
    const suspects: { delivered: Delivered; envelope: WebhookEnvelope }[] = [];
    for (const entry of entries) {
      if (!entry.message) {
        gone.push(entry.id); // deleted meanwhile (replayed elsewhere, trimmed): nothing left to apply
        continue;
      }
      const delivered = { id: entry.id, fields: entry.message, deliveries: counts.get(entry.id) ?? 1 };
      try {
        const envelope = decodeEntry(entry.message);
        if (delivered.deliveries > maxDeliveries) suspects.push({ delivered, envelope });
        else decoded.push({ delivered, envelope });
      } catch (err) {
        dead.push({ ...delivered, error: errorMessage(err) });
      }
    }
    if (suspects.length > 0) await this.settleSuspects(suspects, dead, gone);

    const ownerOf = await this.untilDone(() => findWebhookOwners(this.ctx.db, decoded.map((d) => ({ integrationId: d.envelope.integrationId, shop: d.envelope.shop }))));
    const prepared: { delivered: Delivered; event: PreparedEvent }[] = [];
    for (const { delivered, envelope } of decoded) {
      const owner: WebhookOwner | undefined = ownerOf(envelope.integrationId, envelope.shop);
      if (!owner) {
        this.ctx.logger.warn({ integrationId: envelope.integrationId, shop: envelope.shop, topic: envelope.topic, eventId: envelope.eventId }, 'webhook of a shop its integration no longer holds (another installation): dropped');
        gone.push(delivered.id);
        this.ctx.metrics.webhooksApplied.inc({ topic: topicLabel(envelope.topic), result: 'other-shop' });
        continue;
      }
      try {
        prepared.push({ delivered, event: prepareEvent(delivered.id, envelope, owner) });
      } catch (err) {
        dead.push({ ...delivered, error: errorMessage(err) });
      }
    }

    if (dead.length > 0) await this.deadLetter(dead);
    if (gone.length > 0) await this.ack(gone);
    if (prepared.length === 0) return;
    let result;
    try {
      result = await this.untilDone(() => applyEvents(this.ctx.db, prepared.map((p) => p.event)));
    } catch (err) {
      if (err instanceof Stopped) throw err;
      this.ctx.logger.warn({ err: errorMessage(err), consumer: this.name, size: prepared.length }, 'webhook batch failed; applying its events one by one');
      await this.isolate(prepared);
      return;
    }
    this.countApplied(result);
    // Only after the commit; if this fails (Redis away), the entries are re-read and found already applied.
    await this.ack(prepared.map((p) => p.delivered.id));
    const refused = new Set(result.dropped.map((d) => d.event));
    await this.eraseRedacted(prepared.map((p) => p.event).filter((e) => !refused.has(e)));
    this.ctx.logger.debug({ consumer: this.name, applied: result.applied, duplicates: result.duplicates }, 'webhook batch applied');
  }

  /**
   * Entries delivered more than WEBHOOK_MAX_DELIVERIES times without an acknowledgement or a recorded
   * failure: a consumer may be dying on them. Those already applied (a consumer died between commit
   * and XACK) are acknowledged; the others are dead-lettered rather than tried again.
   */
  private async settleSuspects(suspects: { delivered: Delivered; envelope: WebhookEnvelope }[], dead: DeadLetterInput[], gone: string[]): Promise<void> {
    const applied = await this.untilDone(() => recordedEvents(this.ctx.db, suspects.map((s) => ({ integrationId: s.envelope.integrationId, eventId: s.envelope.eventId }))));
    for (const { delivered, envelope } of suspects) {
      if (applied.has(eventKey(envelope.integrationId, envelope.eventId))) gone.push(delivered.id);
      else dead.push({ ...delivered, error: `delivered ${delivered.deliveries} times without being acknowledged (a consumer may crash on it)` });
    }
  }

  /** One event per transaction, so one bad event cannot hold back the rest of its batch. */
  private async isolate(prepared: { delivered: Delivered; event: PreparedEvent }[]): Promise<void> {
    const { maxDeliveries } = this.ctx.config.webhooks;
    for (const { delivered, event } of prepared) {
      let failure: unknown;
      let refused = false;
      try {
        const result = await this.untilDone(() => applyEvents(this.ctx.db, [event]));
        this.countApplied(result);
        refused = result.dropped.length > 0;
      } catch (err) {
        if (err instanceof Stopped) throw err;
        failure = err;
      }
      if (failure === undefined) {
        await this.ack([delivered.id]);
        if (!refused) await this.eraseRedacted([event]);
        continue;
      }
      const error = `${event.envelope.topic}: ${errorMessage(failure)}`;
      if (delivered.deliveries >= maxDeliveries) {
        await this.deadLetter([{ ...delivered, error }]);
      } else {
        // Left pending: after claimIdleMs a consumer claims it again (and the delivery count grows).
        this.ctx.logger.warn({ err: error, id: delivered.id, deliveries: delivered.deliveries, consumer: this.name }, 'webhook event failed; it will be retried');
      }
    }
  }

  /**
   * Runs `fn` until it succeeds or fails for a reason of its own. Lock conflicts are retried at once;
   * while MySQL is unavailable the batch is held (the heartbeat keeps its entries claimed), retrying
   * with backoff until MySQL answers or the consumer stops.
   */
  private async untilDone<T>(fn: () => Promise<T>): Promise<T> {
    let attempt = 0;
    let conflicts = 0;
    while (true) {
      try {
        return await fn();
      } catch (err) {
        if (!isTransient(err)) throw err;
        if (isConflict(err) && ++conflicts <= CONFLICT_RETRIES) {
          await this.sleep(backoffMs(conflicts, 5, 200));
          continue;
        }
        if (!this.running) throw new Stopped();
        if (attempt === 0 || attempt % 10 === 0) this.ctx.logger.warn({ err: errorMessage(err), consumer: this.name, attempt }, 'MySQL unavailable; webhook batch kept pending and retried');
        await this.sleep(backoffMs(attempt++, 200, 5000));
        if (!this.running) throw new Stopped();
      }
    }
  }

  /**
   * Resets the idle time of the entries in hand (XCLAIM JUSTID does not count a delivery). Only entries
   * idle for half a heartbeat are touched, so an entry another consumer has just claimed is left to it.
   */
  private async keepClaimed(): Promise<void> {
    if (this.heldIds.length === 0) return;
    await this.reader.xClaimJustId(this.keys.stream, CONSUMER_GROUP, this.name, Math.floor(this.heartbeatMs / 2), this.heldIds);
  }

  private async ack(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    // Acknowledged entries are deleted too: the stream then holds only the backlog, not 1M old bodies.
    await this.reader.multi().xAck(this.keys.stream, CONSUMER_GROUP, ids).xDel(this.keys.stream, ids).exec();
  }

  private async deadLetter(entries: DeadLetterInput[]): Promise<void> {
    for (const e of entries) this.ctx.logger.error({ id: e.id, topic: e.fields.topic, eventId: e.fields.event_id, deliveries: e.deliveries, err: e.error, consumer: this.name }, 'webhook moved to the dead letters');
    const { streamMaxLen, deadLetterMaxBodyBytes } = this.ctx.config.webhooks;
    await moveToDeadLetters(this.reader, this.keys, entries, { maxLen: streamMaxLen, maxBodyBytes: deadLetterMaxBodyBytes });
    for (const e of entries) this.ctx.metrics.webhooksDeadLettered.inc({ topic: topicLabel(e.fields.topic) });
  }

  /**
   * After a redaction is committed, what Redis still holds of it goes too (dead letters, and for a shop
   * the backlog). A failure is logged: the dead letters' retention removes them in the end.
   */
  private async eraseRedacted(events: PreparedEvent[]): Promise<void> {
    for (const { envelope } of events) {
      try {
        const redaction = streamRedactionOf(envelope);
        if (!redaction) continue;
        const erased = await eraseFromWebhookStreams(this.reader, this.keys, redaction);
        this.ctx.logger.info({ topic: envelope.topic, integrationId: envelope.integrationId, ...erased }, 'redaction applied to the webhook stream and dead letters');
      } catch (err) {
        this.ctx.logger.warn({ err: errorMessage(err), topic: envelope.topic, integrationId: envelope.integrationId }, 'could not erase a redaction from the webhook stream and dead letters');
      }
    }
  }

  private countApplied(result: ApplyResult): void {
    for (const { event, reason } of result.dropped) {
      const { envelope } = event;
      this.ctx.logger.info({ integrationId: envelope.integrationId, shop: envelope.shop, topic: envelope.topic, eventId: envelope.eventId, triggeredAt: envelope.triggeredAt, reason }, 'webhook changed nothing: the store is disconnected, was purged after it, or it belongs to an earlier installation');
      this.ctx.metrics.webhooksApplied.inc({ topic: topicLabel(envelope.topic), result: reason });
    }
    for (const [topic, n] of result.byTopic) {
      const label = topicLabel(topic);
      if (n.applied > 0) this.ctx.metrics.webhooksApplied.inc({ topic: label, result: 'applied' }, n.applied);
      if (n.duplicates > 0) this.ctx.metrics.webhooksApplied.inc({ topic: label, result: 'duplicate' }, n.duplicates);
    }
  }

  /** Removes this consumer from the group on a clean stop when it holds nothing, so stats list live consumers. */
  private async forgetSelfIfIdle(): Promise<void> {
    try {
      const consumers = (await this.ctx.redis.xInfoConsumers(this.keys.stream, CONSUMER_GROUP)) as unknown as { name: string; pending: number }[];
      const me = consumers.find((c) => c.name === this.name);
      if (me && Number(me.pending) === 0) await this.ctx.redis.xGroupDelConsumer(this.keys.stream, CONSUMER_GROUP, this.name);
    } catch {
      // best effort
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/**
 * Starts `WEBHOOK_CONSUMERS` readers of the webhook stream in this process; any number of processes may
 * run them (one consumer group). Consumer names are `host-pid-n`, so a restarted process with the same
 * name picks up its own pending entries at once. Returns a stop function that lets running batches finish.
 */
export async function startWebhookConsumers(ctx: ServiceContext): Promise<() => Promise<void>> {
  const keys = webhookKeys(ctx);
  let slot = 0;
  while (slotsInUse.has(slot)) slot++;
  slotsInUse.add(slot);
  const base = `${hostname()}-${process.pid}${slot === 0 ? '' : `-s${slot}`}`;
  const consumers = Array.from({ length: ctx.config.webhooks.consumersPerProcess }, (_, i) => new StreamConsumer(ctx, keys, `${base}-${i}`));
  for (const c of consumers) c.start();
  ctx.logger.info({ consumers: consumers.map((c) => c.name), stream: keys.stream }, 'webhook consumers started');
  let stopped: Promise<void> | undefined;
  return () => {
    stopped ??= Promise.all(consumers.map((c) => c.stop())).then(() => {
      slotsInUse.delete(slot);
    });
    return stopped;
  };
}
