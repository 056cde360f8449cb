import type { ResourceName } from '../../resources/types.js';
import type { GraphqlClient } from '../graphql-client.js';
import type { PaginationSummary, ShopifyPage } from '../types.js';
import { MAX_QUERY_COST } from './cost-limiter.js';
import {
  CUSTOMERS_QUERY, customersCost, LOCATION_INVENTORY_LEVELS_QUERY, locationInventoryLevelsCost, LOCATIONS_QUERY, locationsCost,
  ORDER_LINE_ITEMS_QUERY, orderLineItemsCost, ORDERS_QUERY, ordersCost, PRODUCT_VARIANTS_QUERY, PRODUCTS_QUERY, productsCost, productVariantsCost,
} from './documents/index.js';
import { idFromGid, mapCustomer, mapInventoryLevel, mapLocation, mapOrder, mapProduct } from './mappers.js';

/**
 * Pages of one resource over the GraphQL Admin API, shaped like the REST pages the sync already walks:
 * REST-shaped records (see mappers.ts) and, on each page, `nextPageInfo`: a cursor that resumes the
 * walk right after this page (`after`). Lists are sorted by `UPDATED_AT` (inventory levels: by location,
 * then Shopify's order), so an incremental walk interrupted at page 300 resumes there.
 *
 * Page sizes adapt so a query's requested cost stays ≤ 1,000 points: a page holds as many records as fit
 * with the nested first page of children (variants, line items); a record with more children than that
 * gets the rest in follow-up queries of 250 (products may have 2,048 variants).
 */
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

type Json = Record<string, unknown>;
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

function searchQuery(updatedAtMin: Date | string | undefined): string | undefined {
  if (updatedAtMin === undefined) return undefined;
  const iso = typeof updatedAtMin === 'string' ? new Date(updatedAtMin).toISOString() : updatedAtMin.toISOString();
  return `updated_at:>='${iso}'`;
}

/** Every child of a record: the nested first page, then follow-up pages of 250 until Shopify says no more. */
async function allChildren(client: GraphqlClient, first: Connection, parentId: unknown, rest: { document: string; cost: (n: number) => number; pick: (data: Json) => Connection | undefined }): Promise<Json[]> {
  const children = [...first.nodes];
  let page = first.pageInfo;
  while (page.hasNextPage && page.endCursor) {
    const size = fittingFirst(MAX_FIRST, rest.cost);
    const { data } = await client.query<Json>({ document: rest.document, variables: { id: parentId, first: size, after: page.endCursor }, requestedCost: rest.cost(size) });
    const next = rest.pick(data);
    if (!next) break; // the record went away meanwhile; what was read stays
    children.push(...next.nodes);
    page = next.pageInfo;
  }
  return children;
}

export async function* graphqlPages(client: GraphqlClient, resource: ResourceName, opts: GraphqlPagesOptions = {}): AsyncGenerator<ShopifyPage<Json>, PaginationSummary> {
  const wanted = Math.min(MAX_FIRST, opts.pageSize ?? MAX_FIRST);
  const maxPages = opts.maxPages ?? DEFAULT_MAX_PAGES;
  const childrenFirst = Math.min(MAX_FIRST, opts.childrenPerRecord ?? DEFAULT_CHILDREN_PER_RECORD);
  const query = searchQuery(opts.updatedAtMin);
  const fetchPage = pageFetcher(client, resource, { wanted, childrenFirst, query });
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

function pageFetcher(client: GraphqlClient, resource: ResourceName, o: { wanted: number; childrenFirst: number; query: string | undefined }): (after: string | null) => Promise<Fetched> {
  const top = async (document: string, cost: number, variables: Json, root: string, after: string | null): Promise<Connection> => {
    const { data } = await client.query<Json>({ document, variables: { ...variables, after, query: o.query }, requestedCost: cost });
    return data[root] as Connection;
  };
  const done = (conn: Connection, items: Json[]): Fetched => ({ items, hasNext: conn.pageInfo.hasNextPage, cursor: conn.pageInfo.endCursor });

  switch (resource) {
    case 'products':
      return async (after) => {
        const first = fittingFirst(o.wanted, (n) => productsCost(n, o.childrenFirst));
        const conn = await top(PRODUCTS_QUERY, productsCost(first, o.childrenFirst), { first, variantsFirst: o.childrenFirst }, 'products', after);
        const items: Json[] = [];
        for (const p of conn.nodes) {
          const variants = await allChildren(client, p.variants as Connection, p.id, {
            document: PRODUCT_VARIANTS_QUERY, cost: productVariantsCost, pick: (d) => (d.product as Json | null)?.variants as Connection | undefined,
          });
          items.push(mapProduct(p, variants));
        }
        return done(conn, items);
      };
    case 'orders':
      return async (after) => {
        const first = fittingFirst(o.wanted, (n) => ordersCost(n, o.childrenFirst));
        const conn = await top(ORDERS_QUERY, ordersCost(first, o.childrenFirst), { first, lineItemsFirst: o.childrenFirst }, 'orders', after);
        const items: Json[] = [];
        for (const order of conn.nodes) {
          const lineItems = await allChildren(client, order.lineItems as Connection, order.id, {
            document: ORDER_LINE_ITEMS_QUERY, cost: orderLineItemsCost, pick: (d) => (d.order as Json | null)?.lineItems as Connection | undefined,
          });
          items.push(mapOrder(order, lineItems));
        }
        return done(conn, items);
      };
    case 'customers':
      return async (after) => {
        const first = fittingFirst(o.wanted, customersCost);
        const conn = await top(CUSTOMERS_QUERY, customersCost(first), { first }, 'customers', after);
        return done(conn, conn.nodes.map(mapCustomer));
      };
    case 'locations':
      return async (after) => {
        const first = fittingFirst(o.wanted, locationsCost);
        const { data } = await client.query<{ locations: Connection }>({ document: LOCATIONS_QUERY, variables: { first, after }, requestedCost: locationsCost(first) });
        return done(data.locations, data.locations.nodes.map(mapLocation));
      };
    case 'inventory':
      return inventoryFetcher(client, o);
  }
}

/**
 * Inventory levels, location by location. The cursor names the location and the position within it,
 * so a resumed walk goes on where it stopped; locations are listed once per walk.
 */
function inventoryFetcher(client: GraphqlClient, o: { wanted: number; query: string | undefined }): (after: string | null) => Promise<Fetched> {
  let locations: string[] | undefined;
  const listLocations = async (): Promise<string[]> => {
    const ids: string[] = [];
    let after: string | null = null;
    for (;;) {
      const first = fittingFirst(MAX_FIRST, locationsCost);
      const { data }: { data: { locations: Connection } } = await client.query<{ locations: Connection }>({ document: LOCATIONS_QUERY, variables: { first, after }, requestedCost: locationsCost(first) });
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
      const first = fittingFirst(o.wanted, locationInventoryLevelsCost);
      const { data } = await client.query<{ location: { inventoryLevels: Connection } | null }>({
        document: LOCATION_INVENTORY_LEVELS_QUERY, variables: { location, first, after, query: o.query }, requestedCost: locationInventoryLevelsCost(first),
      });
      const conn = data.location?.inventoryLevels;
      if (!conn || conn.nodes.length === 0) continue;
      const locationId = idFromGid(location) as number;
      const items = conn.nodes.map((n) => mapInventoryLevel(n, locationId));
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
