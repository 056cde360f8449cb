import type { ShopifyAddress, ShopifyCustomer, ShopifyInventoryLevel, ShopifyLineItem, ShopifyLocation, ShopifyOrder, ShopifyProduct, ShopifyVariant } from '../../src/shopify/types.js';
import { Collection, type Entry } from './collection.js';
import { hashInts, int, money, pick, prng, shopifyTime } from './random.js';

/** Currencies whose amounts Shopify writes with three decimals ("1.500"). */
export const THREE_DECIMAL_CURRENCIES = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);

/**
 * One shop's seeded catalog. Every record is a pure function of (seed, shop index, kind, index): the
 * same options always give the same records and ids, and records are generated when asked for, so
 * 100,000 products cost a few MB until they are changed. Only what filters need (ids, timestamps, order
 * state) and small per-product facts (variant count, base price) are kept. Inventory levels
 * (locations × inventory items) are computed on demand; changed levels are kept.
 */
export interface CatalogOptions {
  seed: number;
  shopIndex: number;
  domain: string;
  products: number;
  customers: number;
  orders: number;
  locations: number;
  offsetMinutes: number;
  currency: string;
}

/** An inventory item (one per variant) as the inventory listing walks them. */
export interface InventoryItem {
  id: number;
  productIndex: number;
  createdMs: number;
  deleted: boolean;
}

const SHOP_STRIDE = 100_000_000_000; // ids of different shops never collide
const PER_PRODUCT = 8; // id slots per product for variants, items, images (≤ 5 variants, ≤ 2 images)
const PER_ORDER = 8; // line-item id slots per order (≤ 4 lines)
const BASE = {
  product: 8_000_000_000_000,
  variant: 44_000_000_000_000,
  item: 46_000_000_000_000,
  image: 30_000_000_000_000,
  option: 10_000_000_000_000,
  customer: 7_000_000_000_000,
  address: 8_500_000_000_000,
  order: 5_500_000_000_000,
  lineItem: 14_000_000_000_000,
  location: 70_000_000_000,
};
const ORDER_CLOSED = 1;
const ORDER_CANCELLED = 2;

const SEED_START_MS = Date.UTC(2023, 0, 1);
const SEED_SPAN_MS = Date.UTC(2024, 5, 30) - SEED_START_MS;
const DAY = 86_400_000;
/** No seeded record changed after this. */
const SEED_END_MS = SEED_START_MS + SEED_SPAN_MS + 30 * DAY;

