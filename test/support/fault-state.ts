/**
 * What "nothing lost, nothing duplicated, nothing stuck" means after a fault, as checks a test can run:
 * the copy of a mock shop equals its catalog record for record, the tables equal applying a webhook
 * scenario once in order, no sync run is left open, no job is orphaned, the stream holds nothing.
 */
import { isDeepStrictEqual } from 'node:util';
import { expect } from 'chai';
import { sql, type Kysely } from 'kysely';
import type { MockShop, MockWebhookEvent } from '../../scripts/mock-shopify/index.js';
import type { ServiceContext } from '../../src/context.js';
import { RESOURCES } from '../../src/resources/index.js';
import { syncQueue } from '../../src/sync/queue.js';
import { CONSUMER_GROUP, webhookKeys } from '../../src/webhooks/stream.js';
import { deletedAtMatches, expectedFinalState } from './webhook-scenario.js';

type AnyRow = Record<string, any>;
const untyped = (ctx: Pick<ServiceContext, 'db'>) => ctx.db as unknown as Kysely<any>;
const parse = (raw: unknown) => (typeof raw === 'string' ? JSON.parse(raw) : raw);

async function rowsOf(ctx: Pick<ServiceContext, 'db'>, table: string, tenantId: string): Promise<AnyRow[]> {
  return untyped(ctx).selectFrom(table).selectAll().where('tenant_id', '=', tenantId).execute();
}

/** Compares id → JSON maps; returns a short description of the differences (empty when equal). */
function differences(what: string, want: Map<string, unknown>, have: Map<string, unknown>): string[] {
  const out: string[] = [];
  for (const [key, value] of want) {
    if (!have.has(key)) out.push(`${what} ${key} missing`);
    else if (!isDeepStrictEqual(parse(have.get(key)), value)) out.push(`${what} ${key} differs`);
  }
  for (const key of have.keys()) if (!want.has(key)) out.push(`${what} ${key} not at Shopify`);
  return out;
}

/**
 * The tenant's copy equals the mock shop's catalog exactly: the same products (with variants), orders
 * (every status, with line items), customers and inventory levels, each record's stored Shopify JSON
 * equal to what Shopify serves now, and nothing more. Returns the record counts compared.
 */
export async function expectCatalogMirrored(ctx: Pick<ServiceContext, 'db'>, tenantId: string, shop: MockShop): Promise<Record<string, number>> {
  const c = shop.catalog;
  const problems: string[] = [];
  const counts: Record<string, number> = {};
  const collections = { products: c.products, orders: c.orders, customers: c.customers } as const;
  for (const [name, collection] of Object.entries(collections)) {
    // The stored JSON is REST's or, over GraphQL (SHOPIFY_SYNC_API), its REST-shaped mapping: compare what the registry maps from each.
    const resource = RESOURCES[name as 'products'];
    const mapped = (json: unknown) => {
      const { row, children } = resource.map(parse(json), { shopCurrency: shop.shopRecord().currency });
      return { row: { ...row, raw: undefined }, children };
    };
    const want = new Map<string, unknown>();
    for (const e of collection.entries) if (!e.deleted) want.set(String(e.id), mapped(JSON.parse(collection.json(e as never).toString('utf8'))));
    const rows = await rowsOf(ctx, resource.table, tenantId);
    const live = rows.filter((r) => r.deleted_at === null);
    if (live.length !== rows.length) problems.push(`${rows.length - live.length} ${name} marked deleted`);
    problems.push(...differences(name, want, new Map(live.map((r) => [String(r.id), mapped(r.raw)]))));
    counts[name] = want.size;
  }

  // Children: exactly the variants and line items of the live parents.
  const children = [
    { table: 'shopify_product_variants', ids: c.products.entries.filter((e) => !e.deleted).flatMap((e) => c.products.record(e).variants.map((v) => String(v.id))) },
    { table: 'shopify_order_line_items', ids: c.orders.entries.filter((e) => !e.deleted).flatMap((e) => c.orders.record(e).line_items.map((li) => String(li.id))) },
  ];
  for (const child of children) {
    const have = new Set((await rowsOf(ctx, child.table, tenantId)).map((r) => String(r.id)));
    const want = new Set(child.ids);
    const missing = [...want].filter((id) => !have.has(id)).length;
    const extra = [...have].filter((id) => !want.has(id)).length;
    if (missing || extra) problems.push(`${child.table}: ${missing} missing, ${extra} extra`);
    counts[child.table] = want.size;
  }

  // Inventory: one level per live location and live item.
  const wantLevels = new Map<string, number>();
  for (const location of c.locations.entries.filter((e) => !e.deleted)) {
    for (const item of c.inventoryItems.filter((i) => !i.deleted)) wantLevels.set(`${item.id}:${location.id}`, c.level(location.id, item).available);
  }
  const levels = await rowsOf(ctx, RESOURCES.inventory.table, tenantId);
  problems.push(...differences('inventory level', wantLevels, new Map(levels.filter((r) => r.deleted_at === null).map((r) => [`${r.inventory_item_id}:${r.location_id}`, r.available]))));
  counts.inventory = wantLevels.size;

  expect(problems.slice(0, 20), `${problems.length} differences between the copy of ${shop.domain} and its catalog`).to.deep.equal([]);
  return counts;
}

