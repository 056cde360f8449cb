/**
 * The change feed as a consumer sees it: read page by page through GET /api/events/, and replayed
 * (upsert each record event's data, or mark it deleted) into a model that must equal what the read API
 * serves. Shared by the feed's own tests and the fault tests that check the feed survived an outage.
 */
import { isDeepStrictEqual } from 'node:util';
import { expect } from 'chai';
import { RESOURCE_NAMES } from '../../src/resources/index.js';
import { readAll } from './copy-equals-store.js';
import { call } from './http.js';

export interface FeedEvent {
  id: string;
  type: string;
  occurred_at: string;
  updated_at: string | null;
  resource: string | null;
  record_id: string | null;
  data: Record<string, unknown>;
}

export interface FeedReadOptions {
  /** A cursor from an earlier read: only the events after it. */
  after?: string;
  /** Comma-separated event types. */
  types?: string;
  limit?: number;
}

/** The key a list entry has as an event's record_id. */
export const recordIdOf = (resource: string, record: Record<string, unknown>) => (resource === 'inventory' ? `${record.inventory_item_id}:${record.location_id}` : String(record.id));

/** Every event of the key's tenant (after the cursor), in feed order, and the cursor to read on from. */
export async function readFeed(baseUrl: string, apiKey: string, opts: FeedReadOptions = {}): Promise<{ events: FeedEvent[]; cursor: string }> {
  const events: FeedEvent[] = [];
  let after = opts.after;
  for (;;) {
    const query = new URLSearchParams({ limit: String(opts.limit ?? 250), ...(after ? { after } : {}), ...(opts.types ? { types: opts.types } : {}) });
    const res = await call(baseUrl, 'GET', `/api/events/?${query}`, { key: apiKey });
    expect(res.status, res.text).to.equal(200);
    events.push(...(res.body.data as FeedEvent[]));
    after = res.body.next_cursor as string;
    if (!res.body.has_more) return { events, cursor: after };
  }
}

export type ReplayedRecords = Map<string, Map<string, { data: Record<string, unknown>; deleted: boolean }>>;

/** Applies record events as a consumer would: upsert the data, or mark it deleted. */
export function replayFeed(events: FeedEvent[]): ReplayedRecords {
  const model: ReplayedRecords = new Map();
  for (const e of events) {
    if (!e.resource || !e.record_id) continue;
    const records = model.get(e.resource) ?? new Map();
    model.set(e.resource, records);
    // A record is deleted by a `.deleted` event, or when its data says so (a deleted customer redacted).
    records.set(e.record_id, { data: e.data, deleted: e.type.endsWith('.deleted') || (e.data.deleted_at ?? null) !== null });
  }
  return model;
}

/** Replaying `events` gives exactly the records the read API serves the key's tenant: the same live ones, equal field by field, and deletions it serves too. */
export async function expectReplayEqualsApi(baseUrl: string, apiKey: string, events: FeedEvent[]): Promise<void> {
  const model = replayFeed(events);
  for (const resource of RESOURCE_NAMES) {
    const served = await readAll(baseUrl, apiKey, `/api/shopify/${resource}/`);
    const live = new Map(served.filter((r) => r.deleted_at === null).map((r) => [recordIdOf(resource, r), r]));
    const replayed = model.get(resource) ?? new Map();
    const replayedLive = new Map([...replayed].filter(([, v]) => !v.deleted));
    expect([...replayedLive.keys()].sort(), `${resource}: live records`).to.deep.equal([...live.keys()].sort());
    for (const [id, record] of live) expect(isDeepStrictEqual(replayedLive.get(id)?.data, record), `${resource} ${id} as replayed equals the API`).to.equal(true);
    const servedDeleted = new Set(served.filter((r) => r.deleted_at !== null).map((r) => recordIdOf(resource, r)));
    for (const [id, v] of replayed) if (v.deleted) expect(servedDeleted.has(id), `${resource} ${id} deleted in the API too`).to.equal(true);
  }
}
