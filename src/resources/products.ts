import { formatMoney, integer, isoOrNull, money, optionalId, requiredTimestamp, shopifyId, text, textBytes, timestamp } from './mapping.js';
import type { ResourceDefinition, Row } from './types.js';
import { PRODUCT_VARIANTS_QUERY, PRODUCTS_QUERY, productsCost, productVariantsCost } from '../shopify/graphql/documents/index.js';
import { BULK_EXPORT_QUERIES } from '../shopify/graphql/documents/bulk.js';
import { mapProduct, mapVariant } from './graphql-nodes.js';
import type { MapContext } from './types.js';

type Json = Record<string, unknown>;

export const products: ResourceDefinition = {
  name: 'products',
  singular: 'Product',
  events: { name: 'product' },
  table: 'shopify_products',
  keyColumns: ['id'],
  readColumns: ['id', 'title', 'handle', 'vendor', 'product_type', 'status', 'tags', 'created_at', 'updated_at', 'deleted_at'],
  child: {
    table: 'shopify_product_variants',
    parentColumn: 'product_id',
    apiField: 'variants',
    orderColumn: 'position',
    readColumns: ['id', 'product_id', 'title', 'sku', 'price', 'compare_at_price', 'currency', 'position', 'inventory_item_id', 'inventory_quantity', 'created_at', 'updated_at'],
    cascade: { column: 'inventory_item_id', resource: 'inventory', keyColumn: 'inventory_item_id' },
    map: variantRow,
    fromGraphql: mapVariant,
  },
  shopify: {
    path: 'products',
    rootKey: 'products',
    params: {},
    listing: 'since-id',
    // Over GraphQL every variant arrives (REST answers at most 100 of a product's 2,048).
    graphql: {
      kind: 'connection',
      document: PRODUCTS_QUERY,
      root: 'products',
      cost: productsCost,
      filterable: true,
      orderedByUpdatedAt: true,
      children: { field: 'variants', variable: 'variantsFirst', document: PRODUCT_VARIANTS_QUERY, path: ['product', 'variants'], cost: productVariantsCost },
      toRest: mapProduct,
    },
    bulk: { query: BULK_EXPORT_QUERIES.products, lines: 'parents-and-children', scopes: ['read_products'] },
  },
  syncInterval: { env: 'PRODUCTS', defaultSeconds: 3600 },
  webhookTopics: { upsert: ['products/create', 'products/update'], delete: ['products/delete'] },
  map(p, ctx) {
    const id = shopifyId(p.id, 'product.id');
    const variants = Array.isArray(p.variants) ? (p.variants as Json[]) : [];
    return {
      row: {
        id,
        title: text(p.title, 512) ?? '',
        handle: text(p.handle, 512),
        vendor: text(p.vendor, 255),
        product_type: text(p.product_type, 255),
        status: text(p.status, 32),
        tags: textBytes(p.tags),
        created_at: timestamp(p.created_at, 'product.created_at'),
        updated_at: requiredTimestamp(p.updated_at, 'product.updated_at'),
        raw: p,
      },
      children: variants.map((v) => variantRow(v, id, ctx)),
    };
  },
  keyOf: (payload) => [shopifyId(payload.id, 'id')],
  filters: {
    updated_at_min: { column: 'updated_at', op: '>=', type: 'timestamp' },
    updated_at_max: { column: 'updated_at', op: '<=', type: 'timestamp' },
    status: { column: 'status', op: '=', type: 'string' },
    vendor: { column: 'vendor', op: '=', type: 'string' },
    product_type: { column: 'product_type', op: '=', type: 'string' },
    handle: { column: 'handle', op: '=', type: 'string' },
  },
  toApi: (row, variants) => ({
    id: row.id,
    title: row.title,
    handle: row.handle,
    vendor: row.vendor,
    product_type: row.product_type,
    status: row.status,
    tags: row.tags,
    created_at: isoOrNull(row.created_at as Date | null),
    updated_at: isoOrNull(row.updated_at as Date),
    deleted_at: isoOrNull(row.deleted_at as Date | null),
    variants: variants.map(variantToApi),
  }),
};

function variantRow(v: Json, productId: number, ctx: MapContext): Row {
  return {
    id: shopifyId(v.id, 'variant.id'),
    product_id: productId,
    title: text(v.title, 512),
    sku: text(v.sku, 255),
    price: money(v.price, 'variant.price'),
    compare_at_price: money(v.compare_at_price, 'variant.compare_at_price'),
    currency: ctx.shopCurrency,
    position: integer(v.position),
    inventory_item_id: optionalId(v.inventory_item_id, 'variant.inventory_item_id'),
    inventory_quantity: integer(v.inventory_quantity),
    created_at: timestamp(v.created_at, 'variant.created_at'),
    updated_at: timestamp(v.updated_at, 'variant.updated_at'),
  };
}

function variantToApi(v: Row) {
  return {
    id: v.id,
    product_id: v.product_id,
    title: v.title,
    sku: v.sku,
    price: formatMoney(v.price as string | null, v.currency),
    compare_at_price: formatMoney(v.compare_at_price as string | null, v.currency),
    currency: v.currency,
    position: v.position,
    inventory_item_id: v.inventory_item_id,
    inventory_quantity: v.inventory_quantity,
    created_at: isoOrNull(v.created_at as Date | null),
    updated_at: isoOrNull(v.updated_at as Date | null),
  };
}
