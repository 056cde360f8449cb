import { customers } from './customers.js';
import { inventory } from './inventory.js';
import { locations } from './locations.js';
import { orders } from './orders.js';
import { products } from './products.js';
import type { RecordTable, ResourceDefinition, ResourceName } from './types.js';

/**
 * The one registry that sync, webhooks, read endpoints, purges and the configuration all use: a
 * resource added here is synced, kept fresh by its webhooks, served, purged and scheduled.
 */
export const RESOURCES: Readonly<Record<ResourceName, ResourceDefinition>> = { products, orders, customers, inventory, locations };

export const RESOURCE_NAMES = Object.keys(RESOURCES) as readonly ResourceName[];

/** Every table holding a tenant's synced records, children before their parents (a purge covers them all). */
export const RECORD_TABLES: readonly RecordTable[] = Object.values(RESOURCES).flatMap((r) => (r.child ? [r.child.table, r.table] : [r.table]));

export type TopicUse = { resource: ResourceDefinition; action: 'upsert' | 'delete' } | { resource: ResourceDefinition; action: 'delete-where'; column: string };

const byTopic = new Map<string, TopicUse[]>();
const use = (topic: string, u: TopicUse) => byTopic.set(topic, [...(byTopic.get(topic) ?? []), u]);
for (const resource of Object.values(RESOURCES)) {
  for (const topic of resource.webhookTopics.upsert) use(topic, { resource, action: 'upsert' });
  for (const topic of resource.webhookTopics.delete) use(topic, { resource, action: 'delete' });
  for (const [topic, column] of Object.entries(resource.webhookTopics.deleteWhere ?? {})) use(topic, { resource, action: 'delete-where', column });
}
// One topic may change several resources (`locations/delete`: the location and its inventory levels);
// the resource's own use goes first.
for (const uses of byTopic.values()) uses.sort((a, b) => Number(a.action === 'delete-where') - Number(b.action === 'delete-where'));

/** The record webhook topics the registry handles, each once. */
export const RECORD_WEBHOOK_TOPICS: readonly string[] = [...byTopic.keys()];

/** Everything a record webhook topic changes, or an empty list for other topics. */
export function usesOfTopic(topic: string): readonly TopicUse[] {
  return byTopic.get(topic) ?? [];
}

/** The resource and action a record webhook topic means first, or undefined for other topics. */
export function resourceForTopic(topic: string): TopicUse | undefined {
  return byTopic.get(topic)?.[0];
}

export type { FilterDefinition, MapContext, MappedRecord, RecordTable, ResourceDefinition, ResourceName, Row } from './types.js';
export { MappingError } from './mapping.js';
