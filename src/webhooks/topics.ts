import { usesOfTopic, type ResourceDefinition } from '../resources/index.js';

/** One change a record topic makes to one resource of the registry. */
export type RecordEffect = { kind: 'upsert'; resource: ResourceDefinition } | { kind: 'delete'; resource: ResourceDefinition } | { kind: 'delete-where'; resource: ResourceDefinition; column: string };

/**
 * What a webhook topic asks the service to do. Record topics come from the resource registry and may
 * change several resources (`locations/delete`: the location, and its inventory levels).
 */
export type TopicAction =
  | { kind: 'records'; effects: readonly RecordEffect[] }
  | { kind: 'app-uninstalled' }
  | { kind: 'customer-data-request' }
  | { kind: 'customer-redact' }
  | { kind: 'shop-redact' }
  /** A bulk operation finished: the full sync waiting for it is woken (nothing is written). */
  | { kind: 'bulk-operation-finished' };

const SPECIAL: Record<string, TopicAction> = {
  'app/uninstalled': { kind: 'app-uninstalled' },
  'customers/data_request': { kind: 'customer-data-request' },
  'customers/redact': { kind: 'customer-redact' },
  'shop/redact': { kind: 'shop-redact' },
  'bulk_operations/finish': { kind: 'bulk-operation-finished' },
};

/** The action of a topic, or undefined when the service has no handler for it. */
export function actionForTopic(topic: string): TopicAction | undefined {
  const uses = usesOfTopic(topic);
  if (uses.length > 0) {
    return {
      kind: 'records',
      effects: uses.map((u): RecordEffect => (u.action === 'delete-where' ? { kind: 'delete-where', resource: u.resource, column: u.column } : { kind: u.action, resource: u.resource })),
    };
  }
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
