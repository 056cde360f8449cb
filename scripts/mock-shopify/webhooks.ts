import { createHash, randomUUID } from 'node:crypto';
import { signWebhookBody } from '../../src/shopify/hmac.js';
import { hashInts, seededShuffle } from './random.js';

/** A change in a mock shop, ready to be delivered as Shopify delivers webhooks. */
export interface MockWebhookEvent<P = unknown> {
  topic: string;
  /** Snapshot of the payload at the time of the change. */
  payload: P;
  /** `X-Shopify-Event-Id`: the same for every delivery and retry of this change. */
  eventId: string;
  /** `X-Shopify-Triggered-At`: the moment of the change, with milliseconds (ISO 8601, UTC). */
  triggeredAt: string;
}

export interface DeliverOptions {
  /** Deliver to this URL instead of the shop's subscriptions for each topic. */
  url?: string;
  /**
   * `true`: every event is sent twice (a Shopify retry: same event id, webhook id and Triggered-At); a
   * number in (0, 1]: that share of events. An event listed twice in `events` is likewise a retry, so an
   * explicit list is an exact delivery order, repeats included.
   */
  duplicates?: boolean | number;
  /** `true` or a seed: deliver in a shuffled (seeded, reproducible) order. */
  shuffle?: boolean | number;
  /** Sign with this secret instead of the shop's webhook secret / the app secret. */
  secret?: string;
  /** Send a wrong HMAC (to test rejection). */
  badSignature?: boolean;
  /** Deliveries in flight at once (default 1: strictly in the order chosen). */
  concurrency?: number;
  /** Per-delivery timeout; Shopify waits 5 s. */
  timeoutMs?: number;
}

export interface DeliveryResult {
  topic: string;
  eventId: string;
  webhookId: string;
  url: string;
  /** HTTP status, 0 when no response (refused, timeout). */
  status: number;
  ok: boolean;
  /** A repeat of a delivery made earlier in the same call. */
  duplicate: boolean;
  durationMs: number;
  error?: string;
}

/** An event triggered at `triggeredMs` (a mock shop passes its clock, strictly increasing per shop). */
export function newEvent<P>(topic: string, payload: P, triggeredMs: number = Date.now()): MockWebhookEvent<P> {
  return { topic, payload: structuredClone(payload), eventId: randomUUID(), triggeredAt: new Date(triggeredMs).toISOString() };
}

/**
 * `X-Shopify-Webhook-Id` of an event's delivery to one address: stable, so every retry of it (in this
 * call or a later one, hours later) carries the same id, as Shopify's retries do.
 */
export function webhookIdFor(eventId: string, url: string): string {
  const h = createHash('sha256').update(`${eventId} ${url}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

interface Delivery {
  event: MockWebhookEvent;
  url: string;
  webhookId: string;
  duplicate: boolean;
}

export async function deliverWebhooks(
  ctx: { shopDomain: string; apiVersion: string; secret: string; addressesFor: (topic: string) => string[] },
  events: MockWebhookEvent[],
  opts: DeliverOptions = {},
): Promise<DeliveryResult[]> {
  let deliveries: Delivery[] = [];
  const seen = new Set<string>();
  events.forEach((event, i) => {
    const urls = opts.url ? [opts.url] : ctx.addressesFor(event.topic);
    for (const url of urls) {
      const webhookId = webhookIdFor(event.eventId, url);
      const d: Delivery = { event, url, webhookId, duplicate: seen.has(webhookId) };
      seen.add(webhookId);
      deliveries.push(d);
      const dup = opts.duplicates === true || (typeof opts.duplicates === 'number' && hashInts(i, 99) / 0x100000000 < opts.duplicates);
      if (dup) deliveries.push({ ...d, duplicate: true });
    }
  });
  if (opts.shuffle !== undefined && opts.shuffle !== false) deliveries = seededShuffle(deliveries, opts.shuffle === true ? 1 : opts.shuffle);

  const results: DeliveryResult[] = new Array(deliveries.length);
  let next = 0;
  const worker = async () => {
    while (next < deliveries.length) {
      const index = next++;
      results[index] = await deliverOne(ctx, deliveries[index] as Delivery, opts);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 1) }, worker));
  return results;
}

async function deliverOne(ctx: { shopDomain: string; apiVersion: string; secret: string }, d: Delivery, opts: DeliverOptions): Promise<DeliveryResult> {
  const body = JSON.stringify(d.event.payload);
  const secret = opts.secret ?? ctx.secret;
  const hmac = opts.badSignature ? signWebhookBody(body, `${secret}-wrong`) : signWebhookBody(body, secret);
  const started = performance.now();
  const base = { topic: d.event.topic, eventId: d.event.eventId, webhookId: d.webhookId, url: d.url, duplicate: d.duplicate };
  try {
    const res = await fetch(d.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Shopify-Captain-Hook',
        'x-shopify-topic': d.event.topic,
        'x-shopify-hmac-sha256': hmac,
        'x-shopify-shop-domain': ctx.shopDomain,
        'x-shopify-api-version': ctx.apiVersion,
        'x-shopify-webhook-id': d.webhookId,
        'x-shopify-event-id': d.event.eventId,
        'x-shopify-triggered-at': d.event.triggeredAt,
      },
      body,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 5000),
    });
    await res.arrayBuffer();
    return { ...base, status: res.status, ok: res.status >= 200 && res.status < 300, durationMs: performance.now() - started };
  } catch (error) {
    return { ...base, status: 0, ok: false, durationMs: performance.now() - started, error: (error as Error).message };
  }
}
