import type { ResourceDefinition } from '../resources/index.js';
import type { ShopifyClient } from '../shopify/admin-client.js';
import type { PaginationSummary, QueryParams, ShopifyPage } from '../shopify/types.js';

export type ShopifyRecord = Record<string, unknown>;
export type RecordPages = AsyncGenerator<ShopifyPage<ShopifyRecord>, PaginationSummary | undefined>;

/**
 * The pages of one resource as the registry describes it (`shopify.path`, `rootKey`, `params`, 250 per
 * page). Inventory levels are the one resource Shopify lists per location: locations first, then levels
 * by location ids in chunks of 50 (the client's `inventoryLevels`).
 */
export async function* recordPages(client: ShopifyClient, resource: ResourceDefinition, params: QueryParams, maxPages: number): RecordPages {
  const query = { ...resource.shopify.params, ...params };
  if (resource.name === 'inventory') {
    const locations = await client.locations();
    if (locations.length === 0) return { pages: 0, items: 0, capReached: false };
    return yield* client.inventoryLevels(locations.map((l) => l.id), query, { maxPages });
  }
  return yield* client.pages<ShopifyRecord>(resource.shopify.path, resource.shopify.rootKey, query, { maxPages });
}

/**
 * Fetches the next page while the caller works on the current one: at most two pages are alive (the one
 * yielded, the one in flight), so a sync takes about max(fetching, writing) instead of their sum and
 * memory stays flat. Stopping early lets the in-flight page finish and closes the source.
 */
export async function* prefetchOne<T, R>(source: AsyncGenerator<T, R>): AsyncGenerator<T, R | undefined> {
  let pending = source.next();
  let finished = false;
  try {
    for (;;) {
      const result = await pending;
      if (result.done) {
        finished = true;
        return result.value;
      }
      pending = source.next();
      // If the caller stops before awaiting it, its failure must not become an unhandled rejection.
      pending.catch(() => undefined);
      yield result.value;
    }
  } finally {
    if (!finished) void source.return(undefined as R).catch(() => undefined);
  }
}