const ADJECTIVES = ['Classic', 'Vintage', 'Modern', 'Rustic', 'Sleek', 'Cozy', 'Bold', 'Minimal', 'Handmade', 'Organic', 'Urban', 'Coastal'];
const MATERIALS = ['Cotton', 'Linen', 'Leather', 'Wool', 'Canvas', 'Ceramic', 'Oak', 'Bamboo', 'Steel', 'Silk'];
const NOUNS = ['T-Shirt', 'Hoodie', 'Mug', 'Tote Bag', 'Backpack', 'Scarf', 'Lamp', 'Notebook', 'Cap', 'Sneakers', 'Blanket', 'Bottle'];
const VENDORS = ['Acme Goods', 'Northwind', 'Blue Fox', 'Maple & Co', 'Studio Nine', 'Paper Crane', 'Café Ünion'];
const TYPES = ['Apparel', 'Home', 'Accessories', 'Stationery', 'Footwear'];
const TAGS = ['new', 'sale', 'summer', 'winter', 'bestseller', 'eco', 'gift', 'limited'];
const SIZES = ['S', 'M', 'L', 'XL', 'XXL'];
const FIRST = ['Ada', 'Grace', 'Alan', 'Linus', 'Margaret', 'Ken', 'Barbara', 'Dennis', 'Frances', 'Tim', 'Radia', 'Edsger', 'Hedy', 'Zoë', 'José'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Torvalds', 'Hamilton', 'Thompson', 'Liskov', 'Ritchie', 'Allen', 'Berners-Lee', 'Perlman', 'Dijkstra'];
const CITIES: [string, string, string][] = [
  ['Ottawa', 'CA', 'K1A 0B1'],
  ['New York', 'US', '10001'],
  ['Berlin', 'DE', '10115'],
  ['Lyon', 'FR', '69001'],
  ['Austin', 'US', '73301'],
];
const LOCATION_NAMES = ['Main Warehouse', 'Downtown Store', 'East Fulfillment Center', 'Outlet', 'Pop-up Shop', 'West Depot'];

interface OrderPlan {
  state: 'open' | 'closed' | 'cancelled';
  customerIndex: number | undefined;
  lines: { productIndex: number; variant: number; quantity: number; priceCents: number }[];
  subtotalCents: number;
  taxCents: number;
  createdMs: number;
  closedMs: number | undefined;
  cancelledMs: number | undefined;
  updatedMs: number;
  financial: string;
}

export class Catalog {
  readonly products: Collection<ShopifyProduct>;
  readonly customers: Collection<ShopifyCustomer>;
  readonly orders: Collection<ShopifyOrder>;
  readonly locations: Collection<ShopifyLocation>;
  private readonly k: number;
  // per product: variant count, base price (cents), position of its first inventory item
  private readonly variantCounts: number[] = [];
  private readonly basePrices: number[] = [];
  private readonly firstItem: number[] = [];
  // per inventory item position: product index and variant number
  private readonly itemProduct: number[] = [];
  private readonly itemVariant: number[] = [];
  // per customer: aggregates of their (not cancelled) orders
  private readonly customerOrders: number[] = [];
  private readonly customerSpent: number[] = [];
  private readonly customerLastOrder: number[] = [];
  private readonly levelOverrides = new Map<string, { available: number; updatedMs: number }>();
  /** "locationId:itemId" of levels disconnected (no longer stocked there). */
  private readonly disconnectedLevels = new Set<string>();
  /** Locations created by a mutation: they stock nothing until an item is connected there, as at Shopify. */
  private readonly createdLocations = new Set<number>();
  /** "locationId:itemId" of levels connected at a created location. */
  private readonly connectedAtCreated = new Set<string>();
  /** Inventory items of variants removed from a product that still exists. */
  private readonly deletedItems = new Set<number>();
  /** Product inputs of created products, applied over the generated record. */
  private readonly createdOrderInputs = new Map<number, Partial<ShopifyOrder>>();

  constructor(readonly opts: CatalogOptions) {
    this.k = opts.shopIndex * SHOP_STRIDE;
    this.products = new Collection((e) => this.generateProduct(e));
    this.customers = new Collection((e) => this.generateCustomer(e));
    this.orders = new Collection((e) => this.generateOrder(e));
    this.locations = new Collection((e) => this.generateLocation(e));

    for (let i = 0; i < opts.locations; i++) {
      const createdMs = SEED_START_MS - (i + 1) * 30 * DAY;
      this.locations.add(BASE.location + opts.shopIndex * 1000 + i + 1, createdMs, createdMs);
    }
    for (let i = 0; i < opts.products; i++) {
      const rnd = prng(hashInts(opts.seed, 101, i));
      const createdMs = seedTime(i, opts.products, rnd);
      const updatedMs = Math.min(createdMs + Math.floor(rnd() * 120) * DAY + int(rnd, 0, 86_399) * 1000, SEED_END_MS);
      this.addProductEntry(createdMs, updatedMs);
    }
    for (let c = 0; c < opts.customers; c++) {
      const rnd = prng(hashInts(opts.seed, 201, c));
      const createdMs = seedTime(c, opts.customers, rnd);
      this.addCustomerEntry(createdMs, createdMs + Math.floor(rnd() * 60) * DAY);
    }
    for (let o = 0; o < opts.orders; o++) {
      const plan = this.orderPlan(o);
      this.orders.add(BASE.order + this.k + o + 1, plan.createdMs, plan.updatedMs, { tag: orderTag(plan) });
      this.countOrder(plan, o);
    }
  }

  time(ms: number): string {
    return shopifyTime(ms, this.opts.offsetMinutes);
  }

  /** Integer cents → Shopify's money string in the shop's currency ("19.99", or "19.990" for KWD). */
  money(cents: number): string {
    return THREE_DECIMAL_CURRENCIES.has(this.opts.currency) ? (cents / 100).toFixed(3) : money(cents);
  }

  // ---------- entries ----------

  private addProductEntry(createdMs: number, updatedMs: number): Entry<ShopifyProduct> {
    const i = this.products.entries.length;
    const rnd = prng(hashInts(this.opts.seed, 1, i));
    const variants = int(rnd, 1, 5);
    this.variantCounts.push(variants);
    this.basePrices.push(int(rnd, 5, 200) * 100 + 99);
    this.firstItem.push(this.itemProduct.length);
    for (let v = 0; v < variants; v++) {
      this.itemProduct.push(i);
      this.itemVariant.push(v);
    }
    return this.products.add(BASE.product + this.k + i + 1, createdMs, updatedMs);
  }

  private addCustomerEntry(createdMs: number, updatedMs: number): Entry<ShopifyCustomer> {
    this.customerOrders.push(0);
    this.customerSpent.push(0);
    this.customerLastOrder.push(-1);
    return this.customers.add(BASE.customer + this.k + this.customers.entries.length + 1, createdMs, updatedMs);
  }

  // ---------- generation ----------

  private generateLocation(e: Entry<ShopifyLocation>): ShopifyLocation {
    const i = e.index;
    const [city, country, zip] = CITIES[i % CITIES.length] as [string, string, string];
    return {
      id: e.id,
      name: i < LOCATION_NAMES.length ? (LOCATION_NAMES[i] as string) : `Location ${i + 1}`,
      address1: `${100 + i} Commerce Street`,
      address2: null,
      city,
      zip,
      province: null,
      country,
      country_code: country,
      phone: null,
      created_at: this.time(e.createdMs),
      updated_at: this.time(e.updatedMs),
      legacy: false,
      active: true,
      admin_graphql_api_id: `gid://shopify/Location/${e.id}`,
    };
  }

  private generateProduct(e: Entry<ShopifyProduct>): ShopifyProduct {
    const i = e.index;
    const id = e.id;
    const rnd = prng(hashInts(this.opts.seed, 1, i));
    const variantCount = int(rnd, 1, 5);
    const basePrice = int(rnd, 5, 200) * 100 + 99;
    const title = `${pick(rnd, ADJECTIVES)} ${pick(rnd, MATERIALS)} ${pick(rnd, NOUNS)}`;
    const statusRoll = rnd();
    const status: ShopifyProduct['status'] = statusRoll < 0.85 ? 'active' : statusRoll < 0.95 ? 'draft' : 'archived';
    const created = this.time(e.createdMs);
    const updated = this.time(e.updatedMs);
    const slot = this.k + i * PER_PRODUCT + 1;
    const variants: ShopifyVariant[] = [];
    for (let v = 0; v < variantCount; v++) {
      const variantId = BASE.variant + slot + v;
      const itemId = BASE.item + slot + v;
      const size = variantCount === 1 ? 'Default Title' : (SIZES[v] as string);
      const price = basePrice + v * 200;
      const quantity = this.itemQuantity(itemId, e.createdMs);
      variants.push({
        id: variantId,
        product_id: id,
        title: size,
        price: this.money(price),
        compare_at_price: rnd() < 0.3 ? this.money(Math.round(price * 1.2)) : null,
        sku: `SKU-${i + 1}-${v + 1}`,
        position: v + 1,
        inventory_policy: 'deny',
        fulfillment_service: 'manual',
        inventory_management: 'shopify',
        option1: size,
        option2: null,
        option3: null,
        barcode: String(hashInts(id, v)).padStart(12, '0'),
        grams: int(rnd, 50, 2000),
        weight: 0,
        weight_unit: 'kg',
        taxable: true,
        requires_shipping: true,
        inventory_item_id: itemId,
        inventory_quantity: quantity,
        old_inventory_quantity: quantity,
        image_id: null,
        created_at: created,
        updated_at: updated,
        admin_graphql_api_id: `gid://shopify/ProductVariant/${variantId}`,
      });
    }
    const imageCount = int(rnd, 0, 2);
    const images = [];
    for (let j = 0; j < imageCount; j++) {
      const imageId = BASE.image + slot + j;
      images.push({
        id: imageId,
        product_id: id,
        position: j + 1,
        alt: null,
        width: 1024,
        height: 1024,
        src: `https://cdn.shopify.example/s/files/1/${id}/${j + 1}.jpg`,
        variant_ids: [],
        created_at: created,
        updated_at: updated,
        admin_graphql_api_id: `gid://shopify/ProductImage/${imageId}`,
      });
    }
    const tags = [pick(rnd, TAGS), pick(rnd, TAGS)]
      .filter((t, n, all) => all.indexOf(t) === n)
      .sort()
      .join(', ');
    return {
      id,
      title,
      body_html: `<p>${title} - made with care.</p>`,
      vendor: pick(rnd, VENDORS),
      product_type: pick(rnd, TYPES),
      created_at: created,
      handle: `${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${i + 1}`,
      updated_at: updated,
      published_at: status === 'active' ? created : null,
      template_suffix: null,
      published_scope: 'web',
      tags,
      status,
      admin_graphql_api_id: `gid://shopify/Product/${id}`,
      variants,
      options: [{ id: BASE.option + this.k + i + 1, product_id: id, name: variantCount === 1 ? 'Title' : 'Size', position: 1, values: variants.map((v) => v.title) }],
      images,
      image: images[0] ?? null,
    };
  }

  private generateCustomer(e: Entry<ShopifyCustomer>): ShopifyCustomer {
    const c = e.index;
    const id = e.id;
    const rnd = prng(hashInts(this.opts.seed, 2, c));
    const first = pick(rnd, FIRST);
    const last = pick(rnd, LAST);
    const phone = rnd() < 0.6 ? `+1555${String(int(rnd, 0, 9_999_999)).padStart(7, '0')}` : null;
    const [city, country, zip] = pick(rnd, CITIES);
    const address: ShopifyAddress = {
      id: BASE.address + this.k + c + 1,
      customer_id: id,
      first_name: first,
      last_name: last,
      company: null,
      address1: `${int(rnd, 1, 999)} Main Street`,
      address2: null,
      city,
      province: null,
      country,
      zip,
      phone,
      name: `${first} ${last}`,
      province_code: null,
      country_code: country,
      country_name: country,
      default: true,
    };
    const stateRoll = rnd();
    const lastOrder = this.customerLastOrder[c] ?? -1;
    return {
      id,
      email: `${first}.${last}.${c + 1}@example.com`.toLowerCase().replace(/[^a-z0-9.@-]/g, 'x'),
      accepts_marketing: rnd() < 0.4,
      created_at: this.time(e.createdMs),
      updated_at: this.time(e.updatedMs),
      first_name: first,
      last_name: last,
      orders_count: this.customerOrders[c] ?? 0,
      state: stateRoll < 0.8 ? 'enabled' : stateRoll < 0.9 ? 'invited' : 'disabled',
      total_spent: this.money(this.customerSpent[c] ?? 0),
      last_order_id: lastOrder >= 0 ? BASE.order + this.k + lastOrder + 1 : null,
      note: null,
      verified_email: true,
      multipass_identifier: null,
      tax_exempt: false,
      tags: rnd() < 0.3 ? 'vip' : '',
      last_order_name: lastOrder >= 0 ? `#${1001 + lastOrder}` : null,
      currency: this.opts.currency,
      phone,
      addresses: [address],
      tax_exemptions: [],
      admin_graphql_api_id: `gid://shopify/Customer/${id}`,
      default_address: address,
    };
  }

  /** The skeleton of order `o` (state, customer, lines, totals, times) — cheap, no records generated. */
  private orderPlan(o: number, nowMs?: number): OrderPlan {
    const rnd = prng(hashInts(this.opts.seed, 3, o));
    const roll = rnd();
    const state = nowMs !== undefined ? 'open' : roll < 0.6 ? 'open' : roll < 0.9 ? 'closed' : 'cancelled';
    const createdMs = nowMs ?? seedTime(o, this.opts.orders, rnd);
    // Seeded orders refer to seeded customers and products only, so they never change with mutations.
    const customers = nowMs !== undefined ? this.customers.entries.length : this.opts.customers;
    const products = nowMs !== undefined ? this.products.entries.length : this.opts.products;
    const customerIndex = customers > 0 ? Math.floor(rnd() * customers) : undefined;
    const lines: OrderPlan['lines'] = [];
    const lineCount = int(rnd, 1, 4);
    let subtotalCents = 0;
    for (let n = 0; n < lineCount; n++) {
      const productIndex = products > 0 ? Math.floor(rnd() * products) : -1;
      const variant = productIndex >= 0 ? Math.floor(rnd() * (this.variantCounts[productIndex] as number)) : 0;
      const quantity = int(rnd, 1, 3);
      const priceCents = productIndex >= 0 ? (this.basePrices[productIndex] as number) + variant * 200 : int(rnd, 5, 50) * 100;
      subtotalCents += priceCents * quantity;
      lines.push({ productIndex, variant, quantity, priceCents });
    }
    const closedMs = state === 'closed' ? createdMs + int(rnd, 1, 20) * DAY : undefined;
    const cancelledMs = state === 'cancelled' ? createdMs + int(rnd, 1, 48) * 3_600_000 : undefined;
    const updatedMs = Math.max(createdMs, closedMs ?? 0, cancelledMs ?? 0) + (nowMs === undefined ? int(rnd, 0, 10) * DAY : 0);
    const financial = state === 'cancelled' ? pick(rnd, ['voided', 'refunded']) : state === 'closed' ? 'paid' : pick(rnd, ['paid', 'pending', 'authorized', 'partially_refunded']);
    return { state, customerIndex, lines, subtotalCents, taxCents: Math.round(subtotalCents * 0.08), createdMs, closedMs, cancelledMs, updatedMs, financial };
  }

  /**
   * An order as placed: its line items and customer are snapshots of the records at that moment, so a
   * later product or customer change never alters an order silently. A new order (`current`) copies the
   * records as they are now; a seeded one copies them as seeded.
   */
  private generateOrder(e: Entry<ShopifyOrder>, plan: OrderPlan = this.orderPlan(e.index), current = false): ShopifyOrder {
    const o = e.index;
    const id = e.id;
    const customerEntry = plan.customerIndex !== undefined ? this.customers.entries[plan.customerIndex] : undefined;
    const customer = !customerEntry ? undefined : current ? (customerEntry.deleted ? undefined : this.customers.record(customerEntry)) : this.generateCustomer(customerEntry);
    const closed = plan.state === 'closed';
    let grams = 0;
    const lineItems: ShopifyLineItem[] = plan.lines.map((line, n) => {
      const productEntry = line.productIndex >= 0 ? this.products.entries[line.productIndex] : undefined;
      const product = !productEntry ? undefined : current ? this.products.record(productEntry) : this.generateProduct(productEntry);
      const variant = product?.variants[line.variant];
      const lineId = BASE.lineItem + this.k + o * PER_ORDER + n + 1;
      const title = product?.title ?? 'Custom item';
      const variantGrams = (variant?.grams as number | undefined) ?? 100;
      grams += variantGrams * line.quantity;
      return {
        id: lineId,
        admin_graphql_api_id: `gid://shopify/LineItem/${lineId}`,
        fulfillable_quantity: plan.state === 'open' ? line.quantity : 0,
        fulfillment_service: 'manual',
        fulfillment_status: closed ? 'fulfilled' : null,
        gift_card: false,
        grams: variantGrams,
        name: variant && variant.title !== 'Default Title' ? `${title} - ${variant.title}` : title,
        price: this.money(line.priceCents),
        product_exists: Boolean(productEntry && !productEntry.deleted),
        product_id: product?.id ?? null,
        properties: [],
        quantity: line.quantity,
        requires_shipping: true,
        sku: variant?.sku ?? null,
        taxable: true,
        title,
        total_discount: this.money(0),
        variant_id: variant?.id ?? null,
        variant_inventory_management: variant ? 'shopify' : null,
        variant_title: variant?.title ?? null,
        vendor: product?.vendor ?? null,
        tax_lines: [],
      };
    });
    const email = customer?.email ?? null;
    const total = plan.subtotalCents + plan.taxCents;
    const order: ShopifyOrder = {
      id,
      admin_graphql_api_id: `gid://shopify/Order/${id}`,
      app_id: 580111,
      buyer_accepts_marketing: false,
      cancel_reason: plan.cancelledMs ? 'customer' : null,
      cancelled_at: plan.cancelledMs ? this.time(plan.cancelledMs) : null,
      closed_at: plan.closedMs ? this.time(plan.closedMs) : null,
      confirmed: true,
      contact_email: email,
      created_at: this.time(e.createdMs),
      currency: this.opts.currency,
      current_subtotal_price: this.money(plan.subtotalCents),
      current_total_price: this.money(total),
      current_total_tax: this.money(plan.taxCents),
      customer: customer
        ? {
            id: customer.id,
            email: customer.email,
            first_name: customer.first_name,
            last_name: customer.last_name,
            phone: customer.phone,
            state: customer.state,
            currency: customer.currency,
            created_at: customer.created_at,
            updated_at: customer.updated_at,
            tags: customer.tags,
          }
        : null,
      email,
      financial_status: plan.financial,
      fulfillment_status: closed ? 'fulfilled' : null,
      line_items: lineItems,
      name: `#${1001 + o}`,
      note: null,
      number: o + 1,
      order_number: 1001 + o,
      presentment_currency: this.opts.currency,
      processed_at: this.time(e.createdMs),
      source_name: 'web',
      subtotal_price: this.money(plan.subtotalCents),
      tags: '',
      taxes_included: false,
      test: false,
      total_discounts: this.money(0),
      total_line_items_price: this.money(plan.subtotalCents),
      total_price: this.money(total),
      total_tax: this.money(plan.taxCents),
      total_weight: grams,
      updated_at: this.time(e.updatedMs),
      shipping_lines: [],
    };
    return { ...order, ...this.createdOrderInputs.get(o), id };
  }

  private countOrder(plan: OrderPlan, o: number): void {
    const c = plan.customerIndex;
    if (c === undefined || plan.state === 'cancelled') return;
    this.customerOrders[c] = (this.customerOrders[c] ?? 0) + 1;
    this.customerSpent[c] = (this.customerSpent[c] ?? 0) + plan.subtotalCents + plan.taxCents;
    this.customerLastOrder[c] = o;
  }

  // ---------- inventory ----------

  get inventoryItemCount(): number {
    return this.itemProduct.length;
  }

  /** The inventory item at a position of the (append-only, id-ordered) item list. */
  itemAt(position: number): InventoryItem {
    const i = this.itemProduct[position] as number;
    const product = this.products.entries[i] as Entry<ShopifyProduct>;
    const id = BASE.item + this.k + i * PER_PRODUCT + 1 + (this.itemVariant[position] as number);
    return { id, productIndex: i, createdMs: product.createdMs, deleted: product.deleted || this.deletedItems.has(id) };
  }

  /** Position of an inventory item id, if it exists. */
  itemPosition(itemId: number): number | undefined {
    const rel = itemId - BASE.item - this.k - 1;
    if (!Number.isInteger(rel) || rel < 0) return undefined;
    const i = Math.floor(rel / PER_PRODUCT);
    const v = rel % PER_PRODUCT;
    if (i >= this.variantCounts.length || v >= (this.variantCounts[i] as number)) return undefined;
    return (this.firstItem[i] as number) + v;
  }

  /** Every inventory item in id order (a snapshot; built on each call, so for tests rather than hot paths). */
  get inventoryItems(): InventoryItem[] {
    return Array.from({ length: this.itemProduct.length }, (_, p) => this.itemAt(p));
  }

  /** Whether an item is stocked at a location (at a seeded one every item is, until its level is disconnected). */
  isStocked(locationId: number, itemId: number): boolean {
    const key = `${locationId}:${itemId}`;
    return this.createdLocations.has(locationId) ? this.connectedAtCreated.has(key) : !this.disconnectedLevels.has(key);
  }

  private setStocked(locationId: number, itemId: number, stocked: boolean): void {
    const key = `${locationId}:${itemId}`;
    if (this.createdLocations.has(locationId)) {
      if (stocked) this.connectedAtCreated.add(key);
      else this.connectedAtCreated.delete(key);
    } else if (stocked) this.disconnectedLevels.delete(key);
    else this.disconnectedLevels.add(key);
  }

  /** Inventory level at a location of an item: an `InventoryItem` (from `itemAt`), or its id and creation time. */
  level(locationId: number, item: { id: number; createdMs: number } | number, itemCreatedMs?: number): { available: number; updatedMs: number } {
    const itemId = typeof item === 'number' ? item : item.id;
    const createdMs = typeof item === 'number' ? (itemCreatedMs ?? 0) : item.createdMs;
    const override = this.levelOverrides.get(`${locationId}:${itemId}`);
    if (override) return override;
    const h = hashInts(this.opts.seed, 7, locationId, itemId);
    // A seeded item's level last changed some days after the item, within the seed's window; an item
    // created since (by a mutation, at the clock's now) has its level stamped at its creation, never later.
    return { available: h % 100, updatedMs: createdMs > SEED_END_MS ? createdMs : Math.min(createdMs + (h % 90) * DAY, SEED_END_MS) };
  }

  levelJson(locationId: number, itemId: number, level: { available: number; updatedMs: number }): string {
    return `{"inventory_item_id":${itemId},"location_id":${locationId},"available":${level.available},"updated_at":"${this.time(level.updatedMs)}","admin_graphql_api_id":"gid://shopify/InventoryLevel/${locationId}?inventory_item_id=${itemId}"}`;
  }

  private itemQuantity(itemId: number, createdMs: number): number {
    let total = 0;
    for (const loc of this.locations.entries) if (!loc.deleted && this.isStocked(loc.id, itemId)) total += this.level(loc.id, { id: itemId, createdMs }).available;
    return total;
  }

  // ---------- mutations ----------
  // Each stamps `updated_at` with the current whole second: two changes in one second share it, as at
  // Shopify (the event's millisecond Triggered-At orders them). It never goes backwards.

  private stamp(previousMs: number, nowMs: number): number {
    return Math.max(Math.floor(nowMs / 1000) * 1000, previousMs);
  }

  private bump<T extends { id: number; updated_at: string }>(collection: Collection<T>, entry: Entry<T>, nowMs: number): T {
    const record = collection.pin(entry);
    const ms = this.stamp(entry.updatedMs, nowMs);
    record.updated_at = this.time(ms);
    collection.touch(entry, ms);
    return record;
  }

  private require<T extends { id: number }>(collection: Collection<T>, id: number, what: string): Entry<T> {
    const entry = collection.get(id);
    if (!entry) throw new Error(`mock Shopify: no ${what} ${id}`);
    return entry;
  }

  product(id: number): ShopifyProduct | undefined {
    const e = this.products.get(id);
    return e && this.products.record(e);
  }

  customer(id: number): ShopifyCustomer | undefined {
    const e = this.customers.get(id);
    return e && this.customers.record(e);
  }

  order(id: number): ShopifyOrder | undefined {
    const e = this.orders.get(id);
    return e && this.orders.record(e);
  }

  createProduct(input: Partial<ShopifyProduct> = {}, nowMs = Date.now()): ShopifyProduct {
    const ms = Math.floor(nowMs / 1000) * 1000;
    const entry = this.addProductEntry(ms, ms);
    return Object.assign(this.products.pin(entry), input, { id: entry.id });
  }

  /**
   * Updates a product. `patch.variants` lists the variants to keep (by id, fields merged over the
   * current ones); a variant left out is deleted with its inventory item, whose id is returned in
   * `deletedItemIds`. The mock cannot add real variants to an existing product: a variant with an
   * unknown id is served exactly as given, with no inventory item (for malformed-record tests).
   */
  updateProduct(id: number, patch: Partial<ShopifyProduct> = {}, nowMs = Date.now()): { product: ShopifyProduct; deletedItemIds: number[] } {
    const entry = this.require(this.products, id, 'product');
    const record = this.bump(this.products, entry, nowMs);
    const { updated_at: _ignored, variants, ...rest } = patch;
    Object.assign(record, rest, { id });
    const deletedItemIds: number[] = [];
    if (variants) {
      const current = new Map(record.variants.map((v) => [v.id, v]));
      const kept = variants.map((v) => {
        const existing = current.get(v.id);
        if (!existing) return v; // kept as given, without an inventory item (e.g. a malformed record on purpose)
        const changed = Object.entries(v).some(([k, value]) => k !== 'updated_at' && JSON.stringify(existing[k as keyof ShopifyVariant]) !== JSON.stringify(value));
        return { ...existing, ...v, product_id: id, updated_at: changed ? record.updated_at : existing.updated_at };
      });
      const keptIds = new Set(kept.map((v) => v.id));
      for (const v of record.variants) {
        if (keptIds.has(v.id)) continue;
        this.deletedItems.add(v.inventory_item_id);
        deletedItemIds.push(v.inventory_item_id);
      }
      record.variants = kept.map((v, n) => (current.has(v.id) ? { ...v, position: n + 1 } : v));
    }
    return { product: record, deletedItemIds };
  }

  /** Deletes a product; its variants' inventory items go with it (their ids are returned). */
  deleteProduct(id: number): number[] {
    const entry = this.require(this.products, id, 'product');
    const items = this.products
      .record(entry)
      .variants.map((v) => v.inventory_item_id)
      .filter((itemId) => !this.deletedItems.has(itemId));
    this.products.remove(entry);
    return items;
  }

  createCustomer(input: Partial<ShopifyCustomer> = {}, nowMs = Date.now()): ShopifyCustomer {
    const ms = Math.floor(nowMs / 1000) * 1000;
    const entry = this.addCustomerEntry(ms, ms);
    return Object.assign(this.customers.pin(entry), input, { id: entry.id });
  }

  updateCustomer(id: number, patch: Partial<ShopifyCustomer> = {}, nowMs = Date.now()): ShopifyCustomer {
    const entry = this.require(this.customers, id, 'customer');
    const record = this.bump(this.customers, entry, nowMs);
    const { updated_at: _ignored, ...rest } = patch;
    return Object.assign(record, rest, { id });
  }

  deleteCustomer(id: number): void {
    this.customers.remove(this.require(this.customers, id, 'customer'));
  }

  /** Creates an order; its customer's order count and total spent change too (returned as `customer`). */
  createOrder(input: Partial<ShopifyOrder> = {}, nowMs = Date.now()): { order: ShopifyOrder; customer: ShopifyCustomer | undefined } {
    const ms = Math.floor(nowMs / 1000) * 1000;
    const o = this.orders.entries.length;
    let plan = this.orderPlan(o, ms);
    if (input.customer !== undefined) {
      // An order placed for a named customer counts for that customer, not the planned one.
      const named = input.customer ? this.customers.get(Number((input.customer as { id?: unknown }).id)) : undefined;
      plan = { ...plan, customerIndex: named?.index };
    }
    this.createdOrderInputs.set(o, input);
    const entry = this.orders.add(BASE.order + this.k + o + 1, ms, ms);
    this.countOrder(plan, o);
    const record = this.generateOrder(entry, plan, true);
    entry.pinned = record;
    const customerEntry = plan.customerIndex !== undefined ? this.customers.entries[plan.customerIndex] : undefined;
    if (!customerEntry || customerEntry.deleted || plan.state === 'cancelled') return { order: record, customer: undefined };
    const c = customerEntry.index;
    const customer = this.bump(this.customers, customerEntry, nowMs);
    Object.assign(customer, { orders_count: this.customerOrders[c], total_spent: this.money(this.customerSpent[c] ?? 0), last_order_id: record.id, last_order_name: record.name });
    return { order: record, customer };
  }

  updateOrder(id: number, patch: Partial<ShopifyOrder> = {}, nowMs = Date.now()): ShopifyOrder {
    const entry = this.require(this.orders, id, 'order');
    const record = this.bump(this.orders, entry, nowMs);
    const { updated_at: _ignored, ...rest } = patch;
    Object.assign(record, rest, { id });
    entry.tag = (record.closed_at ? ORDER_CLOSED : 0) | (record.cancelled_at ? ORDER_CANCELLED : 0);
    return record;
  }

  cancelOrder(id: number, reason = 'customer', nowMs = Date.now()): ShopifyOrder {
    const entry = this.require(this.orders, id, 'order');
    const record = this.bump(this.orders, entry, nowMs);
    Object.assign(record, { cancelled_at: record.updated_at, cancel_reason: reason, financial_status: 'voided' });
    entry.tag |= ORDER_CANCELLED;
    return record;
  }

  closeOrder(id: number, nowMs = Date.now()): ShopifyOrder {
    const entry = this.require(this.orders, id, 'order');
    const record = this.bump(this.orders, entry, nowMs);
    Object.assign(record, { closed_at: record.updated_at, fulfillment_status: 'fulfilled' });
    entry.tag |= ORDER_CLOSED;
    return record;
  }

  deleteOrder(id: number): void {
    this.orders.remove(this.require(this.orders, id, 'order'));
  }

  private liveItem(inventoryItemId: number): InventoryItem {
    const pos = this.itemPosition(inventoryItemId);
    const item = pos === undefined ? undefined : this.itemAt(pos);
    if (!item || item.deleted) throw new Error(`mock Shopify: no inventory item ${inventoryItemId}`);
    return item;
  }

  /**
   * A stock change moves the variant's `inventory_quantity`, so the product gets a new version too
   * (Shopify sends `products/update` for it): the product is returned for that event.
   */
  private restock(item: InventoryItem, nowMs: number): ShopifyProduct {
    const productEntry = this.products.entries[item.productIndex] as Entry<ShopifyProduct>;
    const product = this.bump(this.products, productEntry, nowMs);
    const variant = product.variants.find((v) => v.inventory_item_id === item.id);
    if (variant) Object.assign(variant, { inventory_quantity: this.itemQuantity(item.id, item.createdMs), updated_at: product.updated_at });
    return product;
  }

  setInventoryLevel(inventoryItemId: number, locationId: number, available: number, nowMs = Date.now()): { level: ShopifyInventoryLevel; product: ShopifyProduct } {
    const item = this.liveItem(inventoryItemId);
    this.require(this.locations, locationId, 'location');
    if (!this.isStocked(locationId, item.id)) throw new Error(`mock Shopify: item ${item.id} is not stocked at location ${locationId} (connect it first)`);
    const previous = this.level(locationId, item);
    const level = { available, updatedMs: this.stamp(previous.updatedMs, nowMs) };
    this.levelOverrides.set(`${locationId}:${item.id}`, level);
    return { level: JSON.parse(this.levelJson(locationId, item.id, level)) as ShopifyInventoryLevel, product: this.restock(item, nowMs) };
  }

  /** Stocks an item at a location again (after a disconnect), with `available` units. */
  connectInventoryLevel(inventoryItemId: number, locationId: number, available = 0, nowMs = Date.now()): { level: ShopifyInventoryLevel; product: ShopifyProduct } {
    const item = this.liveItem(inventoryItemId);
    this.require(this.locations, locationId, 'location');
    const key = `${locationId}:${item.id}`;
    if (this.isStocked(locationId, item.id)) throw new Error(`mock Shopify: item ${item.id} is already stocked at location ${locationId}`);
    this.setStocked(locationId, item.id, true);
    const level = { available, updatedMs: this.stamp(this.level(locationId, item).updatedMs, nowMs) };
    this.levelOverrides.set(key, level);
    return { level: JSON.parse(this.levelJson(locationId, item.id, level)) as ShopifyInventoryLevel, product: this.restock(item, nowMs) };
  }

  /** Stops stocking an item at a location: its level leaves the listings. */
  disconnectInventoryLevel(inventoryItemId: number, locationId: number, nowMs = Date.now()): ShopifyProduct {
    const item = this.liveItem(inventoryItemId);
    this.require(this.locations, locationId, 'location');
    if (!this.isStocked(locationId, item.id)) throw new Error(`mock Shopify: item ${item.id} is not stocked at location ${locationId}`);
    this.setStocked(locationId, item.id, false);
    return this.restock(item, nowMs);
  }

  /** Creates a location (its id follows the last one); it stocks nothing until items are connected there. */
  createLocation(input: Partial<ShopifyLocation> = {}, nowMs = Date.now()): ShopifyLocation {
    const ms = Math.floor(nowMs / 1000) * 1000;
    const last = this.locations.entries[this.locations.entries.length - 1];
    const id = last ? last.id + 1 : BASE.location + this.opts.shopIndex * 1000 + 1;
    const entry = this.locations.add(id, ms, ms);
    this.createdLocations.add(id);
    const { id: _id, created_at: _created, updated_at: _updated, ...rest } = input;
    return Object.assign(this.locations.pin(entry), rest);
  }

  /** Changes a location (name, address, active …): a new version stamped now. */
  updateLocation(id: number, patch: Partial<ShopifyLocation> = {}, nowMs = Date.now()): ShopifyLocation {
    const entry = this.require(this.locations, id, 'location');
    const record = this.locations.pin(entry);
    const ms = this.stamp(entry.updatedMs, nowMs);
    const { id: _id, created_at: _created, updated_at: _updated, ...rest } = patch;
    Object.assign(record, rest, { updated_at: this.time(ms) });
    this.locations.touch(entry, ms);
    return record;
  }

  /**
   * Deletes a location: its levels leave the listings, and every product with stock there gets a new
   * version (its variants' quantities change); those products are returned.
   */
  deleteLocation(id: number, nowMs = Date.now()): ShopifyProduct[] {
    const entry = this.require(this.locations, id, 'location');
    const stocked: InventoryItem[] = [];
    for (let p = 0; p < this.itemProduct.length; p++) {
      const item = this.itemAt(p);
      if (!item.deleted && this.isStocked(id, item.id) && this.level(id, item).available !== 0) stocked.push(item);
    }
    this.locations.remove(entry);
    const changed = new Map<number, ShopifyProduct>();
    for (const item of stocked) {
      const product = this.restock(item, nowMs);
      changed.set(product.id, product);
    }
    return [...changed.values()];
  }
}

/** Orders' filter facts: 1 = closed, 2 = cancelled. */
export function isOrderClosed(e: { tag: number }): boolean {
  return (e.tag & ORDER_CLOSED) !== 0;
}
export function isOrderCancelled(e: { tag: number }): boolean {
  return (e.tag & ORDER_CANCELLED) !== 0;
}

function orderTag(plan: OrderPlan): number {
  return (plan.closedMs !== undefined ? ORDER_CLOSED : 0) | (plan.cancelledMs !== undefined ? ORDER_CANCELLED : 0);
}

function seedTime(i: number, n: number, rnd: () => number): number {
  const ms = SEED_START_MS + Math.floor((SEED_SPAN_MS * (i + rnd())) / Math.max(1, n));
  return Math.floor(ms / 1000) * 1000;
}
