import type { components } from './schema.js';

/** An RFC 9457 problem, as the contract describes every error answer (`application/problem+json`). */
export type Problem = components['schemas']['Problem'];
/** One bad field or parameter of a validation problem. */
export type FieldError = components['schemas']['FieldError'];

/**
 * Thrown by every SDK call whose answer is not a 2xx. Carries the problem's fields; an answer that is
 * not problem+json (a proxy's HTML page, say) becomes an `about:blank` problem with its status, so
 * callers have one error type to handle.
 */
export class ApiProblemError extends Error {
  override readonly name = 'ApiProblemError';
  readonly status: number;
  /** URI naming the kind of problem, e.g. `https://shopify-integration.dev/problems/not-found`. */
  readonly type: string;
  readonly title: string;
  readonly detail: string | undefined;
  /** For validation problems, each bad field or parameter; otherwise empty. */
  readonly errors: FieldError[];
  /** Quote it when reporting a problem. */
  readonly requestId: string | undefined;
  /** The whole problem body, with any extension members (e.g. `checks` of a readiness failure). */
  readonly problem: Problem;
  readonly response: Response;
  /** The HTTP method of the failed request (its URL is `response.url`). */
  readonly method: string;

  constructor(problem: Problem, response: Response, method: string) {
    super(`${problem.status} ${problem.title}${problem.detail ? `: ${problem.detail}` : ''} (${method} ${pathOf(response.url)})`);
    this.problem = problem;
    this.response = response;
    this.method = method;
    this.status = problem.status;
    this.type = problem.type;
    this.title = problem.title;
    this.detail = problem.detail;
    this.errors = problem.errors ?? [];
    this.requestId = problem.request_id ?? response.headers.get('x-request-id') ?? undefined;
  }

  /** `body` is the answer as openapi-fetch parsed it: JSON when it was JSON, else its text. */
  static from(response: Response, body: unknown, method: string): ApiProblemError {
    return new ApiProblemError(isProblem(body) ? body : fallbackProblem(response, body), response, method);
  }
}

/** True when `err` is an API problem (of the given status, when one is given). */
export function isApiProblem(err: unknown, status?: number): err is ApiProblemError {
  return err instanceof ApiProblemError && (status === undefined || err.status === status);
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return url;
  }
}

function isProblem(body: unknown): body is Problem {
  if (typeof body !== 'object' || body === null) return false;
  const b = body as Record<string, unknown>;
  return typeof b.type === 'string' && typeof b.title === 'string' && typeof b.status === 'number';
}

function fallbackProblem(response: Response, body: unknown): Problem {
  const text = typeof body === 'string' ? body : body === undefined ? '' : JSON.stringify(body);
  return {
    type: 'about:blank',
    title: response.statusText || `HTTP ${response.status}`,
    status: response.status,
    ...(text ? { detail: text.slice(0, 500) } : {}),
  };
}
