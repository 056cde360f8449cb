/**
 * Every retry decision's numbers, in one place: one backoff function and the named policies built on it.
 * Callers keep what they retry on (a Shopify 5xx, a MySQL deadlock, a Redis error); how long they wait
 * and how many times they try come from here.
 */

/** The share of the capped exponential delay actually waited: `from` plus a random part up to `to`. */
export interface Jitter {
  from: number;
  to: number;
}

/** Half to all of the delay: callers retrying together (consumers, batches) spread out. */
export const HALF_JITTER: Jitter = { from: 0.5, to: 1 };
/** Exactly the delay: where the caller or BullMQ computes it as a plain doubling, or a lock already serializes callers. */
export const NO_JITTER: Jitter = { from: 1, to: 1 };

export interface Backoff {
  /** The delay before the first retry (before jitter). */
  baseMs: number;
  /** No delay exceeds this, jitter included. */
  capMs: number;
  jitter: Jitter;
}

/** Beyond this the doubling is past any cap anyway; it keeps `2 ** retry` finite. */
const MAX_DOUBLINGS = 32;

/**
 * The one backoff function: min(capMs, baseMs * 2^retry), times a share drawn from `jitter`, capped
 * again. `retry` is 0 for the first retry. `random` returns [0, 1) (fixed in tests).
 */
export function backoffDelayMs(retry: number, backoff: Backoff, random: () => number = Math.random): number {
  const exponential = Math.min(backoff.capMs, backoff.baseMs * 2 ** Math.min(Math.max(0, retry), MAX_DOUBLINGS));
  const share = backoff.jitter.from + (backoff.jitter.to - backoff.jitter.from) * random();
  return Math.min(backoff.capMs, Math.round(exponential * share));
}

export interface RetryPolicy extends Backoff {
  readonly name: string;
  /** Retries after the first attempt; Infinity: until the caller stops (or the dependency answers). */
  readonly maxRetries: number;
  /** The wait before retry number `retry` (0 for the first). */
  delayMs(retry: number, random?: () => number): number;
}

function policy(name: string, backoff: Backoff, maxRetries: number): RetryPolicy {
  const numbers = { ...backoff, jitter: { ...backoff.jitter } };
  return { name, ...numbers, maxRetries, delayMs: (retry, random) => backoffDelayMs(retry, numbers, random) };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The longest a Shopify request or token renewal waits between two attempts. */
export const SHOPIFY_MAX_DELAY_MS = 60_000;
/** 429s have a budget of their own, at least this large, so a throttled sync keeps the one meant for outages. */
export const DEFAULT_THROTTLE_RETRIES = 20;

export interface ShopifyHttpPolicy extends RetryPolicy {
  /** Retries after a 429 (each waits its `Retry-After`, not the backoff). */
  readonly maxThrottleRetries: number;
}

/** The Shopify settings the policies read (`config.shopify`). */
export interface ShopifyRetryConfig {
  /** SHOPIFY_MAX_RETRY_ATTEMPTS */
  maxRetryAttempts: number;
  /** SHOPIFY_RETRY_DELAY */
  retryDelaySeconds: number;
}

export type ShopifyHttpOverrides = Partial<Pick<ShopifyHttpPolicy, 'baseMs' | 'capMs' | 'jitter' | 'maxRetries' | 'maxThrottleRetries'>>;

/**
 * Shopify REST and GraphQL requests failing with a 5xx, a network error or a timeout: SHOPIFY_RETRY_DELAY
 * doubled per retry plus up to 25 % (spreading a store's concurrent syncs), capped at a minute,
 * SHOPIFY_MAX_RETRY_ATTEMPTS times.
 */
export function shopifyHttp(config: ShopifyRetryConfig, overrides: ShopifyHttpOverrides = {}): ShopifyHttpPolicy {
  const merged = {
    baseMs: config.retryDelaySeconds * 1000,
    capMs: SHOPIFY_MAX_DELAY_MS,
    jitter: { from: 1, to: 1.25 },
    maxRetries: config.maxRetryAttempts,
    maxThrottleRetries: Math.max(DEFAULT_THROTTLE_RETRIES, config.maxRetryAttempts * 2),
    ...overrides,
  };
  return { ...policy('shopify-http', merged, merged.maxRetries), maxThrottleRetries: merged.maxThrottleRetries };
}

/**
 * A token renewal whose answer was lost, retried with the same refresh token: SHOPIFY_RETRY_DELAY
 * doubled per retry, at least one attempt in all. No jitter: one renewal per store runs at a time.
 */
export function tokenRefresh(config: ShopifyRetryConfig): RetryPolicy {
  return policy('token-refresh', { baseMs: config.retryDelaySeconds * 1000, capMs: SHOPIFY_MAX_DELAY_MS, jitter: NO_JITTER }, Math.max(1, config.maxRetryAttempts) - 1);
}

/**
 * A failed sync job, retried by BullMQ: SYNC_JOB_BACKOFF_SECONDS doubled per retry, SYNC_JOB_ATTEMPTS
 * attempts in all. BullMQ's built-in `exponential` backoff computes exactly this (`baseMs * 2^(attemptsMade - 1)`),
 * so the job options carry `baseMs` and no cap or jitter is added here that BullMQ would not apply.
 */
export function syncJob(config: { jobAttempts: number; jobBackoffSeconds: number }): RetryPolicy {
  return policy('sync-job', { baseMs: Math.round(config.jobBackoffSeconds * 1000), capMs: Number.POSITIVE_INFINITY, jitter: NO_JITTER }, config.jobAttempts - 1);
}

/** A webhook batch while MySQL is unavailable: held and retried until MySQL answers or the consumer stops. */
export const webhookApply = policy('webhook-apply', { baseMs: 200, capMs: 5000, jitter: HALF_JITTER }, Number.POSITIVE_INFINITY);

const CONFLICT_BACKOFF: Backoff = { baseMs: 10, capMs: 200, jitter: HALF_JITTER };

/** A deadlock or lock wait timeout of a webhook batch's transaction: a few short waits before MySQL counts as unavailable for now. */
export const mysqlConflict = policy('mysql-conflict', CONFLICT_BACKOFF, 8);

/**
 * A deadlock of a sync page's transaction (with a webhook batch writing the same rows). Fewer retries
 * than a webhook batch: a lock wait timeout costs innodb_lock_wait_timeout per attempt, and a page that
 * keeps failing fails its job, which BullMQ retries (`syncJob`) from where the walk stopped.
 */
export const pageWrite = policy('page-write', CONFLICT_BACKOFF, 2);

/** A bulk operation file whose download was cut or failed: resumed with a range request (nothing is lost), 5 times in a row without progress at most. */
export const bulkDownload = policy('bulk-download', { baseMs: 250, capMs: 10_000, jitter: HALF_JITTER }, 5);

/** A webhook consumer's read loop after a Redis error: retried until Redis answers or the consumer stops. */
export const streamRead = policy('stream-read', { baseMs: 200, capMs: 5000, jitter: HALF_JITTER }, Number.POSITIVE_INFINITY);

/** node-redis reconnecting a lost connection: quick at first, then every 2 s, for as long as it takes. */
export const redisReconnect = policy('redis-reconnect', { baseMs: 50, capMs: 2000, jitter: NO_JITTER }, Number.POSITIVE_INFINITY);
