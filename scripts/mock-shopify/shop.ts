import { createHash, randomBytes } from 'node:crypto';
import type { ShopifyCustomer, ShopifyInventoryLevel, ShopifyLocation, ShopifyOrder, ShopifyProduct, ShopifyShop, ShopifyWebhook } from '../../src/shopify/types.js';
import { MockBulkOperations } from './bulk.js';
import { Catalog } from './catalog.js';
import { setGraphqlRateLimit, type MockGraphqlRateLimit } from './graphql.js';
import { MockClock } from './clock.js';
import { parseOffset } from './random.js';
import { shopTruth, type MockTruth } from './truth.js';
import { deliverWebhooks, newEvent, type DeliverOptions, type DeliveryResult, type MockWebhookEvent } from './webhooks.js';

export interface MockRateLimit {
  enabled: boolean;
  /** Requests the bucket holds (Shopify: 40 standard, 400 Plus). */
  bucketSize: number;
  /** Leak per second at scale 1 (Shopify: 2 standard, 20 Plus). */
  leakPerSecond: number;
  /** Multiplies the leak rate, so tests and benchmarks run Shopify's shape faster. */
  scale: number;
}

export interface MockFaults {
  /** Share (0–1) of API requests answered with `errorStatus`. */
  errorRate: number;
  errorStatus: number;
  /** The next N API requests are answered with `errorStatus` (a burst). */
  failNext: number;
  /** Added to every API response. */
  latencyMs: number;
  /** Share (0–1) of API requests whose connection is dropped without an answer. */
  dropRate: number;
  /** The next N API requests have their connection dropped. */
  dropNext: number;
  /** The next N API requests are answered 429 whatever the bucket says (a storm). */
  throttleNext: number;
  /** `Retry-After` sent with those forced 429s. */
  throttleRetryAfter: string;
}

export interface MockShopStats {
  requests: number;
  throttled: number;
  serverErrors: number;
  dropped: number;
  unauthorized: number;
  /** Requests per `METHOD resource` (ids replaced by `:id`). */
  byEndpoint: Record<string, number>;
}

export interface MockShopOptions {
  domain: string;
  /** Tokens accepted for this shop (default: one derived from the domain, see `shop.accessToken`). */
  accessToken?: string | string[];
  /** Scopes granted to this shop's tokens (default: every read scope, including read_all_orders). */
  scope?: string;
  seed?: number;
  products?: number;
  customers?: number;
  orders?: number;
  locations?: number;
  /** Shop's UTC offset for timestamps, e.g. "-05:00". */
  timezoneOffset?: string;
  /** The shop's currency; KWD, BHD, JOD (…) shops write amounts with three decimals ("1.500"). */
  currency?: string;
  name?: string;
  planName?: string;
  planDisplayName?: string;
  /** Secret signing this shop's webhooks (a custom app's); default: the app secret. */
  webhookSecret?: string;
  rateLimit?: Partial<MockRateLimit>;
  /** The GraphQL points bucket (default: Shopify Standard's, on and scaled like the REST bucket). */
  graphqlRateLimit?: Partial<MockGraphqlRateLimit>;
}

export interface MockAppContext {
  apiKey: string;
  apiSecret: string;
  apiVersion: string;
}

const DEFAULT_SCOPE = 'read_products,read_orders,read_all_orders,read_customers,read_inventory,read_locations';

export const DEFAULT_FAULTS: MockFaults = {
  errorRate: 0,
  errorStatus: 503,
  failNext: 0,
  latencyMs: 0,
  dropRate: 0,
  dropNext: 0,
  throttleNext: 0,
  throttleRetryAfter: '2.0',
};

export class MockShop {
  readonly domain: string;
  readonly id: number;
  readonly catalog: Catalog;
  readonly accessTokens = new Set<string>();
  /** Scopes of tokens issued without their own (see `access_scopes.json`); may be changed by a test. */
  scope: string;
  /** Scopes of tokens issued through OAuth with a narrower grant. */
  private readonly tokenScopes = new Map<string, string>();
  private readonly tokenExpiry = new Map<string, number>();
  /** "Now" for this shop's changes; shared by every shop of one mock server. */
  readonly clock: MockClock;
  private lastTriggeredMs = 0;
  readonly webhookSecret: string | undefined;
  readonly subscriptions = new Map<number, ShopifyWebhook>();
  /** Every change made through the mutation methods, in order. */
  readonly events: MockWebhookEvent[] = [];
  rateLimit: MockRateLimit;
  faults: MockFaults = { ...DEFAULT_FAULTS };
  stats: MockShopStats = emptyStats();
  /** Bulk query operations: controls, faults, counters (see bulk.ts). */
  readonly bulk: MockBulkOperations;
  private bucketLevel = 0;
  private bucketTs = performance.now();
  private nextWebhookId: number;
  private readonly info: ShopifyShop;

