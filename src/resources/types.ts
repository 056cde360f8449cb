import type { GraphqlListing } from '../shopify/graphql/pages.js';

export type ResourceName = 'products' | 'orders' | 'customers' | 'inventory' | 'locations';

export type Row = Record<string, unknown>;

/** The tables the registry's records live in (the store's schema declares them). */
export type RecordTable = 'shopify_products' | 'shopify_product_variants' | 'shopify_orders' | 'shopify_order_line_items' | 'shopify_customers' | 'shopify_inventory_levels' | 'shopify_locations';

/** What one Shopify record becomes: its row, and the rows of its children (variants, line items). */
export interface MappedRecord {
  row: Row & { updated_at: Date };
  children: Row[];
}

export interface MapContext {
  /** The shop's currency, for amounts whose JSON does not name one (variant prices). */
  shopCurrency: string | null;
}

/**
 * A list filter: query parameter → column and comparison. `in` takes one value or several (a
 * comma-separated list, or the parameter repeated). With `via`, the value is matched in another table
 * and the column must be one of the ids found there (inventory levels by variant or SKU).
 */
export interface FilterDefinition {
  column: string;
  op: '=' | '>=' | '<=' | 'in';
  type: 'string' | 'integer' | 'timestamp';
  via?: { table: RecordTable; match: string; select: string };
}

/**
 * How Shopify lists a resource: `since-id` pages in id order with `since_id` and reads changes with
 * `updated_at_min`; `per-location` lists inventory levels by batches of location ids (locations first);
 * `unpaged` is one answer with every record and no filters (`locations.json`).
 */
export type ShopifyListing = 'since-id' | 'per-location' | 'unpaged';

/**
 * How a full sync exports the resource as a bulk operation: the query, and what its lines are.
 * `records`: each line a record. `parents-and-children`: the record's lines, and its children's lines
 * (`child`) with `__parentId`, anywhere after it. `records-under-parents`: the records are the child
 * lines; a parent line only names what they belong to (inventory levels under their location).
 */
export interface BulkExport {
  query: string;
  lines: 'records' | 'parents-and-children' | 'records-under-parents';
  /** The access scopes the export needs (named when Shopify answers ACCESS_DENIED). */
  scopes: readonly string[];
}

export interface ResourceDefinition {
  name: ResourceName;
  /** The record in a sentence ("Product 42 not found"). */
  singular: string;
  /**
   * Its change events: `<name>.created|updated|deleted` (`customer.redacted` too). With `createdAs`, a
   * record's first version is announced as that change (an inventory level is `updated`, never `created`).
   */
  events: { name: string; createdAs?: 'updated' };
  /** Table of the record itself. */
  table: RecordTable;
  /** Columns that identify a record within a tenant, in keyset order. */
  keyColumns: readonly string[];
  /**
   * Columns `toApi` reads. API reads select only these (and the key), never `raw`: each record's whole
   * Shopify JSON is kept for reprocessing, not served.
   */
  readColumns: readonly string[];
  /** Child table replaced with each newer version of the parent; `readColumns` as above. */
  child?: {
    table: RecordTable;
    parentColumn: string;
    apiField: string;
    orderColumn: string;
    readColumns: readonly string[];
    /**
     * What a child's removal takes with it at Shopify: records of `resource` whose `keyColumn` equals
     * the child's `column` (deleting a variant deletes its inventory item, and so the item's levels).
     */
    cascade?: { column: string; resource: ResourceName; keyColumn: string };
    /** One child's JSON (REST-shaped, as in the parent's `apiField`) → its row; the parent's `map` uses it too. */
    map(child: Record<string, unknown>, parentId: number, ctx: MapContext): Row;
    /** A child GraphQL node (a bulk file's child line) → the REST-shaped JSON `map` takes. */
    fromGraphql(node: Record<string, unknown>, parentId: number): Record<string, unknown>;
  };
  /**
   * Where and how the sync reads it from Shopify: over REST (`path`, `rootKey`, `params`, `listing`) and
   * over GraphQL (`graphql`: the documents, their costs, and the node → REST-shaped JSON mapping, so both
   * APIs give the registry's `map` the same records). SHOPIFY_SYNC_API chooses.
   */
  shopify: { path: string; rootKey: string; params: Record<string, string>; listing: ShopifyListing; graphql: GraphqlListing; bulk: BulkExport };
  /** Scheduled syncs: every `SHOPIFY_SYNC_INTERVAL_<env>` seconds, `defaultSeconds` unless set (0 disables). */
  syncInterval: { env: string; defaultSeconds: number };
  /**
   * A full sync's deletion sweep covers only records created in the last `createdWithinDays` unless
   * the store granted `scope`: Shopify lists nothing older without it (orders: `read_all_orders`).
   */
  sweepLimit?: { scope: string; createdWithinDays: number };
  /** Webhook topics that carry the full record, and topics that delete it. */
  webhookTopics: {
    upsert: readonly string[];
    delete: readonly string[];
    /** Topics whose payload `{ id }` removes every record with that id in one key column (topic → column). */
    deleteWhere?: Readonly<Record<string, string>>;
  };
  /**
   * Whether a deleted key can come back (an inventory level disconnected and connected again keeps its
   * key): a delete older than the stored version is then dropped. Other ids are never reused.
   */
  keysComeBack?: boolean;
  /** Shopify JSON → rows (without tenant_id / integration_id, which the store adds). */
  map(record: Record<string, unknown>, ctx: MapContext): MappedRecord;
  /** Delete webhooks carry only the key: payload → key values. */
  keyOf(payload: Record<string, unknown>): unknown[];
  filters: Record<string, FilterDefinition>;
  /** Stored row (+ children) → API representation. */
  toApi(row: Row, children: Row[]): Record<string, unknown>;
  /**
   * The retrieve answer when one id names several records (inventory: an item's levels at every
   * location); absent: the record itself.
   */
  retrieveBody?(id: number, records: Record<string, unknown>[]): Record<string, unknown>;
}
