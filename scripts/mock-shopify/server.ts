import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { ShopifyOrder, ShopifyProduct } from '../../src/shopify/types.js';
import type { Collection, Entry } from './collection.js';
import { scan } from './collection.js';
import { isOrderCancelled, isOrderClosed } from './catalog.js';
import { BULK_RESULTS_PREFIX, serveBulkResult } from './bulk-http.js';
import { graphqlReply } from './graphql.js';
import { COMPLIANCE_TOPICS, SUBSCRIBABLE_TOPICS } from './topics.js';
import { commonFilter, dateParam, fieldValues, HttpError, idList, linkHeader, parseListRequest, project, type Cursor, type ListRequest } from './listing.js';
import type { MockOAuth } from './oauth.js';
import type { MockAppContext, MockShop } from './shop.js';

export interface MockServerState {
  app: MockAppContext;
  shops: Map<string, MockShop>;
  oauth: MockOAuth;
  /** When set, `page_info` cursors expire after this many ms (400 afterwards). */
  pageInfoTtlMs: number | undefined;
}

export { SUBSCRIBABLE_TOPICS };

interface Reply {
  status: number;
  body: string | Buffer;
  headers?: Record<string, string>;
}

const COMMA = Buffer.from(',');
const CLOSE_OBJECT = Buffer.from('}');
const CLOSE_ARRAY = Buffer.from(']}');

/** `{"root":[a,b,…]}` from pre-serialized records: one copy, no re-encoding. */
function jsonArrayBody(root: string, parts: Buffer[]): Buffer {
  const chunks: Buffer[] = [Buffer.from(`{"${root}":[`)];
  parts.forEach((p, i) => {
    if (i > 0) chunks.push(COMMA);
    chunks.push(p);
  });
  chunks.push(CLOSE_ARRAY);
  return Buffer.concat(chunks);
}

const json = (status: number, value: unknown, headers?: Record<string, string>): Reply => ({ status, body: JSON.stringify(value), ...(headers ? { headers } : {}) });
const notFound = (): Reply => json(404, { errors: 'Not Found' });

