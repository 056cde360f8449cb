import { startMockShopify, type MockShop, type MockShopify, type MockShopifyOptions } from '../../scripts/mock-shopify/index.js';
import { sealAccessToken } from '../../src/store/integration-secrets.js';
import { bullPrefix } from '../../src/platform/queues.js';
import type { ServiceContext } from '../../src/context.js';
import { RESOURCES, type ResourceName } from '../../src/resources/index.js';
import { graphqlPageSize } from '../../src/shopify/graphql/pages.js';
import { createIntegration, findIntegrationById } from '../../src/store/integrations.js';
import type { Integration, SyncLog } from '../../src/store/schema.js';
import { startSyncWorker } from '../../src/sync/worker.js';
import { deleteKeys, startTestContext, type TestContext } from './context.js';

export interface SyncTestContext extends TestContext {
  mock: MockShopify;
  /** An active integration of `tenantId` for a mock shop (its token, encrypted as the service stores it; any shop works for API-only tests). */
  connect(tenantId: string, shopDomain: string, extra?: Partial<Integration>): Promise<Integration>;
  /** Starts a sync worker on this context's queues (as `npm run start:worker` does); stopped by close(). */
  startWorker(): Promise<() => Promise<void>>;
  /** Waits until every run of the integration (and at least `count` of them) has finished. */
  waitForRuns(integrationId: number, count: number, timeoutMs?: number): Promise<SyncLog[]>;
  runsOf(integrationId: number, resource?: ResourceName): Promise<SyncLog[]>;
}

/**
 * The real API and a private database/Redis prefix (startTestContext) pointed at a mock Shopify, with
 * schedulers off (tests start work explicitly), fast retries and the rate limit scaled up.
 */
export async function startSyncTestContext(mockOptions: MockShopifyOptions, env: Record<string, string> = {}): Promise<SyncTestContext> {
  const mock = await startMockShopify({ rateLimit: { enabled: true, bucketSize: 40, leakPerSecond: 2, scale: 100 }, ...mockOptions });
  const t = await startTestContext({
    SHOPIFY_API_BASE_URL: mock.baseUrlTemplate,
    SHOPIFY_SYNC_INTERVAL_PRODUCTS: '0',
    SHOPIFY_SYNC_INTERVAL_ORDERS: '0',
    SHOPIFY_SYNC_INTERVAL_CUSTOMERS: '0',
    SHOPIFY_SYNC_INTERVAL_INVENTORY: '0',
    SHOPIFY_SYNC_INTERVAL_LOCATIONS: '0',
    SHOPIFY_BUCKET_SIZE: '40',
    SHOPIFY_MAX_REQUESTS_PER_SECOND: '200',
    SHOPIFY_RETRY_DELAY: '0.01',
    SHOPIFY_MAX_RETRY_ATTEMPTS: '3',
    SYNC_JOB_BACKOFF_SECONDS: '0.05',
    ...env,
  });
  const stops: (() => Promise<void>)[] = [];
  const runsOf = (integrationId: number, resource?: ResourceName) => {
    let q = t.ctx.db.selectFrom('shopify_sync_logs').selectAll().where('integration_id', '=', integrationId);
    if (resource) q = q.where('resource', '=', resource);
    return q.orderBy('id').execute();
  };
  return {
    ...t,
    mock,
    async connect(tenantId, shopDomain, extra = {}) {
      const mockShop = mock.shops.get(shopDomain);
      const shop = mockShop ?? { accessToken: 'shpat_not_a_mock_shop', scope: '' };
      const created = await createIntegration(t.ctx.db, {
        tenant_id: tenantId,
        shop_domain: shopDomain,
        access_token_encrypted: sealAccessToken(t.ctx.secrets, { tenant_id: tenantId, shop_domain: shopDomain }, shop.accessToken),
        encryption_key_id: t.ctx.secrets.currentKeyId,
        api_version: t.config.shopify.apiVersion,
        scopes: shop.scope,
        shop_currency: mockShop?.shopRecord().currency ?? 'USD',
        shop_name: shopDomain,
        shop_plan: 'basic',
        webhook_secret_encrypted: null,
        token_revoked_at: null,
        last_sync_at: null,
        last_error_at: null,
        last_error_message: null,
        ...extra,
      });
      return created;
    },
    async startWorker() {
      const stop = await startSyncWorker(t.ctx);
      let stopped = false;
      const once = async () => {
        if (stopped) return;
        stopped = true;
        await stop();
      };
      stops.push(once);
      return once;
    },
    runsOf,
    async waitForRuns(integrationId, count, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const runs = await runsOf(integrationId);
        const finished = runs.filter((r) => r.status === 'succeeded' || r.status === 'failed');
        if (finished.length >= count && finished.length === runs.length) return runs;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} finished runs: ${JSON.stringify(runs.map((r) => [r.resource, r.status]))}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async close() {
      await Promise.allSettled(stops.map((stop) => stop()));
      await deleteKeys(t.ctx, `${bullPrefix(t.config.redisKeyPrefix)}*`);
      await t.close();
      await mock.close();
    },
  };
}

export async function integrationRow(t: TestContext, id: number): Promise<Integration> {
  const row = await findIntegrationById(t.ctx.db, id);
  if (!row) throw new Error(`no integration ${id}`);
  return row;
}

/** Waits until `predicate` holds (polling), for conditions the test cannot await directly. */
export async function eventually(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export type SyncApi = 'graphql' | 'rest';

/** The same service with its syncs (and webhook subscriptions) going through another Admin API. */
export function withSyncApi(ctx: ServiceContext, api: SyncApi): ServiceContext {
  return { ...ctx, config: { ...ctx.config, shopify: { ...ctx.config.shopify, syncApi: api } } };
}

/** Listing requests a shop answered: the REST endpoint's (`GET products`), or every GraphQL query. */
export function listRequests(shop: MockShop, api: SyncApi, restEndpoint: string): number {
  return shop.stats.byEndpoint[api === 'graphql' ? 'POST graphql' : restEndpoint] ?? 0;
}

/** Records one page holds for this API and page size (GraphQL: fewer when the query cost requires it). */
export function recordsPerPage(api: SyncApi, resource: ResourceName, pageSize: number): number {
  return api === 'graphql' ? graphqlPageSize(RESOURCES[resource].shopify.graphql, pageSize) : pageSize;
}

/** Pages a walk of `records` takes. */
export const pagesFor = (api: SyncApi, resource: ResourceName, records: number, pageSize = 250) => Math.ceil(records / recordsPerPage(api, resource, pageSize));
