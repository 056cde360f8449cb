import type { Logger } from 'pino';
import { shopifyHttp, type ShopifyHttpOverrides } from '../platform/retry-policies.js';
import { createShopifyClient, type ShopifyClient, type ShopifyClientDeps, type ShopifyClientObserver, type ShopifyClientTarget } from './admin-client.js';
import { ShopifyAccessDeniedError, ShopifyApiError, ShopifyClientError, ShopifyRetriableError, ShopifyThrottledError, ShopifyUserErrorsError, type ShopifyErrorInfo } from './errors.js';
import { createRedisCostLimiter, noCostLimit, throttleWaitMs, type CostLimiter, type QueryCost } from './graphql/cost-limiter.js';
import { realSleep } from './retry.js';
import type { RateLimiter } from './rate-limiter.js';

/**
 * The GraphQL Admin API client: `POST /admin/api/{version}/graphql.json` through the REST client's
 * transport (same token source and refresh after a 401, same retries of 5xx, network errors and 429s),
 * with a cost limiter in place of the request bucket, and GraphQL's own failures (answered with HTTP
 * 200) mapped into the same error tree.
 */
export interface GraphqlRequest {
  document: string;
  variables?: Record<string, unknown>;
  /** The document's requested cost with these variables (see documents/): reserved before sending. */
  requestedCost: number;
}

export interface GraphqlResult<T> {
  data: T;
  cost: QueryCost | undefined;
}

export interface GraphqlClientStats {
  /** HTTP attempts (retries included). */
  requests: number;
  /** THROTTLED answers and 429s. */
  throttled: number;
  pointsRequested: number;
  pointsSpent: number;
  limiterWaitMs: number;
}

export interface GraphqlClient {
  readonly shopDomain: string;
  readonly apiVersion: string;
  readonly stats: GraphqlClientStats;
  query<T>(request: GraphqlRequest): Promise<GraphqlResult<T>>;
}

export interface GraphqlClientDeps extends Omit<ShopifyClientDeps, 'rateLimit'> {
  /** `false` turns the shared cost limiter off (benchmarks' unlimited runs); default: one per shop in Redis. */
  costLimit?: boolean | CostLimiter;
}

interface GraphqlError {
  message?: string;
  extensions?: { code?: string; requiredAccess?: string; [k: string]: unknown };
  path?: (string | number)[];
}

interface GraphqlBody {
  data?: unknown;
  errors?: GraphqlError[];
  extensions?: { cost?: QueryCost };
}

export function createShopifyGraphqlClient(deps: GraphqlClientDeps, target: ShopifyClientTarget): GraphqlClient {
  const sleep = deps.sleep ?? realSleep;
  const log = deps.logger.child({ component: 'shopify-graphql', shop: target.shopDomain });
  const limiter: CostLimiter =
    deps.costLimit === false ? noCostLimit : typeof deps.costLimit === 'object' ? deps.costLimit : createRedisCostLimiter({ redis: deps.redis, keys: deps.keys, shop: target.shopDomain, logger: log });
  // The transport's request bucket does not apply to GraphQL; a 429 still tells every process to wait.
  const on429: RateLimiter = { acquire: async () => 0, observe: async () => undefined, throttled: (ms) => limiter.throttledFor(ms) };
  const transport = createShopifyClient({ ...deps, rateLimit: on429, sleep }, target);
  return graphqlOver(transport, { limiter, logger: log, config: deps.config, sleep, ...(deps.retry ? { retry: deps.retry } : {}), ...(deps.observer ? { observer: deps.observer } : {}) });
}

/**
 * GraphQL through a REST client built elsewhere (its token source, retries and request bucket), with no
 * cost limiter: for a few small calls such as webhook subscriptions at connect and disconnect. A
 * THROTTLED answer still waits what Shopify's restore rate needs before the query is sent again.
 */
export function graphqlOverClient(transport: ShopifyClient, opts: { config: GraphqlClientDeps['config']; logger?: Logger; sleep?: (ms: number) => Promise<void> }): GraphqlClient {
  return graphqlOver(transport, { limiter: noCostLimit, config: opts.config, sleep: opts.sleep ?? realSleep, ...(opts.logger ? { logger: opts.logger } : {}) });
}

interface GraphqlOverOptions {
  limiter: CostLimiter;
  config: GraphqlClientDeps['config'];
  sleep: (ms: number) => Promise<void>;
  logger?: Logger;
  retry?: ShopifyHttpOverrides;
  observer?: ShopifyClientObserver;
}

