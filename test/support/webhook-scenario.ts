import sinon from 'sinon';
import type { MockShop, MockWebhookEvent } from '../../scripts/mock-shopify/index.js';
import { newEvent } from '../../scripts/mock-shopify/webhooks.js';
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

/**
 * `total` webhook events of one shop, as its changes happen: creates, updates, deletes of products,
 * customers and orders (through the mock shop), and inventory level updates/connects/disconnects.
 * Time is simulated (2 s per change) so every version and every deletion carries a distinct, truthful
 * timestamp, as Shopify's do.
 */
export function buildScenario(shop: MockShop, total: number, seed = 1): MockWebhookEvent[] {
  const rnd = prng(seed);
  const pick = <T>(list: T[]): T => list[Math.floor(rnd() * list.length)] as T;
  const events: MockWebhookEvent[] = [];
  const products: number[] = [];
  const customers: number[] = [];
  const orders: number[] = [];
  const levels = new Map<string, { item: number; location: number; available: number; connected: boolean }>();
  const clock = sinon.useFakeTimers({ now: Date.UTC(2025, 0, 6, 12), toFake: ['Date'] });
  try {
    while (events.length < total) {
      clock.tick(2000);
      const roll = rnd();
      if (roll < 0.12 || products.length < 3) {
        const e = shop.createProduct();
        products.push((e.payload as { id: number }).id);
        for (const v of (e.payload as { variants: { inventory_item_id: number }[] }).variants) {
          for (const location of [91_000_001, 91_000_002]) levels.set(`${v.inventory_item_id}:${location}`, { item: v.inventory_item_id, location, available: 0, connected: false });
        }
        events.push(e);
      } else if (roll < 0.27) {
        events.push(shop.updateProduct(pick(products), { title: `Title ${events.length}`, tags: `t${events.length}` }));
      } else if (roll < 0.30 && products.length > 3) {
        const id = products.splice(Math.floor(rnd() * products.length), 1)[0] as number;
        events.push(shop.deleteProduct(id));
      } else if (roll < 0.38 || customers.length < 3) {
        const e = shop.createCustomer();
        customers.push((e.payload as { id: number }).id);
        events.push(e);
      } else if (roll < 0.48) {
        events.push(shop.updateCustomer(pick(customers), { note: `note ${events.length}`, tags: `c${events.length}` }));
      } else if (roll < 0.50 && customers.length > 3) {
        const id = customers.splice(Math.floor(rnd() * customers.length), 1)[0] as number;
        events.push(shop.deleteCustomer(id));
      } else if (roll < 0.58 || orders.length < 3) {
        const e = shop.createOrder();
        orders.push((e.payload as { id: number }).id);
        events.push(e);
      } else if (roll < 0.68) {
        const id = pick(orders);
        const kind = rnd();
        if (kind < 0.15) events.push(shop.cancelOrder(id));
        else if (kind < 0.3) events.push(shop.closeOrder(id));
        else {
          const e = shop.updateOrder(id, { tags: `o${events.length}`, note: `n${events.length}` });
          // orders/paid and orders/fulfilled carry the same full order as orders/updated.
          events.push(kind < 0.45 ? { ...e, topic: 'orders/paid' } : kind < 0.6 ? { ...e, topic: 'orders/fulfilled' } : e);
        }
      } else if (roll < 0.70 && orders.length > 3) {
        const id = orders.splice(Math.floor(rnd() * orders.length), 1)[0] as number;
        events.push(shop.deleteOrder(id));
      } else if (levels.size > 0) {
        const level = pick([...levels.values()]);
        const now = new Date().toISOString();
        if (level.connected && rnd() < 0.15) {
          level.connected = false;
          events.push(newEvent('inventory_levels/disconnect', { inventory_item_id: level.item, location_id: level.location }));
        } else {
          const topic = level.connected ? 'inventory_levels/update' : 'inventory_levels/connect';
          level.connected = true;
          level.available = Math.floor(rnd() * 100);
          events.push(newEvent(topic, { inventory_item_id: level.item, location_id: level.location, available: level.available, updated_at: now }));
        }
      }
    }
  } finally {
    clock.restore();
  }
  return events;
}

export interface ExpectedRecord {
  /** Deleted: its deletion time (ISO). */
  deletedAt: string | null;
  /** Not deleted: the payload of its last version. */
  payload: Record<string, unknown> | null;
}

/** The final state of applying `events` once each, in order: per table, per record key. */
export function expectedFinalState(events: MockWebhookEvent[]): Map<string, Map<string, ExpectedRecord>> {
  const tables = new Map<string, Map<string, ExpectedRecord>>();
  for (const e of events) {
    const found = resourceForTopic(e.topic);
    if (!found) continue;
    const payload = e.payload as Record<string, unknown>;
    const key = found.resource.keyOf(payload).join(':');
    const table = tables.get(found.resource.table) ?? new Map<string, ExpectedRecord>();
    tables.set(found.resource.table, table);
    table.set(key, found.action === 'delete' ? { deletedAt: new Date(e.triggeredAt).toISOString(), payload: null } : { deletedAt: null, payload });
  }
  return tables;
}
