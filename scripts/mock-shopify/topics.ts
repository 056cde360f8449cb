/** Topics an app may subscribe to through webhooks.json (compliance topics live in the app's settings). */
export const SUBSCRIBABLE_TOPICS = new Set([
  'products/create',
  'products/update',
  'products/delete',
  'orders/create',
  'orders/updated',
  'orders/cancelled',
  'orders/fulfilled',
  'orders/paid',
  'orders/delete',
  'orders/edited',
  'orders/partially_fulfilled',
  'customers/create',
  'customers/update',
  'customers/delete',
  'customers/enable',
  'customers/disable',
  'inventory_levels/update',
  'inventory_levels/connect',
  'inventory_levels/disconnect',
  'inventory_items/create',
  'inventory_items/update',
  'inventory_items/delete',
  'locations/create',
  'locations/update',
  'locations/delete',
  'app/uninstalled',
  'shop/update',
  'bulk_operations/finish',
]);
export const COMPLIANCE_TOPICS = new Set(['customers/data_request', 'customers/redact', 'shop/redact']);

/** `products/update` → `PRODUCTS_UPDATE`: the GraphQL Admin API's WebhookSubscriptionTopic. */
export const topicEnum = (topic: string): string => topic.toUpperCase().replace(/\//g, '_');

/** `INVENTORY_LEVELS_UPDATE` → `inventory_levels/update` (known topics; others split at the first underscore). */
export function topicOfEnum(value: string): string {
  for (const topic of [...SUBSCRIBABLE_TOPICS, ...COMPLIANCE_TOPICS]) if (topicEnum(topic) === value) return topic;
  return value.toLowerCase().replace('_', '/');
}
