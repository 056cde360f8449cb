import { resourceForTopic, type ResourceDefinition } from '../resources/index.js';

/** What a webhook topic asks the service to do. Record topics come from the resource registry. */
export type TopicAction =
  | { kind: 'upsert'; resource: ResourceDefinition }
  | { kind: 'delete'; resource: ResourceDefinition }
  | { kind: 'delete-where'; resource: ResourceDefinition; column: string }
  | { kind: 'app-uninstalled' }
  | { kind: 'customer-data-request' }
  | { kind: 'customer-redact' }
  | { kind: 'shop-redact' };

const SPECIAL: Record<string, TopicAction> = {
  'app/uninstalled': { kind: 'app-uninstalled' },
  'customers/data_request': { kind: 'customer-data-request' },
  'customers/redact': { kind: 'customer-redact' },
  'shop/redact': { kind: 'shop-redact' },
};

/** The action of a topic, or undefined when the service has no handler for it. */
export function actionForTopic(topic: string): TopicAction | undefined {
  const record = resourceForTopic(topic);
  if (record) return record.action === 'delete-where' ? { kind: 'delete-where', resource: record.resource, column: record.column } : { kind: record.action, resource: record.resource };
  return SPECIAL[topic];
}

/** Topics accepted at ingest: the configured allow-list, limited to topics that have a handler. */
export function acceptedTopics(allowList: readonly string[]): Set<string> {
  return new Set(allowList.filter((topic) => actionForTopic(topic) !== undefined));
}

/**
 * A topic as a metrics label: topics the service handles keep their name, anything else (a topic
 * header of a forged or unexpected request) is "other", so a sender cannot create label values.
 */
export function topicLabel(topic: string | undefined): string {
  return topic !== undefined && actionForTopic(topic) !== undefined ? topic : 'other';
}
