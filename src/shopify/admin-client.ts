import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { Redis, RedisKeys } from '../platform/redis.js';
import { shopifyHttp, type ShopifyHttpOverrides } from '../platform/retry-policies.js';
import { errorForStatus, extractShopifyErrors, ShopifyApiError, ShopifyClientError, ShopifyRetriableError, ShopifyUnauthorizedError } from './errors.js';
import { DEFAULT_MAX_PAGES, paginate } from './pagination.js';
import { requireShopDomain, shopOrigin } from './shop-domain.js';
import { createRedisRateLimiter, noRateLimit, parseCallLimit, type RateLimiter } from './rate-limiter.js';
import { isNothingListening, parseRetryAfterMs, realSleep, withRetry } from './retry.js';
import type { PaginationSummary, QueryParams, ShopifyInventoryLevel, ShopifyIntegrationRef, ShopifyLocation, ShopifyPage, ShopifyShop, ShopifyWebhook } from './types.js';

export interface ShopifyClientDeps {
  redis: Redis;
  keys: RedisKeys;
  logger: Logger;
  config: Config['shopify'];
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /**
   * `false` turns the shared rate limiter off: benchmarks, and tokens not verified yet, whose calls are
   * not our app's to count (neither taken from the shop's shared bucket nor read into it). A
   * `RateLimiter` replaces it. Default: on.
   */
  rateLimit?: boolean | RateLimiter;
  /** Default page cap of `pages()` (1000). */
  maxPages?: number;
  retry?: ShopifyHttpOverrides;
  random?: () => number;
  /** Told about every attempt, retry and limiter wait (metrics); the client itself knows no registry. */
  observer?: ShopifyClientObserver;
}

/** Hooks for metrics. `status` is the HTTP status of an attempt, or 'error' when no response came. */
export interface ShopifyClientObserver {
  response?(status: number | 'error', durationMs: number): void;
  retry?(): void;
  throttled?(): void;
  limiterWait?(ms: number): void;
}

/** Counters of one client (process-wide metrics go through `observer`): HTTP attempts, retries, 429s, time spent waiting for the limiter. */
export interface ShopifyClientStats {
  requests: number;
  retries: number;
  throttled: number;
  limiterWaitMs: number;
}

export interface ShopifyResponse<T> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * What the rest of the service may ask of a store. The REST implementation below is the first; a
 * GraphQL / bulk-operation source can implement the same interface later.
 */
export interface ShopifyClient {
  readonly shopDomain: string;
  readonly apiVersion: string;
  readonly stats: ShopifyClientStats;
  request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, opts?: { params?: QueryParams; body?: unknown }): Promise<ShopifyResponse<T>>;
  get<T>(path: string, params?: QueryParams): Promise<T>;
  /** Every page of a list (`limit=250` unless given), following `rel="next"`; see `paginate`. */
  pages<T>(path: string, rootKey: string, params?: QueryParams, opts?: { maxPages?: number }): AsyncGenerator<ShopifyPage<T>, PaginationSummary>;
  count(path: string, params?: QueryParams): Promise<number>;
  testConnection(): Promise<ShopifyShop>;
  /** The scopes the token holds (`GET /admin/oauth/access_scopes.json`, outside the versioned API). */
  accessScopes(): Promise<string[]>;
  locations(): Promise<ShopifyLocation[]>;
  /** Inventory levels of the given locations, asked ≤ 50 location ids at a time; pages numbered across chunks. */
  inventoryLevels(locationIds: number[], params?: QueryParams, opts?: { maxPages?: number }): AsyncGenerator<ShopifyPage<ShopifyInventoryLevel>, PaginationSummary>;
  listWebhooks(): Promise<ShopifyWebhook[]>;
  createWebhook(topic: string, address: string, opts?: { format?: 'json' | 'xml'; fields?: string[] }): Promise<ShopifyWebhook>;
  deleteWebhook(id: number): Promise<void>;
}

