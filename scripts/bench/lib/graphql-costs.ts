import type { ServiceContext } from '../../../src/context.js';
import { shopifyClientObserver } from '../../../src/platform/metrics.js';
import { createShopifyGraphqlClient, type GraphqlClient, type GraphqlRequest } from '../../../src/shopify/graphql-client.js';
import { createSyncLog } from '../../../src/store/sync-logs.js';

/** Requested and actual cost of every GraphQL query a phase sent, in order (THROTTLED answers: actual null). */
export interface QueryCosts {
  requested: number[];
  actual: (number | null)[];
}

export const noCosts = (): QueryCosts => ({ requested: [], actual: [] });

/** The service's GraphQL client (as `runSync` builds it), its queries' costs recorded; `limited`: the shared cost limiter in Redis. */
export function recordingGraphqlClient(ctx: ServiceContext, shop: string, accessToken: string, limited: boolean, costs: QueryCosts): GraphqlClient {
  const c = createShopifyGraphqlClient(
    { redis: ctx.redis, keys: ctx.keys, logger: ctx.logger, config: ctx.config.shopify, maxPages: ctx.config.sync.maxPages, observer: shopifyClientObserver(ctx.metrics), costLimit: limited },
    { shopDomain: shop, accessToken, apiVersion: ctx.config.shopify.apiVersion },
  );
  return {
    get shopDomain() {
      return c.shopDomain;
    },
    get apiVersion() {
      return c.apiVersion;
    },
    get stats() {
      return c.stats;
    },
    async query<T>(request: GraphqlRequest) {
      const result = await c.query<T>(request);
      costs.requested.push(result.cost?.requestedQueryCost ?? request.requestedCost);
      costs.actual.push(result.cost?.actualQueryCost ?? null);
      return result;
    },
  };
}

/** A running products log row for a phase that writes pages outside `runSync` (upsert-only phases). */
export function openBenchSyncLog(ctx: ServiceContext, integrationId: number, tenantId: string): Promise<number> {
  return createSyncLog(ctx.db, {
    tenant_id: tenantId,
    integration_id: integrationId,
    resource: 'products',
    trigger: 'manual',
    mode: 'full',
    status: 'running',
    job_id: null,
    started_at: new Date(),
  });
}
