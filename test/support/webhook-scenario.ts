import type { DeliveryResult, MockShop, MockWebhookEvent } from '../../scripts/mock-shopify/index.js';
import { resourceForTopic } from '../../src/resources/index.js';

/** Small seeded PRNG, so a failing scenario can be replayed. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ScenarioOptions {
  /** Simulated time between two changes, drawn in [min, max] ms (default [0, 1500]: many changes share a second). */
  stepMs?: [number, number];
  /** Simulated start (default 2025-01-06T12:00:00Z). */
  startMs?: number;
}

/**
 * `total` webhook events of one shop, as its changes happen at the mock: creates, updates, deletes of
 * products (some removing a variant), customers and orders, and inventory level updates, connects and
 * disconnects at the shop's real locations, each with the events Shopify sends alongside
 * (`inventory_items/delete` after a product delete, `products/update` after a stock change,
 * `customers/update` after an order). Time is the mock's clock, set to a simulated instant and moved by
 * `stepMs` per change: as at Shopify, several versions of a record often share one whole-second
 * `updated_at`, and only the events' millisecond Triggered-At orders them. The mock's clock follows the
 * real one again afterwards. Exactly `total` events are returned (a side event past the end is left out).
 */
export function buildScenario(shop: MockShop, total: number, seed = 1, opts: ScenarioOptions = {}): MockWebhookEvent[] {
  const rnd = prng(seed);
  const [minStep, maxStep] = opts.stepMs ?? [0, 1500];
  const pick = <T>(list: T[]): T => list[Math.floor(rnd() * list.length)] as T;
  const first = shop.events.length;
  const count = () => shop.events.length - first;
  const products: number[] = [];
  const customers: number[] = [];
  const orders: number[] = [];
  const locations = shop.catalog.locations.entries.filter((e) => !e.deleted).map((e) => e.id);
  shop.clock.set(opts.startMs ?? Date.UTC(2025, 0, 6, 12));
  try {
    while (count() < total) {
      shop.clock.advance(minStep + Math.floor(rnd() * (maxStep - minStep + 1)));
      const roll = rnd();
      if (roll < 0.12 || products.length < 3) {
        products.push(shop.createProduct().payload.id);
      } else if (roll < 0.24) {
        shop.updateProduct(pick(products), { title: `Title ${count()}`, tags: `t${count()}` });
      } else if (roll < 0.27) {
        // A variant removed: its inventory item goes with it.
        const id = pick(products);
        const variants = shop.catalog.product(id)?.variants ?? [];
        if (variants.length > 1) shop.updateProduct(id, { variants: variants.slice(0, -1) });
        else shop.updateProduct(id, { title: `Title ${count()}` });
      } else if (roll < 0.3 && products.length > 3) {
        shop.deleteProduct(products.splice(Math.floor(rnd() * products.length), 1)[0] as number);
      } else if (roll < 0.38 || customers.length < 3) {
        customers.push(shop.createCustomer().payload.id);
      } else if (roll < 0.48) {
        shop.updateCustomer(pick(customers), { note: `note ${count()}`, tags: `c${count()}` });
      } else if (roll < 0.5 && customers.length > 3) {
        shop.deleteCustomer(customers.splice(Math.floor(rnd() * customers.length), 1)[0] as number);
      } else if (roll < 0.58 || orders.length < 3) {
        orders.push(shop.createOrder().payload.id);
      } else if (roll < 0.68) {
        const id = pick(orders);
        const kind = rnd();
        if (kind < 0.15) shop.cancelOrder(id);
        else if (kind < 0.3) shop.closeOrder(id);
        else {
          const topic = kind < 0.45 ? 'orders/paid' : kind < 0.6 ? 'orders/fulfilled' : 'orders/updated';
          shop.updateOrder(id, { tags: `o${count()}`, note: `n${count()}` }, topic);
        }
      } else if (roll < 0.7 && orders.length > 3) {
        shop.deleteOrder(orders.splice(Math.floor(rnd() * orders.length), 1)[0] as number);
      } else if (locations.length > 0) {
        const item = pick(shop.catalog.product(pick(products))?.variants ?? []).inventory_item_id;
        const location = pick(locations);
        if (!shop.catalog.isStocked(location, item)) shop.connectInventoryLevel(item, location, Math.floor(rnd() * 100));
        else if (rnd() < 0.15) shop.disconnectInventoryLevel(item, location);
        else shop.setInventoryLevel(item, location, Math.floor(rnd() * 100));
      }
    }
  } finally {
    shop.clock.resume();
  }
  return shop.events.slice(first, first + total);
}

/**
 * Deliveries in exactly the order given, to `url`: an event listed again is a Shopify retry of it
 * (same event id, webhook id and Triggered-At), however late. Every delivery must be answered 2xx.
 */