  constructor(
    readonly index: number,
    opts: MockShopOptions,
    private readonly app: MockAppContext,
    rateLimitDefaults: Partial<MockRateLimit> = {},
    clock = new MockClock(),
    graphqlRateLimitDefaults: Partial<MockGraphqlRateLimit> = {},
  ) {
    this.domain = opts.domain;
    this.clock = clock;
    this.id = 60_000_000_000 + index;
    this.scope = opts.scope ?? DEFAULT_SCOPE;
    this.webhookSecret = opts.webhookSecret;
    const tokens = opts.accessToken === undefined ? [defaultToken(opts.domain)] : Array.isArray(opts.accessToken) ? opts.accessToken : [opts.accessToken];
    for (const t of tokens) this.accessTokens.add(t);
    this.rateLimit = { enabled: true, bucketSize: 40, leakPerSecond: 2, scale: 1, ...rateLimitDefaults, ...opts.rateLimit };
    // A REST bucket switched off or sped up for a test or benchmark takes the points bucket along, unless that is set itself.
    setGraphqlRateLimit(this, { enabled: this.rateLimit.enabled, scale: this.rateLimit.scale, ...graphqlRateLimitDefaults, ...opts.graphqlRateLimit });
    this.nextWebhookId = 1_100_000_000_000 + index * 1_000_000;
    this.bulk = new MockBulkOperations(this);
    const offset = opts.timezoneOffset ?? '-05:00';
    const offsetMinutes = parseOffset(offset);
    const currency = opts.currency ?? 'USD';
    this.catalog = new Catalog({
      seed: opts.seed ?? 42,
      shopIndex: index,
      domain: opts.domain,
      products: opts.products ?? 25,
      customers: opts.customers ?? 10,
      orders: opts.orders ?? 20,
      locations: opts.locations ?? 2,
      offsetMinutes,
      currency,
    });
    const name =
      opts.name ??
      opts.domain
        .replace(/\.myshopify\.com$/, '')
        .replace(/-/g, ' ')
        .replace(/\b\w/g, (c) => c.toUpperCase());
    const created = this.catalog.time(Date.UTC(2022, 5, 1));
    this.info = {
      id: this.id,
      name,
      email: `owner@${opts.domain}`,
      domain: opts.domain,
      province: null,
      country: 'US',
      address1: '1 Market Street',
      zip: '10001',
      city: 'New York',
      phone: null,
      created_at: created,
      updated_at: created,
      country_code: 'US',
      country_name: 'United States',
      currency,
      customer_email: `support@${opts.domain}`,
      timezone: `(GMT${offset}) Mock/Zone`,
      iana_timezone: offset === '-05:00' ? 'America/New_York' : 'Etc/Unknown',
      shop_owner: 'Mock Owner',
      money_format: '${{amount}}',
      weight_unit: 'kg',
      plan_name: opts.planName ?? 'basic',
      plan_display_name: opts.planDisplayName ?? 'Basic',
      primary_locale: 'en',
      myshopify_domain: opts.domain,
      has_storefront: true,
      password_enabled: false,
    };
  }

  /** The first accepted token. */
  get accessToken(): string {
    const first = this.accessTokens.values().next();
    if (first.done) throw new Error(`mock shop ${this.domain} has no valid token (revoked?)`);
    return first.value;
  }

  shopRecord(): ShopifyShop {
    return { ...this.info };
  }

  // ---------- tokens ----------

  /** `expiresAtMs` (on the mock's clock): an expiring token, refused with 401 from then on. */
  issueToken(token = `shpat_${randomBytes(16).toString('hex')}`, scope?: string, expiresAtMs?: number): string {
    this.accessTokens.add(token);
    if (scope !== undefined) this.tokenScopes.set(token, scope);
    if (expiresAtMs !== undefined) this.tokenExpiry.set(token, expiresAtMs);
    return token;
  }

