import { formatMoney, integer, isoOrNull, money, optionalId, requiredTimestamp, shopifyId, text, timestamp } from './mapping.js';
import type { ResourceDefinition, Row } from './types.js';
import { ORDER_LINE_ITEMS_QUERY, orderLineItemsCost, ORDERS_QUERY, ordersCost } from '../shopify/graphql/documents/index.js';
import { BULK_EXPORT_QUERIES } from '../shopify/graphql/documents/bulk.js';
import { mapLineItem, mapOrder } from './graphql-nodes.js';

type Json = Record<string, unknown>;

export const orders: ResourceDefinition = {
  name: 'orders',
  singular: 'Order',
  events: { name: 'order' },
  table: 'shopify_orders',
  keyColumns: ['id'],
  readColumns: [
    'id',
    'name',
    'order_number',
    'email',
    'customer_id',
    'financial_status',
    'fulfillment_status',
    'currency',
    'total_price',
    'subtotal_price',
    'total_tax',
    'processed_at',
    'closed_at',
    'cancelled_at',
    'created_at',
    'updated_at',
    'deleted_at',
  ],
  child: {
    table: 'shopify_order_line_items',
    parentColumn: 'order_id',
    apiField: 'line_items',
    orderColumn: 'id',
    readColumns: ['id', 'order_id', 'product_id', 'variant_id', 'title', 'sku', 'quantity', 'price'],
    map: lineItemRow,
    fromGraphql: (node) => mapLineItem(node),
  },
  shopify: {
    // Without status=any REST returns open orders only; GraphQL `orders` lists every status.
    path: 'orders',
    rootKey: 'orders',
    params: { status: 'any' },
    listing: 'since-id',
    graphql: {
      kind: 'connection',
      document: ORDERS_QUERY,
      root: 'orders',
      cost: ordersCost,
      filterable: true,
      orderedByUpdatedAt: true,
      children: { field: 'lineItems', variable: 'lineItemsFirst', document: ORDER_LINE_ITEMS_QUERY, path: ['order', 'lineItems'], cost: orderLineItemsCost },
      toRest: mapOrder,
    },
    bulk: { query: BULK_EXPORT_QUERIES.orders, lines: 'parents-and-children', scopes: ['read_orders'] },
  },
  syncInterval: { env: 'ORDERS', defaultSeconds: 900 },
  // Without read_all_orders Shopify lists only the last 60 days of orders: older ones must not look deleted.
  sweepLimit: { scope: 'read_all_orders', createdWithinDays: 59 },
  webhookTopics: {
    upsert: ['orders/create', 'orders/updated', 'orders/cancelled', 'orders/fulfilled', 'orders/paid'],
    delete: ['orders/delete'],
  },
  map(o) {
    const id = shopifyId(o.id, 'order.id');
    const customer = (o.customer ?? null) as Json | null;
    const lineItems = Array.isArray(o.line_items) ? (o.line_items as Json[]) : [];
    return {
      row: {
        id,
        name: text(o.name, 64),
        order_number: integer(o.order_number),
        email: text(o.email, 320),
        customer_id: customer ? optionalId(customer.id, 'order.customer.id') : null,
        financial_status: text(o.financial_status, 32),
        fulfillment_status: text(o.fulfillment_status, 32),
        currency: text(o.currency, 3),
        total_price: money(o.total_price, 'order.total_price'),
        subtotal_price: money(o.subtotal_price, 'order.subtotal_price'),
        total_tax: money(o.total_tax, 'order.total_tax'),
        processed_at: timestamp(o.processed_at, 'order.processed_at'),
        closed_at: timestamp(o.closed_at, 'order.closed_at'),
        cancelled_at: timestamp(o.cancelled_at, 'order.cancelled_at'),
        created_at: timestamp(o.created_at, 'order.created_at'),
        updated_at: requiredTimestamp(o.updated_at, 'order.updated_at'),
        raw: o,
      },
      children: lineItems.map((li) => lineItemRow(li, id)),
    };
  },
  keyOf: (payload) => [shopifyId(payload.id, 'id')],
  filters: {
    updated_at_min: { column: 'updated_at', op: '>=', type: 'timestamp' },
    updated_at_max: { column: 'updated_at', op: '<=', type: 'timestamp' },
    financial_status: { column: 'financial_status', op: '=', type: 'string' },
    fulfillment_status: { column: 'fulfillment_status', op: '=', type: 'string' },
    customer_id: { column: 'customer_id', op: '=', type: 'integer' },
    email: { column: 'email', op: '=', type: 'string' },
  },
  toApi: (row, lineItems) => ({
    id: row.id,
    name: row.name,
    order_number: row.order_number,
    email: row.email,
    customer_id: row.customer_id,
    financial_status: row.financial_status,
    fulfillment_status: row.fulfillment_status,
    currency: row.currency,
    total_price: formatMoney(row.total_price as string | null, row.currency),
    subtotal_price: formatMoney(row.subtotal_price as string | null, row.currency),
    total_tax: formatMoney(row.total_tax as string | null, row.currency),
    processed_at: isoOrNull(row.processed_at as Date | null),
    closed_at: isoOrNull(row.closed_at as Date | null),
    cancelled_at: isoOrNull(row.cancelled_at as Date | null),
    created_at: isoOrNull(row.created_at as Date | null),
    updated_at: isoOrNull(row.updated_at as Date),
    deleted_at: isoOrNull(row.deleted_at as Date | null),
    line_items: lineItems.map((li: Row) => ({
      id: li.id,
      product_id: li.product_id,
      variant_id: li.variant_id,
      title: li.title,
      sku: li.sku,
      quantity: li.quantity,
      price: formatMoney(li.price as string | null, row.currency),
    })),
  }),
};

function lineItemRow(li: Json, orderId: number): Row {
  return {
    id: shopifyId(li.id, 'line_item.id'),
    order_id: orderId,
    product_id: optionalId(li.product_id, 'line_item.product_id'),
    variant_id: optionalId(li.variant_id, 'line_item.variant_id'),
    title: text(li.title, 512),
    sku: text(li.sku, 255),
    quantity: integer(li.quantity) ?? 0,
    price: money(li.price, 'line_item.price'),
  };
}
