import { AppError } from './errors.js';
import { RECORD_WEBHOOK_TOPICS, RESOURCES, type ResourceDefinition, type ResourceName } from './resources/index.js';

/**
 * Every environment variable the service reads, typed and validated in one place.
 * Defaults make a local `make run` work; an invalid value stops start-up naming the variable.
 */
export class ConfigError extends AppError {
  constructor(variable: string, problem: string) {
    super(`Invalid configuration: ${variable} ${problem}`, { code: 'invalid-configuration' });
  }
}

type Env = Record<string, string | undefined>;

const DEV_ENCRYPTION_KEY = 'ZGV2LW9ubHktdG9rZW4tZW5jcnlwdGlvbi1rZXktMzI='; // 32 bytes, local use only

function reader(env: Env) {
  const raw = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  return {
    str(name: string, fallback: string): string {
      return raw(name) ?? fallback;
    },
    optional(name: string): string | undefined {
      return raw(name);
    },
    int(name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
      const value = raw(name);
      if (value === undefined) return fallback;
      if (!/^-?\d+$/.test(value)) throw new ConfigError(name, `must be a whole number (got "${value}")`);
      const n = Number(value);
      if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max} (got ${n})`);
      return n;
    },
    num(name: string, fallback: number, min = 0, max = Number.MAX_VALUE): number {
      const value = raw(name);
      if (value === undefined) return fallback;
      const n = Number(value);
      if (!Number.isFinite(n)) throw new ConfigError(name, `must be a number (got "${value}")`);
      if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max} (got ${n})`);
      return n;
    },
    bool(name: string, fallback: boolean): boolean {
      const value = raw(name);
      if (value === undefined) return fallback;
      if (/^(1|true|yes|on)$/i.test(value)) return true;
      if (/^(0|false|no|off)$/i.test(value)) return false;
      throw new ConfigError(name, `must be true or false (got "${value}")`);
    },
    url(name: string, fallback: string | undefined, protocols: string[]): string {
      const value = raw(name) ?? fallback;
      if (value === undefined) throw new ConfigError(name, 'is required');
      let parsed: URL;
      try {
        parsed = new URL(value.replace('{shop}', 'shop.example'));
      } catch {
        throw new ConfigError(name, 'must be a URL');
      }
      if (!protocols.includes(parsed.protocol)) {
        throw new ConfigError(name, `must use ${protocols.join(' or ')} (got ${parsed.protocol})`);
      }
      return value.replace(/\/+$/, '');
    },
    oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
      const value = raw(name) ?? fallback;
      if (!allowed.includes(value as T)) throw new ConfigError(name, `must be one of ${allowed.join(', ')} (got "${value}")`);
      return value as T;
    },
    list(name: string, fallback: string[]): string[] {
      const value = raw(name);
      if (value === undefined) return fallback;
      return value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    },
  };
}

function encryptionKey(name: string, value: string): Buffer {
  const key = /^[0-9a-f]{64}$/i.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  if (key.length !== 32) throw new ConfigError(name, 'must be 32 bytes, as 64 hex characters or base64');
  return key;
}

/** Topics of the app itself and the compliance topics every public app handles; record topics come from the registry. */
export const APP_WEBHOOK_TOPICS = ['app/uninstalled', 'customers/data_request', 'customers/redact', 'shop/redact', 'bulk_operations/finish'] as const;
export const HANDLED_WEBHOOK_TOPICS: readonly string[] = [...RECORD_WEBHOOK_TOPICS, ...APP_WEBHOOK_TOPICS];

/** About a day of retries: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h. */
const OUTBOUND_RETRY_SCHEDULE_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000, 28_800_000, 28_800_000];

