import { idFromGid } from '../shopify/graphql/gid.js';
import { formatMoney } from './mapping.js';

/**
 * GraphQL nodes → the REST-shaped JSON the resource registry's `map()` takes (the shape webhooks carry
 * too), so both APIs give the same rows: gids → numeric ids, MoneyBag amounts → decimal strings with
 * the currency's decimals, enums → REST's lowercase values, tag lists → REST's "a, b" string.
 */
type Json = Record<string, unknown>;
type Node = Json | null | undefined;

/**
 * A gid's numeric id; one that cannot be read (not a gid, past 2^53) is passed on as it came, so the
 * registry's `map` refuses the record and the sync skips and reports it, as it does a bad REST record,
 * instead of failing the whole page.
 */
function numericId(gid: unknown): unknown {
  try {
    return idFromGid(gid);
  } catch {
    return gid;
  }
}
const idOf = (node: Node): unknown => (node ? numericId(node.id) : null);
const lower = (value: unknown): string | null => (typeof value === 'string' ? value.toLowerCase() : null);
const tags = (value: unknown): string => (Array.isArray(value) ? value.join(', ') : typeof value === 'string' ? value : '');

/** MoneyBag/MoneyV2 (`"25.0"`, a Decimal) → REST's form in its currency (`"25.00"`). */
function amount(money: Node): { amount: string | null; currency: string | null } {
  const m = (money && 'shopMoney' in money ? (money.shopMoney as Node) : money) ?? null;
  if (!m || m.amount === null || m.amount === undefined) return { amount: null, currency: null };
  const currency = typeof m.currencyCode === 'string' ? m.currencyCode : null;
  return { amount: formatMoney(String(m.amount), currency), currency };
}

/** REST's `fulfillment_status` has four values; every other display status is REST's null. */
const FULFILLMENT: Readonly<Record<string, string>> = { FULFILLED: 'fulfilled', PARTIALLY_FULFILLED: 'partial', RESTOCKED: 'restocked' };

export function mapVariant(v: Json, productId: unknown): Json {
  return {
    id: numericId(v.id),
    product_id: productId,
    title: v.title ?? null,
    sku: v.sku ?? null,
    price: v.price ?? null,
    compare_at_price: v.compareAtPrice ?? null,
    position: v.position ?? null,
    inventory_item_id: idOf(v.inventoryItem as Node),
    inventory_quantity: v.inventoryQuantity ?? null,
    created_at: v.createdAt ?? null,
    updated_at: v.updatedAt ?? null,
    admin_graphql_api_id: v.id,
  };
}

/** A product with every variant (the caller has fetched the pages past the first into `variants`). */
export function mapProduct(p: Json, variants: Json[]): Json {
  const id = numericId(p.id);
  return {
    id,
    title: p.title ?? null,
    body_html: p.descriptionHtml ?? null,
    vendor: p.vendor ?? null,
    product_type: p.productType ?? null,
    handle: p.handle ?? null,
    status: lower(p.status),
    tags: tags(p.tags),
    created_at: p.createdAt ?? null,
    updated_at: p.updatedAt ?? null,
    published_at: p.publishedAt ?? null,
    admin_graphql_api_id: p.id,
    variants: variants.map((v) => mapVariant(v, id)),
  };
}

export function mapLineItem(li: Json): Json {
  return {
    id: numericId(li.id),
    product_id: idOf(li.product as Node),
    variant_id: idOf(li.variant as Node),
    title: li.title ?? null,
    sku: li.sku ?? null,
    quantity: li.quantity ?? null,
    price: amount(li.originalUnitPriceSet as Node).amount,
    admin_graphql_api_id: li.id,
  };
}

/** An order with every line item (pages past the first fetched by the caller into `lineItems`). */
export function mapOrder(o: Json, lineItems: Json[]): Json {
  const customerId = idOf(o.customer as Node);
  return {
    id: numericId(o.id),
    name: o.name ?? null,
    order_number: o.number ?? null,
    email: o.email ?? null,
    customer: customerId === null ? null : { id: customerId },
    financial_status: lower(o.displayFinancialStatus),
    fulfillment_status: typeof o.displayFulfillmentStatus === 'string' ? (FULFILLMENT[o.displayFulfillmentStatus] ?? null) : null,
    currency: o.currencyCode ?? null,
    total_price: amount(o.totalPriceSet as Node).amount,
    subtotal_price: amount(o.subtotalPriceSet as Node).amount,
    total_tax: amount(o.totalTaxSet as Node).amount,
    processed_at: o.processedAt ?? null,
    closed_at: o.closedAt ?? null,
    cancelled_at: o.cancelledAt ?? null,
    created_at: o.createdAt ?? null,
    updated_at: o.updatedAt ?? null,
    admin_graphql_api_id: o.id,
    line_items: lineItems.map(mapLineItem),
  };
}

export function mapCustomer(c: Json): Json {
  const spent = amount(c.amountSpent as Node);
  return {
    id: numericId(c.id),
    email: (c.defaultEmailAddress as Node)?.emailAddress ?? null,
    first_name: c.firstName ?? null,
    last_name: c.lastName ?? null,
    phone: (c.defaultPhoneNumber as Node)?.phoneNumber ?? null,
    state: lower(c.state),
    // UnsignedInt64 comes as a string.
    orders_count: c.numberOfOrders === null || c.numberOfOrders === undefined ? null : Number(c.numberOfOrders),
    total_spent: spent.amount,
    currency: spent.currency,
    tags: tags(c.tags),
    created_at: c.createdAt ?? null,
    updated_at: c.updatedAt ?? null,
    admin_graphql_api_id: c.id,
  };
}

export function mapLocation(l: Json): Json {
  const a = (l.address as Node) ?? {};
  return {
    id: numericId(l.id),
    name: l.name ?? null,
    active: l.isActive ?? null,
    // REST's `legacy`: a fulfillment service's location.
    legacy: l.isFulfillmentService ?? null,
    address1: a.address1 ?? null,
    address2: a.address2 ?? null,
    city: a.city ?? null,
    province: a.province ?? null,
    province_code: a.provinceCode ?? null,
    country: a.country ?? null,
    country_code: a.countryCode ?? null,
    zip: a.zip ?? null,
    phone: a.phone ?? null,
    created_at: l.createdAt ?? null,
    updated_at: l.updatedAt ?? null,
    admin_graphql_api_id: l.id,
  };
}

/** An inventory level of `locationId` (asked through the location, so the node need not repeat it). */
export function mapInventoryLevel(level: Json, locationId: number): Json {
  const quantities = Array.isArray(level.quantities) ? (level.quantities as Json[]) : [];
  const available = quantities.find((q) => q.name === 'available');
  const itemId = idOf(level.item as Node);
  return {
    inventory_item_id: itemId,
    location_id: locationId,
    available: available ? (available.quantity ?? null) : null,
    updated_at: level.updatedAt ?? null,
    admin_graphql_api_id: `gid://shopify/InventoryLevel/${locationId}?inventory_item_id=${String(itemId)}`,
  };
}
