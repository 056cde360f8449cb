import { CUSTOMER_FIELDS, INVENTORY_LEVEL_FIELDS, LINE_ITEM_FIELDS, LOCATION_FIELDS, ORDER_FIELDS, PRODUCT_FIELDS, VARIANT_FIELDS } from './index.js';

/**
 * Bulk operations: the export queries (run by Shopify outside the rate limit, one JSONL file each) and
 * the documents that start, follow and cancel them. An export query has no variables and no `first`:
 * it names whole connections (at most five, nested at most two levels), whose children Shopify writes
 * on lines of their own with `__parentId`. Sorted by `UPDATED_AT` where the connection allows, so data a
 * failed operation leaves is the oldest part of the store. Validated against Shopify's schema of each
 * supported version in test/unit/graphql-documents.test.ts.
 */
const edges = (fields: string) => `edges { node { ${fields} } }`;

export const BULK_EXPORT_QUERIES = {
  products: `{ products(sortKey: UPDATED_AT) { ${edges(`${PRODUCT_FIELDS} variants { ${edges(VARIANT_FIELDS)} }`)} } }`,
  orders: `{ orders(sortKey: UPDATED_AT) { ${edges(`${ORDER_FIELDS} lineItems { ${edges(LINE_ITEM_FIELDS)} }`)} } }`,
  customers: `{ customers(sortKey: UPDATED_AT) { ${edges(CUSTOMER_FIELDS)} } }`,
  locations: `{ locations(includeInactive: true, includeLegacy: true, sortKey: ID) { ${edges(LOCATION_FIELDS)} } }`,
  // Levels through their location: each level line's `__parentId` is its location.
  inventory: `{ locations(includeInactive: true, includeLegacy: true, sortKey: ID) { ${edges(`id inventoryLevels { ${edges(INVENTORY_LEVEL_FIELDS)} }`)} } }`,
} as const;

const OPERATION_FIELDS = 'id status errorCode objectCount rootObjectCount fileSize url partialDataUrl createdAt completedAt query';

export const BULK_RUN_QUERY_MUTATION = `mutation BulkRunQuery($query: String!, $groupObjects: Boolean!) {
  bulkOperationRunQuery(query: $query, groupObjects: $groupObjects) {
    bulkOperation { ${OPERATION_FIELDS} }
    userErrors { field message code }
  }
}`;

/** By id: API 2026-01 and later. */
export const BULK_OPERATION_QUERY = `query BulkOperation($id: ID!) {
  bulkOperation(id: $id) { ${OPERATION_FIELDS} }
}`;

/** By id before API 2026-01: through the `Node` interface, which every version has. */
export const BULK_OPERATION_NODE_QUERY = `query BulkOperationNode($id: ID!) {
  node(id: $id) { ... on BulkOperation { ${OPERATION_FIELDS} } }
}`;

/** The shop's newest bulk query operation of this app (every version). */
export const CURRENT_BULK_OPERATION_QUERY = `query CurrentBulkOperation {
  currentBulkOperation(type: QUERY) { ${OPERATION_FIELDS} }
}`;

/** Operations not finished yet: API 2026-01 and later, where several may run at once. */
export const RUNNING_BULK_OPERATIONS_QUERY = `query RunningBulkOperations($first: Int!) {
  bulkOperations(first: $first, query: "status:CREATED OR status:RUNNING", sortKey: CREATED_AT) {
    nodes { ${OPERATION_FIELDS} }
  }
}`;

export const BULK_CANCEL_MUTATION = `mutation BulkCancel($id: ID!) {
  bulkOperationCancel(id: $id) {
    bulkOperation { ${OPERATION_FIELDS} }
    userErrors { field message }
  }
}`;

/** Requested costs: a mutation costs 10; an operation node is one object. */
export const BULK_MUTATION_COST = 10;
export const BULK_OPERATION_COST = 1;
export const runningBulkOperationsCost = (first: number): number => 2 + first;

/** Every bulk document with variables, for the schema validation test (the 2026-01+ ones apart). */
export const BULK_DOCUMENTS = { BULK_RUN_QUERY_MUTATION, BULK_OPERATION_NODE_QUERY, CURRENT_BULK_OPERATION_QUERY, BULK_CANCEL_MUTATION } as const;
export const BULK_DOCUMENTS_SINCE_2026_01 = { BULK_OPERATION_QUERY, RUNNING_BULK_OPERATIONS_QUERY } as const;
