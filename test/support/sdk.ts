import { readFileSync } from 'node:fs';
import { ApiProblemError, createClient, type Middleware, type ShopifyIntegrationClient } from '../../sdk/typescript/src/index.js';
import type { TestContext } from './context.js';

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'patch', 'options', 'head', 'trace'];

/** `METHOD /path/{param}/` → operationId, for every operation of the bundled contract. */
export function contractOperations(): Map<string, string> {
  const contract = JSON.parse(readFileSync(new URL('../../src/generated/openapi.json', import.meta.url), 'utf8')) as {
    paths: Record<string, Record<string, { operationId?: string }>>;
  };
  const operations = new Map<string, string>();
  for (const [path, item] of Object.entries(contract.paths)) {
    for (const method of HTTP_METHODS) {
      const operationId = item[method]?.operationId;
      if (operationId) operations.set(`${method.toUpperCase()} ${path}`, operationId);
    }
  }
  return operations;
}

/**
 * Which operations of the contract the SDK has called (and got an answer for, whatever its status), and
 * which of them the service does not implement yet.
 */
export class OperationCoverage {
  readonly operations = contractOperations();
  readonly exercised = new Set<string>();
  readonly notImplemented = new Set<string>();

  /** openapi-fetch middleware: openapi-fetch passes the contract's path template as `schemaPath`. */
  readonly middleware: Middleware = {
    onResponse: ({ request, schemaPath }) => {
      const operationId = this.operations.get(`${request.method} ${schemaPath}`);
      if (operationId) this.exercised.add(operationId);
    },
  };

  operationIds(): string[] {
    return [...this.operations.values()];
  }

  missing(): string[] {
    return this.operationIds().filter((id) => !this.exercised.has(id));
  }

  noteNotImplemented(err: ApiProblemError): void {
    const path = new URL(err.response.url).pathname;
    for (const [key, id] of this.operations) {
      const [method, template] = key.split(' ') as [string, string];
      if (method === err.method && new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`).test(path)) this.notImplemented.add(id);
    }
  }
}

/** An SDK client of the test's API that reports to `coverage`. */
export function sdkClient(t: TestContext, coverage: OperationCoverage, apiKey?: string): ShopifyIntegrationClient {
  const client = createClient({ baseUrl: t.url, ...(apiKey !== undefined ? { apiKey } : {}) });
  client.use(coverage.middleware);
  return client;
}

/**
 * True when the service has no handler for the failed request yet: the app answers "No route" (404), or —
 * for operations whose contract lists no 404 — the test-mode response validator turns that 404 into a 500;
 * then the Express router is asked whether any route matches.
 */
export function isNotImplemented(t: TestContext, err: unknown): err is ApiProblemError {
  if (!(err instanceof ApiProblemError)) return false;
  if (err.status === 404) return /^No route for /.test(err.detail ?? '');
  return err.status === 500 && !routeRegistered(t, err.method, new URL(err.response.url).pathname);
}

/**
 * Runs one SDK case; when its endpoint is not implemented yet, the mocha test is skipped (with the reason
 * in the report) instead of failing, so the suite can be re-run as the endpoints land.
 */
export async function unlessNotImplemented<T>(test: Mocha.Context, t: TestContext, coverage: OperationCoverage, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!isNotImplemented(t, err)) throw err;
    coverage.noteNotImplemented(err);
    const reason = `not implemented yet: ${err.method} ${new URL(err.response.url).pathname} answered ${err.status}`;
    if (test.test) test.test.title += ` (skipped: ${reason})`;
    test.skip();
    throw err; // unreachable: skip() throws
  }
}

interface RouterLayer {
  route?: { _handlesMethod(method: string): boolean };
  handle?: { stack?: RouterLayer[] };
  match(path: string): boolean;
}

/** Walks the Express 5 router (routers are mounted at `/`, so paths need no rewriting). */
function routeRegistered(t: TestContext, method: string, path: string): boolean {
  const app = t.api.server.listeners('request')[0] as { router?: { stack: RouterLayer[] } } | undefined;
  if (!app?.router) return true; // cannot tell: treat as implemented, so the failure shows
  const walk = (stack: RouterLayer[]): boolean =>
    stack.some((layer) => {
      if (layer.route) return layer.match(path) && layer.route._handlesMethod(method.toLowerCase());
      return layer.handle?.stack ? walk(layer.handle.stack) : false;
    });
  return walk(app.router.stack);
}
