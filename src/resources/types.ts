export type ResourceName = 'products' | 'orders' | 'customers' | 'inventory';
export const RESOURCE_NAMES: readonly ResourceName[] = ['products', 'orders', 'customers', 'inventory'];

export type Row = Record<string, unknown>;

/** The tables the registry's records live in (the store's schema declares them). */
export type RecordTable =
  | 'shopify_products' | 'shopify_product_variants' | 'shopify_orders' | 'shopify_order_line_items'
  | 'shopify_customers' | 'shopify_inventory_levels';

/** What one Shopify record becomes: its row, and the rows of its children (variants, line items). */
export interface MappedRecord {
  row: Row & { updated_at: Date };
  children: Row[];
}

export interface MapContext {
  /** The shop's currency, for amounts whose JSON does not name one (variant prices). */
  shopCurrency: string | null;
}

/** A list filter: query parameter → column and comparison. */
export interface FilterDefinition {
  column: string;
  op: '=' | '>=' | '<=';
  type: 'string' | 'integer' | 'timestamp';
}

export interface ResourceDefinition {
  name: ResourceName;
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
    table: RecordTable; parentColumn: string; apiField: string; orderColumn: string; readColumns: readonly string[];
    /**
     * What a child's removal takes with it at Shopify: records of `resource` whose `keyColumn` equals
     * the child's `column` (deleting a variant deletes its inventory item, and so the item's levels).
     */
    cascade?: { column: string; resource: ResourceName; keyColumn: string };
  };
  /** Where the sync reads it from Shopify (inventory reads per location, see the sync). */
  shopify: { path: string; rootKey: string; params: Record<string, string> };
  /** Webhook topics that carry the full record, and topics that delete it. */
  webhookTopics: {
    upsert: readonly string[];
    delete: readonly string[];
    /** Topics whose payload `{ id }` removes every record with that id in one key column (topic → column). */
    deleteWhere?: Readonly<Record<string, string>>;
  };
  /** Shopify JSON → rows (without tenant_id / integration_id, which the store adds). */
  map(record: Record<string, unknown>, ctx: MapContext): MappedRecord;
  /** Delete webhooks carry only the key: payload → key values. */
  keyOf(payload: Record<string, unknown>): unknown[];
  filters: Record<string, FilterDefinition>;
  /** Stored row (+ children) → API representation. */
  toApi(row: Row, children: Row[]): Record<string, unknown>;
}
