import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ServiceContext } from '../context.js';
import { DependencyUnavailableError } from '../errors.js';
import { withTimeout } from '../platform/timeout.js';
import { isValidShopDomain } from '../shopify/shop-domain.js';
import { verifyWebhookHmac } from '../shopify/hmac.js';
import { createShopLookup, type ShopWebhookTarget } from './shop-lookup.js';
import { appendWithinQuota, type QuotaAppend } from './shop-quota.js';
import { createSourceLimiter } from './source-limiter.js';
import { encodeEnvelope, webhookKeys, type OutgoingEnvelope } from './stream.js';
import { acceptedTopics, topicLabel } from './topics.js';
import { COMPLIANCE_TOPICS } from './compliance.js';

export interface IncomingWebhook {
  headers: IncomingHttpHeaders;
  /** The raw body, byte for byte as received (the HMAC covers exactly these bytes). */
  body: Buffer;
  /** The client's address (behind trusted proxies, the forwarded one): failed authentications are limited per source. */
  source?: string;
}

/** Shopify's webhook headers, spelled as Shopify documents them (Node hands them over in lower case). */
export const SHOPIFY_WEBHOOK_HEADERS = {
  hmac: 'X-Shopify-Hmac-Sha256',
  topic: 'X-Shopify-Topic',
  shop: 'X-Shopify-Shop-Domain',
  apiVersion: 'X-Shopify-API-Version',
  webhookId: 'X-Shopify-Webhook-Id',
  eventId: 'X-Shopify-Event-Id',
  triggeredAt: 'X-Shopify-Triggered-At',
} as const;

/** Why a delivery was refused (nothing stored); the HTTP route maps each reason to its problem response. */
export type IngestRefusal =
  | { reason: 'body-too-large'; maxBytes: number }
  | { reason: 'source-throttled'; retryAfterSeconds: number }
  | { reason: 'missing-hmac' }
  | { reason: 'invalid-hmac' }
  | { reason: 'invalid-header'; header: string; problem: string }
  | { reason: 'unknown-shop'; shop: string }
  | { reason: 'malformed-json' }
  | { reason: 'not-an-object' }
  | { reason: 'shop-over-quota'; shop: string; exceeded: 'count' | 'bytes'; retryAfterSeconds: number };

/**
 * A delivery queued, acknowledged without being queued (a topic off the allow-list, a disconnected
 * store), or refused. Failures of our own dependencies (Redis, MySQL) are thrown, not returned.
 */
export type IngestResult = { ok: true; status: 'queued'; id: string } | { ok: true; status: 'ignored'; because: 'topic' | 'disconnected' } | ({ ok: false } & IngestRefusal);

type Refused = Extract<IngestResult, { ok: false }>;
const refuse = (refusal: IngestRefusal): Refused => ({ ok: false, ...refusal });

/** Failed authentications: they are charged to the sending address. */
const AUTHENTICATION_FAILURES = new Set<IngestRefusal['reason']>(['missing-hmac', 'invalid-hmac']);

const HMAC_BASE64 = /^[A-Za-z0-9+/]{43}=$/;

/** An XADD that got no answer in this time is reported as Redis being unavailable (Shopify retries). */
const XADD_TIMEOUT_MS = 2000;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first.trim() === '' ? undefined : first.trim();
}

/** One header, bounded in length; `required` ones must be there. */
function boundedHeader(headers: IncomingHttpHeaders, name: string, maxLength: number, required: boolean): { ok: true; value: string | null } | Refused {
  const value = header(headers, name);
  if (value === undefined) return required ? refuse({ reason: 'invalid-header', header: name, problem: 'is required' }) : { ok: true, value: null };
  if (value.length > maxLength) return refuse({ reason: 'invalid-header', header: name, problem: `must be at most ${maxLength} characters` });
  return { ok: true, value };
}

const OPTIONAL_HEADERS = {
  webhookId: [SHOPIFY_WEBHOOK_HEADERS.webhookId, 128],
  eventId: [SHOPIFY_WEBHOOK_HEADERS.eventId, 128],
  apiVersion: [SHOPIFY_WEBHOOK_HEADERS.apiVersion, 32],
  triggeredAt: [SHOPIFY_WEBHOOK_HEADERS.triggeredAt, 64],
} as const;

