import { mapRecordsForTenant, type Mapper, type MappingOutcome } from '../mappings/apply.js';
import type { Db } from '../store/schema.js';

/** Maps one record of a tenant's resource; null when the tenant has no mapping for it. */
export type MapRecord = (tenantId: string, resource: string, data: unknown) => Promise<MappingOutcome | null>;

/** The tenant's saved mapping, evaluated by the process's mapper pool. */
export function tenantMapping(mapper: Mapper, db: Db): MapRecord {
  return async (tenantId, resource, data) => (await mapRecordsForTenant(mapper, db, tenantId, resource, [data]))?.[0] ?? null;
}

/** The message id of every attempt of one delivery (receivers drop duplicates by it). */
export const deliveryMessageId = (deliveryId: number) => `msg_${deliveryId}`;
