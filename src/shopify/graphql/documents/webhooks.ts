import { connectionCost } from './index.js';

/**
 * The GraphQL Admin documents of webhook subscriptions (registered at connect, removed at disconnect).
 * Validated against Shopify's schema of each supported version in test/integration/sync-graphql.test.ts.
 */
const SUBSCRIPTION_FIELDS = 'id topic uri format includeFields filter createdAt updatedAt';

export const WEBHOOK_SUBSCRIPTIONS_QUERY = `query WebhookSubscriptions($first: Int!, $after: String, $uri: String) {
  webhookSubscriptions(first: $first, after: $after, uri: $uri) {
    pageInfo { hasNextPage endCursor }
    nodes { ${SUBSCRIPTION_FIELDS} }
  }
}`;
/** One subscription node: itself 1 (its fields are scalars and enums). */
export const webhookSubscriptionsCost = (first: number): number => connectionCost(first, 1);

export const WEBHOOK_SUBSCRIPTION_CREATE_MUTATION = `mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) {
  webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) {
    webhookSubscription { ${SUBSCRIPTION_FIELDS} }
    userErrors { field message }
  }
}`;

export const WEBHOOK_SUBSCRIPTION_DELETE_MUTATION = `mutation WebhookSubscriptionDelete($id: ID!) {
  webhookSubscriptionDelete(id: $id) {
    deletedWebhookSubscriptionId
    userErrors { field message }
  }
}`;

/** A mutation costs 10 points, plus its selection (payload, subscription, user errors). */
export const WEBHOOK_MUTATION_COST = 13;

export const WEBHOOK_DOCUMENTS = { WEBHOOK_SUBSCRIPTIONS_QUERY, WEBHOOK_SUBSCRIPTION_CREATE_MUTATION, WEBHOOK_SUBSCRIPTION_DELETE_MUTATION } as const;

/** `products/update` → `PRODUCTS_UPDATE` (WebhookSubscriptionTopic). */
export const topicEnum = (topic: string): string => topic.toUpperCase().replace(/\//g, '_');