type OptionalField = keyof typeof OPTIONAL_HEADERS;
const OPTIONAL_ENTRIES = Object.entries(OPTIONAL_HEADERS) as [OptionalField, readonly [string, number]][];

type DeliveryHeaders = { topic: string; shop: string } & Record<OptionalField, string | null>;

/** Shopify's headers of one delivery (the shop in lower case), or why they are refused. */
function readHeaders(headers: IncomingHttpHeaders): ({ ok: true } & DeliveryHeaders) | Refused {
  const topic = boundedHeader(headers, SHOPIFY_WEBHOOK_HEADERS.topic, 128, true);
  if (!topic.ok) return topic;
  const shopHeader = boundedHeader(headers, SHOPIFY_WEBHOOK_HEADERS.shop, 255, true);
  if (!shopHeader.ok) return shopHeader;
  const shop = (shopHeader.value as string).toLowerCase();
  if (!isValidShopDomain(shop)) return refuse({ reason: 'invalid-header', header: SHOPIFY_WEBHOOK_HEADERS.shop, problem: 'must be a *.myshopify.com domain' });
  const optional = {} as Record<OptionalField, string | null>;
  for (const [field, [name, maxLength]] of OPTIONAL_ENTRIES) {
    const read = boundedHeader(headers, name, maxLength, false);
    if (!read.ok) return read;
    optional[field] = read.value;
  }
  return { ok: true, topic: topic.value as string, shop, ...optional };
}

function jsonObjectRefusal(body: Buffer): Refused | undefined {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return refuse({ reason: 'malformed-json' });
  }
  return value === null || typeof value !== 'object' || Array.isArray(value) ? refuse({ reason: 'not-an-object' }) : undefined;
}

/**
 * Webhook ingest: verify, then append to the stream. Nothing is stored unless the HMAC verifies, and
 * nothing is acknowledged unless Redis stored it. Order of checks: source not over its failed
 * authentications (429) → HMAC present → headers → shop (cached, unknown ones too; an unknown shop is
 * only reported to a sender holding the app secret, so shops cannot be probed) → HMAC → topic
 * allow-list → JSON → the shop's quota and XADD in one script (429 past the quota).
 */