  /** Whether a request with this token is let in: issued, not revoked, not expired. */
  acceptsToken(token: string): boolean {
    if (!this.accessTokens.has(token)) return false;
    const expiry = this.tokenExpiry.get(token);
    return expiry === undefined || expiry > this.clock.now();
  }

  /** When an expiring token expires (mock clock), undefined for one that never does. */
  expiryOf(token: string): number | undefined {
    return this.tokenExpiry.get(token);
  }

  /** Scopes a token holds, as `GET /admin/oauth/access_scopes.json` lists them. */
  scopesOf(token: string): string[] {
    return (this.tokenScopes.get(token) ?? this.scope)
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /**
   * Without `read_all_orders` Shopify lists (REST and GraphQL) only orders created in the last 60 days:
   * the earliest creation time this token sees, or undefined when it sees every order.
   */
  ordersCreatedSince(token: string): number | undefined {
    return this.scopesOf(token).includes('read_all_orders') ? undefined : this.clock.now() - 60 * 86_400_000;
  }

  /** Revokes one token, or every token when none is named (as an uninstall does). */
  revokeToken(token?: string): void {
    if (token === undefined) this.accessTokens.clear();
    else this.accessTokens.delete(token);
  }

  // ---------- rate limit, faults, stats ----------

  setRateLimit(patch: Partial<MockRateLimit>): void {
    this.rateLimit = { ...this.rateLimit, ...patch };
  }

  setFaults(patch: Partial<MockFaults>): void {
    this.faults = { ...this.faults, ...patch };
  }

  resetFaults(): void {
    this.faults = { ...DEFAULT_FAULTS };
  }

  resetStats(): void {
    this.stats = emptyStats();
  }

  /** Resets the bucket to empty. */
  drainBucket(): void {
    this.bucketLevel = 0;
    this.bucketTs = performance.now();
  }

  /** Counts one request in the leaky bucket; `retryAfter` (seconds, "0.5") when it is full. */
  takeFromBucket(): { allowed: true } | { allowed: false; retryAfter: string } {
    const rl = this.rateLimit;
    if (!rl.enabled) return { allowed: true };
    const now = performance.now();
    const leakPerMs = (rl.leakPerSecond * rl.scale) / 1000;
    this.bucketLevel = Math.max(0, this.bucketLevel - (now - this.bucketTs) * leakPerMs);
    this.bucketTs = now;
    if (this.bucketLevel + 1 > rl.bucketSize) {
      const waitSeconds = (this.bucketLevel + 1 - rl.bucketSize) / leakPerMs / 1000;
      return { allowed: false, retryAfter: Math.max(0.1, Math.ceil(waitSeconds * 10) / 10).toFixed(1) };
    }
    this.bucketLevel += 1;
    return { allowed: true };
  }

  /** `X-Shopify-Shop-Api-Call-Limit` value ("32/40"). */
  callLimitHeader(): string {
    const rl = this.rateLimit;
    if (!rl.enabled) return `1/${rl.bucketSize}`;
    const leakPerMs = (rl.leakPerSecond * rl.scale) / 1000;
    const level = Math.max(0, this.bucketLevel - (performance.now() - this.bucketTs) * leakPerMs);
    return `${Math.min(rl.bucketSize, Math.ceil(level))}/${rl.bucketSize}`;
  }

  // ---------- webhook subscriptions ----------

  get webhooks(): ShopifyWebhook[] {
    return [...this.subscriptions.values()];
  }

  addSubscription(topic: string, address: string, format: 'json' | 'xml' = 'json', fields: string[] = []): ShopifyWebhook {
    const now = this.catalog.time(Date.now());
    const webhook: ShopifyWebhook = {
      id: this.nextWebhookId++,
      address,
      topic,
      created_at: now,
      updated_at: now,
      format,
      fields,
      metafield_namespaces: [],
      api_version: this.app.apiVersion,
      private_metafield_namespaces: [],
    };
    this.subscriptions.set(webhook.id, webhook);
    return webhook;
  }

  // ---------- changes (each returns the webhook event Shopify would send) ----------

  /**
   * Records the event of a change. Triggered-At is the change's moment with milliseconds, strictly
   * increasing per shop, so it orders versions that share a whole-second `updated_at`.
   */
  private record<P>(topic: string, payload: P): MockWebhookEvent<P> {
    this.lastTriggeredMs = Math.max(this.clock.now(), this.lastTriggeredMs + 1);
    const event = newEvent(topic, payload, this.lastTriggeredMs);
    this.events.push(event);
    return event;
  }

  private now(): number {
    return this.clock.now();
  }

  createProduct(input: Partial<ShopifyProduct> = {}): MockWebhookEvent<ShopifyProduct> {
    return this.record('products/create', this.catalog.createProduct(input, this.now()));
  }

  /**
   * `patch.variants` keeps only the listed variants (by id): each one left out is deleted with its
   * inventory item, recorded as `inventory_items/delete` after the `products/update` returned here.
   */
  updateProduct(id: number, patch: Partial<ShopifyProduct> = {}): MockWebhookEvent<ShopifyProduct> {
    const { product, deletedItemIds } = this.catalog.updateProduct(id, patch, this.now());
    const event = this.record('products/update', product);
    for (const itemId of deletedItemIds) this.record('inventory_items/delete', { id: itemId });
    return event;
  }

  /** Deletes a product; its variants' inventory items go too (`inventory_items/delete` events recorded after it). */
  deleteProduct(id: number): MockWebhookEvent<{ id: number }> {
    const itemIds = this.catalog.deleteProduct(id);
    const event = this.record('products/delete', { id });
    for (const itemId of itemIds) this.record('inventory_items/delete', { id: itemId });
    return event;
  }

  createCustomer(input: Partial<ShopifyCustomer> = {}): MockWebhookEvent<ShopifyCustomer> {
    return this.record('customers/create', this.catalog.createCustomer(input, this.now()));
  }

  updateCustomer(id: number, patch: Partial<ShopifyCustomer> = {}): MockWebhookEvent<ShopifyCustomer> {
    return this.record('customers/update', this.catalog.updateCustomer(id, patch, this.now()));
  }

  deleteCustomer(id: number): MockWebhookEvent<{ id: number }> {
    this.catalog.deleteCustomer(id);
    return this.record('customers/delete', { id });
  }

  /** The order's customer gets a new version too (order count, total spent): `customers/update` is recorded after it. */
  createOrder(input: Partial<ShopifyOrder> = {}): MockWebhookEvent<ShopifyOrder> {
    const { order, customer } = this.catalog.createOrder(input, this.now());
    const event = this.record('orders/create', order);
    if (customer) this.record('customers/update', customer);
    return event;
  }

  /** `topic`: `orders/paid`, `orders/fulfilled` … carry the same full order as `orders/updated`. */
  updateOrder(id: number, patch: Partial<ShopifyOrder> = {}, topic = 'orders/updated'): MockWebhookEvent<ShopifyOrder> {
    return this.record(topic, this.catalog.updateOrder(id, patch, this.now()));
  }

  cancelOrder(id: number, reason = 'customer'): MockWebhookEvent<ShopifyOrder> {
    return this.record('orders/cancelled', this.catalog.cancelOrder(id, reason, this.now()));
  }

  closeOrder(id: number): MockWebhookEvent<ShopifyOrder> {
    return this.record('orders/updated', this.catalog.closeOrder(id, this.now()));
  }

  deleteOrder(id: number): MockWebhookEvent<{ id: number }> {
    this.catalog.deleteOrder(id);
    return this.record('orders/delete', { id });
  }

  /** The variant's quantity changes with the level: `products/update` is recorded after the returned event. */
  setInventoryLevel(inventoryItemId: number, locationId: number, available: number): MockWebhookEvent<ShopifyInventoryLevel> {
    const { level, product } = this.catalog.setInventoryLevel(inventoryItemId, locationId, available, this.now());
    const event = this.record('inventory_levels/update', levelPayload(level));
    this.record('products/update', product);
    return event;
  }

  /** Stocks an item at a location again; `products/update` is recorded after the returned event. */
  connectInventoryLevel(inventoryItemId: number, locationId: number, available = 0): MockWebhookEvent<ShopifyInventoryLevel> {
    const { level, product } = this.catalog.connectInventoryLevel(inventoryItemId, locationId, available, this.now());
    const event = this.record('inventory_levels/connect', levelPayload(level));
    this.record('products/update', product);
    return event;
  }

  /** Stops stocking an item at a location; `products/update` is recorded after the returned event. */
  disconnectInventoryLevel(inventoryItemId: number, locationId: number): MockWebhookEvent<{ inventory_item_id: number; location_id: number }> {
    const product = this.catalog.disconnectInventoryLevel(inventoryItemId, locationId, this.now());
    const event = this.record('inventory_levels/disconnect', { inventory_item_id: inventoryItemId, location_id: locationId });
    this.record('products/update', product);
    return event;
  }

  /** Creates a location (stocking nothing yet): `locations/create`. */
  createLocation(input: Partial<ShopifyLocation> = {}): MockWebhookEvent<ShopifyLocation> {
    return this.record('locations/create', this.catalog.createLocation(input, this.now()));
  }

  /** Changes a location (name, address, `active` …): `locations/update` with the whole location. */
  updateLocation(id: number, patch: Partial<ShopifyLocation> = {}): MockWebhookEvent<ShopifyLocation> {
    return this.record('locations/update', this.catalog.updateLocation(id, patch, this.now()));
  }

  /** Deletes a location with its levels; products whose stock changed get `products/update` events after it. */
  deleteLocation(id: number): MockWebhookEvent<{ id: number }> {
    const products = this.catalog.deleteLocation(id, this.now());
    const event = this.record('locations/delete', { id });
    for (const product of products) this.record('products/update', product);
    return event;
  }

  /** The shop's current truth, as the service's API must serve it (see truth.ts). */
  truth(): MockTruth {
    return shopTruth(this.catalog);
  }

  /** Uninstalls the app: every token is revoked at once; the event carries the shop object. */
  uninstall(): MockWebhookEvent<ShopifyShop> {
    this.revokeToken();
    return this.record('app/uninstalled', this.shopRecord());
  }

  /**
   * Mandatory compliance webhooks, in Shopify's documented shapes. They are configured in the app's
   * settings, not through webhooks.json: deliver them with an explicit `url`.
   */
  complianceEvent(topic: 'customers/data_request' | 'customers/redact' | 'shop/redact', opts: { customerId?: number } = {}): MockWebhookEvent {
    const base = { shop_id: this.id, shop_domain: this.domain };
    if (topic === 'shop/redact') return this.record(topic, base);
    const customers = this.catalog.customers;
    const customerEntry = opts.customerId !== undefined ? customers.entries.find((e) => e.id === opts.customerId) : customers.entries[0];
    const c = customerEntry && customers.record(customerEntry);
    const customer = { id: c?.id ?? opts.customerId ?? 0, email: c?.email ?? null, phone: c?.phone ?? null };
    const orders = this.catalog.orders;
    const orderIds = orders.entries.filter((e) => !e.deleted && orders.record(e).customer?.id === customer.id).map((e) => e.id);
    if (topic === 'customers/redact') return this.record(topic, { ...base, customer, orders_to_redact: orderIds });
    return this.record(topic, { ...base, customer, orders_requested: orderIds, data_request: { id: Number(BigInt(hashHex(this.domain + customer.id)) % 1_000_000_000n) } });
  }

  /** Clears and returns the events recorded so far. */
  takeEvents(): MockWebhookEvent[] {
    return this.events.splice(0, this.events.length);
  }

  /** Delivers events to the subscribed addresses of each topic (or `opts.url`), signed as Shopify signs them. */
  deliver(events: MockWebhookEvent | MockWebhookEvent[], opts: DeliverOptions = {}): Promise<DeliveryResult[]> {
    const list = Array.isArray(events) ? events : [events];
    return deliverWebhooks(
      {
        shopDomain: this.domain,
        apiVersion: this.app.apiVersion,
        secret: this.webhookSecret ?? this.app.apiSecret,
        addressesFor: (topic) => this.webhooks.filter((w) => w.topic === topic).map((w) => w.address),
      },
      list,
      opts,
    );
  }
}

function levelPayload(level: ShopifyInventoryLevel): ShopifyInventoryLevel {
  return {
    inventory_item_id: level.inventory_item_id,
    location_id: level.location_id,
    available: level.available,
    updated_at: level.updated_at,
    admin_graphql_api_id: level.admin_graphql_api_id,
  };
}

function emptyStats(): MockShopStats {
  return { requests: 0, throttled: 0, serverErrors: 0, dropped: 0, unauthorized: 0, byEndpoint: {} };
}

function hashHex(s: string): string {
  return `0x${createHash('sha256').update(s).digest('hex').slice(0, 12)}`;
}

/** The token a shop accepts when none is configured: stable per domain. */
export function defaultToken(domain: string): string {
  return `shpat_${createHash('sha256').update(`mock:${domain}`).digest('hex').slice(0, 32)}`;
}
