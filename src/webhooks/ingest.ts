import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { ServiceContext } from '../context.js';
import { AppError, ClientError, DependencyUnavailableError, NotFoundError, ThrottledError, UnauthorizedError, ValidationError } from '../errors.js';
import { isValidShopDomain } from '../shopify/oauth.js';
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

export type IngestResult = { status: 'queued'; id: string } | { status: 'ignored' };
/** Why a delivery was acknowledged without being queued: a topic off the allow-list, or a disconnected store. */
type Received = { status: 'queued'; id: string } | { status: 'ignored'; because: 'topic' | 'disconnected' };

const HMAC_BASE64 = /^[A-Za-z0-9+/]{43}=$/;

/** An XADD that got no answer in this time is reported as Redis being unavailable (Shopify retries). */
const XADD_TIMEOUT_MS = 2000;

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined || first.trim() === '' ? undefined : first.trim();
}

function headerError(name: string, message: string): ValidationError {
  return new ValidationError(`${name} ${message}`, [{ location: 'header', name, message }]);
}

function requiredHeader(headers: IncomingHttpHeaders, name: string, maxLength: number): string {
  const value = header(headers, name.toLowerCase());
  if (value === undefined) throw headerError(name, 'is required');
  if (value.length > maxLength) throw headerError(name, `must be at most ${maxLength} characters`);
  return value;
}

function optionalHeader(headers: IncomingHttpHeaders, name: string, maxLength: number): string | null {
  const value = header(headers, name.toLowerCase());
  if (value !== undefined && value.length > maxLength) throw headerError(name, `must be at most ${maxLength} characters`);
  return value ?? null;
}

