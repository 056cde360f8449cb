/**
 * Shapes of the Shopify REST Admin resources this service reads (the fields we use and a few more;
 * Shopify sends more, callers keep the raw JSON). Timestamps are ISO 8601 strings with the shop's
 * offset (`2024-03-01T07:00:00-05:00`), money is a decimal string (`"19.99"`), ids are integers < 2^53.
 */
export type ShopifyTimestamp = string;
export type ShopifyMoney = string;

export interface ShopifyShop {
  id: number;
  name: string;
  email: string;
  domain: string;
  myshopify_domain: string;
  plan_name: string;
  plan_display_name: string;
  currency: string;
  iana_timezone?: string;
  timezone?: string;
  country_code?: string;
  shop_owner?: string;
  created_at?: ShopifyTimestamp;
  updated_at?: ShopifyTimestamp;
  [extra: string]: unknown;
}

export interface ShopifyVariant {
  id: number;
  product_id: number;
  title: string;
  price: ShopifyMoney;
  compare_at_price: ShopifyMoney | null;
  sku: string | null;
  position: number;
  inventory_item_id: number;
  inventory_quantity: number;
  created_at: ShopifyTimestamp;
  updated_at: ShopifyTimestamp;
  [extra: string]: unknown;
}

export interface ShopifyProduct {
  id: number;
  title: string;
  body_html: string | null;
  vendor: string;
  product_type: string;
  handle: string;
  status: 'active' | 'draft' | 'archived';
  tags: string;
  created_at: ShopifyTimestamp;
  updated_at: ShopifyTimestamp;
  published_at: ShopifyTimestamp | null;
  variants: ShopifyVariant[];
  options: { id: number; product_id: number; name: string; position: number; values: string[] }[];
  images: { id: number; product_id: number; position: number; src: string; [extra: string]: unknown }[];
  [extra: string]: unknown;
}

export interface ShopifyLineItem {
  id: number;
  product_id: number | null;
  variant_id: number | null;
  title: string;
  sku: string | null;
  quantity: number;
  price: ShopifyMoney;
  [extra: string]: unknown;
}

export interface ShopifyOrder {
  id: number;
  name: string;
  order_number: number;
  email: string | null;
  customer: { id: number; email: string | null; first_name: string | null; last_name: string | null; [extra: string]: unknown } | null;
  financial_status: string | null;
  fulfillment_status: string | null;
  currency: string;
  total_price: ShopifyMoney;
  subtotal_price: ShopifyMoney;
  total_tax: ShopifyMoney;
  cancelled_at: ShopifyTimestamp | null;
  closed_at: ShopifyTimestamp | null;
  processed_at: ShopifyTimestamp;
  created_at: ShopifyTimestamp;
  updated_at: ShopifyTimestamp;
  line_items: ShopifyLineItem[];
  [extra: string]: unknown;
}

export interface ShopifyAddress {
  id: number;
  customer_id: number;
  address1: string | null;
  city: string | null;
  country_code: string | null;
  zip: string | null;
  default: boolean;
  [extra: string]: unknown;
}

export interface ShopifyCustomer {
  id: number;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  phone: string | null;
  state: string;
  orders_count: number;
  total_spent: ShopifyMoney;
  currency: string;
  tags: string;
  created_at: ShopifyTimestamp;
  updated_at: ShopifyTimestamp;
  addresses: ShopifyAddress[];
  default_address: ShopifyAddress | null;
  [extra: string]: unknown;
}

export interface ShopifyInventoryLevel {
  inventory_item_id: number;
  location_id: number;
  available: number | null;
  updated_at: ShopifyTimestamp;
  [extra: string]: unknown;
}

export interface ShopifyLocation {
  id: number;
  name: string;
  active: boolean;
  [extra: string]: unknown;
}

export interface ShopifyWebhook {
  id: number;
  address: string;
  topic: string;
  format: 'json' | 'xml';
  created_at: ShopifyTimestamp;
  updated_at: ShopifyTimestamp;
  api_version?: string;
  [extra: string]: unknown;
}

/** The credentials and version of one connected store, as the client needs them. */
export interface ShopifyIntegrationRef {
  shopDomain: string;
  accessToken: string;
  apiVersion?: string;
}

/** One page of a paginated list. `capReached` is true on the last page a capped generator yields. */
export interface ShopifyPage<T> {
  items: T[];
  pageNumber: number;
  /** True when the page cap stopped the walk while Shopify still had more pages. */
  capReached: boolean;
  /** Whether Shopify announced a next page. */
  hasNext: boolean;
  /** When the request of this page started (its retries and rate-limit waits included): the page shows the store no earlier than this. */
  requestedAt: Date;
  /** The `page_info` of the next page, when there is one (a capped walk of a list without a keyset resumes from it). */
  nextPageInfo?: string;
}

/** What a page generator returns when it finishes (the `return` value of the generator). */
export interface PaginationSummary {
  pages: number;
  items: number;
  capReached: boolean;
}

export type QueryParams = Record<string, string | number | undefined>;
