import type { PaginationSummary, QueryParams, ShopifyPage } from './types.js';

/**
 * Shopify REST cursor pagination: each response may carry
 * `Link: <https://…/products.json?limit=250&page_info=abc>; rel="next", <…>; rel="previous"`.
 */
export const MAX_PAGE_LIMIT = 250;
export const DEFAULT_MAX_PAGES = 1000;

/** Parses a `Link` header into `{ rel: url }` (first URL per rel wins). */
export function parseLinkHeader(header: string | null | undefined): Record<string, string> {
  const links: Record<string, string> = {};
  if (!header) return links;
  const re = /<([^>]*)>\s*((?:;\s*[^;,]+)*)/g;
  for (let m = re.exec(header); m; m = re.exec(header)) {
    const url = m[1] ?? '';
    const params = m[2] ?? '';
    const rel = /;\s*rel\s*=\s*"?([^";,]+)"?/i.exec(params)?.[1];
    if (!rel) continue;
    for (const name of rel.trim().split(/\s+/)) {
      const key = name.toLowerCase();
      if (!(key in links)) links[key] = url;
    }
  }
  return links;
}

/** The `page_info` cursor of a Link URL, if any. */
export function pageInfoFromUrl(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    return new URL(url, 'http://placeholder.invalid').searchParams.get('page_info') ?? undefined;
  } catch {
    return undefined;
  }
}

/** The `page_info` of the `rel="next"` link of a Link header. */
export function nextPageInfo(linkHeader: string | null | undefined): string | undefined {
  return pageInfoFromUrl(parseLinkHeader(linkHeader).next);
}

/**
 * Parameters of the request following `pageInfo`: Shopify answers 400 when `page_info` comes with
 * anything but `limit` and `fields` (the filters are inside the cursor).
 */
export function paramsForNextPage(first: QueryParams, pageInfo: string): QueryParams {
  const next: QueryParams = { limit: first.limit ?? MAX_PAGE_LIMIT, page_info: pageInfo };
  if (first.fields !== undefined) next.fields = first.fields;
  return next;
}

export interface FetchedPage<T> {
  items: T[];
  linkHeader: string | null;
}

/**
 * Walks the pages of a list: one request in flight at a time and only when the consumer asks for the
 * next page (bounded memory, back-pressure for free). Stops after `maxPages`; when Shopify still has
 * more, the last page yielded says `capReached: true` and so does the returned summary: a capped walk
 * is never mistaken for a complete one.
 */
export async function* paginate<T>(
  fetchPage: (params: QueryParams) => Promise<FetchedPage<T>>,
  params: QueryParams = {},
  opts: { maxPages?: number } = {},
): AsyncGenerator<ShopifyPage<T>, PaginationSummary> {
  const maxPages = opts.maxPages ?? DEFAULT_MAX_PAGES;
  if (!Number.isInteger(maxPages) || maxPages < 1) throw new RangeError('maxPages must be a positive integer');
  const first: QueryParams = { ...params, limit: params.limit ?? MAX_PAGE_LIMIT };
  let request: QueryParams = first;
  let items = 0;
  for (let pageNumber = 1; ; pageNumber++) {
    const requestedAt = new Date();
    const page = await fetchPage(request);
    const pageInfo = nextPageInfo(page.linkHeader);
    const hasNext = pageInfo !== undefined;
    const capReached = hasNext && pageNumber >= maxPages;
    items += page.items.length;
    yield { items: page.items, pageNumber, capReached, hasNext, requestedAt, ...(pageInfo !== undefined ? { nextPageInfo: pageInfo } : {}) };
    if (!hasNext || capReached) return { pages: pageNumber, items, capReached };
    request = paramsForNextPage(first, pageInfo);
  }
}
