import type { PathsWithMethod } from 'openapi-typescript-helpers';
import type { paths } from './schema.js';
import type { ForView } from './views.js';

type JsonOk<P extends keyof paths> = paths[P] extends { get: { responses: { 200: { content: { 'application/json': infer Body } } } } } ? Body : never;

/** The GET paths that answer a page: `{ data: [...], next_cursor }` (the contract's list convention). */
export type ListPath = {
  [P in PathsWithMethod<paths, 'get'>]: JsonOk<P> extends { data: unknown[]; next_cursor: string | null } ? P : never;
}[PathsWithMethod<paths, 'get'>];

/** One record of a list path's pages (with `Init`, in the view it asks for: records as stored, or `view: 'mapped'`). */
export type ListItem<P extends ListPath, Init = unknown> = ForView<JsonOk<P>, Init> extends { data: (infer Item)[] } ? Item : never;

type ListQuery<P extends ListPath> = paths[P] extends { get: { parameters: { query?: infer Q } } } ? Omit<NonNullable<Q>, 'cursor'> : never;

export interface PaginateInit<P extends ListPath> {
  /** Filters and page size (`limit`); the cursor is the iterator's business. */
  params?: { query?: ListQuery<P> };
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

type Page = { data: unknown[]; next_cursor: string | null };
type GetPage = (path: string, init: { params: { query: Record<string, unknown> }; headers?: Record<string, string>; signal?: AbortSignal }) => Promise<{ data: Page }>;

/**
 * Every record of a list endpoint, page after page, following `next_cursor` until it is null. Pages are
 * fetched lazily: stopping the loop early fetches no more.
 */
export async function* paginate(get: GetPage, path: string, init: PaginateInit<ListPath> = {}): AsyncGenerator<unknown, void, undefined> {
  let cursor: string | null = null;
  do {
    const query: Record<string, unknown> = { ...init.params?.query, ...(cursor ? { cursor } : {}) };
    const { data: page } = await get(path, { ...init, params: { query } });
    for (const item of page.data) yield item;
    if (page.next_cursor !== null && page.next_cursor === cursor) throw new Error(`${path} returned the same next_cursor twice`);
    cursor = page.next_cursor;
  } while (cursor);
}
