import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { AppError, ClientError, ThrottledError } from '../errors.js';
import type { Logger } from '../platform/logger.js';

const PROBLEM_BASE = 'https://shopify-integration.dev/problems/';
const TITLES: Record<number, string> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed',
  408: 'Request Timeout', 409: 'Conflict', 413: 'Payload Too Large', 415: 'Unsupported Media Type',
  422: 'Unprocessable Content', 429: 'Too Many Requests', 431: 'Request Header Fields Too Large',
  500: 'Internal Server Error', 501: 'Not Implemented', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};
const SLUGS: Record<number, string> = {
  400: 'validation-error', 401: 'unauthorized', 403: 'forbidden', 404: 'not-found', 405: 'method-not-allowed',
  408: 'request-timeout', 409: 'conflict', 413: 'payload-too-large', 415: 'unsupported-media-type', 422: 'unprocessable',
  429: 'rate-limited', 431: 'headers-too-large', 500: 'internal-error', 501: 'not-implemented', 502: 'upstream-error',
  503: 'service-unavailable', 504: 'upstream-timeout',
};

export interface FieldError {
  location: 'query' | 'path' | 'header' | 'body' | 'cookie';
  name: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  request_id?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

function problemOf(status: number, detail: string, code?: string): Problem {
  return { type: PROBLEM_BASE + (code ?? SLUGS[status] ?? 'error'), title: TITLES[status] ?? 'Error', status, detail };
}

export function sendProblem(res: Response, status: number, detail: string, extra: Partial<Problem> = {}, code?: string): void {
  const problem: Problem = {
    ...problemOf(status, detail, code),
    instance: res.req.originalUrl.split('?')[0],
    ...(res.req.id !== undefined ? { request_id: String(res.req.id) } : {}),
    ...extra,
  };
  res.status(status).type('application/problem+json').json(problem);
}

/**
 * A whole HTTP response carrying a problem, for requests Node's HTTP parser refuses before Express sees
 * them (malformed request line or headers, headers over the size limit, headers too slow): written
 * straight to the socket, which is then closed.
 */
export function rawProblemResponse(status: number, detail: string): string {
  const problem = problemOf(status, detail);
  const body = JSON.stringify(problem);
  return [
    `HTTP/1.1 ${status} ${problem.title}`,
    'Content-Type: application/problem+json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'X-Content-Type-Options: nosniff',
    'Connection: close',
    '',
    body,
  ].join('\r\n');
}

const LOCATIONS: Record<string, FieldError['location']> = {
  query: 'query', path: 'path', params: 'path', headers: 'header', body: 'body', cookies: 'cookie',
};

/** express-openapi-validator reports `path: '.query.limit'` or `/body/shop_domain`; name the field. */
function fieldErrors(errors: unknown): FieldError[] | undefined {
  if (!Array.isArray(errors)) return undefined;
  return errors.map((e: { path?: string; message?: string }) => {
    const parts = (e.path ?? '').split(/[./]/).filter(Boolean);
    const location = LOCATIONS[parts[0] ?? ''];
    const name = (location ? parts.slice(1) : parts).join('.') || '(body)';
    return { location: location ?? 'body', name, message: e.message ?? 'is invalid' };
  });
}

export const notFoundHandler: RequestHandler = (req, res) => {
  sendProblem(res, 404, `No route for ${req.method} ${req.path}`);
};

/** The last middleware: every error leaves as problem+json, never an HTML page or a stack trace. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (caught, req, res, _next) => {
    const err = req.dependencyError ?? caught;
    // Routes mounted ahead of the request log (webhooks) have a request id but no request logger.
    const log = () => req.log ?? logger.child({ reqId: req.id });
    if (res.headersSent) {
      res.end();
      return;
    }
    if (err instanceof ClientError) {
      return sendProblem(res, err.status, err.message, err.errors ? { errors: err.errors as FieldError[] } : {}, err.code);
    }
    if (err instanceof AppError) {
      if (err.status >= 500) log().warn({ err }, 'request failed');
      if (err.status === 503 || err.status === 429) res.setHeader('Retry-After', String(err instanceof ThrottledError ? err.retryAfterSeconds : 5));
      return sendProblem(res, err.status, err.message, {}, err.code);
    }
    // body-parser and express-openapi-validator errors carry a status.
    const status = typeof err?.status === 'number' ? err.status : typeof err?.statusCode === 'number' ? err.statusCode : 500;
    if (status >= 400 && status < 500) {
      if (err.type === 'entity.parse.failed') return sendProblem(res, 400, 'The request body is not valid JSON', { errors: [{ location: 'body', name: '(body)', message: 'malformed JSON' }] });
      if (err.type === 'entity.too.large') return sendProblem(res, 413, 'The request body is too large');
      const errors = fieldErrors(err.errors);
      if (status === 405 && typeof err.headers?.Allow === 'string') res.setHeader('Allow', err.headers.Allow);
      const detail = status === 404 ? `No route for ${req.method} ${req.path}` : String(err.message ?? 'Bad request');
      return sendProblem(res, status, detail, errors && status === 400 ? { errors } : {});
    }
    log().error({ err }, 'unhandled error');
    return sendProblem(res, 500, 'An unexpected error occurred; quote the request id when reporting it.');
  };
}
