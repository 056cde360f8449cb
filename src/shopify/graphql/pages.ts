import type { GraphqlClient } from '../graphql-client.js';
import type { PaginationSummary, ShopifyPage } from '../types.js';
import { MAX_QUERY_COST } from './cost-limiter.js';
import { LOCATIONS_QUERY, locationsCost } from './documents/index.js';
import { idFromGid } from './gid.js';

/**
 * Pages of one resource over the GraphQL Admin API, shaped like the REST pages the sync already walks:
 * REST-shaped records (the listing's `toRest`) and, on each page, `nextPageInfo`: a cursor that resumes
 * the walk right after this page (`after`). What is listed, and how, comes from the caller (the
 * resource registry's `GraphqlListing`): this module knows GraphQL pagination, not resources.
 *
 * Page sizes adapt so a query's requested cost stays ≤ 1,000 points: a page holds as many records as fit
 * with the nested first page of children (variants, line items); a record with more children than that
 * gets the rest in follow-up queries of 250 (products may have 2,048 variants).
 */
type Json = Record<string, unknown>;

/**
 * How a resource is listed over GraphQL. `connection`: one top-level connection (`document` takes
 * `$first`, `$after`, `$query` when `filterable`, and the children's first page size as `children.variable`).
 * `per-location`: levels read location by location (`document` takes `$location`, `$first`, `$after`, `$query`).
 */
export type GraphqlListing =
  | {
      kind: 'connection';
      document: string;
      /** The field of `data` holding the connection. */
      root: string;
      /** Requested cost of a page of `first` records with `childrenFirst` children each. */
      cost(first: number, childrenFirst: number): number;
      /** Whether the connection takes a search `query` (`updated_at:>=`); without, every read is whole. */
      filterable: boolean;
      /** Sorted by `UPDATED_AT`: after each page, nothing older than its newest record is left to read. */
      orderedByUpdatedAt: boolean;
      /** A nested connection (variants, line items) read whole: `field` of the node, then `document` by the parent's id. */
      children?: { field: string; variable: string; document: string; path: readonly [string, string]; cost(first: number): number };
      /** The node (with every child) → the REST-shaped JSON the registry maps. */
      toRest(node: Json, children: Json[]): Json;
    }
  | {
      kind: 'per-location';
      document: string;
      cost(first: number): number;
      toRest(node: Json, locationId: number): Json;
    };

export interface GraphqlPagesOptions {
  updatedAtMin?: Date | string;
  /** A `nextPageInfo` of an earlier page: the walk resumes after it. */
  after?: string;
  /** Records per page, at most 250; fewer when the cost requires it. */
  pageSize?: number;
  maxPages?: number;
  /** Children asked for with each record (variants, line items) before follow-up queries; default 10. */
  childrenPerRecord?: number;
}

export const MAX_FIRST = 250;
export const DEFAULT_CHILDREN_PER_RECORD = 10;
const DEFAULT_MAX_PAGES = 1000;

interface Connection {
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
  nodes: Json[];
}
interface Fetched {
  items: Json[];
  hasNext: boolean;
  cursor: string | null;
}

/** The largest `first` ≤ `wanted` whose cost stays within the single-query maximum. */
export function fittingFirst(wanted: number, cost: (first: number) => number, maxCost = MAX_QUERY_COST): number {
  let first = Math.max(1, Math.min(MAX_FIRST, Math.floor(wanted)));
  while (first > 1 && cost(first) > maxCost) first--;
  return first;
}

/** Records one page of `listing` holds when `pageSize` are wanted (the cost may allow fewer). */
export function graphqlPageSize(listing: GraphqlListing, pageSize = MAX_FIRST, childrenPerRecord = DEFAULT_CHILDREN_PER_RECORD): number {
  const wanted = Math.min(MAX_FIRST, pageSize);
  if (listing.kind === 'per-location') return fittingFirst(wanted, (n) => listing.cost(n));
  return fittingFirst(wanted, (n) => listing.cost(n, Math.min(MAX_FIRST, childrenPerRecord)));
}

function searchQuery(updatedAtMin: Date | string | undefined): string | undefined {
  if (updatedAtMin === undefined) return undefined;
  const iso = typeof updatedAtMin === 'string' ? new Date(updatedAtMin).toISOString() : updatedAtMin.toISOString();
  return `updated_at:>='${iso}'`;
}

/** Every child of a record: the nested first page, then follow-up pages of 250 until Shopify says no more. */
async function allChildren(client: GraphqlClient, first: Connection, parentId: unknown, rest: NonNullable<Extract<GraphqlListing, { kind: 'connection' }>['children']>): Promise<Json[]> {
  const children = [...first.nodes];
  let page = first.pageInfo;
  while (page.hasNextPage && page.endCursor) {
    const size = fittingFirst(MAX_FIRST, rest.cost);
    const { data } = await client.query<Json>({ document: rest.document, variables: { id: parentId, first: size, after: page.endCursor }, requestedCost: rest.cost(size) });
    const next = (data[rest.path[0]] as Json | null | undefined)?.[rest.path[1]] as Connection | undefined;
    if (!next) break; // the record went away meanwhile; what was read stays
    children.push(...next.nodes);
    page = next.pageInfo;
  }
  return children;
}

