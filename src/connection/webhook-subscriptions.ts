import type { Config } from '../config.js';
import type { components } from '../generated/api.js';
import type { Logger } from '../platform/logger.js';
import type { ShopifyClient } from '../shopify/admin-client.js';
import { ShopifyApiError, ShopifyNotFoundError, ShopifyUserErrorsError } from '../shopify/errors.js';
import { graphqlOverClient, withoutUserErrors, type GraphqlClient, type GraphqlResult } from '../shopify/graphql-client.js';
import {
  topicEnum,
  WEBHOOK_MUTATION_COST,
  WEBHOOK_SUBSCRIPTION_CREATE_MUTATION,
  WEBHOOK_SUBSCRIPTION_DELETE_MUTATION,
  WEBHOOK_SUBSCRIPTIONS_QUERY,
  webhookSubscriptionsCost,
} from '../shopify/graphql/documents/webhooks.js';

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

/** A subscription as either API lists it: its id (a number over REST, a gid over GraphQL), topic and address. */
export interface Subscription {
  id: number | string;
  topic: string;
  address: string;
}

/** Listing, creating and removing subscriptions through one Admin API. */
export interface SubscriptionsApi {
  /** Our subscriptions: those at `address`. */
  list(address: string): Promise<Subscription[]>;
  create(topic: string, address: string): Promise<void>;
  /** Removes one; one already gone is not an error. */
  remove(id: Subscription['id']): Promise<void>;
}

/** REST's webhooks.json (SHOPIFY_SYNC_API=rest). */
export function restSubscriptions(client: ShopifyClient): SubscriptionsApi {
  return {
    list: async (address) => (await client.listWebhooks()).filter((w) => w.address === address),
    create: async (topic, address) => void (await client.createWebhook(topic, address)),
    async remove(id) {
      try {
        await client.deleteWebhook(Number(id));
      } catch (err) {
        if (!(err instanceof ShopifyNotFoundError)) throw err;
      }
    },
  };
}

/** Page size of `webhookSubscriptions`: a store has a few dozen at most. */
const LIST_PAGE = 100;

/** The GraphQL Admin API's `webhookSubscriptions`, `webhookSubscriptionCreate` and `webhookSubscriptionDelete`. */
export function graphqlSubscriptions(client: GraphqlClient): SubscriptionsApi {
  type Node = { id: string; topic: string; uri: string };
  type Page = { webhookSubscriptions: { pageInfo: { hasNextPage: boolean; endCursor: string | null }; nodes: Node[] } };
  return {
    async list(address) {
      const found: Subscription[] = [];
      let after: string | null = null;
      for (;;) {
        const variables: Record<string, unknown> = { first: LIST_PAGE, after, uri: address };
        const page: GraphqlResult<Page> = await client.query<Page>({ document: WEBHOOK_SUBSCRIPTIONS_QUERY, variables, requestedCost: webhookSubscriptionsCost(LIST_PAGE) });
        const conn = page.data.webhookSubscriptions;
        found.push(...conn.nodes.filter((n) => n.uri === address).map((n) => ({ id: n.id, topic: restTopic(n.topic), address: n.uri })));
        if (!conn.pageInfo.hasNextPage || !conn.pageInfo.endCursor) return found;
        after = conn.pageInfo.endCursor;
      }
    },
    async create(topic, address) {
      const { data } = await client.query<{ webhookSubscriptionCreate: { userErrors: { field: string[] | null; message: string }[] } | null }>({
        document: WEBHOOK_SUBSCRIPTION_CREATE_MUTATION,
        variables: { topic: topicEnum(topic), webhookSubscription: { uri: address, format: 'JSON' } },
        requestedCost: WEBHOOK_MUTATION_COST,
      });
      withoutUserErrors(data.webhookSubscriptionCreate, 'webhookSubscriptionCreate');
    },
    async remove(id) {
      const { data } = await client.query<{ webhookSubscriptionDelete: { userErrors: { field: string[] | null; message: string }[] } | null }>({
        document: WEBHOOK_SUBSCRIPTION_DELETE_MUTATION,
        variables: { id: String(id) },
        requestedCost: WEBHOOK_MUTATION_COST,
      });
      try {
        withoutUserErrors(data.webhookSubscriptionDelete, 'webhookSubscriptionDelete');
      } catch (err) {
        if (!(err instanceof ShopifyUserErrorsError && /does not exist|not found/i.test(err.message))) throw err;
      }
    },
  };
}

/** The topics we handle, by their GraphQL enum (`INVENTORY_LEVELS_UPDATE` → `inventory_levels/update`). */
const topicsByEnum = new Map<string, string>();
function restTopic(value: string): string {
  return topicsByEnum.get(value) ?? value.toLowerCase().replace('_', '/');
}

/**
 * The API that SHOPIFY_SYNC_API names: GraphQL by default (through the given client's transport, token
 * and retries), REST's webhooks.json when set to `rest`.
 */
export function subscriptionsApi(client: ShopifyClient, config: Config, logger?: Logger): SubscriptionsApi {
  for (const topic of config.shopify.webhookTopics) topicsByEnum.set(topicEnum(topic), topic);
  if (config.shopify.syncApi === 'rest') return restSubscriptions(client);
  return graphqlSubscriptions(graphqlOverClient(client, { config: config.shopify, ...(logger ? { logger } : {}) }));
}

/** Shopify's 422 for a topic and address that are already subscribed (REST's errors, or GraphQL's userErrors). */
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
  const api = subscriptionsApi(client, config, logger);
  let existing: Set<string>;
  try {
    existing = new Set((await api.list(address)).map((w) => w.topic));
  } catch (err) {
    if (err instanceof ShopifyApiError && err.upstreamStatus === 401) throw err;
    logger.warn({ shop: client.shopDomain, error: describe(err) }, 'could not list webhook subscriptions');
    result.failed = topics.map((topic) => ({ topic, error: `listing subscriptions failed: ${describe(err)}` }));
    return result;
  }
  let revoked: unknown;
  await eachLimited(
    topics.filter((t) => !existing.has(t)),
    CONCURRENCY,
    async (topic) => {
      try {
        await api.create(topic, address);
        result.created.push(topic);
      } catch (err) {
        if (err instanceof ShopifyApiError && err.upstreamStatus === 401) revoked ??= err;
        if (alreadyTaken(err))
          existing.add(topic); // created meanwhile (a concurrent connect)
        else result.failed.push({ topic, error: describe(err) });
      }
    },
  );
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
  const api = subscriptionsApi(client, config);
  const ours = await api.list(address);
  let deleted = 0;
  await eachLimited(ours, CONCURRENCY, async (w) => {
    await api.remove(w.id); // one already gone counts as removed
    deleted++;
  });
  return deleted;
}