/**
 * Where a client gets its access token. Expiring tokens are asked for before every attempt (the source
 * refreshes ahead of expiry), and after a 401 the source may hand a newer token, retried once.
 */
export interface AccessTokenSource {
  current(): Promise<string>;
  /** Shopify answered 401 to `rejected`: a newer token to retry with, or undefined (the 401 stands). */
  afterUnauthorized(rejected: string): Promise<string | undefined>;
}

/** A token that never changes (pasted tokens, a token under test). */
export function fixedToken(token: string): AccessTokenSource {
  return { current: async () => token, afterUnauthorized: async () => undefined };
}

/** The store a client talks to: a fixed `accessToken`, or a `tokens` source that refreshes. */
export type ShopifyClientTarget = Omit<ShopifyIntegrationRef, 'accessToken'> & ({ accessToken: string } | { tokens: AccessTokenSource });

export const INVENTORY_LOCATION_CHUNK = 50;
const SECRET_PARAM = /token|secret|password|hmac|signature|^code$/i;

/** Query string for logs: names kept, values of anything secret-looking replaced. */
export function loggableQuery(params: QueryParams | undefined): string {
  if (!params) return '';
  const out = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) out.set(k, SECRET_PARAM.test(k) ? '[redacted]' : String(v));
  return out.toString();
}

function normalizePath(path: string): string {
  return path.replace(/^\/+/, '').replace(/\.json$/, '');
}

