/**
 * The mock Shopify in a process of its own (its CPU is not the service's), controlled by the runner:
 * options as JSON in argv[2]; commands change the rate limit (REST's request bucket, GraphQL's points
 * bucket), empty a shop's buckets and read its counters, configure and follow bulk operations.
 */
import {
  graphqlState,
  resetGraphqlStats,
  setGraphqlRateLimit,
  startMockShopify,
  type MockBulkConfig,
  type MockGraphqlRateLimit,
  type MockRateLimit,
  type MockShopifyOptions,
} from '../../mock-shopify/index.js';
import { sendReady, serveRunner } from '../lib/child-ipc.js';

const options = JSON.parse(process.argv[2] ?? '{}') as MockShopifyOptions;
const mock = await startMockShopify({ ...options, host: '127.0.0.1' });

serveRunner(
  {
    setRateLimit: ({ rateLimit, domain }: { rateLimit: Partial<MockRateLimit>; domain?: string }) => mock.setRateLimit(rateLimit, domain),
    setGraphqlRateLimit: ({ rateLimit, domain }: { rateLimit: Partial<MockGraphqlRateLimit>; domain?: string }) => {
      for (const shop of domain ? [mock.shop(domain)] : mock.shops.values()) setGraphqlRateLimit(shop, rateLimit);
    },
    /** Empty buckets (GraphQL's full of points) and zeroed counters: the state of a shop nobody has called for a while. */
    reset: ({ domain }: { domain?: string } = {}) => {
      for (const shop of domain ? [mock.shop(domain)] : mock.shops.values()) {
        shop.drainBucket();
        shop.resetStats();
        setGraphqlRateLimit(shop, {});
        resetGraphqlStats(shop);
      }
    },
    stats: ({ domain }: { domain?: string } = {}) => mock.shop(domain).stats,
    graphqlStats: ({ domain }: { domain?: string } = {}) => graphqlState(mock.shop(domain)).stats,
    bulkConfigure: ({ domain, patch }: { domain?: string; patch: Partial<MockBulkConfig> }) => mock.shop(domain).bulk.configure(patch),
    bulkOperations: ({ domain }: { domain?: string } = {}) => mock.shop(domain).bulk.operations(),
    /** Waits for an operation to finish; `waitedMs`: how long this call waited for it. */
    bulkSettled: async ({ domain, id }: { domain?: string; id: string }) => {
      const t0 = performance.now();
      const operation = await mock.shop(domain).bulk.settled(id);
      return { operation, waitedMs: performance.now() - t0 };
    },
    bulkStats: ({ domain }: { domain?: string } = {}) => mock.shop(domain).bulk.stats,
  },
  () => mock.close(),
);
sendReady({ url: mock.url, baseUrlTemplate: mock.baseUrlTemplate, shops: [...mock.shops.values()].map((s) => ({ domain: s.domain, accessToken: s.accessToken })) });
