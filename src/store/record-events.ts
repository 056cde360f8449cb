import { isDeepStrictEqual } from 'node:util';
import type { Transaction } from 'kysely';
import type { ResourceDefinition, Row } from '../resources/index.js';
import { appendChangeEvents, rewriteEventsOfRecords, type NewChangeEvent } from './change-events.js';
import { readRecordsByKeys, type RecordWithChildren } from './record-reads.js';
import type { Database, Db } from './schema.js';

/**
 * Change events of records, appended in the transaction of the write: each carries the record as the
 * API serves it at that point of the transaction, which holds the record's lock, so a record's events
 * follow its versions. Writers say which records they may have changed and what each was before; what
 * the record is now decides whether an event is due (a write that changed nothing announces nothing).
 */
type Executor = Db | Transaction<Database>;

interface KeyOwner {
  tenantId: string;
  integrationId: number;
}

/** What a record was before the write: absent, live or deleted. */
export type PriorState = 'absent' | 'live' | 'deleted';

export type RecordChangeKind = 'created' | 'updated' | 'deleted' | 'redacted';

/** The record's key as events name it: its id, or `item:location` for an inventory level. */
export const recordKeyOf = (resource: ResourceDefinition, row: Row): string => resource.keyColumns.map((c) => String(row[c])).join(':');

/** The key values of an event's record key, in the resource's key order. */
export const keyValuesOf = (recordKey: string): number[] => recordKey.split(':').map(Number);

const eventOf = (resource: ResourceDefinition, owner: KeyOwner, kind: RecordChangeKind, record: RecordWithChildren): NewChangeEvent => {
  const change = kind === 'created' && resource.events.createdAs ? resource.events.createdAs : kind;
  return {
    tenantId: owner.tenantId,
    integrationId: owner.integrationId,
    type: `${resource.events.name}.${change}`,
    resource: resource.name,
    recordKey: recordKeyOf(resource, record.row),
    shopifyUpdatedAt: record.row.updated_at as Date,
    data: resource.toApi(record.row, record.children),
  };
};

/**
 * After a write that may have changed records: for each key, what it was before. A record live now was
 * `created` (absent or deleted before) or `updated`; a record deleted now was `deleted` if it was live.
 * `accept` filters what is read back (an upsert announces only records at the version it wrote).
 */
export async function announceWrittenRecords(
  trx: Executor,
  resource: ResourceDefinition,
  owner: KeyOwner,
  before: Map<string, PriorState>,
  accept: (record: RecordWithChildren) => boolean = () => true,
  shapesBefore?: Map<string, unknown>,
): Promise<number> {
  if (before.size === 0) return 0;
  const keys = [...before.keys()].map(keyValuesOf);
  const now = await readRecordsByKeys(trx, resource, owner.tenantId, keys);
  const events: NewChangeEvent[] = [];
  for (const record of now) {
    const key = recordKeyOf(resource, record.row);
    const prior = before.get(key) ?? 'absent';
    if (!accept(record)) continue;
    const deleted = record.row.deleted_at !== null && record.row.deleted_at !== undefined;
    if (deleted) {
      if (prior === 'live') events.push(eventOf(resource, owner, 'deleted', record));
    } else if (prior !== 'live') {
      events.push(eventOf(resource, owner, 'created', record));
    } else {
      const event = eventOf(resource, owner, 'updated', record);
      // A new version the API shows alike (Shopify's JSON changed in fields the API does not serve).
      if (shapesBefore?.has(key) && isDeepStrictEqual(shapesBefore.get(key), event.data)) continue;
      events.push(event);
    }
  }
  await appendChangeEvents(trx, events);
  return events.length;
}

/** Records marked deleted by this write (they were live before it): one `deleted` event each. */
export async function announceDeletedRecords(trx: Executor, resource: ResourceDefinition, owner: KeyOwner, keys: unknown[][]): Promise<number> {
  return announceWrittenRecords(trx, resource, owner, new Map(keys.map((k) => [k.map(String).join(':'), 'live' as const])));
}

/**
 * Records redacted (customers) or scrubbed of a customer's data (their orders): one `kind` event each,
 * and the records' earlier events rewritten to what they are now, so the feed keeps no personal data.
 */
export async function announceRedactedRecords(trx: Executor, resource: ResourceDefinition, owner: KeyOwner, keys: unknown[][], kind: 'redacted' | 'updated'): Promise<number> {
  if (keys.length === 0) return 0;
  const now = await readRecordsByKeys(trx, resource, owner.tenantId, keys);
  const events = now.map((record) => eventOf(resource, owner, kind, record));
  // A deleted order stays deleted for the feed: only its earlier events are rewritten.
  const announced = events.filter((e, i) => kind === 'redacted' || (now[i] as RecordWithChildren).row.deleted_at === null);
  await rewriteEventsOfRecords(
    trx,
    owner.tenantId,
    resource.name,
    events.map((e) => ({ recordKey: e.recordKey as string, data: e.data })),
  );
  await appendChangeEvents(trx, announced);
  return announced.length;
}

/**
 * The API shapes of these parents now, to compare with after a write of their children (a bulk file's
 * child lines): only parents whose shape changed get an event.
 */
export async function apiShapes(trx: Executor, resource: ResourceDefinition, tenantId: string, keys: unknown[][]): Promise<Map<string, unknown>> {
  const records = await readRecordsByKeys(trx, resource, tenantId, keys);
  return new Map(records.map((r) => [recordKeyOf(resource, r.row), resource.toApi(r.row, r.children)]));
}

/** Parents whose API shape differs from `before` (read with `apiShapes`): one `updated` event each. */
export async function announceShapeChanges(trx: Executor, resource: ResourceDefinition, owner: KeyOwner, before: Map<string, unknown>): Promise<number> {
  if (before.size === 0) return 0;
  const now = await readRecordsByKeys(trx, resource, owner.tenantId, [...before.keys()].map(keyValuesOf));
  const events = now.filter((r) => !isDeepStrictEqual(before.get(recordKeyOf(resource, r.row)), resource.toApi(r.row, r.children))).map((r) => eventOf(resource, owner, 'updated', r));
  await appendChangeEvents(trx, events);
  return events.length;
}