export function createMockServer(state: MockServerState): Server {
  const server = createServer((req, res) => {
    handle(state, req, res).catch((error: unknown) => {
      if (error instanceof HttpError) return send(res, { status: error.status, body: JSON.stringify(error.body), headers: error.headers });
      if (!res.headersSent) send(res, json(500, { errors: `mock Shopify failed: ${(error as Error)?.message}` }));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  return server;
}

function send(res: ServerResponse, reply: Reply, base: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const length = typeof reply.body === 'string' ? Buffer.byteLength(reply.body) : reply.body.length;
  res.writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', 'content-length': length, ...base, ...reply.headers });
  res.end(reply.body);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > 1_048_576) throw new HttpError(413, { errors: 'Request body too large' });
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function parseBody(req: IncomingMessage, text: string): Record<string, unknown> {
  const type = req.headers['content-type'] ?? '';
  if (type.includes('application/x-www-form-urlencoded')) return Object.fromEntries(new URLSearchParams(text));
  if (!text) return {};
  try {
    const value = JSON.parse(text) as unknown;
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new HttpError(400, { errors: 'Body must be a JSON object' });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function handle(state: MockServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://mock.invalid');
  if (url.pathname.startsWith(BULK_RESULTS_PREFIX)) return serveBulkResult(state.shops.values(), req, res, url);
  const m = /^\/([^/]+)(\/admin\/.*)$/.exec(url.pathname);
  const shop = m ? state.shops.get(decodeURIComponent(m[1] as string)) : undefined;
  if (!m || !shop) return send(res, notFound());
  const rest = m[2] as string;
  const method = req.method ?? 'GET';
  shop.stats.requests++;

  if (rest === '/admin/oauth/authorize' && method === 'GET') {
    const location = state.oauth.authorize(shop, url.searchParams);
    res.writeHead(302, { location, 'content-length': 0 });
    res.end();
    return;
  }
  if (rest === '/admin/oauth/access_token' && method === 'POST') {
    const body = parseBody(req, await readBody(req));
    const fields = Object.fromEntries(Object.entries(body).map(([k, v]) => [k, typeof v === 'string' ? v : String(v ?? '')]));
    return send(res, json(200, state.oauth.accessToken(shop, fields)));
  }

  if (rest === '/admin/oauth/access_scopes.json' && method === 'GET') {
    const token = req.headers['x-shopify-access-token'];
    if (typeof token !== 'string' || !shop.acceptsToken(token)) {
      shop.stats.unauthorized++;
      return send(res, json(401, { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' }));
    }
    state.oauth.tokens.noteTokenUsed(shop, token);
    return send(res, json(200, { access_scopes: shop.scopesOf(token).map((handle) => ({ handle })) }));
  }

  const api = /^\/admin\/api\/([^/]+)\/(.+)\.json$/.exec(rest);
  if (!api) return send(res, notFound());
  const version = api[1] as string;
  const path = api[2] as string;
  const endpoint = `${method} ${path.replace(/\/\d+/g, '/:id')}`;
  shop.stats.byEndpoint[endpoint] = (shop.stats.byEndpoint[endpoint] ?? 0) + 1;
  const base: Record<string, string> = { 'x-request-id': randomUUID(), 'x-shopify-api-version': version };

  const token = req.headers['x-shopify-access-token'];
  if (typeof token !== 'string' || !shop.acceptsToken(token)) {
    shop.stats.unauthorized++;
    return send(res, json(401, { errors: '[API] Invalid API key or access token (unrecognized login or wrong password)' }), base);
  }
  state.oauth.tokens.noteTokenUsed(shop, token);

  const f = shop.faults;
  if (f.dropNext > 0 || (f.dropRate > 0 && Math.random() < f.dropRate)) {
    if (f.dropNext > 0) f.dropNext--;
    shop.stats.dropped++;
    req.socket.destroy();
    return;
  }

  // GraphQL has its own points bucket (graphql.ts), not the REST request bucket; every fault applies to both.
  const graphql = path === 'graphql' && method === 'POST';
  if (!graphql) {
    const slot = shop.takeFromBucket();
    if (!slot.allowed) {
      shop.stats.throttled++;
      return send(res, throttledReply(shop, slot.retryAfter), base);
    }
  }
  if (f.throttleNext > 0) {
    f.throttleNext--;
    shop.stats.throttled++;
    return send(res, throttledReply(shop, f.throttleRetryAfter), base);
  }
  if (!graphql) base['x-shopify-shop-api-call-limit'] = shop.callLimitHeader();
  if (f.failNext > 0 || (f.errorRate > 0 && Math.random() < f.errorRate)) {
    if (f.failNext > 0) f.failNext--;
    shop.stats.serverErrors++;
    return send(res, json(f.errorStatus, { errors: 'Internal Server Error' }), base);
  }
  if (f.latencyMs > 0) await sleep(f.latencyMs);
  if (graphql) return send(res, graphqlReply(shop, version, token, await readBody(req)), base);

  const ctx: RouteContext = { state, shop, token, req, url, method, path, baseUrl: `http://${req.headers.host ?? 'localhost'}/${shop.domain}/admin/api/${version}/${path}.json` };
  send(res, await route(ctx), base);
}

function throttledReply(shop: MockShop, retryAfter: string): Reply {
  const size = shop.rateLimit.bucketSize;
  return json(
    429,
    { errors: 'Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.' },
    {
      'retry-after': retryAfter,
      'x-shopify-shop-api-call-limit': `${size}/${size}`,
    },
  );
}

interface RouteContext {
  state: MockServerState;
  shop: MockShop;
  token: string;
  req: IncomingMessage;
  url: URL;
  method: string;
  path: string;
  baseUrl: string;
}

async function route(ctx: RouteContext): Promise<Reply> {
  const { shop, method, path } = ctx;
  const c = shop.catalog;
  if (path === 'shop') return method === 'GET' ? json(200, { shop: shop.shopRecord() }) : notFound();
  if (path === 'inventory_levels' && method === 'GET') return listInventory(ctx);
  if (path === 'webhooks' || path.startsWith('webhooks/')) return webhooks(ctx);

  const [resource, sub, extra] = path.split('/') as [string, string | undefined, string | undefined];
  if (method !== 'GET' || extra !== undefined) return notFound();
  if (resource === 'products') return collectionRoute(ctx, c.products, 'product', sub, (f) => productFilter(f, c.products));
  if (resource === 'orders') return collectionRoute(ctx, c.orders, 'order', sub, (f) => orderFilter(f, c.orders, shop.ordersCreatedSince(ctx.token)));
  if (resource === 'customers') return collectionRoute(ctx, c.customers, 'customer', sub, commonFilter);
  if (resource === 'locations') return sub === undefined ? listLocations(ctx) : collectionRoute(ctx, c.locations, 'location', sub, commonFilter);
  return notFound();
}

/** `GET {resource}`, `{resource}/count` and `{resource}/{id}` of an id-ordered collection. */
function collectionRoute<T extends { id: number }>(
  ctx: RouteContext,
  collection: Collection<T>,
  single: string,
  sub: string | undefined,
  filterFor: (f: Record<string, string>) => (e: Entry<T>) => boolean,
): Reply {
  if (sub === undefined) return listCollection(ctx, collection, ctx.path, filterFor);
  if (sub === 'count') return json(200, { count: collection.count(filterFor(Object.fromEntries(ctx.url.searchParams))) });
  if (!/^\d+$/.test(sub)) return notFound();
  const entry = collection.get(Number(sub));
  if (!entry) return notFound();
  const fields = ctx.url.searchParams.get('fields');
  const body = fields ? Buffer.from(project(restRecord(collection, entry), fields.split(','))) : restJson(collection, entry);
  return { status: 200, body: Buffer.concat([Buffer.from(`{"${single}":`), body, CLOSE_OBJECT]) };
}

function productFilter(filters: Record<string, string>, products: Collection<ShopifyProduct>): (e: Entry<ShopifyProduct>) => boolean {
  const common = commonFilter<ShopifyProduct>(filters);
  const vendor = fieldValues(filters, 'vendor');
  const type = fieldValues(filters, 'product_type');
  const handle = fieldValues(filters, 'handle');
  const status = fieldValues(filters, 'status');
  if (!vendor && !type && !handle && !status) return common;
  return (e) => {
    if (!common(e)) return false;
    const p = products.record(e);
    return (!vendor || vendor.has(p.vendor)) && (!type || type.has(p.product_type)) && (!handle || handle.has(p.handle)) && (!status || status.has(p.status));
  };
}

/** Orders: only open ones unless `status=any` (or closed / cancelled); without read_all_orders only those created since `createdSince`. */
function orderFilter(filters: Record<string, string>, orders: Collection<ShopifyOrder>, createdSince: number | undefined): (e: Entry<ShopifyOrder>) => boolean {
  const common = commonFilter<ShopifyOrder>(filters);
  const status = filters.status ?? 'open';
  if (!['open', 'closed', 'cancelled', 'any'].includes(status)) throw new HttpError(400, { errors: { status: 'Invalid value.' } });
  const financial = fieldValues(filters, 'financial_status');
  return (e) => {
    if (!common(e)) return false;
    if (createdSince !== undefined && e.createdMs < createdSince) return false;
    if (status === 'open' && (isOrderClosed(e) || isOrderCancelled(e))) return false;
    if (status === 'closed' && !isOrderClosed(e)) return false;
    if (status === 'cancelled' && !isOrderCancelled(e)) return false;
    return !financial || financial.has(String(orders.record(e).financial_status));
  };
}

function cursorFor(ctx: RouteContext, lr: ListRequest, resource: string, d: 1 | -1, k: Cursor['k']): Cursor {
  const ttl = ctx.state.pageInfoTtlMs;
  return { r: resource, f: lr.filters, d, k, ...(ttl ? { e: Date.now() + ttl } : {}) };
}

function pageLinks(ctx: RouteContext, lr: ListRequest, resource: string, count: number, more: boolean, first: Cursor['k'] | undefined, last: Cursor['k'] | undefined): Record<string, string> {
  const dir = lr.cursor?.d;
  const hasNext = dir === -1 ? count > 0 : more;
  const hasPrev = dir === undefined ? false : dir === 1 ? count > 0 : more;
  const next = hasNext && last !== undefined ? cursorFor(ctx, lr, resource, 1, last) : undefined;
  const prev = hasPrev && first !== undefined ? cursorFor(ctx, lr, resource, -1, first) : undefined;
  const link = linkHeader(ctx.baseUrl, lr.limit, lr.fields, prev, next);
  return link ? { link } : {};
}

function listCollection<T extends { id: number }>(ctx: RouteContext, collection: Collection<T>, root: string, filterFor: (f: Record<string, string>) => (e: Entry<T>) => boolean): Reply {
  const lr = parseListRequest(ctx.url.searchParams, ctx.path);
  const filter = filterFor(lr.filters);
  const cursor = lr.cursor ? { dir: lr.cursor.d, id: Number(lr.cursor.k) } : undefined;
  const page = collection.page(filter, lr.limit, cursor);
  const parts = page.items.map((e) => (lr.fields ? Buffer.from(project(restRecord(collection, e), lr.fields)) : restJson(collection, e)));
  const headers = pageLinks(ctx, lr, ctx.path, page.items.length, page.more, page.items[0]?.id, page.items[page.items.length - 1]?.id);
  return { status: 200, body: jsonArrayBody(root, parts), headers };
}

/** REST answers at most 100 variants of a product (Shopify: 2,048 since 2025-10; the rest only through GraphQL). */
export const REST_MAX_VARIANTS = 100;
const variantsBeyondRest = (record: unknown) => ((record as { variants?: unknown[] } | undefined)?.variants?.length ?? 0) > REST_MAX_VARIANTS;

/** The record as REST shows it: a product cut to its first 100 variants (only a changed record can have more). */
function restRecord<T extends { id: number }>(collection: Collection<T>, entry: Entry<T>): T {
  const record = collection.record(entry);
  return variantsBeyondRest(entry.pinned) ? { ...record, variants: (record as unknown as { variants: unknown[] }).variants.slice(0, REST_MAX_VARIANTS) } : record;
}

function restJson<T extends { id: number }>(collection: Collection<T>, entry: Entry<T>): Buffer {
  return variantsBeyondRest(entry.pinned) ? Buffer.from(JSON.stringify(restRecord(collection, entry))) : collection.json(entry);
}

/** `locations.json` answers every location at once, in id order: Shopify's endpoint takes no pagination or filter parameters. */
function listLocations(ctx: RouteContext): Reply {
  const c = ctx.shop.catalog.locations;
  const parts = c.entries.filter((e) => !e.deleted).map((e) => c.json(e));
  return { status: 200, body: jsonArrayBody('locations', parts) };
}

/** Inventory levels, ordered by (location, inventory item); needs location_ids or inventory_item_ids (≤ 50 each). */
function listInventory(ctx: RouteContext): Reply {
  const c = ctx.shop.catalog;
  const lr = parseListRequest(ctx.url.searchParams, 'inventory_levels');
  const locIds = idList(lr.filters, 'location_ids', 50);
  const itemIds = idList(lr.filters, 'inventory_item_ids', 50);
  if (!locIds && !itemIds) throw new HttpError(422, { errors: { base: ['Must specify at least one of location_ids or inventory_item_ids'] } });
  const updatedMin = dateParam(lr.filters, 'updated_at_min');
  const locs = c.locations.entries.filter((e) => !e.deleted && (!locIds || locIds.has(e.id)));
  const positions = itemIds
    ? [...itemIds]
        .map((id) => c.itemPosition(id))
        .filter((p): p is number => p !== undefined)
        .sort((a, b) => a - b)
    : undefined;
  const m = positions ? positions.length : c.inventoryItemCount;
  const total = locs.length * m;
  const at = (p: number) => {
    const li = Math.floor(p / m);
    const ip = p % m;
    const item = c.itemAt(positions ? (positions[ip] as number) : ip);
    if (item.deleted) return undefined;
    const locationId = (locs[li] as Entry<unknown>).id;
    if (!c.isStocked(locationId, item.id)) return undefined;
    const level = c.level(locationId, item);
    if (updatedMin !== undefined && level.updatedMs < updatedMin) return undefined;
    const text = c.levelJson(locationId, item.id, level);
    return { k: [li, ip] as [number, number], text: lr.fields ? project(JSON.parse(text) as object, lr.fields) : text };
  };
  let page;
  if (!lr.cursor) page = scan(total, 0, 1, lr.limit, at);
  else {
    const [li, ip] = lr.cursor.k as [number, number];
    const flat = li * m + ip;
    page = scan(total, flat + lr.cursor.d, lr.cursor.d, lr.limit, at);
    if (lr.cursor.d === -1) page.items.reverse();
  }
  const headers = pageLinks(ctx, lr, 'inventory_levels', page.items.length, page.more, page.items[0]?.k, page.items[page.items.length - 1]?.k);
  return { status: 200, body: `{"inventory_levels":[${page.items.map((i) => i.text).join(',')}]}`, headers };
}

async function webhooks(ctx: RouteContext): Promise<Reply> {
  const { shop, method, path } = ctx;
  if (path === 'webhooks' && method === 'GET') {
    const topic = ctx.url.searchParams.get('topic');
    const address = ctx.url.searchParams.get('address');
    return json(200, { webhooks: shop.webhooks.filter((w) => (!topic || w.topic === topic) && (!address || w.address === address)) });
  }
  if (path === 'webhooks/count' && method === 'GET') return json(200, { count: shop.subscriptions.size });
  if (path === 'webhooks' && method === 'POST') {
    const body = parseBody(ctx.req, await readBody(ctx.req));
    const w = (body.webhook ?? {}) as Record<string, unknown>;
    const topic = typeof w.topic === 'string' ? w.topic : '';
    const address = typeof w.address === 'string' ? w.address : '';
    if (!SUBSCRIBABLE_TOPICS.has(topic)) {
      const why = COMPLIANCE_TOPICS.has(topic) ? 'Compliance topics are configured in the app settings, not through the API.' : 'Invalid topic specified.';
      return json(422, { errors: { topic: [why] } });
    }
    if (!/^https?:\/\/\S+$/.test(address)) return json(422, { errors: { address: ['is invalid'] } });
    if (shop.webhooks.some((s) => s.topic === topic && s.address === address)) return json(422, { errors: { address: ['for this topic has already been taken'] } });
    const format = w.format === 'xml' ? 'xml' : 'json';
    const fields = Array.isArray(w.fields) ? w.fields.map(String) : [];
    return json(201, { webhook: shop.addSubscription(topic, address, format, fields) });
  }
  const m = /^webhooks\/(\d+)$/.exec(path);
  if (m) {
    const id = Number(m[1]);
    const existing = shop.subscriptions.get(id);
    if (!existing) return notFound();
    if (method === 'GET') return json(200, { webhook: existing });
    if (method === 'DELETE') {
      shop.subscriptions.delete(id);
      return json(200, {});
    }
  }
  return notFound();
}
