import { sleep, type ShopifyHttpPolicy } from '../platform/retry-policies.js';
import { ShopifyApiError, ShopifyThrottledError } from './errors.js';

/**
 * The retry decision for Shopify calls, as pure functions plus one small executor; the numbers are the
 * `shopifyHttp` policy of platform/retry-policies.ts.
 * - 5xx, network errors and timeouts: up to `maxRetries` retries, waiting the policy's `delayMs`
 *   (SHOPIFY_RETRY_DELAY doubled per retry, plus up to 25 %, capped);
 * - 429: wait exactly `Retry-After` (seconds, possibly fractional) and retry, from a separate, larger budget
 *   (`maxThrottleRetries`), so a throttled sync does not use up the budget meant for outages;
 * - any other 4xx: never retried.
 */
export const DEFAULT_RETRY_AFTER_MS = 2000;

/**
 * `Retry-After` in milliseconds: seconds (`"2"`, `"2.0"`, `"0.5"`) or an HTTP date; `fallbackMs` when
 * absent or unreadable. Never negative.
 */
export function parseRetryAfterMs(value: string | null | undefined, fallbackMs = DEFAULT_RETRY_AFTER_MS, now: number = Date.now()): number {
  if (value === null || value === undefined || value.trim() === '') return fallbackMs;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = /[a-z]{3}/i.test(text) ? Date.parse(text) : NaN; // an HTTP date ("Thu, 01 Jan 2026 00:00:04 GMT")
  if (Number.isFinite(date)) return Math.max(0, date - now);
  return fallbackMs;
}

export interface RetryState {
  /** Retries already spent on 5xx/network/timeouts. */
  failures: number;
  /** Retries already spent on 429s. */
  throttles: number;
}

export type RetryDecision = { retry: true; delayMs: number; reason: 'throttled' | 'retriable' } | { retry: false };

/** Whether (and after how long) to retry after `error`, given the retries already spent. */
export function decideRetry(error: unknown, state: RetryState, policy: ShopifyHttpPolicy, random: () => number = Math.random): RetryDecision {
  if (error instanceof ShopifyThrottledError) {
    if (state.throttles >= policy.maxThrottleRetries) return { retry: false };
    return { retry: true, delayMs: error.retryAfterMs, reason: 'throttled' };
  }
  if (error instanceof ShopifyApiError && error.retriable) {
    if (state.failures >= policy.maxRetries) return { retry: false };
    return { retry: true, delayMs: policy.delayMs(state.failures, random), reason: 'retriable' };
  }
  return { retry: false };
}

export const realSleep = sleep;

/**
 * Runs `attempt(n)` until it succeeds or `decideRetry` says stop (then the last error is thrown).
 * `onRetry` sees every decision to retry (for stats and logs) before the sleep.
 */
export async function withRetry<T>(
  attempt: (attemptNumber: number) => Promise<T>,
  policy: ShopifyHttpPolicy,
  opts: {
    sleep?: (ms: number) => Promise<void>;
    random?: () => number;
    onRetry?: (error: unknown, decision: { delayMs: number; reason: 'throttled' | 'retriable' }, attemptNumber: number) => void | Promise<void>;
    /** A last word on errors the policy would retry: `false` throws at once (see `isNothingListening`). */
    retryIf?: (error: unknown) => boolean;
  } = {},
): Promise<T> {
  const sleep = opts.sleep ?? realSleep;
  const state: RetryState = { failures: 0, throttles: 0 };
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (error) {
      const decision = decideRetry(error, state, policy, opts.random);
      if (!decision.retry || opts.retryIf?.(error) === false) throw error;
      if (decision.reason === 'throttled') state.throttles++;
      else state.failures++;
      await opts.onRetry?.(error, decision, n);
      await sleep(decision.delayMs);
    }
  }
}

/** Socket errors saying no server is there at all (nothing listens, no such host), rather than a passing fault. */
const NOTHING_LISTENING = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_NONAME']);

/**
 * Whether `error` (or one of its causes: fetch wraps the socket error) says nothing listens at the
 * address. A connection test answers that at once instead of spending the retry budget (35 s by default)
 * on a typo or a mock store that is not running; syncs still retry it like any network error.
 */
export function isNothingListening(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && NOTHING_LISTENING.has(code)) return true;
  }
  return false;
}
