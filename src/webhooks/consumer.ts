import { hostname } from 'node:os';
import type { ServiceContext } from '../context.js';
import { errorMessage } from '../errors.js';
import { streamRead } from '../platform/retry-policies.js';
import type { Redis } from '../platform/redis.js';
import { applyBatch, type ApplyBatchContext } from './apply-batch.js';
import { eraseFromWebhookStreams, streamRedactionOf } from './compliance.js';
import { moveToDeadLetters, type DeadLetterInput } from './dead-letters.js';
import { topicLabel } from './topics.js';
import { CONSUMER_GROUP, ensureConsumerGroup, entriesOf, isNoGroupError, webhookKeys, type StreamEntry, type WebhookEnvelope, type WebhookKeys } from './stream.js';

type Source = 'new' | 'history' | 'claim';

/** Consumer sets started in this process (tests start several), so consumer names stay unique. */
const slotsInUse = new Set<number>();

/**
 * One reader of the consumer group, on its own Redis connection (XREADGROUP BLOCK holds it).
 * Loop: its own pending entries first (after a start or a Redis error) → entries idle too long at dead
 * consumers (XAUTOCLAIM, every claimIdleMs / 2) → new entries. What happens to each entry of a batch is
 * decided by applyBatch; this class carries it out on the stream: dead letters (XADD), then XACK + XDEL
 * of the settled entries, only after their commit. The rest stays pending.
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
  private readonly batchContext: ApplyBatchContext;

  constructor(
    private readonly ctx: ServiceContext,
    private readonly keys: WebhookKeys,
    readonly name: string,
    private readonly hooks: ConsumerHooks = {},
  ) {
    this.reader = ctx.redis.duplicate();
    this.reader.on('error', (err: Error) => ctx.logger.debug({ err: err.message, consumer: name }, 'webhook reader connection error'));
    this.claimEveryMs = Math.max(50, Math.floor(ctx.config.webhooks.claimIdleMs / 2));
    this.blockMs = Math.min(2000, this.claimEveryMs);
    this.heartbeatMs = Math.max(30, Math.floor(ctx.config.webhooks.claimIdleMs / 3));
    this.batchContext = {
      db: ctx.db,
      config: ctx.config,
      metrics: ctx.metrics,
      logger: ctx.logger.child({ consumer: name }),
      sleep: (ms) => this.sleep(ms),
      stopping: () => !this.running,
    };
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
        if (!this.running) break;
        if (isNoGroupError(err)) this.groupReady = false;
        // After any error here (mostly Redis), re-read this consumer's pending entries: an XACK may have been lost.
        this.historyFrom = '0';
        this.ctx.logger.warn({ err: errorMessage(err), consumer: this.name }, 'webhook consumer error (Redis?); retrying');
        await this.sleep(streamRead.delayMs(failures++));
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
        this.ctx.logger.error(
          { ids: claimed.deletedMessages, consumer: this.name },
          'webhook entries were trimmed from the stream before being applied (WEBHOOK_STREAM_MAXLEN too small for the backlog)',
        );
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
    const pending = await this.reader.xPendingRange(this.keys.stream, CONSUMER_GROUP, (entries[0] as StreamEntry).id, (entries[entries.length - 1] as StreamEntry).id, entries.length, {
      consumer: this.name,
    });
    return new Map(pending.map((p) => [p.id, Number(p.deliveriesCounter)]));
  }

  private async process(entries: StreamEntry[], source: Source): Promise<void> {
    this.heldIds = entries.map((e) => e.id);
    // While a batch is in hand (a slow transaction, MySQL away) its entries stay claimed, so other consumers do not take them over.
    const heartbeat = setInterval(() => {
      this.keepClaimed().catch(() => {});
    }, this.heartbeatMs);
    try {
      const counts = await this.deliveryCounts(entries, source);
      const outcome = await applyBatch(
        this.batchContext,
        entries.map((e) => ({ id: e.id, fields: e.message, deliveries: counts.get(e.id) ?? 1 })),
      );
      if (outcome.deadLetter.length > 0) await this.deadLetter(outcome.deadLetter);
      // Only after the commit; if this fails (Redis away), the entries are re-read and found already applied.
      await this.ack(outcome.ack);
      await this.eraseRedacted(outcome.redactions);
      if (outcome.bulkFinished.length > 0 && this.hooks.onBulkOperationFinished) {
        // Only a nudge: a sync not woken looks at its operation again when its delay is over.
        await this.hooks
          .onBulkOperationFinished(outcome.bulkFinished)
          .catch((err: unknown) => this.ctx.logger.warn({ err: errorMessage(err) }, 'could not wake the syncs waiting for finished bulk operations'));
      }
      // outcome.retry stays pending: once idle it is claimed again (and its delivery count grows).
    } finally {
      clearInterval(heartbeat);
      this.heldIds = [];
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
    for (const e of entries)
      this.ctx.logger.error({ id: e.id, topic: e.fields.topic, eventId: e.fields.event_id, deliveries: e.deliveries, err: e.error, consumer: this.name }, 'webhook moved to the dead letters');
    const { streamMaxLen, deadLetterMaxBodyBytes } = this.ctx.config.webhooks;
    await moveToDeadLetters(this.reader, this.keys, entries, { maxLen: streamMaxLen, maxBodyBytes: deadLetterMaxBodyBytes });
    for (const e of entries) this.ctx.metrics.webhooksDeadLettered.inc({ topic: topicLabel(e.fields.topic) });
  }

  /**
   * After a redaction is committed, what Redis still holds of it goes too (dead letters, and for a shop
   * the backlog). A failure is logged: the dead letters' retention removes them in the end.
   */
  private async eraseRedacted(envelopes: WebhookEnvelope[]): Promise<void> {
    for (const envelope of envelopes) {
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

/** What the composition root wires in: the webhook flow does not know the sync flow. */
export interface ConsumerHooks {
  /** After the acknowledgement of `bulk_operations/finish` events: wake the syncs waiting for them. */
  onBulkOperationFinished?: (finished: { integrationId: number; operation: string }[]) => Promise<void>;
}

/**
 * Starts `WEBHOOK_CONSUMERS` readers of the webhook stream in this process; any number of processes may
 * run them (one consumer group). Consumer names are `host-pid-n`, so a restarted process with the same
 * name picks up its own pending entries at once. Returns a stop function that lets running batches finish.
 */
export async function startWebhookConsumers(ctx: ServiceContext, hooks: ConsumerHooks = {}): Promise<() => Promise<void>> {
  const keys = webhookKeys(ctx);
  let slot = 0;
  while (slotsInUse.has(slot)) slot++;
  slotsInUse.add(slot);
  const base = `${hostname()}-${process.pid}${slot === 0 ? '' : `-s${slot}`}`;
  const consumers = Array.from({ length: ctx.config.webhooks.consumersPerProcess }, (_, i) => new StreamConsumer(ctx, keys, `${base}-${i}`, hooks));
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
