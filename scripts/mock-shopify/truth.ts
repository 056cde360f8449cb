import type { ShopifyCustomer, ShopifyLocation, ShopifyOrder, ShopifyProduct } from '../../src/shopify/types.js';
import type { Catalog } from './catalog.js';
import type { Collection } from './collection.js';

/**
 * A shop's current truth in the shape the service's read API serves it (src/resources/*.ts `toApi`):
 * snake_case fields, timestamps in UTC ISO 8601 with milliseconds, money as Shopify writes it ("19.99",
 * "1.500" in three-decimal currencies), ids as numbers. Live records only; `deleted` lists the keys of
 * records that existed and are gone (products, orders, customers by id; inventory levels by
 * "inventory_item_id:location_id"), which the API may serve only with a `deleted_at`.
 */
export interface MockTruth {
  products: TruthProduct[];
  orders: TruthOrder[];
  customers: TruthCustomer[];
  inventory: TruthInventoryLevel[];
  locations: TruthLocation[];
  deleted: { products: number[]; orders: number[]; customers: number[]; inventory: string[]; locations: number[] };
}

export interface TruthLocation {
  id: number;
  name: string;
  active: boolean | null;
  legacy: boolean | null;
  address1: string | null;
  address2: string | null;
  city: string | null;
  province: string | null;
  province_code: string | null;
  country: string | null;
  country_code: string | null;
  zip: string | null;
  phone: string | null;
  created_at: string | null;
  updated_at: string;
  deleted_at: null;
}

export interface TruthVariant {
  id: number;
  product_id: number;
  title: string | null;
  sku: string | null;
  price: string | null;
  compare_at_price: string | null;
  currency: string;
  position: number | null;
  inventory_item_id: number | null;
  inventory_quantity: number | null;
  created_at: string | null;
  updated_at: string | null;
}

export interface TruthProduct {
  id: number;
  title: string;
  handle: string | null;
  vendor: string | null;
  product_type: string | null;
  status: string | null;
  tags: string | null;
  created_at: string | null;
  updated_at: string;
  deleted_at: null;
  variants: TruthVariant[];
}

export interface TruthLineItem {
  id: number;
  product_id: number | null;
  variant_id: number | null;
  title: string | null;
  sku: string | null;
  quantity: number;
  price: string | null;
}

export interface TruthOrder {
  id: number;
  name: string | null;
  order_number: number | null;
  email: string | null;
  customer_id: number | null;
  financial_status: string | null;
  fulfillment_status: string | null;
  currency: string | null;
  total_price: string | null;
  subtotal_price: string | null;
  total_tax: string | null;
  processed_at: string | null;
  closed_at: string | null;
  cancelled_at: string | null;
  created_at: string | null;
  updated_at: string;
  deleted_at: null;
  line_items: TruthLineItem[];
}

export interface TruthCustomer {
  id: number;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  phone: string | null;
  state: string | null;
  orders_count: number | null;
  total_spent: string | null;
  currency: string | null;
  tags: string | null;
  created_at: string | null;
  updated_at: string;
  deleted_at: null;
}

export interface TruthInventoryLevel {
  inventory_item_id: number;
  location_id: number;
  available: number | null;
  updated_at: string;
  deleted_at: null;
}

/** Shopify's "2024-03-01T07:00:00-05:00" → "2024-03-01T12:00:00.000Z". */
const utc = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? new Date(value).toISOString() : null);
const str = (value: unknown): string | null => (value === null || value === undefined ? null : String(value));
const num = (value: unknown): number | null => (value === null || value === undefined || value === '' ? null : Number(value));

function product(p: ShopifyProduct, currency: string): TruthProduct {
  return {
    id: p.id,
    title: p.title,
    handle: str(p.handle),
    vendor: str(p.vendor),
    product_type: str(p.product_type),
    status: str(p.status),
    tags: str(p.tags),
    created_at: utc(p.created_at),
    updated_at: utc(p.updated_at) as string,
    deleted_at: null,
    variants: [...p.variants]
      .sort((a, b) => Number(a.position) - Number(b.position))
      .map((v) => ({
        id: v.id,
        product_id: p.id,
        title: str(v.title),
        sku: str(v.sku),
        price: str(v.price),
        compare_at_price: str(v.compare_at_price),
        currency,
        position: num(v.position),
        inventory_item_id: num(v.inventory_item_id),
        inventory_quantity: num(v.inventory_quantity),
        created_at: utc(v.created_at),
        updated_at: utc(v.updated_at),
      })),
  };
}