function assertJsonObject(body: Buffer): void {
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ValidationError('The webhook body is not valid JSON', [{ location: 'body', name: '(body)', message: 'malformed JSON' }]);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError('The webhook body must be a JSON object', [{ location: 'body', name: '(body)', message: 'must be an object' }]);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
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

  async function verifiedTarget(shop: string, body: Buffer, hmac: string): Promise<ShopWebhookTarget> {
    const target = await shops.get(shop);
    if (!target) {
      if (!verifyWebhookHmac(body, hmac, [apiSecret])) throw new UnauthorizedError('The webhook signature does not match');
      throw new NotFoundError(`No integration is connected for shop ${shop}`);
    }
    if (verifyWebhookHmac(body, hmac, [target.secret])) return target;
    const reloaded = await shops.refreshAfterMismatch(shop);
    if (reloaded && verifyWebhookHmac(body, hmac, [reloaded.secret])) return reloaded;
    throw new UnauthorizedError('The webhook signature does not match');
  }

  /** Counted by label (a handled topic, else "other"), so senders cannot add fields to the hash. */
  function countIgnored(topic: string): void {
    ctx.redis.hIncrBy(keys.ignored, topicLabel(topic), 1).catch((err: Error) => ctx.logger.warn({ err: err.message }, 'could not count an ignored webhook'));
  }

  const unmetered = {
    async receive({ headers, body }: IncomingWebhook): Promise<Received> {
      if (body.length > maxBodyBytes) throw new ClientError(`The webhook body is larger than ${maxBodyBytes} bytes`, { status: 413, code: 'payload-too-large' });
      const hmac = header(headers, 'x-shopify-hmac-sha256');
      if (!hmac) throw new UnauthorizedError('X-Shopify-Hmac-Sha256 is missing');
      // Exactly one standard base64 SHA-256 (44 characters), as Shopify sends it: the lenient base64
      // decoder would otherwise accept a doubled header ("<valid>, ") or junk around a valid signature.
      if (!HMAC_BASE64.test(hmac)) throw new UnauthorizedError('The webhook signature does not match');
      const topic = requiredHeader(headers, 'X-Shopify-Topic', 128);
      const shop = requiredHeader(headers, 'X-Shopify-Shop-Domain', 255).toLowerCase();
      if (!isValidShopDomain(shop)) throw headerError('X-Shopify-Shop-Domain', 'must be a *.myshopify.com domain');
      const webhookId = optionalHeader(headers, 'X-Shopify-Webhook-Id', 128);
      const eventIdHeader = optionalHeader(headers, 'X-Shopify-Event-Id', 128);
      const apiVersion = optionalHeader(headers, 'X-Shopify-API-Version', 32);
      const triggered = optionalHeader(headers, 'X-Shopify-Triggered-At', 64);

      const target = await verifiedTarget(shop, body, hmac);
      if (!topics.has(topic)) {
        countIgnored(topic);
        return { status: 'ignored', because: 'topic' };
      }
      assertJsonObject(body);
      // A disconnected store gets 200 (Shopify stops retrying) and nothing is queued, except what GDPR
      // requires of us whatever the store's state (shop/redact comes 48 h after an uninstall).
      if (!target.connected && !COMPLIANCE_TOPICS.has(topic)) {
        ctx.logger.info({ shop, topic, integrationId: target.integrationId, eventId: eventIdHeader, triggeredAt: triggered }, 'webhook of a disconnected store acknowledged and dropped');
        return { status: 'ignored', because: 'disconnected' };
      }

      const triggeredAt = triggered ? new Date(triggered) : null;
      const envelope: OutgoingEnvelope = {
        topic,
        shop,
        integrationId: target.integrationId,
        tenantId: target.tenantId,
        webhookId,
        // Shopify's retries keep the event id; without one, identical redeliveries still dedupe.
        eventId: eventIdHeader ?? webhookId ?? `sha256:${createHash('sha256').update(topic).update('\n').update(body).digest('hex')}`,
        triggeredAt: triggeredAt && !Number.isNaN(triggeredAt.getTime()) ? triggeredAt : null,
        apiVersion,
        receivedAt: new Date(),
        body,
      };
      let appended: QuotaAppend;
      try {
        appended = await withTimeout(
          appendWithinQuota(ctx.redis, keys, shop, encodeEnvelope(envelope), {
            maxPerMinute: shopMaxPerMinute, maxBytesPerMinute: shopMaxBytesPerMinute, size: body.length, streamMaxLen,
          }),
          XADD_TIMEOUT_MS,
        );
      } catch (err) {
        throw new DependencyUnavailableError('Redis', err);
      }
      if (!appended.appended) {
        // Logged once per refusal by the route ("webhook rejected", with the shop and this reason).
        throw new ThrottledError(`Shop ${shop} is over its webhook ${appended.exceeded === 'bytes' ? 'byte' : 'delivery'} quota for this minute`, appended.retryAfterSeconds);
      }
      return { status: 'queued', id: appended.id };
    },
  };

  /** Refuses a source past its failed authentications before any work; charges it for each new one. */
  async function receiveLimited(webhook: IncomingWebhook): Promise<Received> {
    const source = webhook.source ?? 'unknown';
    const wait = sources.retryAfterSeconds(source);
    if (wait > 0) throw new ThrottledError('Too many deliveries from this address failed authentication', wait);
    try {
      return await unmetered.receive(webhook);
    } catch (err) {
      if (err instanceof UnauthorizedError) sources.charge(source);
      throw err;
    }
  }

  return {
    /** Verifies and queues one delivery, counted by topic and outcome (queued, ignored, disconnected, rejected = 4xx, error = 5xx). */
    async receive(webhook: IncomingWebhook): Promise<IngestResult> {
      const topic = topicLabel(header(webhook.headers, 'x-shopify-topic'));
      try {
        const result = await receiveLimited(webhook);
        if (result.status === 'queued') {
          ctx.metrics.webhooksReceived.inc({ topic, outcome: 'queued' });
          return result;
        }
        ctx.metrics.webhooksReceived.inc({ topic, outcome: result.because === 'disconnected' ? 'disconnected' : 'ignored' });
        return { status: 'ignored' };
      } catch (err) {
        ctx.metrics.webhooksReceived.inc({ topic, outcome: err instanceof AppError && err.status < 500 ? 'rejected' : 'error' });
        throw err;
      }
    },
  };
}
export type WebhookIngest = ReturnType<typeof createWebhookIngest>;