function graphqlOver(transport: ShopifyClient, o: GraphqlOverOptions): GraphqlClient {
  const { limiter, sleep } = o;
  const log = o.logger;
  const policy = shopifyHttp(o.config, o.retry);
  const stats: GraphqlClientStats = { requests: 0, throttled: 0, pointsRequested: 0, pointsSpent: 0, limiterWaitMs: 0 };
  const path = `/admin/api/${transport.apiVersion}/graphql.json`;

  async function reserve(cost: number): Promise<void> {
    for (;;) {
      const waitMs = await limiter.reserve(cost);
      if (waitMs <= 0) return;
      stats.limiterWaitMs += waitMs;
      o.observer?.limiterWait?.(waitMs);
      await sleep(waitMs);
    }
  }

  async function query<T>(request: GraphqlRequest): Promise<GraphqlResult<T>> {
    for (let throttles = 0; ; throttles++) {
      await reserve(request.requestedCost);
      const before = transport.stats;
      const sentBefore = before.requests;
      const throttledBefore = before.throttled;
      // How old the answer's throttleStatus can be at most when it is settled (see CostLimiter.settle).
      const sentAt = performance.now();
      let body: GraphqlBody;
      try {
        body = (await transport.request<GraphqlBody>('POST', 'graphql', { body: { query: request.document, variables: request.variables ?? {} } })).body;
      } catch (error) {
        await limiter.settle(request.requestedCost, undefined, { throttled: true }).catch(() => undefined);
        throw error;
      } finally {
        stats.requests += transport.stats.requests - sentBefore;
        stats.throttled += transport.stats.throttled - throttledBefore;
      }
      const cost = body.extensions?.cost;
      const throttled = (body.errors ?? []).some((e) => e.extensions?.code === 'THROTTLED');
      await limiter.settle(request.requestedCost, cost, { throttled, ageMs: performance.now() - sentAt }).catch(() => undefined);
      stats.pointsRequested += cost?.requestedQueryCost ?? request.requestedCost;
      if (throttled) {
        stats.throttled++;
        o.observer?.throttled?.();
        const waitMs = cost ? throttleWaitMs(cost.requestedQueryCost, cost.throttleStatus) : 1000;
        log?.debug({ requested: cost?.requestedQueryCost, available: cost?.throttleStatus.currentlyAvailable, waitMs }, 'shopify graphql query throttled');
        if (throttles >= policy.maxThrottleRetries)
          throw new ShopifyThrottledError(`POST ${path} THROTTLED ${throttles + 1} times`, { upstreamStatus: 200, method: 'POST', path, shopifyErrors: body.errors }, waitMs);
        // The next reserve waits what the restore rate needs; without a limiter, wait here.
        if (limiter === noCostLimit) await sleep(waitMs);
        continue;
      }
      stats.pointsSpent += cost?.actualQueryCost ?? cost?.requestedQueryCost ?? 0;
      if (body.errors?.length) throw graphqlError(body.errors, { upstreamStatus: 200, method: 'POST', path, shopifyErrors: body.errors });
      if (body.data === undefined || body.data === null) throw new ShopifyRetriableError(`POST ${path} answered without data`, { upstreamStatus: 200, method: 'POST', path });
      return { data: body.data as T, cost };
    }
  }

  return { shopDomain: transport.shopDomain, apiVersion: transport.apiVersion, stats, query };
}

const SCOPE = /`?((?:read|write|unauthenticated_read|unauthenticated_write)_[a-z_]+)`?/;
const RETRIABLE_CODES = new Set(['INTERNAL_SERVER_ERROR', 'SERVICE_UNAVAILABLE', 'TIMEOUT']);

/** GraphQL `errors` (with HTTP 200) → the error tree: access, server-side, or a wrong query. */
export function graphqlError(errors: GraphqlError[], info: ShopifyErrorInfo): ShopifyApiError {
  const summary = errors
    .map((e) => e.message ?? e.extensions?.code ?? 'error')
    .join('; ')
    .slice(0, 500);
  const where = `${info.method ?? 'POST'} ${info.path ?? 'graphql'}`;
  const denied = errors.find((e) => e.extensions?.code === 'ACCESS_DENIED');
  if (denied) {
    const scope = SCOPE.exec(String(denied.extensions?.requiredAccess ?? ''))?.[1] ?? SCOPE.exec(denied.message ?? '')?.[1];
    const message = `${where} was denied${scope ? `: the token lacks the ${scope} scope` : ''} (${summary})`;
    return new ShopifyAccessDeniedError(message, { ...info, upstreamStatus: 403 }, scope);
  }
  if (errors.some((e) => RETRIABLE_CODES.has(String(e.extensions?.code)))) return new ShopifyRetriableError(`${where} failed: ${summary}`, info);
  return new ShopifyClientError(`${where} was refused: ${summary}`, { ...info, upstreamStatus: 400 });
}

/** A mutation's payload with `userErrors`: throws them as one error (422), else returns the payload. */
export function withoutUserErrors<P extends { userErrors?: { field?: string[] | null; message: string; code?: string | null }[] | null }>(payload: P | null | undefined, mutation: string): P {
  if (!payload) throw new ShopifyClientError(`${mutation} answered no payload`, { upstreamStatus: 400 });
  const userErrors = payload.userErrors ?? [];
  if (userErrors.length === 0) return payload;
  const detail = userErrors.map((e) => `${e.field?.length ? `${e.field.join('.')}: ` : ''}${e.message}`).join('; ');
  throw new ShopifyUserErrorsError(`${mutation} was refused: ${detail}`, { upstreamStatus: 422, shopifyErrors: userErrors }, userErrors);
}