function order(o: ShopifyOrder): TruthOrder {
  return {
    id: o.id,
    name: str(o.name),
    order_number: num(o.order_number),
    email: str(o.email),
    customer_id: o.customer ? num(o.customer.id) : null,
    financial_status: str(o.financial_status),
    fulfillment_status: str(o.fulfillment_status),
    currency: str(o.currency),
    total_price: str(o.total_price),
    subtotal_price: str(o.subtotal_price),
    total_tax: str(o.total_tax),
    processed_at: utc(o.processed_at),
    closed_at: utc(o.closed_at),
    cancelled_at: utc(o.cancelled_at),
    created_at: utc(o.created_at),
    updated_at: utc(o.updated_at) as string,
    deleted_at: null,
    line_items: [...o.line_items]
      .sort((a, b) => a.id - b.id)
      .map((li) => ({
        id: li.id,
        product_id: num(li.product_id),
        variant_id: num(li.variant_id),
        title: str(li.title),
        sku: str(li.sku),
        quantity: num(li.quantity) ?? 0,
        price: str(li.price),
      })),
  };
}

function customer(c: ShopifyCustomer): TruthCustomer {
  return {
    id: c.id,
    email: str(c.email),
    first_name: str(c.first_name),
    last_name: str(c.last_name),
    phone: str(c.phone),
    state: str(c.state),
    orders_count: num(c.orders_count),
    total_spent: str(c.total_spent),
    currency: str(c.currency),
    tags: str(c.tags),
    created_at: utc(c.created_at),
    updated_at: utc(c.updated_at) as string,
    deleted_at: null,
  };
}

const bool = (value: unknown): boolean | null => (value === null || value === undefined ? null : Boolean(value));

function location(l: ShopifyLocation): TruthLocation {
  return {
    id: l.id,
    name: l.name,
    active: bool(l.active),
    legacy: bool(l.legacy),
    address1: str(l.address1),
    address2: str(l.address2),
    city: str(l.city),
    province: str(l.province),
    province_code: str(l.province_code),
    country: str(l.country),
    country_code: str(l.country_code),
    zip: str(l.zip),
    phone: str(l.phone),
    created_at: utc(l.created_at),
    updated_at: utc(l.updated_at) as string,
    deleted_at: null,
  };
}

export function shopTruth(catalog: Catalog): MockTruth {
  const currency = catalog.opts.currency;
  const live = <T extends { id: number }>(c: Collection<T>): T[] => c.entries.filter((e) => !e.deleted).map((e) => c.record(e));
  const gone = <T extends { id: number }>(c: Collection<T>): number[] => c.entries.filter((e) => e.deleted).map((e) => e.id);

  const inventory: TruthInventoryLevel[] = [];
  const deletedLevels: string[] = [];
  const items = catalog.inventoryItems;
  for (const location of catalog.locations.entries) {
    for (const item of items) {
      const key = `${item.id}:${location.id}`;
      if (location.deleted || item.deleted || !catalog.isStocked(location.id, item.id)) {
        deletedLevels.push(key);
        continue;
      }
      const level = catalog.level(location.id, item);
      inventory.push({
        inventory_item_id: item.id,
        location_id: location.id,
        available: level.available,
        updated_at: new Date(Math.floor(level.updatedMs / 1000) * 1000).toISOString(),
        deleted_at: null,
      });
    }
  }
  inventory.sort((a, b) => a.inventory_item_id - b.inventory_item_id || a.location_id - b.location_id);

  return {
    products: live(catalog.products).map((p) => product(p, currency)),
    orders: live(catalog.orders).map(order),
    customers: live(catalog.customers).map(customer),
    inventory,
    locations: live(catalog.locations).map(location),
    deleted: { products: gone(catalog.products), orders: gone(catalog.orders), customers: gone(catalog.customers), inventory: deletedLevels, locations: gone(catalog.locations) },
  };
}