export async function deliverInOrder(shop: MockShop, url: string, sequence: MockWebhookEvent[]): Promise<DeliveryResult[]> {
  const results = await shop.deliver(sequence, { url, concurrency: 1 });
  const failed = results.filter((r) => !r.ok);
  if (failed.length) throw new Error(`deliveries failed: ${failed.map((r) => `${r.topic} ${r.eventId}: ${r.status} ${r.error ?? ''}`).join('; ')}`);
  return results;
}

export interface ExpectedRecord {
  /** Deleted: its deletion time (ISO); for a level removed with its inventory item or location, the earliest the copy may say. */
  deletedAt: string | null;
  /**
   * A level removed with its inventory item or location: the latest deletion time the copy may say.
   * A level disconnected before the removal may show either time. Otherwise the copy keeps the
   * earliest news of the removal it applied: a product version (or deletion) takes
   * the variants' items with it only when the copy held those variants (a version arriving after a
   * newer one is not applied), while `inventory_items/delete` and `locations/delete` always are.
   * Without either of those, any time from the earliest news on (null: no upper bound).
   */
  deletedBy?: string | null;
  /** Not deleted: the payload of its last version. */
  payload: Record<string, unknown> | null;
}

/** Whether a stored `deleted_at` is what `want` allows. */
export function deletedAtMatches(actual: Date | null | undefined, want: ExpectedRecord): boolean {
  const at = actual?.toISOString();
  if (want.deletedBy === undefined) return at === (want.deletedAt ?? undefined);
  return at !== undefined && at >= (want.deletedAt as string) && (want.deletedBy === null || at <= want.deletedBy);
}

/**
 * The final state of applying `events` once each, in order: per table, per record key. A level is
 * deleted by its own disconnect, or when its inventory item or its location is removed: with the
 * product, with the product version that dropped the item's variant, or by `inventory_items/delete` /
 * `locations/delete`; the earliest deletion stays (see ExpectedRecord.deletedBy).
 */
export function expectedFinalState(events: MockWebhookEvent[]): Map<string, Map<string, ExpectedRecord>> {
  const tables = new Map<string, Map<string, ExpectedRecord>>();
  const tableOf = (name: string) => {
    const table = tables.get(name) ?? new Map<string, ExpectedRecord>();
    tables.set(name, table);
    return table;
  };
  /** Per removed inventory item (`i:<id>`) or location (`l:<id>`): earliest news, and earliest news that is always applied. */
  const removals = new Map<string, { earliest: number; always: number }>();
  const removed = (key: string, at: number, always: boolean) => {
    const r = removals.get(key) ?? { earliest: Infinity, always: Infinity };
    removals.set(key, { earliest: Math.min(r.earliest, at), always: always ? Math.min(r.always, at) : r.always });
  };
  /** The inventory items of each product's variants, as its last version listed them. */
  const itemsOfProduct = new Map<string, Set<string>>();
  for (const e of events) {
    const at = new Date(e.triggeredAt).getTime();
    const payload = e.payload as Record<string, unknown>;
    if (e.topic === 'inventory_items/delete') removed(`i:${payload.id}`, at, true);
    if (e.topic === 'locations/delete') removed(`l:${payload.id}`, at, true);
    if (e.topic.startsWith('products/')) {
      const id = String(payload.id);
      const after = new Set(e.topic === 'products/delete' ? [] : ((payload.variants ?? []) as { inventory_item_id: number }[]).map((v) => String(v.inventory_item_id)));
      for (const item of itemsOfProduct.get(id) ?? []) if (!after.has(item)) removed(`i:${item}`, at, false);
      itemsOfProduct.set(id, after);
    }
    const found = resourceForTopic(e.topic);
    if (!found || found.action === 'delete-where') continue;
    const key = found.resource.keyOf(payload).join(':');
    tableOf(found.resource.table).set(key, found.action === 'delete' ? { deletedAt: e.triggeredAt, payload: null } : { deletedAt: null, payload });
  }
  const iso = (ms: number) => new Date(ms).toISOString();
  for (const [key, record] of tableOf('shopify_inventory_levels')) {
    const [item, location] = key.split(':');
    const news = [removals.get(`i:${item}`), removals.get(`l:${location}`)].filter((r) => r !== undefined);
    if (news.length === 0) continue;
    // Disconnected before the removal: the copy says either time (the newest deletion it applied stays).
    const own = record.deletedAt ? new Date(record.deletedAt).getTime() : undefined;
    const earliest = Math.min(own ?? Infinity, ...news.map((r) => r.earliest));
    const always = Math.min(...news.map((r) => r.always));
    const latest = own === undefined ? always : always === Infinity ? Infinity : Math.max(own, always);
    tableOf('shopify_inventory_levels').set(key, { deletedAt: iso(earliest), deletedBy: latest === Infinity ? null : iso(latest), payload: null });
  }
  return tables;
}
