import type { ResourceDefinition } from '../resources/index.js';
import { INVENTORY_LOCATION_CHUNK, type ShopifyClient } from '../shopify/admin-client.js';
import { ShopifyClientError } from '../shopify/errors.js';
import type { GraphqlClient } from '../shopify/graphql-client.js';
import { graphqlPages } from '../shopify/graphql/pages.js';
import type { PaginationSummary, QueryParams, ShopifyPage } from '../shopify/types.js';

export type ShopifyRecord = Record<string, unknown>;

/**
 * Where a walk that stopped (page cap, failure) continues. Over REST, lists with ids walk in id order
 * with `since_id`, a keyset that never expires. Inventory levels have no keyset: they are read per batch
 * of locations (ascending ids), so the position is the last location of the batches done and, inside the
 * batch (locationAfter, batchThrough], the `page_info` of its next page (restarting the batch if Shopify
 * no longer accepts it). Over GraphQL the position is the connection's cursor (`after`), whose keyset
 * is the sort key (`UPDATED_AT`, then id).
 */
export type WalkPosition = { sinceId: number } | { locationAfter: number; batchThrough: number | null; pageInfo: string | null } | { after: string } | { bulk: BulkPosition };

/**
 * A full walk by bulk operation: the operation (saved before any wait, so a restarted worker follows
 * the same one), the run's log row kept across the waits, and, once its file is being applied, how far.
 */
export interface BulkPosition {
  operation: string;
  /** When the operation was created (to the millisecond when this walk started it): the observation of every version its file holds. */
  createdAt: string;
  logId: number;
  /** Looks at the operation so far (the polling backoff). */
  polls: number;
  /** Operations started again so far (expired, cancelled). */
  restarts: number;
  /** The file being applied (`partial`: what a failed operation left) and the line boundary reached. */
  file?: { kind: 'complete' | 'partial'; offset: number; line: number };
}

export interface RecordPage extends ShopifyPage<ShopifyRecord> {
  /** Where the walk continues after this page; null when this page ended it. */
  resumeAt: WalkPosition | null;
  /** Pages come in `updated_at` order: nothing older than this page's newest record is left to read. */
  orderedByUpdatedAt?: boolean;
}

export type RecordPages = AsyncGenerator<RecordPage, PaginationSummary | undefined>;

export interface WalkOptions {
  /** Continue a walk from here (null or absent: from the start). */
  from?: WalkPosition | null;
  /** Records per page (Shopify's `limit`). */
  pageSize?: number;
}

/** The position as the sync log shows it: what the next request of the walk will ask. */
export function describePosition(position: WalkPosition): string {
  if ('sinceId' in position) return `since_id=${position.sinceId}`;
  if ('bulk' in position) {
    const { operation, file } = position.bulk;
    return `bulk operation ${operation}${file ? `, ${file.kind === 'partial' ? 'partial data' : 'file'} applied to byte ${file.offset}` : ''}`;
  }
  if ('after' in position) return `after=${position.after}`;
  const batch = position.batchThrough === null ? '' : ` through ${position.batchThrough}`;
  return `locations after ${position.locationAfter}${batch}${position.pageInfo ? `, page_info=${position.pageInfo}` : ''}`;
}

/**
 * The pages of one resource as the registry describes it (`shopify.path`, `rootKey`, `params`,
 * `listing`), at most `maxPages` of them, each telling where the walk continues after it. Inventory
 * levels are listed per location: locations first, then levels by location ids in batches of 50. An
 * unpaged list is one answer with every record: it takes no filter, so an incremental read is a whole one.
 */
export async function* recordPages(client: ShopifyClient, resource: ResourceDefinition, params: QueryParams, maxPages: number, opts: WalkOptions = {}): RecordPages {
  const query: QueryParams = { ...resource.shopify.params, ...params, ...(opts.pageSize !== undefined ? { limit: opts.pageSize } : {}) };
  const listing = resource.shopify.listing;
  if (listing === 'per-location') return yield* inventoryPages(client, query, maxPages, opts.from && 'locationAfter' in opts.from ? opts.from : null);
  if (listing === 'unpaged') return yield* unpagedPages(client, resource, maxPages);
  // since_id orders the walk by id, so the largest id read so far is where it continues.
  let last = opts.from && 'sinceId' in opts.from ? opts.from.sinceId : 0;
  const pages = client.pages<ShopifyRecord>(resource.shopify.path, resource.shopify.rootKey, { ...query, since_id: last }, { maxPages });
  for (;;) {
    const next = await pages.next();
    if (next.done) return next.value;
    const page = next.value;
    for (const item of page.items) {
      const id = Number(item.id);
      if (Number.isSafeInteger(id) && id > last) last = id;
    }
    yield { ...page, resumeAt: page.hasNext ? { sinceId: last } : null };
  }
}

export interface GraphqlWalkOptions extends WalkOptions {
  /** Only records updated since (the search query `updated_at:>=`); null or absent: everything. */
  updatedAtMin?: Date | null;
  maxPages: number;
}

/**
 * The pages of one resource over the GraphQL Admin API, as the registry's `shopify.graphql` describes
 * them, each telling where the walk continues (the connection's cursor). A cursor an earlier run saved
 * that Shopify refuses now (another API version, another source) starts the walk again: re-reading is
 * harmless, and the walk's start, which the deletion sweep compares with, stays.
 */
