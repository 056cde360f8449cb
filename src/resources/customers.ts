import { formatMoney, integer, isoOrNull, money, requiredTimestamp, shopifyId, text, textBytes, timestamp } from './mapping.js';
import { BULK_EXPORT_QUERIES } from '../shopify/graphql/documents/bulk.js';
import type { ResourceDefinition } from './types.js';
import { CUSTOMERS_QUERY, customersCost } from '../shopify/graphql/documents/index.js';
import { mapCustomer } from './graphql-nodes.js';

export const customers: ResourceDefinition = {
  name: 'customers',
  singular: 'Customer',
  events: { name: 'customer' },
  table: 'shopify_customers',
  keyColumns: ['id'],
  readColumns: ['id', 'email', 'first_name', 'last_name', 'phone', 'state', 'orders_count', 'total_spent', 'currency', 'tags', 'created_at', 'updated_at', 'deleted_at'],
  shopify: {
    path: 'customers',
    rootKey: 'customers',
    params: {},
    listing: 'since-id',
    graphql: { kind: 'connection', document: CUSTOMERS_QUERY, root: 'customers', cost: customersCost, filterable: true, orderedByUpdatedAt: true, toRest: mapCustomer },
    bulk: { query: BULK_EXPORT_QUERIES.customers, lines: 'records', scopes: ['read_customers'] },
  },
  syncInterval: { env: 'CUSTOMERS', defaultSeconds: 3600 },
  webhookTopics: { upsert: ['customers/create', 'customers/update'], delete: ['customers/delete'] },
  map(c, ctx) {
    return {
      row: {
        id: shopifyId(c.id, 'customer.id'),
        email: text(c.email, 320),
        first_name: text(c.first_name, 255),
        last_name: text(c.last_name, 255),
        phone: text(c.phone, 64),
        state: text(c.state, 32),
        orders_count: integer(c.orders_count),
        total_spent: money(c.total_spent, 'customer.total_spent'),
        currency: text(c.currency, 3) ?? ctx.shopCurrency,
        tags: textBytes(c.tags),
        created_at: timestamp(c.created_at, 'customer.created_at'),
        updated_at: requiredTimestamp(c.updated_at, 'customer.updated_at'),
        raw: c,
      },
      children: [],
    };
  },
  keyOf: (payload) => [shopifyId(payload.id, 'id')],
  filters: {
    updated_at_min: { column: 'updated_at', op: '>=', type: 'timestamp' },
    updated_at_max: { column: 'updated_at', op: '<=', type: 'timestamp' },
    email: { column: 'email', op: '=', type: 'string' },
    state: { column: 'state', op: '=', type: 'string' },
  },
  toApi: (row) => ({
    id: row.id,
    email: row.email,
    first_name: row.first_name,
    last_name: row.last_name,
    phone: row.phone,
    state: row.state,
    orders_count: row.orders_count,
    total_spent: formatMoney(row.total_spent as string | null, row.currency),
    currency: row.currency,
    tags: row.tags,
    created_at: isoOrNull(row.created_at as Date | null),
    updated_at: isoOrNull(row.updated_at as Date),
    deleted_at: isoOrNull(row.deleted_at as Date | null),
  }),
};