/** The tables of `tenantId` equal applying `events` once each, in order (see webhook-scenario.ts). */
export async function expectWebhookState(ctx: Pick<ServiceContext, 'db'>, tenantId: string, events: MockWebhookEvent[]): Promise<void> {
  const problems: string[] = [];
  for (const [table, records] of expectedFinalState(events)) {
    const rows = await rowsOf(ctx, table, tenantId);
    const keyOf = (r: AnyRow) => (table === 'shopify_inventory_levels' ? `${r.inventory_item_id}:${r.location_id}` : String(r.id));
    const actual = new Map(rows.map((r) => [keyOf(r), r]));
    if (actual.size !== records.size) problems.push(`${table}: ${actual.size} rows, expected ${records.size}`);
    for (const [key, want] of records) {
      const row = actual.get(key);
      if (!row) problems.push(`${table} ${key} missing`);
      else if (want.payload && !isDeepStrictEqual(parse(row.raw), want.payload)) problems.push(`${table} ${key} is not its last version`);
      else if (!want.payload && !deletedAtMatches(row.deleted_at, want))
        problems.push(
          `${table} ${key} deleted_at ${row.deleted_at?.toISOString()} instead of ${want.deletedBy === undefined ? want.deletedAt : `${want.deletedAt} … ${want.deletedBy ?? 'any later time'}`}`,
        );
    }
  }
  expect(problems.slice(0, 20), `${problems.length} differences from applying the scenario once`).to.deep.equal([]);
}

/** Webhook events recorded as applied for an integration (the idempotency table: one row per event id). */
export async function appliedEvents(ctx: Pick<ServiceContext, 'db'>, integrationId: number): Promise<number> {
  const row = await ctx.db
    .selectFrom('shopify_webhook_events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('integration_id', '=', integrationId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Which of these event ids are recorded as applied. */
export async function appliedEventIds(ctx: Pick<ServiceContext, 'db'>, integrationId: number): Promise<Set<string>> {
  const rows = await ctx.db.selectFrom('shopify_webhook_events').select('event_id').where('integration_id', '=', integrationId).execute();
  return new Set(rows.map((r) => r.event_id.toLowerCase()));
}

/** Runs still `queued` or `running` (after recovery there must be none). */
export async function openSyncRuns(ctx: Pick<ServiceContext, 'db'>): Promise<AnyRow[]> {
  return ctx.db.selectFrom('shopify_sync_logs').selectAll().where('status', 'in', ['queued', 'running']).execute();
}

/** BullMQ counts of the sync queue: every state in which a job could be stuck. */
export async function syncJobCounts(ctx: Pick<ServiceContext, 'queues'>): Promise<Record<string, number>> {
  return syncQueue(ctx).getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'waiting-children', 'paused', 'failed');
}

export interface StreamHealth {
  length: number;
  pending: number;
  deadLetters: number;
  /** Consumers that still hold entries. */
  holders: string[];
}

export async function streamHealth(ctx: Pick<ServiceContext, 'redis' | 'keys'>): Promise<StreamHealth> {
  const keys = webhookKeys(ctx);
  const consumers = (await ctx.redis.xInfoConsumers(keys.stream, CONSUMER_GROUP).catch(() => [])) as unknown as { name: string; pending: number }[];
  const summary = await ctx.redis.xPending(keys.stream, CONSUMER_GROUP).catch(() => ({ pending: 0 }));
  return {
    length: Number(await ctx.redis.xLen(keys.stream)),
    pending: Number(summary.pending),
    deadLetters: Number(await ctx.redis.xLen(keys.deadLetters)),
    holders: consumers.filter((c) => Number(c.pending) > 0).map((c) => c.name),
  };
}

/** Rows per table of the database (small, comparable snapshot for logs). */
export async function tableCounts(ctx: Pick<ServiceContext, 'db'>, tables: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of tables) {
    const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql.table(table)}`.execute(ctx.db);
    out[table] = Number(rows[0]?.n);
  }
  return out;
}