export async function* graphqlPages(client: GraphqlClient, listing: GraphqlListing, opts: GraphqlPagesOptions = {}): AsyncGenerator<ShopifyPage<Json>, PaginationSummary> {
  const wanted = Math.min(MAX_FIRST, opts.pageSize ?? MAX_FIRST);
  const maxPages = opts.maxPages ?? DEFAULT_MAX_PAGES;
  const childrenFirst = Math.min(MAX_FIRST, opts.childrenPerRecord ?? DEFAULT_CHILDREN_PER_RECORD);
  const query = searchQuery(opts.updatedAtMin);
  const fetchPage = listing.kind === 'per-location' ? inventoryFetcher(client, listing, { wanted, query }) : connectionFetcher(client, listing, { wanted, childrenFirst, query });
  let cursor = opts.after ?? null;
  let items = 0;
  for (let pageNumber = 1; ; pageNumber++) {
    const requestedAt = new Date();
    const page = await fetchPage(cursor);
    items += page.items.length;
    const capReached = page.hasNext && pageNumber >= maxPages;
    yield { items: page.items, pageNumber, capReached, hasNext: page.hasNext, requestedAt, ...(page.cursor ? { nextPageInfo: page.cursor } : {}) };
    if (!page.hasNext || capReached) return { pages: pageNumber, items, capReached };
    cursor = page.cursor;
  }
}

function connectionFetcher(
  client: GraphqlClient,
  listing: Extract<GraphqlListing, { kind: 'connection' }>,
  o: { wanted: number; childrenFirst: number; query: string | undefined },
): (after: string | null) => Promise<Fetched> {
  const children = listing.children;
  return async (after) => {
    const first = fittingFirst(o.wanted, (n) => listing.cost(n, o.childrenFirst));
    const variables: Json = { first, after, ...(listing.filterable ? { query: o.query } : {}), ...(children ? { [children.variable]: o.childrenFirst } : {}) };
    const { data } = await client.query<Json>({ document: listing.document, variables, requestedCost: listing.cost(first, o.childrenFirst) });
    const conn = data[listing.root] as Connection;
    const items: Json[] = [];
    for (const node of conn.nodes) {
      items.push(listing.toRest(node, children ? await allChildren(client, node[children.field] as Connection, node.id, children) : []));
    }
    return { items, hasNext: conn.pageInfo.hasNextPage, cursor: conn.pageInfo.endCursor };
  };
}

/**
 * Inventory levels, location by location. The cursor names the location and the position within it,
 * so a resumed walk goes on where it stopped; locations are listed once per walk.
 */
function inventoryFetcher(
  client: GraphqlClient,
  listing: Extract<GraphqlListing, { kind: 'per-location' }>,
  o: { wanted: number; query: string | undefined },
): (after: string | null) => Promise<Fetched> {
  let locations: string[] | undefined;
  const listLocations = async (): Promise<string[]> => {
    const ids: string[] = [];
    let after: string | null = null;
    for (;;) {
      const first = fittingFirst(MAX_FIRST, locationsCost);
      const { data }: { data: { locations: Connection } } = await client.query<{ locations: Connection }>({
        document: LOCATIONS_QUERY,
        variables: { first, after },
        requestedCost: locationsCost(first),
      });
      ids.push(...data.locations.nodes.map((n) => String(n.id)));
      if (!data.locations.pageInfo.hasNextPage) return ids;
      after = data.locations.pageInfo.endCursor;
    }
  };
  return async (cursor) => {
    locations ??= await listLocations();
    const position = decodeInventoryCursor(cursor);
    let index = position ? locations.indexOf(position.location) : 0;
    if (index < 0) index = locations.findIndex((id) => (idFromGid(id) ?? 0) > (idFromGid(position?.location) ?? 0)); // that location went away
    if (index < 0 || locations.length === 0) return { items: [], hasNext: false, cursor: null };
    let after = position && locations[index] === position.location ? position.after : null;
    // A location with nothing (left) to list is skipped, so a page is empty only at the very end.
    for (; index < locations.length; index++, after = null) {
      const location = locations[index] as string;
      const first = fittingFirst(o.wanted, listing.cost);
      const { data } = await client.query<{ location: { inventoryLevels: Connection } | null }>({
        document: listing.document,
        variables: { location, first, after, query: o.query },
        requestedCost: listing.cost(first),
      });
      const conn = data.location?.inventoryLevels;
      if (!conn || conn.nodes.length === 0) continue;
      const locationId = idFromGid(location) as number;
      const items = conn.nodes.map((n) => listing.toRest(n, locationId));
      const more = conn.pageInfo.hasNextPage && conn.pageInfo.endCursor !== null;
      const nextIndex = more ? index : index + 1;
      const hasNext = nextIndex < locations.length;
      const next = more ? { location, after: conn.pageInfo.endCursor } : hasNext ? { location: locations[nextIndex] as string, after: null } : undefined;
      return { items, hasNext, cursor: next ? encodeInventoryCursor(next) : null };
    }
    return { items: [], hasNext: false, cursor: null };
  };
}

function encodeInventoryCursor(c: { location: string; after: string | null }): string {
  return Buffer.from(JSON.stringify({ l: c.location, a: c.after })).toString('base64url');
}

function decodeInventoryCursor(value: string | null): { location: string; after: string | null } | undefined {
  if (!value) return undefined;
  try {
    const c = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as { l?: unknown; a?: unknown };
    if (typeof c.l === 'string') return { location: c.l, after: typeof c.a === 'string' ? c.a : null };
  } catch {
    // fall through
  }
  throw new RangeError('not an inventory cursor of graphqlPages');
}
