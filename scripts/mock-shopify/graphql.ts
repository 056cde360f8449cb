import {
  execute,
  getNamedType,
  GraphQLError,
  isLeafType,
  isObjectType,
  isInterfaceType,
  Kind,
  parse,
  validate,
  type DocumentNode,
  type FieldNode,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { ShopifyCustomer, ShopifyLineItem, ShopifyLocation, ShopifyOrder, ShopifyProduct, ShopifyVariant, ShopifyWebhook } from '../../src/shopify/types.js';
import { loadAdminSchema } from './admin-schema.js';
import type { Collection, Entry } from './collection.js';
import type { MockShop } from './shop.js';
import { COMPLIANCE_TOPICS, SUBSCRIBABLE_TOPICS, topicEnum, topicOfEnum } from './topics.js';

/**
 * The GraphQL Admin API of a mock shop, served from Shopify's own schema (buildClientSchema over the
 * introspection in @shopify/dev-mcp) over the same catalog as the REST endpoints, so a query Shopify
 * would reject fails here too. Cost as Shopify computes it (objects 1, scalars and enums 0, a
 * connection 2 + first × one node; pageInfo free), charged up front with the difference to the actual
 * cost refunded, a points bucket per shop with THROTTLED answers (HTTP 200), and `extensions.cost` on
 * every answer. Lists: `first`/`after`, `query:` with `updated_at:>=` / `<=`, `sortKey: UPDATED_AT | ID`.
 */
export interface MockGraphqlRateLimit {
  enabled: boolean;
  /** Points the bucket holds (Shopify Standard: 2,000). */
  maximumAvailable: number;
  /** Points restored per second at scale 1 (Standard 100, Advanced 200, Plus 1,000, Enterprise 2,000). */
  restoreRate: number;
  /** Multiplies the restore rate, so tests and benchmarks run Shopify's shape faster. */
  scale: number;
}

export interface MockGraphqlStats {
  queries: number;
  throttled: number;
  pointsRequested: number;
  pointsSpent: number;
}

export const MAX_QUERY_COST = 1000;
const MAX_FIRST = 250;
const DEFAULT_RATE_LIMIT: MockGraphqlRateLimit = { enabled: true, maximumAvailable: 2000, restoreRate: 100, scale: 1 };

interface ShopGraphql {
  rateLimit: MockGraphqlRateLimit;
  available: number;
  ts: number;
  stats: MockGraphqlStats;
}

const states = new WeakMap<MockShop, ShopGraphql>();

/** The GraphQL bucket and counters of a shop (created on first use, full). */
export function graphqlState(shop: MockShop): ShopGraphql {
  let s = states.get(shop);
  if (!s) {
    s = { rateLimit: { ...DEFAULT_RATE_LIMIT }, available: DEFAULT_RATE_LIMIT.maximumAvailable, ts: performance.now(), stats: emptyStats() };
    states.set(shop, s);
  }
  return s;
}

/** Changes a shop's points bucket (refilled to the new maximum). */
export function setGraphqlRateLimit(shop: MockShop, patch: Partial<MockGraphqlRateLimit>): void {
  const s = graphqlState(shop);
  s.rateLimit = { ...s.rateLimit, ...patch };
  s.available = s.rateLimit.maximumAvailable;
  s.ts = performance.now();
}

export function resetGraphqlStats(shop: MockShop): void {
  graphqlState(shop).stats = emptyStats();
}

function emptyStats(): MockGraphqlStats {
  return { queries: 0, throttled: 0, pointsRequested: 0, pointsSpent: 0 };
}

function restore(s: ShopGraphql): void {
  const now = performance.now();
  const rate = (s.rateLimit.restoreRate * s.rateLimit.scale) / 1000;
  s.available = Math.min(s.rateLimit.maximumAvailable, s.available + (now - s.ts) * rate);
  s.ts = now;
}

function throttleStatus(s: ShopGraphql) {
  return { maximumAvailable: s.rateLimit.maximumAvailable, currentlyAvailable: Math.floor(s.available), restoreRate: s.rateLimit.restoreRate * s.rateLimit.scale };
}

export interface GraphqlReply {
  status: number;
  body: string;
}

const reply = (value: unknown, status = 200): GraphqlReply => ({ status, body: JSON.stringify(value) });

/** Answers one `POST /admin/api/{version}/graphql.json` (the token is already checked). */
export function graphqlReply(shop: MockShop, version: string, token: string, bodyText: string): GraphqlReply {
  let schema: GraphQLSchema;
  try {
    schema = loadAdminSchema(version);
  } catch {
    return reply({ errors: 'Not Found' }, 404);
  }
  let request: { query?: unknown; variables?: unknown; operationName?: unknown };
  try {
    request = JSON.parse(bodyText) as typeof request;
  } catch {
    return reply({ errors: 'Body must be JSON' }, 400);
  }
  if (typeof request.query !== 'string') return reply({ errors: { query: 'Required parameter missing or invalid' } }, 400);
  const variables = request.variables && typeof request.variables === 'object' ? (request.variables as Record<string, unknown>) : {};
  const operationName = typeof request.operationName === 'string' ? request.operationName : undefined;
  let document: DocumentNode;
  try {
    document = parse(request.query);
  } catch (error) {
    return reply({ errors: [(error as GraphQLError).toJSON()] });
  }
  const invalid = validate(schema, document);
  if (invalid.length) return reply({ errors: invalid.map((e) => e.toJSON()) });
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName));
  if (!operation) return reply({ errors: [{ message: `No operation named "${operationName}"` }] });
  const rootType = operation.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
  if (!rootType || operation.operation === 'subscription') return reply({ errors: [{ message: 'Subscriptions are not supported' }] });

  const s = graphqlState(shop);
  s.stats.queries++;
  const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d.selectionSet] as const] : [])));
  const walker = new CostWalker(variables, fragments);
  let requested: number;
  try {
    requested = walker.selectionCost(operation.selectionSet, rootType, undefined) + (operation.operation === 'mutation' ? 10 : 0);
  } catch (error) {
    return reply({ errors: [{ message: (error as Error).message, extensions: { code: 'BAD_USER_INPUT' } }] });
  }
  restore(s);
  if (requested > MAX_QUERY_COST) {
    return reply({
      errors: [
        {
          message: `Query cost is ${requested}, which exceeds the single query max cost limit (${MAX_QUERY_COST}).`,
          extensions: { code: 'MAX_COST_EXCEEDED', cost: requested, maxCost: MAX_QUERY_COST },
        },
      ],
      extensions: { cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: throttleStatus(s) } },
    });
  }
  if (s.rateLimit.enabled && requested > s.available) {
    s.stats.throttled++;
    return reply({
      errors: [{ message: 'Throttled', extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' } }],
      extensions: { cost: { requestedQueryCost: requested, actualQueryCost: null, throttleStatus: throttleStatus(s) } },
    });
  }
  if (s.rateLimit.enabled) s.available -= requested;
  const result = execute({ schema, document, variableValues: variables, operationName, rootValue: { ...rootValue(shop, token), ...shop.bulk.graphqlFields(version, token) } });
  if (result instanceof Promise) throw new Error('mock GraphQL resolvers are synchronous');
  const actual = walker.selectionCost(operation.selectionSet, rootType, (result.data ?? null) as Record<string, unknown> | null);
  if (s.rateLimit.enabled) s.available = Math.min(s.rateLimit.maximumAvailable, s.available + requested - actual);
  s.stats.pointsRequested += requested;
  s.stats.pointsSpent += actual;
  return reply({
    ...(result.errors?.length ? { errors: result.errors.map((e) => e.toJSON()) } : {}),
    data: result.data ?? null,
    extensions: { cost: { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: throttleStatus(s) } },
  });
}

// ---------- cost ----------

/** The requested cost Shopify's rules give a query with these variables (the documents' own estimates are checked against it). */
export function requestedCost(schema: GraphQLSchema, query: string, variables: Record<string, unknown> = {}): number {
  const document = parse(query);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const root = operation?.operation === 'mutation' ? schema.getMutationType() : schema.getQueryType();
  if (!operation || !root) throw new Error('no query operation');
  const fragments = new Map(document.definitions.flatMap((d) => (d.kind === Kind.FRAGMENT_DEFINITION ? [[d.name.value, d.selectionSet] as const] : [])));
  return new CostWalker(variables, fragments).selectionCost(operation.selectionSet, root, undefined);
}

/**
 * Requested cost (value `undefined`: every connection full to `first`) or actual cost (value: the
 * answer's data, counting the nodes returned) of a selection, by Shopify's rules.
 */
class CostWalker {
  constructor(
    private readonly variables: Record<string, unknown>,
    private readonly fragments: Map<string, SelectionSetNode>,
  ) {}

  private fields(selectionSet: SelectionSetNode | undefined): FieldNode[] {
    const out: FieldNode[] = [];
    for (const sel of selectionSet?.selections ?? []) {
      if (sel.kind === Kind.FIELD) out.push(sel);
      else if (sel.kind === Kind.INLINE_FRAGMENT) out.push(...this.fields(sel.selectionSet));
      else out.push(...this.fields(this.fragments.get(sel.name.value)));
    }
    return out;
  }

  private argument(field: FieldNode, name: string): unknown {
    const arg = field.arguments?.find((a) => a.name.value === name);
    if (!arg) return undefined;
    if (arg.value.kind === Kind.VARIABLE) return this.variables[arg.value.name.value];
    if (arg.value.kind === Kind.INT) return Number(arg.value.value);
    return undefined;
  }

  selectionCost(selectionSet: SelectionSetNode | undefined, parent: GraphQLNamedType, value: Record<string, unknown> | null | undefined): number {
    if (!isObjectType(parent) && !isInterfaceType(parent)) return 0;
    const defs = parent.getFields();
    let cost = 0;
    for (const field of this.fields(selectionSet)) {
      const def = defs[field.name.value];
      if (!def) continue; // __typename
      const type = getNamedType(def.type) as GraphQLNamedType;
      if (isLeafType(type)) continue;
      const key = field.alias?.value ?? field.name.value;
      const child = value === undefined ? undefined : ((value?.[key] ?? null) as Record<string, unknown> | Record<string, unknown>[] | null);
      if (isObjectType(type) && type.name.endsWith('Connection') && type.getFields().nodes) {
        cost += this.connectionCost(field, type, child as Record<string, unknown> | null | undefined);
      } else if (value === undefined) {
        cost += 1 + this.selectionCost(field.selectionSet, type, undefined);
      } else if (child !== null && child !== undefined) {
        const one = Array.isArray(child) ? child[0] : child;
        cost += 1 + (one ? this.selectionCost(field.selectionSet, type, one) : 0);
      }
    }
    return cost;
  }

  private connectionCost(field: FieldNode, type: GraphQLNamedType & { getFields: () => Record<string, { type: unknown }> }, value: Record<string, unknown> | null | undefined): number {
    const first = this.argument(field, 'first') ?? this.argument(field, 'last');
    if (typeof first !== 'number') throw new Error(`you must provide one of first or last on ${field.name.value}`);
    if (first > MAX_FIRST || first < 0) throw new Error(`The ${field.name.value} connection's first/last must be between 0 and ${MAX_FIRST} (got ${first})`);
    const nodeType = getNamedType((type.getFields().nodes as { type: Parameters<typeof getNamedType>[0] }).type) as GraphQLNamedType;
    // The node's selections: from `nodes { … }` and `edges { node { … } }`.
    const inner = this.fields(field.selectionSet);
    const nodeSelections: SelectionSetNode = {
      kind: Kind.SELECTION_SET,
      selections: [
        ...inner.filter((f) => f.name.value === 'nodes').flatMap((f) => f.selectionSet?.selections ?? []),
        ...inner
          .filter((f) => f.name.value === 'edges')
          .flatMap((f) =>
            this.fields(f.selectionSet)
              .filter((e) => e.name.value === 'node')
              .flatMap((e) => e.selectionSet?.selections ?? []),
          ),
      ],
    };
    if (value === undefined) return 2 + first * (1 + this.selectionCost(nodeSelections, nodeType, undefined));
    if (value === null) return 0;
    const nodes = (value.nodes as Record<string, unknown>[] | undefined) ?? ((value.edges as { node: Record<string, unknown> }[] | undefined) ?? []).map((e) => e.node);
    // Nodes and edges of one connection are the same records: count them once, with both selections.
    return 2 + nodes.reduce((sum, node, i) => sum + 1 + this.selectionCost(nodeSelections, nodeType, mergeNode(value, i, node)), 0);
  }
}

function mergeNode(connection: Record<string, unknown>, i: number, node: Record<string, unknown>): Record<string, unknown> {
  const edge = (connection.edges as { node?: Record<string, unknown> }[] | undefined)?.[i]?.node;
  return edge && edge !== node ? { ...edge, ...node } : node;
}

// ---------- data ----------

type Json = Record<string, unknown>;
type Args = Record<string, unknown>;

const gid = (type: string, id: number | string) => `gid://shopify/${type}/${id}`;
const numericId = (value: unknown): number => Number(/\/(\d+)(\?|$)/.exec(String(value))?.[1] ?? NaN);
/** GraphQL DateTime: UTC, whole seconds (`2024-03-01T12:00:00Z`). */
const utc = (s: string | null | undefined): string | null => (s ? new Date(s).toISOString().replace(/\.\d{3}Z$/, 'Z') : null);
/** GraphQL Decimal: trailing zeros dropped, one decimal kept (`"20.00"` → `"20.0"`, `"19.90"` → `"19.9"`). */
function decimal(amount: string | null | undefined): string | null {
  if (amount === null || amount === undefined) return null;
  const [whole, fraction = ''] = String(amount).split('.');
  return `${whole}.${fraction.replace(/0+$/, '') || '0'}`;
}
const bag = (amount: string | null | undefined, currencyCode: string) => {
  const money = { amount: decimal(amount) ?? '0.0', currencyCode };
  return { shopMoney: money, presentmentMoney: money };
};
const tagList = (tags: unknown): string[] => (typeof tags === 'string' && tags.trim() ? tags.split(',').map((t) => t.trim()) : []);

function denied(field: string, scope: string): GraphQLError {
  return new GraphQLError(`Access denied for ${field} field. Required access: \`${scope}\` access scope.`, {
    extensions: { code: 'ACCESS_DENIED', documentation: 'https://shopify.dev/api/usage/access-scopes', requiredAccess: `\`${scope}\` access scope.` },
  });
}

/** `updated_at:>='…'` / `<=` / `>` / `<` terms of Shopify's search syntax; other terms are ignored. */
function updatedRange(query: unknown): (ms: number) => boolean {
  const checks: ((ms: number) => boolean)[] = [];
  for (const m of String(query ?? '').matchAll(/updated_at:(>=|<=|>|<)?\s*['"]?([^'"\s)]+)['"]?/g)) {
    const at = Date.parse(m[2] as string);
    if (!Number.isFinite(at)) throw new GraphQLError(`Invalid date in query: ${m[2]}`);
    const op = m[1] ?? '=';
    checks.push(op === '>=' ? (ms) => ms >= at : op === '<=' ? (ms) => ms <= at : op === '>' ? (ms) => ms > at : op === '<' ? (ms) => ms < at : (ms) => ms === at);
  }
  return (ms) => checks.every((c) => c(ms));
}

type Key = number[];
const compareKeys = (a: Key, b: Key) => {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
};
const encodeCursor = (key: Key) => Buffer.from(JSON.stringify(key)).toString('base64url');
function decodeCursor(value: unknown): Key {
  try {
    const key = JSON.parse(Buffer.from(String(value), 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(key) && key.every((n) => typeof n === 'number')) return key;
  } catch {
    // fall through
  }
  throw new GraphQLError(`Invalid cursor for ${String(value)}`, { extensions: { code: 'BAD_USER_INPUT' } });
}

/**
 * A Relay connection over items already in cursor order. `ascending`: the keys grow along the list, so
 * the cursor's position is found by binary search (a walk of a 50,000-record list would otherwise scan
 * every record before the page, for every page).
 */
function connection<T>(items: T[], args: Args, keyOf: (item: T) => Key, toNode: (item: T) => Json, ascending = false): Json {
  if (args.last !== undefined || args.before !== undefined) throw new GraphQLError('The mock serves first/after pagination only');
  const after = args.after === undefined || args.after === null ? undefined : decodeCursor(args.after);
  let start = 0;
  if (after && ascending) {
    let hi = items.length;
    while (start < hi) {
      const mid = (start + hi) >>> 1;
      if (compareKeys(keyOf(items[mid] as T), after) <= 0) start = mid + 1;
      else hi = mid;
    }
  } else if (after) while (start < items.length && compareKeys(keyOf(items[start] as T), after) <= 0) start++;
  const first = Number(args.first);
  const page = items.slice(start, start + first);
  const edges = page.map((item) => ({ cursor: encodeCursor(keyOf(item)), node: toNode(item) }));
  return {
    nodes: edges.map((e) => e.node),
    edges,
    pageInfo: {
      hasNextPage: start + first < items.length,
      hasPreviousPage: start > 0,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
  };
}

/**
 * Every entry of a collection (deleted ones too) in UPDATED_AT order, kept between pages: sorting
 * 50,000 entries for each page of a walk made the mock, not the client, the slowest part of a sync.
 */
const byUpdatedAt = new WeakMap<object, unknown[]>();
const updatedOrder = (a: { updatedMs: number; id: number }, b: { updatedMs: number; id: number }) => a.updatedMs - b.updatedMs || a.id - b.id;

/** Live entries of a collection matching `query` (and created since `createdSince`), in `sortKey` order (UPDATED_AT: updated, then id). */
function sortedEntries<T extends { id: number }>(collection: Collection<T>, args: Args, createdSince?: number): Entry<T>[] {
  const inRange = updatedRange(args.query);
  const keep = (e: Entry<T>) => !e.deleted && inRange(e.updatedMs) && (createdSince === undefined || e.createdMs >= createdSince);
  if (args.sortKey !== 'UPDATED_AT') {
    const list = collection.entries.filter(keep);
    return args.reverse ? list.reverse() : list;
  }
  // The kept order holds every entry (entries are only ever appended) and is checked in the same pass
  // that filters it: an entry added, or updated out of order since, sorts it again.
  let order = byUpdatedAt.get(collection) as Entry<T>[] | undefined;
  for (let attempt = 0; ; attempt++) {
    if (!order || order.length !== collection.entries.length || attempt > 0) {
      order = [...collection.entries].sort(updatedOrder);
      byUpdatedAt.set(collection, order);
    }
    const list: Entry<T>[] = [];
    let sorted = true;
    for (let i = 0; i < order.length; i++) {
      const e = order[i] as Entry<T>;
      if (i > 0 && updatedOrder(order[i - 1] as Entry<T>, e) >= 0) {
        sorted = false;
        break;
      }
      if (keep(e)) list.push(e);
    }
    if (sorted) return args.reverse ? list.reverse() : list;
  }
}
const entryKey =
  (args: Args) =>
  (e: { id: number; updatedMs: number }): Key =>
    args.sortKey === 'UPDATED_AT' ? [e.updatedMs, e.id] : [e.id];
/** Whether a list of `sortedEntries` has its cursor keys ascending (anything but `reverse`). */
const ascendingList = (args: Args) => !args.reverse;

export function rootValue(shop: MockShop, token: string): Json {
  const scopes = shop.scopesOf(token);
  const c = shop.catalog;
  const need = (field: string, scope: string) => {
    if (!scopes.includes(scope) && !scopes.includes(scope.replace(/^read_/, 'write_'))) throw denied(field, scope);
  };
  const currency = () => shop.shopRecord().currency;

  const variantNode = (v: ShopifyVariant): Json => ({
    id: gid('ProductVariant', v.id),
    legacyResourceId: String(v.id),
    title: v.title,
    sku: v.sku,
    price: v.price,
    compareAtPrice: v.compare_at_price,
    position: v.position,
    inventoryQuantity: v.inventory_quantity,
    createdAt: utc(v.created_at),
    updatedAt: utc(v.updated_at),
    inventoryItem: {
      id: gid('InventoryItem', v.inventory_item_id),
      legacyResourceId: String(v.inventory_item_id),
      sku: v.sku,
      tracked: true,
      inventoryLevels: (args: Args) => itemLevels(v.inventory_item_id, args),
    },
  });
  const productNode = (p: ShopifyProduct): Json => ({
    id: gid('Product', p.id),
    legacyResourceId: String(p.id),
    title: p.title,
    handle: p.handle,
    vendor: p.vendor,
    productType: p.product_type,
    status: String(p.status).toUpperCase(),
    tags: tagList(p.tags),
    descriptionHtml: p.body_html ?? '',
    createdAt: utc(p.created_at),
    updatedAt: utc(p.updated_at),
    publishedAt: utc(p.published_at),
    totalVariants: p.variants.length,
    variantsCount: { count: p.variants.length, precision: 'EXACT' },
    hasOnlyDefaultVariant: p.variants.length === 1,
    variants: (args: Args) => connection(p.variants, args, (v) => [v.position ?? 0, v.id], variantNode),
  });
  const lineItemNode = (li: ShopifyLineItem, code: string): Json => ({
    id: gid('LineItem', li.id),
    title: li.title,
    name: (li.name as string | undefined) ?? li.title,
    sku: li.sku,
    quantity: li.quantity,
    originalUnitPriceSet: bag(li.price, code),
    product: li.product_id ? { id: gid('Product', li.product_id) } : null,
    variant: li.variant_id ? { id: gid('ProductVariant', li.variant_id) } : null,
  });
  const FULFILLMENT: Record<string, string> = { fulfilled: 'FULFILLED', partial: 'PARTIALLY_FULFILLED', restocked: 'RESTOCKED' };
  const orderNode = (o: ShopifyOrder): Json => ({
    id: gid('Order', o.id),
    legacyResourceId: String(o.id),
    name: o.name,
    number: o.order_number,
    email: o.email,
    displayFinancialStatus: o.financial_status ? o.financial_status.toUpperCase() : null,
    displayFulfillmentStatus: (o.fulfillment_status && FULFILLMENT[o.fulfillment_status]) ?? 'UNFULFILLED',
    currencyCode: o.currency,
    processedAt: utc(o.processed_at),
    closedAt: utc(o.closed_at),
    cancelledAt: utc(o.cancelled_at),
    closed: o.closed_at !== null,
    createdAt: utc(o.created_at),
    updatedAt: utc(o.updated_at),
    customer: o.customer ? { id: gid('Customer', o.customer.id), firstName: o.customer.first_name, lastName: o.customer.last_name } : null,
    totalPriceSet: bag(o.total_price, o.currency),
    subtotalPriceSet: bag(o.subtotal_price, o.currency),
    totalTaxSet: bag(o.total_tax, o.currency),
    lineItems: (args: Args) =>
      connection(
        o.line_items,
        args,
        (li) => [li.id],
        (li) => lineItemNode(li, o.currency),
      ),
  });
  const customerNode = (cu: ShopifyCustomer): Json => ({
    id: gid('Customer', cu.id),
    legacyResourceId: String(cu.id),
    firstName: cu.first_name,
    lastName: cu.last_name,
    email: cu.email,
    phone: cu.phone,
    defaultEmailAddress: cu.email ? { emailAddress: cu.email } : null,
    defaultPhoneNumber: cu.phone ? { phoneNumber: cu.phone } : null,
    state: String(cu.state).toUpperCase(),
    numberOfOrders: String(cu.orders_count ?? 0),
    amountSpent: { amount: decimal(cu.total_spent) ?? '0.0', currencyCode: cu.currency ?? currency() },
    tags: tagList(cu.tags),
    createdAt: utc(cu.created_at),
    updatedAt: utc(cu.updated_at),
  });

  /** Levels of one location, in inventory-item order. */
  const locationLevels = (locationId: number, args: Args): Json => {
    need('inventoryLevels', 'read_inventory');
    const inRange = updatedRange(args.query);
    const rows: { position: number; node: () => Json }[] = [];
    for (let p = 0; p < c.inventoryItemCount; p++) {
      const item = c.itemAt(p);
      if (item.deleted || !c.isStocked(locationId, item.id)) continue;
      const level = c.level(locationId, item);
      if (!inRange(level.updatedMs)) continue;
      rows.push({ position: p, node: () => levelNode(locationId, item.id, level) });
    }
    return connection(
      rows,
      args,
      (r) => [r.position],
      (r) => r.node(),
    );
  };
  const itemLevels = (itemId: number, args: Args): Json => {
    need('inventoryLevels', 'read_inventory');
    const position = c.itemPosition(itemId);
    const item = position === undefined ? undefined : c.itemAt(position);
    const locs = item && !item.deleted ? c.locations.entries.filter((l) => !l.deleted && c.isStocked(l.id, itemId)) : [];
    return connection(
      locs,
      args,
      (l) => [l.id],
      (l) => levelNode(l.id, itemId, c.level(l.id, item as { id: number; createdMs: number })),
    );
  };
  const levelNode = (locationId: number, itemId: number, level: { available: number; updatedMs: number }): Json => ({
    id: gid('InventoryLevel', `${locationId}?inventory_item_id=${itemId}`),
    updatedAt: utc(c.time(level.updatedMs)),
    createdAt: utc(c.time(level.updatedMs)),
    quantities: (args: Args) =>
      (args.names as string[]).map((name) => ({
        id: gid('InventoryQuantity', `${locationId}?inventory_item_id=${itemId}&name=${name}`),
        name,
        quantity: name === 'available' ? level.available : 0,
        updatedAt: utc(c.time(level.updatedMs)),
      })),
    item: { id: gid('InventoryItem', itemId), legacyResourceId: String(itemId) },
    location: { id: gid('Location', locationId), legacyResourceId: String(locationId) },
  });
  const locationNode = (l: ShopifyLocation): Json => ({
    id: gid('Location', l.id),
    legacyResourceId: String(l.id),
    name: l.name,
    isActive: l.active,
    isFulfillmentService: Boolean(l.legacy),
    createdAt: utc(l.created_at as string),
    updatedAt: utc(l.updated_at as string),
    address: {
      address1: l.address1 ?? null,
      address2: l.address2 ?? null,
      city: l.city ?? null,
      province: l.province ?? null,
      provinceCode: l.province_code ?? null,
      country: l.country ?? null,
      countryCode: l.country_code ?? null,
      zip: l.zip ?? null,
      phone: l.phone ?? null,
    },
    inventoryLevels: (args: Args) => locationLevels(l.id, args),
  });

  return {
    shop: () => ({ id: gid('Shop', shop.id), name: shop.shopRecord().name, currencyCode: currency(), myshopifyDomain: shop.domain }),
    products: (args: Args) => {
      need('products', 'read_products');
      return connection(sortedEntries(c.products, args), args, entryKey(args), (e) => productNode(c.products.record(e)), ascendingList(args));
    },
    product: (args: Args) => {
      need('product', 'read_products');
      const e = c.products.get(numericId(args.id));
      return e ? productNode(c.products.record(e)) : null;
    },
    orders: (args: Args) => {
      need('orders', 'read_orders');
      // Every status (no `status=any` as in REST); without read_all_orders only the last 60 days.
      return connection(sortedEntries(c.orders, args, shop.ordersCreatedSince(token)), args, entryKey(args), (e) => orderNode(c.orders.record(e)), ascendingList(args));
    },
    order: (args: Args) => {
      need('order', 'read_orders');
      const e = c.orders.get(numericId(args.id));
      const since = shop.ordersCreatedSince(token);
      return e && !e.deleted && (since === undefined || e.createdMs >= since) ? orderNode(c.orders.record(e)) : null;
    },
    customers: (args: Args) => {
      need('customers', 'read_customers');
      return connection(sortedEntries(c.customers, args), args, entryKey(args), (e) => customerNode(c.customers.record(e)), ascendingList(args));
    },
    locations: (args: Args) => {
      need('locations', 'read_locations');
      const list = c.locations.entries.filter((e) => !e.deleted && (args.includeInactive || c.locations.record(e).active !== false));
      return connection(
        list,
        args,
        (e) => [e.id],
        (e) => locationNode(c.locations.record(e)),
      );
    },
    location: (args: Args) => {
      need('location', 'read_locations');
      const e = c.locations.get(numericId(args.id));
      return e ? locationNode(c.locations.record(e)) : null;
    },
    ...webhookSubscriptionFields(shop),
    inventoryItem: (args: Args) => {
      need('inventoryItem', 'read_inventory');
      const itemId = numericId(args.id);
      const position = c.itemPosition(itemId);
      if (position === undefined || c.itemAt(position).deleted) return null;
      return { id: gid('InventoryItem', itemId), legacyResourceId: String(itemId), tracked: true, inventoryLevels: (a: Args) => itemLevels(itemId, a) };
    },
  };
}

// ---------- webhook subscriptions ----------

/**
 * `webhookSubscriptions`, `webhookSubscriptionCreate` and `webhookSubscriptionDelete` over the same
 * subscriptions as REST's webhooks.json (one list per shop, whichever API made them), with Shopify's
 * userErrors for an invalid topic or address and for a topic already subscribed at that address.
 */
function webhookSubscriptionFields(shop: MockShop): Json {
  const node = (w: ShopifyWebhook): Json => ({
    id: gid('WebhookSubscription', w.id),
    legacyResourceId: String(w.id),
    topic: topicEnum(w.topic),
    uri: w.address,
    callbackUrl: w.address,
    format: String(w.format).toUpperCase(),
    includeFields: Array.isArray(w.fields) ? w.fields : [],
    filter: typeof w.filter === 'string' ? w.filter : null,
    metafieldNamespaces: [],
    metafields: [],
    name: null,
    apiVersion: { handle: w.api_version ?? null, displayName: w.api_version ?? null, supported: true },
    createdAt: utc(w.created_at),
    updatedAt: utc(w.updated_at),
  });
  const userError = (field: string[], message: string) => ({ field, message });
  return {
    webhookSubscriptions: (args: Args) => {
      const topics = Array.isArray(args.topics) ? new Set((args.topics as string[]).map(topicOfEnum)) : undefined;
      const uri = (args.uri ?? args.callbackUrl) as string | undefined;
      const list = shop.webhooks.filter((w) => (!topics || topics.has(w.topic)) && (!uri || w.address === uri)).sort((a, b) => a.id - b.id);
      return connection(list, args, (w) => [w.id], node);
    },
    webhookSubscriptionCreate: (args: Args) => {
      const topic = topicOfEnum(String(args.topic));
      const input = (args.webhookSubscription ?? {}) as Json;
      const uri = String(input.uri ?? input.callbackUrl ?? '');
      if (COMPLIANCE_TOPICS.has(topic) || !SUBSCRIBABLE_TOPICS.has(topic)) {
        return {
          webhookSubscription: null,
          userErrors: [userError(['topic'], COMPLIANCE_TOPICS.has(topic) ? 'Compliance topics are configured in the app settings, not through the API.' : 'Invalid topic specified.')],
        };
      }
      if (!/^https?:\/\/\S+$/.test(uri)) return { webhookSubscription: null, userErrors: [userError(['webhookSubscription', 'callbackUrl'], 'Address is invalid')] };
      if (shop.webhooks.some((w) => w.topic === topic && w.address === uri)) {
        return { webhookSubscription: null, userErrors: [userError(['webhookSubscription', 'callbackUrl'], 'Address for this topic has already been taken')] };
      }
      const format = input.format === 'XML' ? 'xml' : 'json';
      const created = shop.addSubscription(topic, uri, format, Array.isArray(input.includeFields) ? (input.includeFields as unknown[]).map(String) : []);
      if (typeof input.filter === 'string') created.filter = input.filter;
      return { webhookSubscription: node(created), userErrors: [] };
    },
    webhookSubscriptionDelete: (args: Args) => {
      const id = numericId(args.id);
      if (!shop.subscriptions.delete(id)) return { deletedWebhookSubscriptionId: null, userErrors: [userError(['id'], 'Webhook subscription does not exist')] };
      return { deletedWebhookSubscriptionId: args.id, userErrors: [] };
    },
  };
}
