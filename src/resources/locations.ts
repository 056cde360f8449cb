import { isoOrNull, requiredTimestamp, shopifyId, text, timestamp } from './mapping.js';
import { BULK_EXPORT_QUERIES } from '../shopify/graphql/documents/bulk.js';
import type { ResourceDefinition } from './types.js';
import { LOCATIONS_QUERY, locationsCost } from '../shopify/graphql/documents/index.js';
import { mapLocation } from './graphql-nodes.js';

/** The store's locations (warehouses, shops, apps that stock inventory): names next to inventory levels. */
export const locations: ResourceDefinition = {
  name: 'locations',
  singular: 'Location',
  events: { name: 'location' },
  table: 'shopify_locations',
  keyColumns: ['id'],
  readColumns: ['id', 'name', 'active', 'legacy', 'address1', 'address2', 'city', 'province', 'province_code', 'country', 'country_code', 'zip', 'phone', 'created_at', 'updated_at', 'deleted_at'],
  // `locations.json` answers every location at once: no pagination, no `updated_at_min`; GraphQL pages
  // them in id order, without a filter either (every read is whole).
  shopify: {
    path: 'locations',
    rootKey: 'locations',
    params: {},
    listing: 'unpaged',
    graphql: { kind: 'connection', document: LOCATIONS_QUERY, root: 'locations', cost: (first) => locationsCost(first), filterable: false, orderedByUpdatedAt: false, toRest: mapLocation },
    bulk: { query: BULK_EXPORT_QUERIES.locations, lines: 'records', scopes: ['read_locations'] },
  },
  syncInterval: { env: 'LOCATIONS', defaultSeconds: 3600 },
  // `locations/delete` also takes the location's inventory levels with it (see inventory's deleteWhere).
  webhookTopics: { upsert: ['locations/create', 'locations/update'], delete: ['locations/delete'] },
  map(l) {
    return {
      row: {
        id: shopifyId(l.id, 'location.id'),
        name: text(l.name, 255) ?? '',
        active: l.active === undefined || l.active === null ? null : Boolean(l.active),
        legacy: l.legacy === undefined || l.legacy === null ? null : Boolean(l.legacy),
        address1: text(l.address1, 255),
        address2: text(l.address2, 255),
        city: text(l.city, 255),
        province: text(l.province, 255),
        province_code: text(l.province_code, 16),
        country: text(l.country, 255),
        country_code: text(l.country_code, 8),
        zip: text(l.zip, 32),
        phone: text(l.phone, 64),
        created_at: timestamp(l.created_at, 'location.created_at'),
        updated_at: requiredTimestamp(l.updated_at, 'location.updated_at'),
        raw: l,
      },
      children: [],
    };
  },
  keyOf: (payload) => [shopifyId(payload.id, 'id')],
  filters: {
    updated_at_min: { column: 'updated_at', op: '>=', type: 'timestamp' },
    updated_at_max: { column: 'updated_at', op: '<=', type: 'timestamp' },
  },
  toApi: (row) => ({
    id: row.id,
    name: row.name,
    active: row.active === null || row.active === undefined ? null : Boolean(row.active),
    legacy: row.legacy === null || row.legacy === undefined ? null : Boolean(row.legacy),
    address1: row.address1,
    address2: row.address2,
    city: row.city,
    province: row.province,
    province_code: row.province_code,
    country: row.country,
    country_code: row.country_code,
    zip: row.zip,
    phone: row.phone,
    created_at: isoOrNull(row.created_at as Date | null),
    updated_at: isoOrNull(row.updated_at as Date),
    deleted_at: isoOrNull(row.deleted_at as Date | null),
  }),
};
