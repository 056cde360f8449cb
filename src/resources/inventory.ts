import { integer, isoOrNull, requiredTimestamp, shopifyId } from './mapping.js';
import { BULK_EXPORT_QUERIES } from '../shopify/graphql/documents/bulk.js';
import type { ResourceDefinition } from './types.js';
import { LOCATION_INVENTORY_LEVELS_QUERY, locationInventoryLevelsCost } from '../shopify/graphql/documents/index.js';
import { mapInventoryLevel } from './graphql-nodes.js';

/** Inventory levels: one row per (inventory item, location); Shopify lists them per location. */
export const inventory: ResourceDefinition = {
  name: 'inventory',
  singular: 'Inventory item',
  events: { name: 'inventory_level', createdAs: 'updated' },
  table: 'shopify_inventory_levels',
  keyColumns: ['inventory_item_id', 'location_id'],
  readColumns: ['inventory_item_id', 'location_id', 'available', 'updated_at', 'deleted_at'],
  // Shopify lists levels per location: locations first, then levels by batches of location ids (REST)
  // or location by location (GraphQL).
  shopify: {
    path: 'inventory_levels',
    rootKey: 'inventory_levels',
    params: {},
    listing: 'per-location',
    graphql: { kind: 'per-location', document: LOCATION_INVENTORY_LEVELS_QUERY, cost: locationInventoryLevelsCost, toRest: mapInventoryLevel },
    bulk: { query: BULK_EXPORT_QUERIES.inventory, lines: 'records-under-parents', scopes: ['read_inventory', 'read_locations'] },
  },
  syncInterval: { env: 'INVENTORY', defaultSeconds: 1800 },
  webhookTopics: {
    upsert: ['inventory_levels/update', 'inventory_levels/connect'],
    delete: ['inventory_levels/disconnect'],
    // Ids of deleted inventory items and locations never come back: their levels go with them.
    deleteWhere: { 'inventory_items/delete': 'inventory_item_id', 'locations/delete': 'location_id' },
  },
  // A level disconnected and connected again keeps its (item, location) key.
  keysComeBack: true,
  map(level) {
    return {
      row: {
        inventory_item_id: shopifyId(level.inventory_item_id, 'inventory_level.inventory_item_id'),
        location_id: shopifyId(level.location_id, 'inventory_level.location_id'),
        available: integer(level.available),
        updated_at: requiredTimestamp(level.updated_at, 'inventory_level.updated_at'),
        raw: level,
      },
      children: [],
    };
  },
  keyOf: (payload) => [shopifyId(payload.inventory_item_id, 'inventory_item_id'), shopifyId(payload.location_id, 'location_id')],
  filters: {
    updated_at_min: { column: 'updated_at', op: '>=', type: 'timestamp' },
    updated_at_max: { column: 'updated_at', op: '<=', type: 'timestamp' },
    location_id: { column: 'location_id', op: '=', type: 'integer' },
    inventory_item_id: { column: 'inventory_item_id', op: 'in', type: 'integer' },
    // Through the variants that hold the inventory item.
    variant_id: { column: 'inventory_item_id', op: '=', type: 'integer', via: { table: 'shopify_product_variants', match: 'id', select: 'inventory_item_id' } },
    sku: { column: 'inventory_item_id', op: '=', type: 'string', via: { table: 'shopify_product_variants', match: 'sku', select: 'inventory_item_id' } },
  },
  toApi: (row) => ({
    inventory_item_id: row.inventory_item_id,
    location_id: row.location_id,
    available: row.available,
    updated_at: isoOrNull(row.updated_at as Date),
    deleted_at: isoOrNull(row.deleted_at as Date | null),
  }),
  retrieveBody: (id, levels) => ({ inventory_item_id: id, levels }),
};
