/**
 * The mock Shopify in a process of its own (its CPU is not the service's), controlled by the runner:
 * options as JSON in argv[2]; commands change the rate limit, empty a shop's bucket and read its counters.
 */
import { startMockShopify, type MockRateLimit, type MockShopifyOptions } from '../../mock-shopify/index.js';
import { sendReady, serveRunner } from '../lib/child-ipc.js';

const options = JSON.parse(process.argv[2] ?? '{}') as MockShopifyOptions;
const mock = await startMockShopify({ ...options, host: '127.0.0.1' });

serveRunner(
  {
    setRateLimit: ({ rateLimit, domain }: { rateLimit: Partial<MockRateLimit>; domain?: string }) => mock.setRateLimit(rateLimit, domain),
    /** Empty bucket and zeroed counters: the state of a shop nobody has called for a while. */
    reset: ({ domain }: { domain?: string } = {}) => {
      for (const shop of domain ? [mock.shop(domain)] : mock.shops.values()) {
        shop.drainBucket();
        shop.resetStats();
      }
    },
    stats: ({ domain }: { domain?: string } = {}) => mock.shop(domain).stats,
  },
  () => mock.close(),
);
sendReady({ url: mock.url, baseUrlTemplate: mock.baseUrlTemplate, shops: [...mock.shops.values()].map((s) => ({ domain: s.domain, accessToken: s.accessToken })) });
