import type { AddressInfo } from 'node:net';
import { MockClock } from './clock.js';
import { MockOAuth } from './oauth.js';
import { createMockServer, type MockServerState } from './server.js';
import { MockShop, type MockFaults, type MockRateLimit, type MockShopOptions } from './shop.js';
import type { MockGraphqlRateLimit } from './graphql.js';
import type { MockTokenGrants, MockOwnApp, MockTokenLifetimes } from './tokens.js';
import type { MockTruth } from './truth.js';

/**
 * A faithful, fast stand-in for the Shopify Admin REST API, serving any number of shops under
 * `/{shop}` on one port: configure the service with `SHOPIFY_API_BASE_URL=<baseUrlTemplate>`.
 */
export interface MockShopifyOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** App credentials: OAuth checks them; webhooks are signed with `apiSecret` unless a shop has its own secret. */
  apiKey?: string;
  apiSecret?: string;
  /** Sent as `X-Shopify-API-Version` with webhooks (requests answer with the version in their path). */
  apiVersion?: string;
  /** Default: one shop, `mock-shop.myshopify.com`, with a small catalog. */
  shops?: MockShopOptions[];
  /** Rate limit applied to every shop unless the shop says otherwise (default 40, 2/s, scale 1). */
  rateLimit?: Partial<MockRateLimit>;
  /** GraphQL points bucket of every shop unless the shop says otherwise (default: Standard's 2,000 / 100 per s, on and scaled like `rateLimit`). */
  graphqlRateLimit?: Partial<MockGraphqlRateLimit>;
  /** When set, `page_info` cursors expire after this many ms. */
  pageInfoTtlMs?: number;
  /** Token lifetimes in seconds (Shopify's by default: 1 h access, 90 days refresh, 24 h client credentials). */
  tokenLifetimes?: Partial<MockTokenLifetimes>;
  /** Merchants' own Dev Dashboard apps (client-credentials grant). */
  ownApps?: MockOwnApp[];
}

export interface MockShopify {
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** `http://127.0.0.1:PORT/{shop}`: the value of SHOPIFY_API_BASE_URL. */
  baseUrlTemplate: string;
  port: number;
  apiKey: string;
  apiSecret: string;
  apiVersion: string;
  shops: Map<string, MockShop>;
  /** "Now" of every shop's changes: set or advance it to stamp changes in one second, or hours apart. */
  clock: MockClock;
  /** The token endpoint's grants: lifetimes, faults, own apps, stats and each shop's current pair. */
  tokens: MockTokenGrants;
  /** A shop by domain; the first shop when no domain is given. */
  shop(domain?: string): MockShop;
  addShop(opts: MockShopOptions): MockShop;
  /** Faults of one shop, or of every shop when no domain is given. */
  setFaults(faults: Partial<MockFaults>, domain?: string): void;
  setRateLimit(rateLimit: Partial<MockRateLimit>, domain?: string): void;
  /**
   * A shop's current truth as the service's read API must serve it: products with variants, orders
   * with line items, customers, inventory levels, and the keys of deleted records.
   */
  truth(domain?: string): MockTruth;
  close(): Promise<void>;
}

export async function startMockShopify(opts: MockShopifyOptions = {}): Promise<MockShopify> {
  const app = { apiKey: opts.apiKey ?? 'mock-api-key', apiSecret: opts.apiSecret ?? 'mock-api-secret', apiVersion: opts.apiVersion ?? '2026-10' };
  const shops = new Map<string, MockShop>();
  const clock = new MockClock();
  const oauth = new MockOAuth(app, opts.tokenLifetimes);
  oauth.tokens.ownApps.push(...(opts.ownApps ?? []));
  const state: MockServerState = { app, shops, oauth, pageInfoTtlMs: opts.pageInfoTtlMs };
  const addShop = (shopOpts: MockShopOptions): MockShop => {
    if (shops.has(shopOpts.domain)) throw new Error(`mock shop ${shopOpts.domain} already exists`);
    const shop = new MockShop(shops.size, shopOpts, app, opts.rateLimit, clock, opts.graphqlRateLimit);
    shops.set(shop.domain, shop);
    return shop;
  };
  for (const s of opts.shops ?? [{ domain: 'mock-shop.myshopify.com' }]) addShop(s);

  const server = createMockServer(state);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = opts.host && opts.host !== '0.0.0.0' ? opts.host : '127.0.0.1';
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  // Bulk results are downloaded from the server's own origin.
  for (const shop of shops.values()) shop.bulk.origin = url;
  const each = (domain: string | undefined, fn: (s: MockShop) => void) => {
    if (domain === undefined) shops.forEach(fn);
    else fn(get(domain));
  };
  const get = (domain?: string): MockShop => {
    const shop = domain === undefined ? shops.values().next().value : shops.get(domain);
    if (!shop) throw new Error(`no mock shop ${domain ?? '(none configured)'}`);
    return shop;
  };

  return {
    url,
    baseUrlTemplate: `${url}/{shop}`,
    port,
    ...app,
    shops,
    clock,
    tokens: oauth.tokens,
    shop: get,
    addShop: (shopOpts) => {
      const shop = addShop(shopOpts);
      shop.bulk.origin = url;
      return shop;
    },
    setFaults: (faults, domain) => each(domain, (s) => s.setFaults(faults)),
    setRateLimit: (rateLimit, domain) => each(domain, (s) => s.setRateLimit(rateLimit)),
    truth: (domain) => get(domain).truth(),
    close: async () => {
      await Promise.all([...shops.values()].map((s) => s.bulk.close()));
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

export { MockShop, DEFAULT_FAULTS, defaultToken } from './shop.js';
export type { MockFaults, MockRateLimit, MockShopOptions, MockShopStats } from './shop.js';
export type { DeliverOptions, DeliveryResult, MockWebhookEvent } from './webhooks.js';
export { newEvent, webhookIdFor } from './webhooks.js';
export { MockClock } from './clock.js';
export { MockTokenGrants, SHOPIFY_TOKEN_LIFETIMES } from './tokens.js';
export type { GrantKind, MockOwnApp, MockTokenFaults, MockTokenLifetimes } from './tokens.js';
export { THREE_DECIMAL_CURRENCIES } from './catalog.js';
export type { MockTruth, TruthCustomer, TruthInventoryLevel, TruthLineItem, TruthLocation, TruthOrder, TruthProduct, TruthVariant } from './truth.js';
export { graphqlState, resetGraphqlStats, setGraphqlRateLimit } from './graphql.js';
export type { MockGraphqlRateLimit, MockGraphqlStats } from './graphql.js';
export { MockBulkOperations, DEFAULT_BULK_CONFIG, bulkLimitFor } from './bulk.js';
export type { BulkErrorCode, BulkStatus, MockBulkConfig, MockBulkFailure, MockBulkOperation, MockBulkStats } from './bulk.js';
export type { MockBulkInterleave } from './bulk-jsonl.js';
