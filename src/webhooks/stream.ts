import type { ServiceContext } from '../context.js';
import type { Redis } from '../platform/redis.js';
import { PoisonError } from './errors.js';

/**
 * The webhook stream's Redis layout. Keys that one MULTI touches together (stream + dead letters) share
 * the `{webhooks}` hash tag, so the same commands work on Redis Cluster.
 */
export function webhookKeys(ctx: Pick<ServiceContext, 'keys'>) {
  return {
    stream: ctx.keys.key('{webhooks}', 'stream'),
    deadLetters: ctx.keys.key('{webhooks}', 'dead'),
    /** Hash: topic label (a handled topic, else "other") → deliveries acknowledged and dropped (not in the allow-list). */
    ignored: ctx.keys.key('{webhooks}', 'ignored'),
    /**
     * Hash (count, bytes) of what one shop appended in one minute; in the stream's slot, since the quota
     * script checks it and appends to the stream together.
     */
    shopQuota: (shop: string, minute: number) => ctx.keys.key('{webhooks}', 'quota', shop, String(minute)),
  };
}
export type WebhookKeys = ReturnType<typeof webhookKeys>;

export const CONSUMER_GROUP = 'appliers';

/** One verified webhook as it travels through the stream (all values are strings in Redis). */
export interface WebhookEnvelope {
  topic: string;
  shop: string;
  integrationId: number;
  tenantId: string;
  webhookId: string | null;
  eventId: string;
  triggeredAt: Date | null;
  apiVersion: string | null;
  receivedAt: Date;
  /** The raw JSON body, exactly as Shopify signed it. */
  body: string;
}

/**
 * An envelope on its way into the stream. Ingest hands the body over as the bytes it received: the Redis
 * client then writes them as they are, where a string would be copied into the command and encoded again.
 */
export type OutgoingEnvelope = Omit<WebhookEnvelope, 'body'> & { body: string | Buffer };

/** Field order puts the body last so `XRANGE` output stays readable for an operator. */
export function encodeEnvelope(e: OutgoingEnvelope): Record<string, string | Buffer> {
  return {
    topic: e.topic,
    shop: e.shop,
    integration_id: String(e.integrationId),
    tenant_id: e.tenantId,
    webhook_id: e.webhookId ?? '',
    event_id: e.eventId,
    triggered_at: e.triggeredAt ? e.triggeredAt.toISOString() : '',
    api_version: e.apiVersion ?? '',
    received_at: e.receivedAt.toISOString(),
    body: e.body,
  };
}

/** A stream entry that cannot be read back into an envelope. */
export class EnvelopeError extends PoisonError {}

/** Stream fields → envelope; an entry that cannot be read is poison (it can never succeed). */
export function decodeEnvelope(fields: Record<string, string>): WebhookEnvelope {
  const need = (name: string) => {
    const value = fields[name];
    if (value === undefined || value === '') throw new EnvelopeError(`stream entry has no ${name}`);
    return value;
  };
  const optional = (name: string) => (fields[name] ? (fields[name] as string) : null);
  const integrationId = Number(need('integration_id'));
  if (!Number.isSafeInteger(integrationId) || integrationId < 1) throw new EnvelopeError('stream entry has an invalid integration_id');
  const receivedAt = new Date(need('received_at'));
  if (Number.isNaN(receivedAt.getTime())) throw new EnvelopeError('stream entry has an invalid received_at');
  const triggered = optional('triggered_at');
  const triggeredAt = triggered ? new Date(triggered) : null;
  return {
    topic: need('topic'),
    shop: need('shop'),
    integrationId,
    tenantId: need('tenant_id'),
    webhookId: optional('webhook_id'),
    eventId: need('event_id'),
    triggeredAt: triggeredAt && !Number.isNaN(triggeredAt.getTime()) ? triggeredAt : null,
    apiVersion: optional('api_version'),
    receivedAt,
    body: fields.body ?? '',
  };
}

/** A stream entry as node-redis returns it; `message` is null when the entry was deleted meanwhile. */
export interface StreamEntry {
  id: string;
  message: Record<string, string> | null;
}

/** XREADGROUP's reply (one stream asked) → its entries. */
export function entriesOf(reply: unknown): StreamEntry[] {
  if (!reply) return [];
  const streams = reply as { messages: StreamEntry[] }[];
  return streams.flatMap((s) => s.messages ?? []);
}

/** Creates the consumer group (and the stream) when missing; reading starts from the stream's beginning. */
export async function ensureConsumerGroup(redis: Redis, keys: WebhookKeys): Promise<void> {
  try {
    await redis.xGroupCreate(keys.stream, CONSUMER_GROUP, '0', { MKSTREAM: true });
  } catch (err) {
    if (!String((err as Error)?.message).includes('BUSYGROUP')) throw err;
  }
}

export const isNoGroupError = (err: unknown) => String((err as Error)?.message).includes('NOGROUP');
