import type { Entry } from './collection.js';

/**
 * Query handling of the mock's list endpoints, as Shopify does it: `limit` (default 50, max 250),
 * filters, and an opaque `page_info` cursor that carries the filters and the position, so only
 * `limit` and `fields` may accompany it.
 */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

export interface Cursor {
  /** Resource the cursor belongs to. */
  r: string;
  /** Filters of the first request. */
  f: Record<string, string>;
  /** 1 = next (after `k`), -1 = previous (before `k`). */
  d: 1 | -1;
  /** Position key: an id, or [locationIndex, itemPosition] for inventory levels. */
  k: number | [number, number];
  /** Expiry (ms since epoch), when the mock expires cursors. */
  e?: number;
}

export function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify(cursor)).toString('base64url');
}

export function decodeCursor(value: string, resource: string): Cursor {
  try {
    const c = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as Cursor;
    if (c && c.r === resource && (c.d === 1 || c.d === -1) && c.f && typeof c.f === 'object' && c.k !== undefined) return c;
  } catch {
    // fall through
  }
  throw new HttpError(400, { errors: { page_info: 'Invalid value.' } });
}

export interface ListRequest {
  limit: number;
  fields: string[] | undefined;
  filters: Record<string, string>;
  cursor: Cursor | undefined;
}

const PAGINATION_PARAMS = new Set(['limit', 'page_info', 'fields']);

export function parseListRequest(query: URLSearchParams, resource: string, now = Date.now()): ListRequest {
  const limitText = query.get('limit');
  let limit = 50;
  if (limitText !== null) {
    if (!/^\d+$/.test(limitText) || Number(limitText) < 1 || Number(limitText) > 250) {
      throw new HttpError(400, { errors: { limit: 'Invalid value, must be between 1 and 250.' } });
    }
    limit = Number(limitText);
  }
  const fieldsText = query.get('fields');
  const fields = fieldsText
    ? fieldsText
        .split(',')
        .map((f) => f.trim())
        .filter(Boolean)
    : undefined;
  const pageInfo = query.get('page_info');
  if (pageInfo !== null) {
    const extra = [...query.keys()].filter((k) => !PAGINATION_PARAMS.has(k));
    if (extra.length) {
      throw new HttpError(400, { errors: { page_info: `Only limit and fields may be sent with page_info (got ${extra.join(', ')}).` } });
    }
    const cursor = decodeCursor(pageInfo, resource);
    if (cursor.e !== undefined && cursor.e < now) throw new HttpError(400, { errors: { page_info: 'Expired.' } });
    return { limit, fields, filters: cursor.f, cursor };
  }
  const filters: Record<string, string> = {};
  for (const [k, v] of query) if (!PAGINATION_PARAMS.has(k)) filters[k] = v;
  return { limit, fields, filters, cursor: undefined };
}

export function dateParam(filters: Record<string, string>, name: string): number | undefined {
  const v = filters[name];
  if (v === undefined || v === '') return undefined;
  const ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw new HttpError(400, { errors: { [name]: 'Invalid date.' } });
  return ms;
}

export function idList(filters: Record<string, string>, name: string, max = 250): Set<number> | undefined {
  const v = filters[name];
  if (v === undefined || v === '') return undefined;
  const ids = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!ids.every((s) => /^\d+$/.test(s))) throw new HttpError(400, { errors: { [name]: 'Invalid value.' } });
  if (ids.length > max) throw new HttpError(422, { errors: { [name]: `Must contain at most ${max} ids.` } });
  return new Set(ids.map(Number));
}

/** Filters every id-ordered list understands: ids, since_id, created_at_min/max, updated_at_min/max. */
export function commonFilter<T>(filters: Record<string, string>): (e: Entry<T>) => boolean {
  const ids = idList(filters, 'ids');
  const sinceId = filters.since_id !== undefined ? Number(filters.since_id) : undefined;
  if (sinceId !== undefined && !Number.isFinite(sinceId)) throw new HttpError(400, { errors: { since_id: 'Invalid value.' } });
  const cMin = dateParam(filters, 'created_at_min');
  const cMax = dateParam(filters, 'created_at_max');
  const uMin = dateParam(filters, 'updated_at_min');
  const uMax = dateParam(filters, 'updated_at_max');
  return (e) =>
    (ids === undefined || ids.has(e.id)) &&
    (sinceId === undefined || e.id > sinceId) &&
    (cMin === undefined || e.createdMs >= cMin) &&
    (cMax === undefined || e.createdMs <= cMax) &&
    (uMin === undefined || e.updatedMs >= uMin) &&
    (uMax === undefined || e.updatedMs <= uMax);
}

export function fieldValues(filters: Record<string, string>, name: string): Set<string> | undefined {
  const v = filters[name];
  if (v === undefined || v === '' || v === 'any') return undefined;
  return new Set(v.split(',').map((s) => s.trim()));
}

/** `{k}` → `{"k":v}` projection for `fields=`. */
export function project(record: object, fields: string[]): string {
  const r = record as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const f of fields) if (f in r) out[f] = r[f];
  return JSON.stringify(out);
}

/** `Link` header value for the given next/previous cursors. */
export function linkHeader(baseUrl: string, limit: number, fields: string[] | undefined, prev?: Cursor, next?: Cursor): string | undefined {
  const parts: string[] = [];
  const url = (c: Cursor) => `${baseUrl}?limit=${limit}${fields ? `&fields=${encodeURIComponent(fields.join(','))}` : ''}&page_info=${encodeCursor(c)}`;
  if (prev) parts.push(`<${url(prev)}>; rel="previous"`);
  if (next) parts.push(`<${url(next)}>; rel="next"`);
  return parts.length ? parts.join(', ') : undefined;
}
