/**
 * The GraphQL Admin documents the sync sends, with the requested cost Shopify computes for each before
 * running it (objects 1, scalars and enums 0, a connection 2 + first × the cost of one node, where a
 * node is an object: 1 + what is selected in it). The limiter reserves that cost before sending, and
 * page sizes are chosen so it stays ≤ 1,000. Every document is validated against Shopify's schema of
 * each supported version in test/unit/graphql-documents.test.ts, which also checks these costs against
 * the mock's calculation from the same schema.
 */

/** `connection(first: n) { nodes { …node } }`: 2 + n × node, as Shopify counts it. */
export const connectionCost = (first: number, nodeCost: number): number => 2 + first * nodeCost;

const PAGE_INFO = 'pageInfo { hasNextPage endCursor }';

export const VARIANT_FIELDS = `id title sku price compareAtPrice position inventoryQuantity createdAt updatedAt inventoryItem { id }`;
/** One variant node: itself 1 + inventoryItem 1. */
const VARIANT_NODE_COST = 2;

export const PRODUCT_FIELDS = 'id title handle vendor productType status tags descriptionHtml createdAt updatedAt publishedAt';

export const PRODUCTS_QUERY = `query SyncProducts($first: Int!, $after: String, $query: String, $variantsFirst: Int!) {
  products(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    ${PAGE_INFO}
    nodes {
      ${PRODUCT_FIELDS}
      variants(first: $variantsFirst) { ${PAGE_INFO} nodes { ${VARIANT_FIELDS} } }
    }
  }
}`;
export const productsCost = (first: number, variantsFirst: number): number => connectionCost(first, 1 + connectionCost(variantsFirst, VARIANT_NODE_COST));

/** The variants of one product past the first page (a product may have up to 2,048). */
export const PRODUCT_VARIANTS_QUERY = `query SyncProductVariants($id: ID!, $first: Int!, $after: String) {
  product(id: $id) {
    variants(first: $first, after: $after) { ${PAGE_INFO} nodes { ${VARIANT_FIELDS} } }
  }
}`;
export const productVariantsCost = (first: number): number => 1 + connectionCost(first, VARIANT_NODE_COST);

const MONEY_BAG = 'shopMoney { amount currencyCode }';
/** A MoneyBag with its shopMoney: two objects. */
const MONEY_BAG_COST = 2;
export const LINE_ITEM_FIELDS = `id title sku quantity originalUnitPriceSet { ${MONEY_BAG} } product { id } variant { id }`;
/** One line item: itself 1 + price set 2 + product 1 + variant 1. */
const LINE_ITEM_NODE_COST = 1 + MONEY_BAG_COST + 1 + 1;

export const ORDER_FIELDS = `id name number email displayFinancialStatus displayFulfillmentStatus currencyCode
      processedAt closedAt cancelledAt createdAt updatedAt
      customer { id }
      totalPriceSet { ${MONEY_BAG} } subtotalPriceSet { ${MONEY_BAG} } totalTaxSet { ${MONEY_BAG} }`;

export const ORDERS_QUERY = `query SyncOrders($first: Int!, $after: String, $query: String, $lineItemsFirst: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    ${PAGE_INFO}
    nodes {
      ${ORDER_FIELDS}
      lineItems(first: $lineItemsFirst) { ${PAGE_INFO} nodes { ${LINE_ITEM_FIELDS} } }
    }
  }
}`;
/** One order without its line items: itself 1 + customer 1 + three money bags. */
const ORDER_NODE_COST = 1 + 1 + 3 * MONEY_BAG_COST;
export const ordersCost = (first: number, lineItemsFirst: number): number => connectionCost(first, ORDER_NODE_COST + connectionCost(lineItemsFirst, LINE_ITEM_NODE_COST));

export const ORDER_LINE_ITEMS_QUERY = `query SyncOrderLineItems($id: ID!, $first: Int!, $after: String) {
  order(id: $id) {
    lineItems(first: $first, after: $after) { ${PAGE_INFO} nodes { ${LINE_ITEM_FIELDS} } }
  }
}`;
export const orderLineItemsCost = (first: number): number => 1 + connectionCost(first, LINE_ITEM_NODE_COST);

export const CUSTOMER_FIELDS = `id firstName lastName state numberOfOrders tags createdAt updatedAt
      defaultEmailAddress { emailAddress } defaultPhoneNumber { phoneNumber } amountSpent { amount currencyCode }`;

export const CUSTOMERS_QUERY = `query SyncCustomers($first: Int!, $after: String, $query: String) {
  customers(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    ${PAGE_INFO}
    nodes { ${CUSTOMER_FIELDS} }
  }
}`;
/** One customer: itself 1 + email 1 + phone 1 + amount spent 1. */
export const customersCost = (first: number): number => connectionCost(first, 4);

export const LOCATION_FIELDS = `id name isActive isFulfillmentService createdAt updatedAt
      address { address1 address2 city province provinceCode country countryCode zip phone }`;

export const LOCATIONS_QUERY = `query SyncLocations($first: Int!, $after: String) {
  locations(first: $first, after: $after, includeInactive: true, includeLegacy: true, sortKey: ID) {
    ${PAGE_INFO}
    nodes { ${LOCATION_FIELDS} }
  }
}`;
/** One location: itself 1 + address 1. */
export const locationsCost = (first: number): number => connectionCost(first, 2);

export const INVENTORY_LEVEL_FIELDS = 'updatedAt quantities(names: ["available"]) { name quantity } item { id }';

export const LOCATION_INVENTORY_LEVELS_QUERY = `query SyncInventoryLevels($location: ID!, $first: Int!, $after: String, $query: String) {
  location(id: $location) {
    inventoryLevels(first: $first, after: $after, query: $query) {
      ${PAGE_INFO}
      nodes { ${INVENTORY_LEVEL_FIELDS} }
    }
  }
}`;
/** The location 1 + levels; one level: itself 1 + quantities 1 + item 1. */
export const locationInventoryLevelsCost = (first: number): number => 1 + connectionCost(first, 3);

/** Every document, for the schema validation test. */
export const SYNC_DOCUMENTS = {
  PRODUCTS_QUERY,
  PRODUCT_VARIANTS_QUERY,
  ORDERS_QUERY,
  ORDER_LINE_ITEMS_QUERY,
  CUSTOMERS_QUERY,
  LOCATIONS_QUERY,
  LOCATION_INVENTORY_LEVELS_QUERY,
} as const;
