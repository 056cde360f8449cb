import { AppError } from '../errors.js';

/**
 * Failures talking to Shopify. The subclass tells a caller what it may do:
 * - `ShopifyRetriableError` (5xx, network, timeout) and its `ShopifyThrottledError` (429): try again later;
 * - `ShopifyUnauthorizedError` (401): the token is revoked, mark the integration disconnected;
 * - `ShopifyNotFoundError` (404) and `ShopifyClientError` (other 4xx): the request itself is wrong, never retry.
 *
 * `upstreamStatus` is Shopify's HTTP status (0 when no response arrived). `status` (the status our API
 * would answer if the error reached it untouched) is 502 for retriable failures and Shopify's status
 * otherwise; callers that surface a Shopify 4xx to our users decide their own mapping (e.g. 422).
 */
export interface ShopifyErrorInfo {
  upstreamStatus: number;
  /** Shopify's error body: the parsed `errors` value when present, else the parsed body or raw text (truncated). */
  shopifyErrors?: unknown;
  /** Shopify's `X-Request-Id` response header, to quote to Shopify support. */
  requestId?: string | undefined;
  method?: string;
  path?: string;
  cause?: unknown;
}

export class ShopifyApiError extends AppError {
  readonly upstreamStatus: number;
  readonly shopifyErrors: unknown;
  readonly requestId: string | undefined;
  readonly method: string | undefined;
  readonly path: string | undefined;

  constructor(message: string, info: ShopifyErrorInfo, opts: { status: number; retriable: boolean; code: string }) {
    super(message, { status: opts.status, retriable: opts.retriable, code: opts.code, cause: info.cause });
    this.upstreamStatus = info.upstreamStatus;
    this.shopifyErrors = info.shopifyErrors;
    this.requestId = info.requestId;
    this.method = info.method;
    this.path = info.path;
  }
}

/** 5xx, a dropped connection or a timeout: the same request may succeed later. */
export class ShopifyRetriableError extends ShopifyApiError {
  readonly kind: 'http' | 'network' | 'timeout';
  constructor(message: string, info: ShopifyErrorInfo, kind: 'http' | 'network' | 'timeout' = 'http', code = 'shopify-unavailable') {
    super(message, info, { status: 502, retriable: true, code });
    this.kind = kind;
  }
}

/** 429: Shopify's leaky bucket is full; wait `retryAfterMs` (from `Retry-After`) before the next call. */
export class ShopifyThrottledError extends ShopifyRetriableError {
  readonly retryAfterMs: number;
  constructor(message: string, info: ShopifyErrorInfo, retryAfterMs: number) {
    super(message, info, 'http', 'shopify-throttled');
    this.retryAfterMs = retryAfterMs;
  }
}

/** 401: the access token is invalid or was revoked (app uninstalled); only a new install helps. */
export class ShopifyUnauthorizedError extends ShopifyApiError {
  constructor(message: string, info: ShopifyErrorInfo) {
    super(message, info, { status: info.upstreamStatus || 401, retriable: false, code: 'shopify-unauthorized' });
  }
}

/** 404: the resource (or the shop) does not exist. */
export class ShopifyNotFoundError extends ShopifyApiError {
  constructor(message: string, info: ShopifyErrorInfo) {
    super(message, info, { status: info.upstreamStatus || 404, retriable: false, code: 'shopify-not-found' });
  }
}

/** Any other 4xx (400, 402, 403 missing scope, 406, 422, 423 …): the request is wrong; do not retry. */
export class ShopifyClientError extends ShopifyApiError {
  constructor(message: string, info: ShopifyErrorInfo) {
    super(message, info, { status: info.upstreamStatus || 400, retriable: false, code: 'shopify-client-error' });
  }
}

/**
 * GraphQL `ACCESS_DENIED` (answered with HTTP 200): the token lacks a scope. `missingScope` names it
 * (`read_orders`) when Shopify's message does. `upstreamStatus` is 403, REST's status for the same refusal.
 */
export class ShopifyAccessDeniedError extends ShopifyClientError {
  readonly missingScope: string | undefined;
  constructor(message: string, info: ShopifyErrorInfo, missingScope: string | undefined) {
    super(message, info);
    this.missingScope = missingScope;
  }
}

/** A GraphQL mutation answered `userErrors` (HTTP 200): the input was refused; `upstreamStatus` is 422, as REST's. */
export class ShopifyUserErrorsError extends ShopifyClientError {
  readonly userErrors: { field?: string[] | null; message: string; code?: string | null }[];
  constructor(message: string, info: ShopifyErrorInfo, userErrors: ShopifyUserErrorsError['userErrors']) {
    super(message, info);
    this.userErrors = userErrors;
  }
}

/** Pulls the `errors` member out of a Shopify error body (string, array or object), else the whole body. */
export function extractShopifyErrors(bodyText: string): unknown {
  if (!bodyText) return undefined;
  try {
    const parsed = JSON.parse(bodyText) as unknown;
    if (parsed && typeof parsed === 'object') {
      const p = parsed as Record<string, unknown>;
      if ('errors' in p) return p.errors;
      if ('error' in p) return p.error_description ? `${String(p.error)}: ${String(p.error_description)}` : p.error;
    }
    return parsed;
  } catch {
    return bodyText.length > 500 ? `${bodyText.slice(0, 500)}…` : bodyText;
  }
}

function summarize(errors: unknown): string {
  if (errors === undefined || errors === null) return '';
  const text = typeof errors === 'string' ? errors : JSON.stringify(errors);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** Builds the error class matching an HTTP failure status (never called for 2xx/3xx). */
export function errorForStatus(status: number, info: Omit<ShopifyErrorInfo, 'upstreamStatus'> & { retryAfterMs?: number }): ShopifyApiError {
  const where = info.method && info.path ? `${info.method} ${info.path}` : 'Shopify request';
  const detail = summarize(info.shopifyErrors);
  const message = `${where} failed with ${status}${detail ? `: ${detail}` : ''}`;
  const full: ShopifyErrorInfo = { ...info, upstreamStatus: status };
  if (status === 429) return new ShopifyThrottledError(message, full, info.retryAfterMs ?? 2000);
  if (status === 401) return new ShopifyUnauthorizedError(message, full);
  if (status === 404) return new ShopifyNotFoundError(message, full);
  if (status >= 500) return new ShopifyRetriableError(message, full, 'http');
  return new ShopifyClientError(message, full);
}
