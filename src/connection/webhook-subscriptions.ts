import type { Config } from '../config.js';
import type { components } from '../generated/api.js';
import type { Logger } from '../platform/logger.js';
import type { ShopifyClient } from '../shopify/admin-client.js';
import { ShopifyApiError, ShopifyNotFoundError } from '../shopify/errors.js';

export type WebhookRegistration = components['schemas']['WebhookRegistration'];

/**
 * Mandatory compliance topics of public apps. Shopify takes their URLs in the app's settings in the
 * Partner dashboard (or the app's TOML), not through webhooks.json, which refuses them: they are
 * skipped here and must be configured there, pointing at the same address.
 */
export const COMPLIANCE_TOPICS: ReadonlySet<string> = new Set(['customers/data_request', 'customers/redact', 'shop/redact']);

/** Parallel calls while registering: Shopify's bucket (and our shared limiter) absorbs this easily. */
const CONCURRENCY = 4;

export function webhookAddress(config: Config): string {
  return `${config.shopify.webhookBaseUrl}/api/shopify/webhook/`;
}

async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++] as T);
  });
  await Promise.all(lanes);
}

/** Shopify's 422 for a topic and address that are already subscribed. */
const alreadyTaken = (err: unknown) => err instanceof ShopifyApiError && err.upstreamStatus === 422 && /already been taken/i.test(JSON.stringify(err.shopifyErrors ?? ''));

const describe = (err: unknown) => (err instanceof ShopifyApiError ? err.message : 'unexpected error');

/**
 * Subscribes the store to every configured topic at our address, skipping subscriptions that exist.
 * Never throws for one topic: failures are reported per topic (the connect still succeeds, and a
 * reconnect registers what is missing). A 401 is rethrown: nothing else can work with that token.
 */
export async function registerWebhooks(client: ShopifyClient, config: Config, logger: Logger): Promise<WebhookRegistration> {
  const address = webhookAddress(config);
  const topics = [...new Set(config.shopify.webhookTopics)].filter((t) => !COMPLIANCE_TOPICS.has(t));
  const result: WebhookRegistration = { address, created: [], existing: [], failed: [] };
  let existing: Set<string>;
  try {
    existing = new Set((await client.listWebhooks()).filter((w) => w.address === address).map((w) => w.topic));
  } catch (err) {
    if (err instanceof ShopifyApiError && err.upstreamStatus === 401) throw err;
    logger.warn({ shop: client.shopDomain, error: describe(err) }, 'could not list webhook subscriptions');
    result.failed = topics.map((topic) => ({ topic, error: `listing subscriptions failed: ${describe(err)}` }));
    return result;
  }
  let revoked: unknown;
  await eachLimited(topics.filter((t) => !existing.has(t)), CONCURRENCY, async (topic) => {
    try {
      await client.createWebhook(topic, address);
      result.created.push(topic);
    } catch (err) {
      if (err instanceof ShopifyApiError && err.upstreamStatus === 401) revoked ??= err;
      if (alreadyTaken(err)) existing.add(topic); // created meanwhile (a concurrent connect)
      else result.failed.push({ topic, error: describe(err) });
    }
  });
  if (revoked) throw revoked;
  result.existing = topics.filter((t) => existing.has(t));
  // Keep the configured order, whatever order the parallel calls finished in.
  result.created.sort((a, b) => topics.indexOf(a) - topics.indexOf(b));
  result.failed.sort((a, b) => topics.indexOf(a.topic) - topics.indexOf(b.topic));
  if (result.failed.length > 0) logger.warn({ shop: client.shopDomain, failed: result.failed }, 'some webhook subscriptions could not be created');
  return result;
}

/** Deletes every subscription of the store that points at our address. Returns how many went. */
export async function deleteWebhooks(client: ShopifyClient, config: Config): Promise<number> {
  const address = webhookAddress(config);
  const ours = (await client.listWebhooks()).filter((w) => w.address === address);
  let deleted = 0;
  await eachLimited(ours, CONCURRENCY, async (w) => {
    try {
      await client.deleteWebhook(w.id);
      deleted++;
    } catch (err) {
      if (!(err instanceof ShopifyNotFoundError)) throw err; // already gone
    }
  });
  return deleted;
}
