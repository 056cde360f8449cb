import type { components } from '../generated/api.js';
import { mapRecordsForTenant, type Mapper, type MappingOutcome } from '../mappings/apply.js';
import type { ChangeEvent } from '../store/change-events.js';
import type { Db } from '../store/schema.js';

type ChangeEventBody = components['schemas']['ChangeEvent'];

/** The public id of an event, in the feed and in webhooks alike. */
export const publicEventId = (id: number) => `evt_${id}`;

/** An event as the feed serves it and webhooks deliver it; with the tenant's mapping's outcome when one is saved. */
export function changeEventBody(event: ChangeEvent, outcome?: MappingOutcome | null): ChangeEventBody {
  return {
    id: publicEventId(event.id),
    type: event.type,
    occurred_at: event.occurredAt.toISOString(),
    updated_at: event.shopifyUpdatedAt ? event.shopifyUpdatedAt.toISOString() : null,
    resource: event.resource as ChangeEventBody['resource'],
    record_id: event.recordKey,
    data: (event.data ?? {}) as Record<string, unknown>,
    ...(outcome?.error ? { mapping_error: outcome.error } : outcome ? { mapped: outcome.mapped ?? null } : {}),
  };
}

/**
 * The mapping outcome of each event (null: not a record event, or no mapping saved for its resource),
 * one evaluation batch per resource. A record the mapping fails on gets its error; the others their result.
 */
export async function mappingOutcomes(mapper: Mapper, db: Db, tenantId: string, events: readonly ChangeEvent[]): Promise<(MappingOutcome | null)[]> {
  const outcomes: (MappingOutcome | null)[] = events.map(() => null);
  const byResource = new Map<string, number[]>();
  events.forEach((e, i) => {
    if (e.resource === null || e.type.endsWith('.deleted')) return;
    byResource.set(e.resource, [...(byResource.get(e.resource) ?? []), i]);
  });
  for (const [resource, indexes] of byResource) {
    const results = await mapRecordsForTenant(
      mapper,
      db,
      tenantId,
      resource,
      indexes.map((i) => (events[i] as ChangeEvent).data),
    );
    if (results) indexes.forEach((index, j) => (outcomes[index] = results[j] ?? null));
  }
  return outcomes;
}