export function loadConfig(env: Env = process.env) {
  const r = reader(env);
  const nodeEnv = r.oneOf('NODE_ENV', 'development', ['development', 'test', 'production'] as const);
  const production = nodeEnv === 'production';

  const encryptionKeyValue = r.optional('TOKEN_ENCRYPTION_KEY');
  if (production && !encryptionKeyValue) throw new ConfigError('TOKEN_ENCRYPTION_KEY', 'is required in production');
  const adminApiKey = r.optional('ADMIN_API_KEY');
  if (adminApiKey !== undefined && adminApiKey.length < 24) throw new ConfigError('ADMIN_API_KEY', 'must be at least 24 characters');

  const syncInterval = (resource: ResourceDefinition) => r.int(`SHOPIFY_SYNC_INTERVAL_${resource.syncInterval.env}`, resource.syncInterval.defaultSeconds, 0, 7 * 24 * 3600);

  return {
    nodeEnv,
    port: r.int('PORT', 3000, 0, 65535),
    host: r.str('HOST', '0.0.0.0'),
    logLevel: r.oneOf('LOG_LEVEL', nodeEnv === 'test' ? 'silent' : 'info', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const),
    /** `auto`: readable lines in development when the output is a terminal, JSON otherwise. */
    logFormat: r.oneOf('LOG_FORMAT', 'auto', ['auto', 'json', 'pretty'] as const),
    databaseUrl: r.url('DATABASE_URL', 'mysql://root@127.0.0.1:3306/shopify_integration', ['mysql:', 'mariadb:']),
    databasePoolSize: r.int('DATABASE_POOL_SIZE', 10, 1, 1000),
    /** A worker process's pool: its delivery jobs (OUTBOUND_CONCURRENCY), webhook consumers and syncs share it. */
    workerDatabasePoolSize: r.int('WORKER_DATABASE_POOL_SIZE', 30, 1, 1000),
    redisUrl: r.url('REDIS_URL', 'redis://127.0.0.1:6379', ['redis:', 'rediss:']),
    redisKeyPrefix: r.str('REDIS_KEY_PREFIX', 'shopint'),
    encryption: {
      key: encryptionKey('TOKEN_ENCRYPTION_KEY', encryptionKeyValue ?? DEV_ENCRYPTION_KEY),
      previousKeys: r.list('TOKEN_ENCRYPTION_PREVIOUS_KEYS', []).map((k) => encryptionKey('TOKEN_ENCRYPTION_PREVIOUS_KEYS', k)),
    },
    /** TOKEN_ENCRYPTION_KEY unset: the built-in development key (refused in production) is in use. */
    usesDevEncryptionKey: encryptionKeyValue === undefined,
    adminApiKey,
    shopify: {
      apiKey: r.str('SHOPIFY_API_KEY', ''),
      apiSecret: r.str('SHOPIFY_API_SECRET', ''),
      scopes: r.list('SHOPIFY_SCOPES', ['read_products', 'read_orders', 'read_all_orders', 'read_customers', 'read_inventory', 'read_locations']),
      apiVersion: (() => {
        const v = r.str('SHOPIFY_API_VERSION', '2026-10');
        if (!/^\d{4}-(01|04|07|10)$|^unstable$/.test(v)) throw new ConfigError('SHOPIFY_API_VERSION', `must look like 2026-10 (got "${v}")`);
        return v;
      })(),
      apiBaseUrl: r.url('SHOPIFY_API_BASE_URL', 'https://{shop}', ['http:', 'https:']),
      /** The Admin API syncs read and webhook subscriptions go through: GraphQL (every variant, cost-limited) or the legacy REST API. */
      syncApi: r.oneOf('SHOPIFY_SYNC_API', 'graphql', ['graphql', 'rest'] as const),
      webhookBaseUrl: r.url('SHOPIFY_WEBHOOK_BASE_URL', 'http://localhost:3000', ['http:', 'https:']),
      oauthSuccessUrl: r.optional('SHOPIFY_OAUTH_SUCCESS_URL'),
      webhookTopics: r.list('SHOPIFY_WEBHOOK_TOPICS', [...HANDLED_WEBHOOK_TOPICS]),
      maxRequestsPerSecond: r.num('SHOPIFY_MAX_REQUESTS_PER_SECOND', 2, 0.01, 10000),
      bucketSize: r.int('SHOPIFY_BUCKET_SIZE', 40, 1, 100000),
      maxRetryAttempts: r.int('SHOPIFY_MAX_RETRY_ATTEMPTS', 5, 0, 50),
      retryDelaySeconds: r.num('SHOPIFY_RETRY_DELAY', 1, 0, 3600),
      requestTimeoutMs: r.int('SHOPIFY_REQUEST_TIMEOUT_MS', 30000, 100, 600000),
      /** OAuth installs ask for expiring offline tokens (`expiring=1`); off only for custom-distribution apps that do not need them. */
      expiringTokens: r.bool('SHOPIFY_EXPIRING_TOKENS', true),
      /** Renew an access token this long before it expires. */
      tokenRefreshMarginSeconds: r.num('SHOPIFY_TOKEN_REFRESH_MARGIN_SECONDS', 300, 0, 86400),
      /** How long one process may hold a store's renewal lock (a killed holder frees the store after it). */
      tokenRefreshLockMs: r.int('SHOPIFY_TOKEN_REFRESH_LOCK_MS', 30000, 200, 600000),
      /** How often the worker migrates non-expiring OAuth tokens and updates the token gauges (0 = never). */
      tokenMaintenanceIntervalSeconds: r.int('SHOPIFY_TOKEN_MAINTENANCE_INTERVAL', 3600, 0, 7 * 86400),
      /** Seconds between scheduled syncs of each resource of the registry (0 disables). */
      syncIntervals: Object.fromEntries(Object.values(RESOURCES).map((res) => [res.name, syncInterval(res)])) as Record<ResourceName, number>,
    },
    sync: {
      concurrency: r.int('SYNC_CONCURRENCY', 4, 1, 256),
      overlapSeconds: r.int('SYNC_OVERLAP_SECONDS', 300, 0, 86400),
      maxPages: r.int('SYNC_MAX_PAGES', 1000, 1, 100000),
      /** Records per Shopify page (`limit`); Shopify's maximum, 250, unless a test or a slow store wants smaller pages. */
      pageSize: r.int('SYNC_PAGE_SIZE', 250, 1, 250),
      /** BullMQ attempts of one sync job (the client already retries each request) and the base of their exponential backoff. */
      jobAttempts: r.int('SYNC_JOB_ATTEMPTS', 5, 1, 100),
      jobBackoffSeconds: r.num('SYNC_JOB_BACKOFF_SECONDS', 30, 0, 86400),
      /** A scheduled incremental run becomes a full one (which also finds deletions) when the last full run is older. 0 = never. */
      fullSyncEverySeconds: r.int('SYNC_FULL_EVERY_SECONDS', 86400, 0, 30 * 86400),
      /**
       * Full runs export the resource as a Shopify bulk operation (GraphQL only): outside the rate limit,
       * one file per resource. Off: full runs page through the API like incremental ones.
       */
      fullViaBulk: r.bool('SYNC_FULL_VIA_BULK', true),
      /** A waiting bulk run looks at its operation after this long, doubling up to the maximum (the finish webhook wakes it sooner). */
      bulkPollMinSeconds: r.num('SYNC_BULK_POLL_MIN_SECONDS', 5, 0.05, 3600),
      bulkPollMaxSeconds: r.num('SYNC_BULK_POLL_MAX_SECONDS', 300, 0.05, 86400),
    },
    webhooks: {
      maxBodyBytes: r.int('WEBHOOK_MAX_BODY_BYTES', 2 * 1024 * 1024, 1024, 64 * 1024 * 1024),
      streamMaxLen: r.int('WEBHOOK_STREAM_MAXLEN', 1_000_000, 1000, 1_000_000_000),
      consumersPerProcess: r.int('WEBHOOK_CONSUMERS', 2, 1, 64),
      batchSize: r.int('WEBHOOK_BATCH_SIZE', 200, 1, 10000),
      claimIdleMs: r.int('WEBHOOK_CLAIM_IDLE_MS', 60000, 100, 86400000),
      maxDeliveries: r.int('WEBHOOK_MAX_DELIVERIES', 5, 1, 1000),
      /** Unknown shops are remembered this long, so a flood for one costs one SELECT per window (0 = not cached). */
      unknownShopCacheMs: r.int('WEBHOOK_UNKNOWN_SHOP_CACHE_MS', 5000, 0, 600_000),
      /** Deliveries failing authentication per client IP and minute (a token bucket); past it, 429 before any work. */
      sourceMaxAuthFailuresPerMinute: r.int('WEBHOOK_SOURCE_MAX_AUTH_FAILURES_PER_MINUTE', 120, 1, 1_000_000),
      /** Per-shop quotas at ingest, far above what a real busy shop sends; past them, 429 (Shopify retries). */
      shopMaxPerMinute: r.int('WEBHOOK_SHOP_MAX_PER_MINUTE', 120_000, 1, 100_000_000),
      shopMaxBytesPerMinute: r.int('WEBHOOK_SHOP_MAX_BYTES_PER_MINUTE', 1024 * 1024 * 1024, 1024, Number.MAX_SAFE_INTEGER),
      /** Bodies kept in a dead letter are cut to this size (a cut one says so and cannot be replayed). */
      deadLetterMaxBodyBytes: r.int('WEBHOOK_DEAD_LETTER_MAX_BODY_BYTES', 64 * 1024, 1024, 64 * 1024 * 1024),
    },
    /**
     * How long what only the service needs is kept (the worker deletes the rest hourly). Webhook event
     * ids must outlive Shopify's redeliveries (48 h at most), so a redelivery is still recognised.
     */
    retention: {
      webhookEventDays: r.int('WEBHOOK_EVENT_RETENTION_DAYS', 7, 2, 3650),
      syncLogDays: r.int('SYNC_LOG_RETENTION_DAYS', 90, 1, 3650),
      deadLetterDays: r.int('WEBHOOK_DEAD_LETTER_RETENTION_DAYS', 7, 1, 3650),
      /** The change feed keeps events this long; a cursor older than that answers 410. */
      changeEventDays: r.int('EVENTS_RETENTION_DAYS', 7, 1, 3650),
      /** Delivered outbound deliveries (with their attempts) are kept this long after delivery. */
      outboundDeliveredDays: r.int('OUTBOUND_DELIVERY_RETENTION_DAYS', 7, 1, 3650),
      /** Dead outbound deliveries (replayable dead letters, with their attempts) are kept this long after they died. */
      outboundDeadDays: r.int('OUTBOUND_DEAD_LETTER_RETENTION_DAYS', 30, 1, 3650),
    },
    /** The change feed's sequencer: how often the worker gives positions to committed events. */
    events: {
      sequenceEveryMs: r.int('EVENTS_SEQUENCE_INTERVAL_MS', 50, 5, 60_000),
    },
    /** Tenants' outbound webhooks: how the worker follows the change feed and delivers it to their endpoints. */
    outbound: {
      timeoutMs: r.int('OUTBOUND_TIMEOUT_MS', 10_000, 100, 120_000),
      maxResponseBytes: r.int('OUTBOUND_MAX_RESPONSE_BYTES', 65_536, 0, 16 * 1024 * 1024),
      /** Endpoints on loopback, private or link-local addresses (and plain http): only for local work and tests. */
      allowPrivateTargets: r.bool('OUTBOUND_ALLOW_PRIVATE_TARGETS', false),
      /** Deliveries one worker process sends at once. */
      concurrency: r.int('OUTBOUND_CONCURRENCY', 50, 1, 1000),
      /** An endpoint failing without a success for this long is disabled (fractions allowed). */
      disableAfterHours: r.num('OUTBOUND_DISABLE_AFTER_HOURS', 72, 0.0001, 24 * 365),
      /** How often the worker looks whether the feed moved. */
      pollMs: r.int('OUTBOUND_POLL_MS', 100, 10, 60_000),
      /** Waits before each retry of a failed delivery (± 10 % jitter); after the last one the delivery is dead. */
      retryScheduleMs: r.list('OUTBOUND_RETRY_SCHEDULE_MS', OUTBOUND_RETRY_SCHEDULE_MS.map(String)).map((value) => {
        if (!/^\d+$/.test(value) || Number(value) > 7 * 86_400_000) throw new ConfigError('OUTBOUND_RETRY_SCHEDULE_MS', `must be a comma list of milliseconds up to a week (got "${value}")`);
        return Number(value);
      }),
      /** How often the worker puts due deliveries whose jobs Redis lost back on the queue (MySQL is the truth). */
      requeueMs: r.int('OUTBOUND_REQUEUE_MS', 30_000, 50, 3_600_000),
    },
    oauthStateTtlSeconds: r.int('OAUTH_STATE_TTL_SECONDS', 600, 10, 86400),
    /** Pending OAuth installs one tenant may hold; starting one more drops its oldest. */
    oauthMaxPendingPerTenant: r.int('OAUTH_MAX_PENDING_PER_TENANT', 20, 1, 1000),
    /** `POST /api/shopify/connect/` calls per tenant and minute (each calls Shopify); past it, 429. */
    connectMaxPerMinute: r.int('CONNECT_MAX_PER_MINUTE', 10, 1, 10000),
    /**
     * Bounds of the API's record reads: reads one tenant may run at once in one API process (keep it below
     * DATABASE_POOL_SIZE so other tenants always find a connection), and the time after which MySQL stops
     * one read statement (0 = unbounded). Syncs, webhooks and purges are never bounded by these.
     */
    reads: {
      maxConcurrentPerTenant: r.int('API_MAX_CONCURRENT_READS_PER_TENANT', 8, 1, 10000),
      statementTimeoutMs: r.int('API_READ_STATEMENT_TIMEOUT_MS', 5000, 0, 3_600_000),
    },
    /**
     * Tenants' JSONata mappings: the time one evaluation may take (a thread still busy a moment later is
     * stopped), the largest result (bytes of its JSON), and the evaluator threads per process.
     */
    mappings: {
      timeoutMs: r.int('MAPPING_TIMEOUT_MS', 100, 1, 60_000),
      maxOutputBytes: r.int('MAPPING_MAX_OUTPUT_BYTES', 65536, 64, 16 * 1024 * 1024),
      threads: r.int('MAPPING_THREADS', 2, 1, 64),
    },
    /** The worker's own /metrics listener (the API serves /metrics on its port); unset = off. Both need ADMIN_API_KEY. */
    workerMetrics: {
      port: r.optional('WORKER_METRICS_PORT') === undefined ? null : r.int('WORKER_METRICS_PORT', 9465, 0, 65535),
      host: r.str('WORKER_METRICS_HOST', '0.0.0.0'),
    },
  };
}

export type Config = ReturnType<typeof loadConfig>;
