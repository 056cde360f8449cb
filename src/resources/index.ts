import { customers } from './customers.js';
import { inventory } from './inventory.js';
import { orders } from './orders.js';
import { products } from './products.js';
import type { ResourceDefinition, ResourceName } from './types.js';

/** The one registry that sync, webhooks and read endpoints all use. */
export const RESOURCES: Readonly<Record<ResourceName, ResourceDefinition>> = { products, orders, customers, inventory };

const byTopic = new Map<string, { resource: ResourceDefinition; action: 'upsert' | 'delete' }>();
for (const resource of Object.values(RESOURCES)) {
  for (const topic of resource.webhookTopics.upsert) byTopic.set(topic, { resource, action: 'upsert' });
  for (const topic of resource.webhookTopics.delete) byTopic.set(topic, { resource, action: 'delete' });
}

/** The resource and action a record webhook topic means, or undefined for other topics. */
export function resourceForTopic(topic: string) {
  return byTopic.get(topic);
}

export { RESOURCE_NAMES } from './types.js';
export type { MapContext, MappedRecord, ResourceDefinition, ResourceName, Row } from './types.js';
export { MappingError } from './mapping.js';
