import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every Prometheus family of the service, on a registry of its own (tests get a fresh one per context).
 * Modules receive this object; none import a global.
 */
export function createMetrics(opts: { defaultMetrics?: boolean } = {}) {
  const registry = new Registry();
  if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequests: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP requests by route and status, with latency',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    webhooksReceived: new Counter({
      name: 'webhooks_received_total',
      help: 'Webhooks received by topic and outcome (queued, ignored, disconnected: answered 200 and dropped, the store is disconnected, rejected: 4xx, error: 5xx); unknown topics as "other"',
      labelNames: ['topic', 'outcome'] as const,
      registers,
    }),
    webhooksApplied: new Counter({
      name: 'webhooks_applied_total',
      help: 'Webhook events by topic and result: applied, duplicate (already applied before), and changing nothing: other-shop (its integration no longer holds the shop), disconnected (the store is disconnected), before-purge (observed before the copy was purged), earlier-installation (an app/uninstalled older than the current connect)',
      labelNames: ['topic', 'result'] as const,
      registers,
    }),
    webhooksDeadLettered: new Counter({
      name: 'webhooks_dead_lettered_total',
      help: 'Webhook events moved to the dead-letter stream by topic',
      labelNames: ['topic'] as const,
      registers,
    }),
    webhookStream: new Gauge({
      name: 'webhook_stream_entries',
      help: 'Webhook stream state: length, pending (delivered, not acknowledged), lag (not yet delivered), dead_letters',
      labelNames: ['state'] as const,
      registers,
    }),
    syncRuns: new Counter({
      name: 'sync_runs_total',
      help: 'Sync runs by resource and outcome',
      labelNames: ['resource', 'outcome'] as const,
      registers,
    }),
    syncDuration: new Histogram({
      name: 'sync_run_duration_seconds',
      help: 'Sync run duration by resource',
      labelNames: ['resource'] as const,
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers,
    }),
    syncRecords: new Counter({
      name: 'sync_records_total',
      help: 'Records fetched, written and deleted by syncs, by resource',
      labelNames: ['resource', 'kind'] as const,
      registers,
    }),
    syncBulkOperations: new Counter({
      name: 'sync_bulk_operations_total',
      help: 'Bulk operations of full syncs by resource and what became of them (started, adopted, completed, partial, failed, restarted)',
      labelNames: ['resource', 'outcome'] as const,
      registers,
    }),
    syncBulkBytes: new Counter({
      name: 'sync_bulk_bytes_total',
      help: 'Bytes of bulk operation files downloaded and applied, by resource',
      labelNames: ['resource'] as const,
      registers,
    }),
    shopifyRequests: new Counter({
      name: 'shopify_requests_total',
      help: 'Shopify Admin API responses by status (network errors as "error")',
      labelNames: ['status'] as const,
      registers,
    }),
    shopifyRetries: new Counter({ name: 'shopify_retries_total', help: 'Shopify requests retried', registers }),
    shopifyThrottled: new Counter({ name: 'shopify_throttled_total', help: 'Shopify 429 responses', registers }),
    shopifyLimiterWait: new Counter({
      name: 'shopify_limiter_wait_seconds_total',
      help: 'Time spent waiting for the shared rate limiter',
      registers,
    }),
    tokenRenewals: new Counter({
      name: 'shopify_token_renewals_total',
      help: 'Access-token renewals by kind (refresh_token, client_credentials, exchange) and outcome (renewed, rejected, failed, lost_answer_retried)',
      labelNames: ['kind', 'outcome'] as const,
      registers,
    }),
    tokenLockWaits: new Histogram({
      name: 'shopify_token_lock_wait_seconds',
      help: "Waits for another process renewing the same store's token, by what followed (reused its pair, or renewed)",
      labelNames: ['outcome'] as const,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    tokenMigrations: new Counter({
      name: 'shopify_token_migrations_total',
      help: 'Non-expiring OAuth tokens exchanged for expiring pairs, by outcome (migrated, failed, refused)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    tokensNonExpiring: new Gauge({
      name: 'shopify_tokens_non_expiring',
      help: 'Connected OAuth installs still holding a non-expiring token (Shopify invalidates them on 2027-01-01)',
      registers,
    }),
    refreshTokenEarliestExpiry: new Gauge({
      name: 'shopify_refresh_token_earliest_expiry_seconds',
      help: 'Seconds until the earliest refresh token of a connected store expires (then its merchant must authorize again)',
      registers,
    }),
    tokensReauthorizationRequired: new Gauge({
      name: 'shopify_tokens_reauthorization_required',
      help: 'Active stores whose merchant must authorize the app again',
      registers,
    }),
    changeEvents: new Counter({
      name: 'change_events_total',
      help: 'Change events given their feed position (each committed event once), by type family: product, order, customer, inventory_level, location, integration, sync, endpoint (any other as "other")',
      labelNames: ['family'] as const,
      registers,
    }),
    changeEventsUnsequenced: new Gauge({
      name: 'change_events_unsequenced',
      help: "Committed change events still waiting for their feed position: the sequencer's backlog (read from MySQL when scraped; aggregate with max())",
      registers,
    }),
    changeEventsUnsequencedAge: new Gauge({
      name: 'change_events_unsequenced_age_seconds',
      help: "Age of the oldest change event waiting for its feed position, 0 when none waits: the sequencer's lag (read from MySQL when scraped)",
      registers,
    }),
    outboundAttempts: new Counter({
      name: 'outbound_delivery_attempts_total',
      help: 'Outbound webhook delivery attempts by outcome: delivered, failed (a retry follows), dead (dead-lettered: no retry left, or none can help)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    outboundLatency: new Histogram({
      name: 'outbound_delivery_latency_seconds',
      help: "Outbound webhooks: from the change (its event's occurred_at) to the receiver's 2xx, waits for retries and earlier changes of the record included",
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 14_400, 86_400],
      registers,
    }),
    outboundDeliveries: new Gauge({
      name: 'outbound_deliveries',
      help: 'Outbound deliveries by state: pending (not delivered yet), due (pending and due now: the backlog), dead (dead letters, replayable until retention) (read from MySQL when scraped; aggregate with max())',
      labelNames: ['state'] as const,
      registers,
    }),
    outboundEndpoints: new Gauge({
      name: 'outbound_endpoints',
      help: "Tenants' webhook endpoints by state: enabled, failing (enabled, no success since their last failure), disabled (read from MySQL when scraped)",
      labelNames: ['state'] as const,
      registers,
    }),
    outboundEndpointsDisabled: new Counter({
      name: 'outbound_endpoints_disabled_total',
      help: 'Webhook endpoints disabled by the worker after failing for OUTBOUND_DISABLE_AFTER_HOURS',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The Shopify client's observer hooks (src/shopify/admin-client.ts) feeding these families. */
export function shopifyClientObserver(metrics: Metrics) {
  return {
    response: (status: number | 'error') => metrics.shopifyRequests.inc({ status: String(status) }),
    retry: () => metrics.shopifyRetries.inc(),
    throttled: () => metrics.shopifyThrottled.inc(),
    limiterWait: (ms: number) => metrics.shopifyLimiterWait.inc(ms / 1000),
  };
}

/** The type families of change events (`product` of `product.updated`): a fixed set, so the label stays bounded. */
const CHANGE_EVENT_FAMILIES = new Set(['product', 'order', 'customer', 'inventory_level', 'location', 'integration', 'sync', 'endpoint']);

/** Counts change events just given their feed position, by type family. */
export function countChangeEvents(metrics: Metrics, types: readonly string[]): void {
  const byFamily = new Map<string, number>();
  for (const type of types) {
    const prefix = type.slice(0, type.indexOf('.'));
    const family = CHANGE_EVENT_FAMILIES.has(prefix) ? prefix : 'other';
    byFamily.set(family, (byFamily.get(family) ?? 0) + 1);
  }
  for (const [family, n] of byFamily) metrics.changeEvents.inc({ family }, n);
}
