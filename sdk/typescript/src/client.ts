import createFetchClient, { type FetchResponse, type MaybeOptionalInit, type Middleware } from 'openapi-fetch';
import type { HttpMethod, MediaType, PathsWithMethod, RequiredKeysOf } from 'openapi-typescript-helpers';
import { paginate, type ListItem, type ListPath, type PaginateInit } from './paginate.js';
import { ApiProblemError } from './problem.js';
import type { paths } from './schema.js';
import type { ForView } from './views.js';

export interface ClientOptions {
  /** Where the service runs, e.g. `https://integrations.example.com` (the contract's paths start with `/api/`). */
  baseUrl: string;
  /** A tenant API key, or the operator key for `/api/admin/` routes; sent as `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** A fetch of your own (tests, proxies, retries); defaults to the global fetch. */
  fetch?: (input: Request) => Promise<Response>;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
}

// openapi-fetch's own rule: the init argument is optional only when nothing in it is required.
type InitParam<Init> = RequiredKeysOf<Init> extends never ? [(Init & { [key: string]: unknown })?] : [Init & { [key: string]: unknown }];

/** A successful answer: `data` is the 2xx body of the operation in the view asked for (errors are thrown, never returned). */
export interface Success<Operation, Init> {
  data: Operation extends Record<string | number, any> ? ForView<NonNullable<FetchResponse<Operation, Init, MediaType>['data']>, Init> : never;
  response: Response;
}

/** `client.GET('/api/shopify/products/{id}/', { params: { path: { id } } })`, typed by path and method. */
export type Method<M extends HttpMethod> = <P extends PathsWithMethod<paths, M>, Init extends MaybeOptionalInit<paths[P], M>>(url: P, ...init: InitParam<Init>) => Promise<Success<paths[P][M], Init>>;

export interface ShopifyIntegrationClient {
  GET: Method<'get'>;
  POST: Method<'post'>;
  PUT: Method<'put'>;
  PATCH: Method<'patch'>;
  DELETE: Method<'delete'>;
  /** Every record of a list endpoint, following `next_cursor`: `for await (const p of client.paginate('/api/shopify/products/'))`. */
  paginate<P extends ListPath, const Init extends PaginateInit<P> = PaginateInit<P>>(path: P, init?: Init): AsyncGenerator<ListItem<P, Init>, void, undefined>;
  /** openapi-fetch middleware (logging, tracing, retries); they see every request and response. */
  use(...middleware: Middleware[]): void;
  eject(...middleware: Middleware[]): void;
}

type LooseRequest = (method: string, url: string, init?: object) => Promise<{ data?: unknown; error?: unknown; response: Response }>;

/** A typed client of the Shopify Integration Service. Any non-2xx answer throws an {@link ApiProblemError}. */
export function createClient(options: ClientOptions): ShopifyIntegrationClient {
  const raw = createFetchClient<paths>({
    baseUrl: options.baseUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    headers: { ...options.headers, ...(options.apiKey ? { Authorization: `Bearer ${options.apiKey}` } : {}) },
  });
  // The typed surface is declared above; inside, one untyped path serves every method.
  const request = raw.request as unknown as LooseRequest;
  const call = async (method: string, url: string, init?: object) => {
    const { data, error, response } = await request(method, url, init);
    if (!response.ok) throw ApiProblemError.from(response, error, method);
    return { data, response };
  };
  const bound = (method: string) => ((url: string, init?: object) => call(method, url, init)) as never;
  return {
    GET: bound('GET'),
    POST: bound('POST'),
    PUT: bound('PUT'),
    PATCH: bound('PATCH'),
    DELETE: bound('DELETE'),
    paginate: ((path: string, init?: PaginateInit<ListPath>) => paginate((p, i) => call('GET', p, i) as never, path, init)) as never,
    use: (...middleware) => raw.use(...middleware),
    eject: (...middleware) => raw.eject(...middleware),
  };
}