export function createWebhookIngest(ctx: ServiceContext) {
  const keys = webhookKeys(ctx);
  const shops = createShopLookup(ctx);
  const topics = acceptedTopics(ctx.config.shopify.webhookTopics);
  const { apiSecret } = ctx.config.shopify;
  const { maxBodyBytes, streamMaxLen, shopMaxPerMinute, shopMaxBytesPerMinute } = ctx.config.webhooks;
  const sources = createSourceLimiter(ctx.config.webhooks.sourceMaxAuthFailuresPerMinute);

  /** The shop's integration when the signature is its own; an unknown shop is only named to a sender holding the app secret. */
  async function verifiedTarget(shop: string, body: Buffer, hmac: string): Promise<ShopWebhookTarget | Refused> {
    const target = await shops.get(shop);
    if (!target) return refuse(verifyWebhookHmac(body, hmac, [apiSecret]) ? { reason: 'unknown-shop', shop } : { reason: 'invalid-hmac' });
    if (verifyWebhookHmac(body, hmac, [target.secret])) return target;
    const reloaded = await shops.refreshAfterMismatch(shop);
    if (reloaded && verifyWebhookHmac(body, hmac, [reloaded.secret])) return reloaded;
    return refuse({ reason: 'invalid-hmac' });
  }

  /** Counted by label (a handled topic, else "other"), so senders cannot add fields to the hash. */
  function countIgnored(topic: string): void {
    ctx.redis.hIncrBy(keys.ignored, topicLabel(topic), 1).catch((err: Error) => ctx.logger.warn({ err: err.message }, 'could not count an ignored webhook'));
  }

  async function verifyAndQueue({ headers, body }: IncomingWebhook): Promise<IngestResult> {
    if (body.length > maxBodyBytes) return refuse({ reason: 'body-too-large', maxBytes: maxBodyBytes });
    const hmac = header(headers, SHOPIFY_WEBHOOK_HEADERS.hmac);
    if (!hmac) return refuse({ reason: 'missing-hmac' });
    // Exactly one standard base64 SHA-256 (44 characters), as Shopify sends it: the lenient base64
    // decoder would otherwise accept a doubled header ("<valid>, ") or junk around a valid signature.
    if (!HMAC_BASE64.test(hmac)) return refuse({ reason: 'invalid-hmac' });
    const delivery = readHeaders(headers);
    if (!delivery.ok) return delivery;
    const { topic, shop } = delivery;

    const target = await verifiedTarget(shop, body, hmac);
    if ('ok' in target) return target;
    if (!topics.has(topic)) {
      countIgnored(topic);
      return { ok: true, status: 'ignored', because: 'topic' };
    }
    const notJson = jsonObjectRefusal(body);
    if (notJson) return notJson;
    // A disconnected store gets 200 (Shopify stops retrying) and nothing is queued, except what GDPR
    // requires of us whatever the store's state (shop/redact comes 48 h after an uninstall).
    if (!target.connected && !COMPLIANCE_TOPICS.has(topic)) {
      ctx.logger.info({ shop, topic, integrationId: target.integrationId, eventId: delivery.eventId, triggeredAt: delivery.triggeredAt }, 'webhook of a disconnected store acknowledged and dropped');
      return { ok: true, status: 'ignored', because: 'disconnected' };
    }

    const triggeredAt = delivery.triggeredAt ? new Date(delivery.triggeredAt) : null;
    const envelope: OutgoingEnvelope = {
      topic,
      shop,
      integrationId: target.integrationId,
      tenantId: target.tenantId,
      webhookId: delivery.webhookId,
      // Shopify's retries keep the event id; without one, identical redeliveries still dedupe.
      eventId: delivery.eventId ?? delivery.webhookId ?? `sha256:${createHash('sha256').update(topic).update('\n').update(body).digest('hex')}`,
      triggeredAt: triggeredAt && !Number.isNaN(triggeredAt.getTime()) ? triggeredAt : null,
      apiVersion: delivery.apiVersion,
      receivedAt: new Date(),
      body,
    };
    let appended: QuotaAppend;
    try {
      appended = await withTimeout(
        appendWithinQuota(ctx.redis, keys, shop, encodeEnvelope(envelope), {
          maxPerMinute: shopMaxPerMinute,
          maxBytesPerMinute: shopMaxBytesPerMinute,
          size: body.length,
          streamMaxLen,
        }),
        XADD_TIMEOUT_MS,
      );
    } catch (err) {
      throw new DependencyUnavailableError('Redis', err);
    }
    // Logged once per refusal by the route ("webhook rejected", with the shop and this reason).
    if (!appended.appended) return refuse({ reason: 'shop-over-quota', shop, exceeded: appended.exceeded, retryAfterSeconds: appended.retryAfterSeconds });
    return { ok: true, status: 'queued', id: appended.id };
  }

  /** Refuses a source past its failed authentications before any work; charges it for each new one. */
  async function receiveLimited(webhook: IncomingWebhook): Promise<IngestResult> {
    const source = webhook.source ?? 'unknown';
    const wait = sources.retryAfterSeconds(source);
    if (wait > 0) return refuse({ reason: 'source-throttled', retryAfterSeconds: wait });
    const result = await verifyAndQueue(webhook);
    if (!result.ok && AUTHENTICATION_FAILURES.has(result.reason)) sources.charge(source);
    return result;
  }

  return {
    /** Verifies and queues one delivery, counted by topic and outcome (queued, ignored, disconnected, rejected = refused, error = thrown). */
    async receive(webhook: IncomingWebhook): Promise<IngestResult> {
      const topic = topicLabel(header(webhook.headers, SHOPIFY_WEBHOOK_HEADERS.topic));
      let result: IngestResult;
      try {
        result = await receiveLimited(webhook);
      } catch (err) {
        ctx.metrics.webhooksReceived.inc({ topic, outcome: 'error' });
        throw err;
      }
      const outcome = !result.ok ? 'rejected' : result.status === 'queued' ? 'queued' : result.because === 'disconnected' ? 'disconnected' : 'ignored';
      ctx.metrics.webhooksReceived.inc({ topic, outcome });
      return result;
    },
  };
}
export type WebhookIngest = ReturnType<typeof createWebhookIngest>;
