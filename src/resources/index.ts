import { customers } from './customers.js';
import { inventory } from './inventory.js';
import { orders } from './orders.js';
import { products } from './products.js';
import type { ResourceDefinition, ResourceName } from './types.js';

/** The one registry that sync, webhooks and read endpoints all use. */
export const RESOURCES: Readonly<Record<ResourceName, ResourceDefinition>> = { products, orders, customers, inventory };

type TopicUse =
  | { resource: ResourceDefinition; action: 'upsert' | 'delete' }
  | { resource: ResourceDefinition; action: 'delete-where'; column: string };

const byTopic = new Map<string, TopicUse>();
for (const resource of Object.values(RESOURCES)) {
  for (const topic of resource.webhookTopics.upsert) byTopic.set(topic, { resource, action: 'upsert' });
  for (const topic of resource.webhookTopics.delete) byTopic.set(topic, { resource, action: 'delete' });
  for (const [topic, column] of Object.entries(resource.webhookTopics.deleteWhere ?? {})) byTopic.set(topic, { resource, action: 'delete-where', column });
}

/** The resource and action a record webhook topic means, or undefined for other topics. */
export function resourceForTopic(topic: string): TopicUse | undefined {
  return byTopic.get(topic);
}

export { RESOURCE_NAMES } from './types.js';
export type { MapContext, MappedRecord, ResourceDefinition, ResourceName, Row } from './types.js';
export { MappingError } from './mapping.js';
