import type { Config } from '../config.js';
import type { Logger } from '../platform/logger.js';

export interface Feature {
  name: string;
  on: boolean;
  /** What it does when on, or how to turn it on. */
  detail: string;
}

/** The optional parts of the API process and the setting each depends on. */
export function apiFeatures(config: Config): Feature[] {
  const { shopify } = config;
  const appCredentials = Boolean(shopify.apiKey && shopify.apiSecret);
  return [
    config.adminApiKey
      ? { name: 'operator routes', on: true, detail: '/api/admin/, /metrics and /admin/queues take ADMIN_API_KEY' }
      : { name: 'operator routes', on: false, detail: '/api/admin/, /metrics and /admin/queues answer 403: set ADMIN_API_KEY (at least 24 characters)' },
    appCredentials
      ? { name: 'OAuth install', on: true, detail: `app ${shopify.apiKey}, scopes ${shopify.scopes.join(',')}` }
      : { name: 'OAuth install', on: false, detail: 'set SHOPIFY_API_KEY and SHOPIFY_API_SECRET; stores connect with a pasted token (POST /api/shopify/connect/)' },
    shopify.apiSecret
      ? { name: 'webhooks signed with the app secret', on: true, detail: `Shopify calls back at ${shopify.webhookBaseUrl}` }
      : { name: 'webhooks signed with the app secret', on: false, detail: 'only stores connected with their own webhook secret are accepted: set SHOPIFY_API_SECRET' },
    ...commonFeatures(config),
  ];
}

/** The optional parts of the worker process. */
export function workerFeatures(config: Config, metricsUrl: string | undefined): Feature[] {
  const intervals = Object.entries(config.shopify.syncIntervals);
  const scheduled = intervals.filter(([, seconds]) => seconds > 0).map(([resource, seconds]) => `${resource} every ${seconds} s`);
  return [
    metricsUrl
      ? { name: 'worker metrics', on: true, detail: `${metricsUrl} (sync, webhook-apply and Shopify-call metrics; ${config.adminApiKey ? 'ADMIN_API_KEY' : 'answers 403 until ADMIN_API_KEY is set'})` }
      : { name: 'worker metrics', on: false, detail: 'sync and Shopify-call metrics are not served: set WORKER_METRICS_PORT (e.g. 9465)' },
    scheduled.length > 0 ? { name: 'scheduled syncs', on: true, detail: scheduled.join(', ') } : { name: 'scheduled syncs', on: false, detail: 'every SHOPIFY_SYNC_INTERVAL_* is 0' },
    ...commonFeatures(config),
  ];
}

function commonFeatures(config: Config): Feature[] {
  const base = config.shopify.apiBaseUrl;
  const realShopify = base === 'https://{shop}';
  return [
    { name: 'Shopify', on: true, detail: realShopify ? 'real Shopify (https://{shop})' : `SHOPIFY_API_BASE_URL=${base} (not Shopify itself: a mock or a proxy)` },
    ...(config.nodeEnv !== 'production' && config.usesDevEncryptionKey
      ? [{ name: 'token encryption', on: true, detail: 'with the built-in development key: set TOKEN_ENCRYPTION_KEY before storing real tokens' }]
      : []),
  ];
}

/** One line per feature: "operator routes: off — …". */
export function logFeatures(logger: Logger, features: Feature[], envFile: string | undefined): void {
  logger.info({ envFile: envFile ?? null }, envFile ? `settings: environment and ${envFile}` : 'settings: environment only (no .env file)');
  for (const f of features) logger.info({ feature: f.name, on: f.on }, `${f.name}: ${f.on ? 'on' : 'off'} — ${f.detail}`);
}