export function createShopifyClient(deps: ShopifyClientDeps, integration: ShopifyClientTarget): ShopifyClient {
  const { config } = deps;
  const shop = integration.shopDomain;
  requireShopDomain(shop);
  const apiVersion = integration.apiVersion ?? config.apiVersion;
  const origin = shopOrigin(config.apiBaseUrl, shop);
  const doFetch = deps.fetch ?? fetch;
  const sleep = deps.sleep ?? realSleep;
  const log = deps.logger.child({ component: 'shopify-client', shop });
  const policy = shopifyHttp(config, deps.retry);
  const defaultMaxPages = deps.maxPages ?? DEFAULT_MAX_PAGES;
  const limiter: RateLimiter =
    deps.rateLimit === false
      ? noRateLimit
      : typeof deps.rateLimit === 'object'
        ? deps.rateLimit
        : createRedisRateLimiter({ redis: deps.redis, keys: deps.keys, shop, bucketSize: config.bucketSize, ratePerSecond: config.maxRequestsPerSecond, logger: log });
  const stats: ShopifyClientStats = { requests: 0, retries: 0, throttled: 0, limiterWaitMs: 0 };
  const observer = deps.observer ?? {};
  const tokens = 'tokens' in integration ? integration.tokens : fixedToken(integration.accessToken);

  async function waitForSlot(): Promise<void> {
    for (;;) {
      const waitMs = await limiter.acquire();
      if (waitMs <= 0) return;
      stats.limiterWaitMs += waitMs;
      observer.limiterWait?.(waitMs);
      await sleep(waitMs);
    }
  }

  async function once<T>(method: string, path: string, params: QueryParams | undefined, body: unknown, attempt: number, accessToken: string): Promise<ShopifyResponse<T>> {
    // Paths under `admin/` are not versioned (access_scopes); every other one is under /admin/api/{version}.
    const logPath = path.startsWith('admin/') ? `/${path}.json` : `/admin/api/${apiVersion}/${path}.json`;
    const url = new URL(`${origin}${logPath}`);
    if (params) for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { 'X-Shopify-Access-Token': accessToken, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const started = performance.now();
    stats.requests++;
    let res: Response;
    let text: string;
    try {
      res = await doFetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        redirect: 'manual', // never replay the token to wherever a redirect points
        signal: AbortSignal.timeout(config.requestTimeoutMs),
      });
      text = await res.text();
    } catch (error) {
      const durationMs = Math.round(performance.now() - started);
      observer.response?.('error', durationMs);
      const timeout = (error as Error)?.name === 'TimeoutError';
      const reason = timeout
        ? `timed out after ${config.requestTimeoutMs} ms`
        : `failed: ${(error as Error)?.message}${(error as { cause?: Error })?.cause?.message ? ` (${(error as { cause?: Error }).cause?.message})` : ''}`;
      log.debug({ method, path: logPath, query: loggableQuery(params), status: 0, durationMs, attempt, error: reason }, 'shopify request');
      throw new ShopifyRetriableError(
        `${method} ${logPath} ${reason}`,
        { upstreamStatus: 0, method, path: logPath, cause: error },
        timeout ? 'timeout' : 'network',
        timeout ? 'shopify-timeout' : 'shopify-unreachable',
      );
    }
    const durationMs = Math.round(performance.now() - started);
    observer.response?.(res.status, durationMs);
    const callLimitHeader = res.headers.get('x-shopify-shop-api-call-limit');
    const requestId = res.headers.get('x-request-id') ?? undefined;
    log.debug({ method, path: logPath, query: loggableQuery(params), status: res.status, durationMs, callLimit: callLimitHeader, attempt, requestId }, 'shopify request');
    if (res.status === 429) {
      stats.throttled++;
      observer.throttled?.();
      const retryAfterMs = parseRetryAfterMs(res.headers.get('retry-after'));
      void limiter.throttled(retryAfterMs).catch(() => undefined);
      throw errorForStatus(429, { shopifyErrors: extractShopifyErrors(text), requestId, method, path: logPath, retryAfterMs });
    }
    const callLimit = parseCallLimit(callLimitHeader);
    // Not awaited: node-redis sends the commands of one connection in order, so our next acquire sees it.
    if (callLimit) void limiter.observe(callLimit, durationMs).catch(() => undefined);
    if (res.status < 200 || res.status >= 300) {
      throw errorForStatus(res.status, { shopifyErrors: extractShopifyErrors(text), requestId, method, path: logPath });
    }
    let parsed: T;
    try {
      parsed = (text ? JSON.parse(text) : {}) as T;
    } catch (error) {
      throw new ShopifyRetriableError(`${method} ${logPath} answered ${res.status} with a body that is not JSON`, { upstreamStatus: res.status, requestId, method, path: logPath, cause: error });
    }
    return { status: res.status, body: parsed, headers: res.headers };
  }

  async function request<T>(
    method: 'GET' | 'POST' | 'PUT' | 'DELETE',
    rawPath: string,
    opts: { params?: QueryParams; body?: unknown; failFastWhenNothingListens?: boolean } = {},
  ): Promise<ShopifyResponse<T>> {
    const path = normalizePath(rawPath);
    let sent: string | undefined;
    const attempts = (fixed?: string) =>
      withRetry(
        async (attempt) => {
          await waitForSlot();
          // Asked before every attempt: a retry after a long backoff goes out with a refreshed token.
          sent = fixed ?? (await tokens.current());
          return once<T>(method, path, opts.params, opts.body, attempt, sent);
        },
        policy,
        {
          sleep,
          ...(deps.random ? { random: deps.random } : {}),
          ...(opts.failFastWhenNothingListens ? { retryIf: (error: unknown) => !isNothingListening(error) } : {}),
          onRetry: (error, decision, attempt) => {
            stats.retries++;
            observer.retry?.();
            log.debug(
              { method, path, attempt, delayMs: decision.delayMs, reason: decision.reason, status: error instanceof ShopifyApiError ? error.upstreamStatus : undefined },
              'shopify request will be retried',
            );
          },
        },
      );
    try {
      return await attempts();
    } catch (error) {
      if (!(error instanceof ShopifyUnauthorizedError) || sent === undefined) throw error;
      // The token expired or was replaced meanwhile: once more with the newer one, if there is one.
      const newer = await tokens.afterUnauthorized(sent);
      if (newer === undefined || newer === sent) throw error;
      log.debug({ method, path }, 'shopify request retried with a refreshed access token');
      return attempts(newer);
    }
  }

  async function get<T>(path: string, params?: QueryParams): Promise<T> {
    return (await request<T>('GET', path, params ? { params } : {})).body;
  }

  function pages<T>(path: string, rootKey: string, params: QueryParams = {}, opts: { maxPages?: number } = {}) {
    return paginate<T>(
      async (p) => {
        const res = await request<Record<string, unknown>>('GET', path, { params: p });
        const items = res.body[rootKey];
        if (!Array.isArray(items)) {
          throw new ShopifyClientError(`GET ${path} answered without a "${rootKey}" array`, { upstreamStatus: res.status, requestId: res.headers.get('x-request-id') ?? undefined });
        }
        return { items: items as T[], linkHeader: res.headers.get('link') };
      },
      params,
      { maxPages: opts.maxPages ?? defaultMaxPages },
    );
  }

  async function collect<T>(gen: AsyncGenerator<ShopifyPage<T>, PaginationSummary>): Promise<T[]> {
    const all: T[] = [];
    for await (const page of gen) all.push(...page.items);
    return all;
  }

  async function* inventoryLevels(locationIds: number[], params: QueryParams = {}, opts: { maxPages?: number } = {}): AsyncGenerator<ShopifyPage<ShopifyInventoryLevel>, PaginationSummary> {
    const maxPages = opts.maxPages ?? defaultMaxPages;
    const ids = [...new Set(locationIds)];
    let pagesSoFar = 0;
    let items = 0;
    for (let start = 0; start < ids.length; start += INVENTORY_LOCATION_CHUNK) {
      const chunk = ids.slice(start, start + INVENTORY_LOCATION_CHUNK);
      const moreChunks = start + INVENTORY_LOCATION_CHUNK < ids.length;
      const gen = pages<ShopifyInventoryLevel>('inventory_levels', 'inventory_levels', { ...params, location_ids: chunk.join(',') }, { maxPages: maxPages - pagesSoFar });
      for await (const page of gen) {
        const pageNumber = pagesSoFar + page.pageNumber;
        const capReached = page.capReached || (pageNumber >= maxPages && moreChunks && !page.hasNext);
        items += page.items.length;
        yield { ...page, pageNumber, capReached, hasNext: page.hasNext || moreChunks };
        if (capReached) return { pages: pageNumber, items, capReached: true };
        if (!page.hasNext) pagesSoFar = pageNumber;
      }
    }
    return { pages: pagesSoFar, items, capReached: false };
  }

  return {
    shopDomain: shop,
    apiVersion,
    stats,
    request,
    get,
    pages,
    async count(path, params) {
      const body = await get<{ count: number }>(`${normalizePath(path)}/count`, params);
      return body.count;
    },
    async testConnection() {
      // A connection test answers "nothing listens there" at once (see isNothingListening).
      return (await request<{ shop: ShopifyShop }>('GET', 'shop', { failFastWhenNothingListens: true })).body.shop;
    },
    async accessScopes() {
      const body = await get<{ access_scopes?: { handle?: unknown }[] }>('/admin/oauth/access_scopes');
      return (body.access_scopes ?? []).map((s) => s.handle).filter((h): h is string => typeof h === 'string' && h !== '');
    },
    locations: () => collect(pages<ShopifyLocation>('locations', 'locations')),
    inventoryLevels,
    listWebhooks: () => collect(pages<ShopifyWebhook>('webhooks', 'webhooks')),
    async createWebhook(topic, address, opts = {}) {
      const webhook: Record<string, unknown> = { topic, address, format: opts.format ?? 'json' };
      if (opts.fields) webhook.fields = opts.fields;
      return (await request<{ webhook: ShopifyWebhook }>('POST', 'webhooks', { body: { webhook } })).body.webhook;
    },
    async deleteWebhook(id) {
      await request('DELETE', `webhooks/${id}`);
    },
  };
}