export async function* graphqlRecordPages(client: GraphqlClient, resource: ResourceDefinition, opts: GraphqlWalkOptions): RecordPages {
  const listing = resource.shopify.graphql;
  const from = opts.from && 'after' in opts.from ? opts.from.after : undefined;
  const filterable = listing.kind === 'per-location' || listing.filterable;
  const updatedAtMin = filterable && opts.updatedAtMin ? opts.updatedAtMin : undefined;
  const open = (after?: string) =>
    graphqlPages(client, listing, {
      maxPages: opts.maxPages,
      ...(opts.pageSize !== undefined ? { pageSize: opts.pageSize } : {}),
      ...(updatedAtMin ? { updatedAtMin } : {}),
      ...(after ? { after } : {}),
    });
  let pages = open(from);
  let next: IteratorResult<ShopifyPage<ShopifyRecord>, PaginationSummary>;
  try {
    next = await pages.next();
  } catch (error) {
    const refused = (error instanceof ShopifyClientError && error.upstreamStatus === 400) || error instanceof RangeError;
    if (from === undefined || !refused) throw error;
    pages = open();
    next = await pages.next();
  }
  const orderedByUpdatedAt = listing.kind === 'connection' && listing.orderedByUpdatedAt;
  for (; !next.done; next = await pages.next()) {
    const page = next.value;
    yield { ...page, resumeAt: page.hasNext && page.nextPageInfo ? { after: page.nextPageInfo } : null, orderedByUpdatedAt };
  }
  return next.value;
}

async function* unpagedPages(client: ShopifyClient, resource: ResourceDefinition, maxPages: number): RecordPages {
  const pages = client.pages<ShopifyRecord>(resource.shopify.path, resource.shopify.rootKey, { ...resource.shopify.params }, { maxPages });
  for (;;) {
    const next = await pages.next();
    if (next.done) return next.value;
    yield { ...next.value, resumeAt: null };
  }
}

async function* inventoryPages(client: ShopifyClient, query: QueryParams, maxPages: number, from: { locationAfter: number; batchThrough: number | null; pageInfo: string | null } | null): RecordPages {
  const locations = (await client.locations()).map((l) => l.id).sort((a, b) => a - b);
  let after = from?.locationAfter ?? 0;
  const batches: { ids: number[]; pageInfo: string | null }[] = [];
  if (from?.batchThrough != null) {
    const through = from.batchThrough;
    batches.push({ ids: locations.filter((id) => id > after && id <= through), pageInfo: from.pageInfo });
  }
  const rest = locations.filter((id) => id > (from?.batchThrough ?? after));
  for (let i = 0; i < rest.length; i += INVENTORY_LOCATION_CHUNK) batches.push({ ids: rest.slice(i, i + INVENTORY_LOCATION_CHUNK), pageInfo: null });

  let pagesSoFar = 0;
  let items = 0;
  for (const [index, batch] of batches.entries()) {
    const through = batch.ids[batch.ids.length - 1] ?? after;
    const moreBatches = index < batches.length - 1;
    const firstQuery = { ...query, location_ids: batch.ids.join(',') };
    const open = (pageInfo: string | null) =>
      client.pages<ShopifyRecord>('inventory_levels', 'inventory_levels', pageInfo ? { limit: query.limit, page_info: pageInfo } : firstQuery, { maxPages: maxPages - pagesSoFar });
    if (batch.ids.length === 0) continue;
    let pages = open(batch.pageInfo);
    let next: IteratorResult<ShopifyPage<ShopifyRecord>, PaginationSummary>;
    try {
      next = await pages.next();
    } catch (error) {
      // A `page_info` saved by an earlier run may have expired: the batch starts again (re-reading is harmless).
      if (!batch.pageInfo || !(error instanceof ShopifyClientError) || error.upstreamStatus !== 400) throw error;
      pages = open(null);
      next = await pages.next();
    }
    for (; !next.done; next = await pages.next()) {
      const page = next.value;
      const pageNumber = pagesSoFar + page.pageNumber;
      const capReached = page.capReached || (pageNumber >= maxPages && moreBatches && !page.hasNext);
      items += page.items.length;
      const resumeAt: WalkPosition | null = page.hasNext
        ? { locationAfter: after, batchThrough: through, pageInfo: page.nextPageInfo ?? null }
        : moreBatches
          ? { locationAfter: through, batchThrough: null, pageInfo: null }
          : null;
      yield { ...page, pageNumber, capReached, hasNext: page.hasNext || moreBatches, resumeAt };
      if (capReached) return { pages: pageNumber, items, capReached: true };
      if (!page.hasNext) pagesSoFar = pageNumber;
    }
    after = through;
  }
  return { pages: pagesSoFar, items, capReached: false };
}

/**
 * Fetches ahead while the caller works on the current page: at most `depth` pages in flight besides the
 * one yielded, so a sync takes about max(fetching, writing) instead of their sum (two absorb a slow page
 * on either side) and memory stays flat. Stopping early lets the pages in flight finish and closes the source.
 */
export async function* prefetch<T, R>(source: AsyncGenerator<T, R>, depth = 2): AsyncGenerator<T, R | undefined> {
  const pending: Promise<IteratorResult<T, R>>[] = [];
  const fill = () => {
    while (pending.length < depth) {
      const next = source.next();
      // If the caller stops before awaiting it, its failure must not become an unhandled rejection.
      next.catch(() => undefined);
      pending.push(next);
    }
  };
  let finished = false;
  try {
    fill();
    for (;;) {
      const result = await (pending.shift() as Promise<IteratorResult<T, R>>);
      if (result.done) {
        finished = true;
        return result.value;
      }
      fill();
      yield result.value;
    }
  } finally {
    if (!finished) void source.return(undefined as R).catch(() => undefined);
  }
}
