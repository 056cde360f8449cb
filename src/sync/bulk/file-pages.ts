import type { Logger } from '../../platform/logger.js';
import type { MapContext, ResourceDefinition, Row } from '../../resources/index.js';
import { idFromGid } from '../../shopify/graphql/gid.js';
import { mapPage, type MappedPage } from '../write-page.js';
import { downloadChunks } from './download.js';
import { jsonlBatches, type JsonlRecord } from './jsonl.js';

/**
 * A bulk operation's JSONL file as pages the sync writes, streamed: download → line splitter → batches
 * of lines → rows, in constant memory whatever the file's size. Each page says the line boundary it
 * reaches, where a stopped apply resumes (an HTTP range from there).
 */
type Json = Record<string, unknown>;

/**
 * A page is one transaction: 500 lines (some 125 products with their variants). Larger pages save little
 * per row and raise the worker's peak memory (one page written, two fetched ahead); the byte cap bounds a
 * page of large records. The benchmark's upsert-only floor writes the same pages.
 */
export const BULK_PAGE_LIMITS = { maxRecords: 500, maxBytes: 1024 * 1024 } as const;

export interface FilePage {
  page: MappedPage;
  /** Byte offset and number of the next line after this page. */
  offset: number;
  line: number;
  /** Lines (records and children) of this page. */
  lines: number;
}

export interface FilePagesOptions {
  from: { offset: number; line: number };
  mapCtx: MapContext;
  log: Logger;
  signal?: AbortSignal;
  /** Bytes downloaded by this call so far. */
  onBytes?: (total: number) => void;
  fetch?: typeof fetch;
  /** Lines per page (default BULK_PAGE_LIMITS.maxRecords). */
  linesPerPage?: number;
}

export async function* bulkFilePages(url: string, resource: ResourceDefinition, o: FilePagesOptions): AsyncGenerator<FilePage> {
  const chunks = downloadChunks(url, {
    startAt: o.from.offset,
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onBytes ? { onBytes: o.onBytes } : {}),
    ...(o.fetch ? { fetch: o.fetch } : {}),
    onResume: (at, error) => o.log.warn({ at, err: error instanceof Error ? error.message : String(error) }, 'bulk file download cut; resuming with a range request'),
  });
  const limits = { ...BULK_PAGE_LIMITS, ...(o.linesPerPage !== undefined ? { maxRecords: o.linesPerPage } : {}) };
  for await (const batch of jsonlBatches(chunks, { startOffset: o.from.offset, startLine: o.from.line, ...limits })) {
    const last = batch[batch.length - 1];
    if (!last) continue;
    yield { page: mapLines(resource, batch, o.mapCtx, o.log), offset: last.endOffset, line: last.line + 1, lines: batch.length };
  }
}

/** Lines of a bulk file → a page of records (and, for `parents-and-children`, the children on their own). */
export function mapLines(resource: ResourceDefinition, lines: JsonlRecord[], mapCtx: MapContext, log: Logger): MappedPage {
  const listing = resource.shopify.graphql;
  const shape = resource.shopify.bulk.lines;
  const roots: JsonlRecord[] = [];
  const children: JsonlRecord[] = [];
  for (const line of lines) (typeof line.value.__parentId === 'string' ? children : roots).push(line);
  if (shape === 'records-under-parents') {
    if (listing.kind !== 'per-location') throw new Error(`${resource.name}: records under parents need a per-location listing`);
    // The parents (locations) only name what their children belong to.
    const records = children.map((c) => listing.toRest(c.value, idFromGid(c.value.__parentId) as number));
    return mapPage(resource, records, mapCtx, log);
  }
  if (listing.kind !== 'connection') throw new Error(`${resource.name}: a bulk export of records needs a connection listing`);
  const records = roots.map((r) => withoutChildren(resource, listing.toRest(r.value, [])));
  const page = mapPage(resource, records, mapCtx, log);
  if (shape === 'records') return page;
  return { ...page, separateChildren: mapChildren(resource, children, mapCtx, log, page) };
}

/** The REST shape without the child list (it would be empty): the children arrive on lines of their own. */
function withoutChildren(resource: ResourceDefinition, rest: Json): Json {
  if (resource.child) delete rest[resource.child.apiField];
  return rest;
}

function mapChildren(resource: ResourceDefinition, lines: JsonlRecord[], mapCtx: MapContext, log: Logger, page: MappedPage): Row[] {
  const child = resource.child;
  if (!child) return [];
  const rows: Row[] = [];
  for (const line of lines) {
    try {
      const parentId = idFromGid(line.value.__parentId) as number;
      rows.push(child.map(child.fromGraphql(line.value, parentId), parentId, mapCtx));
    } catch (error) {
      page.skipped++;
      log.warn({ err: (error as Error).message, line: line.line }, 'bulk file child skipped: it could not be mapped');
    }
  }
  return rows;
}
