import type { ErrorRequestHandler, RequestHandler, Response } from 'express';
import { AppError, ClientError, ThrottledError } from '../errors.js';
import type { Logger } from '../platform/logger.js';

const PROBLEM_BASE = 'https://shopify-integration.dev/problems/';
const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  408: 'Request Timeout',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
const SLUGS: Record<number, string> = {
  400: 'validation-error',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not-found',
  405: 'method-not-allowed',
  408: 'request-timeout',
  409: 'conflict',
  413: 'payload-too-large',
  415: 'unsupported-media-type',
  422: 'unprocessable',
  429: 'rate-limited',
  431: 'headers-too-large',
  500: 'internal-error',
  501: 'not-implemented',
  502: 'upstream-error',
  503: 'service-unavailable',
  504: 'upstream-timeout',
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
  res.locals.problem = { type: problem.type, detail: problem.detail };
  res.status(status).type('application/problem+json').json(problem);
}

/** The problem a response carried (its type and detail), for the request log line. */
export function problemOfResponse(res: object): { type: string; detail?: string } | undefined {
  return (res as { locals?: Record<string, unknown> }).locals?.problem as { type: string; detail?: string } | undefined;
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
  query: 'query',
  path: 'path',
  params: 'path',
  headers: 'header',
  body: 'body',
  cookies: 'cookie',
};

/** The validator's (ajv's) wording → plain words; the first pattern that matches wins (patterns ending in `.*$` replace the whole message, quoted names and patterns included). */
const PLAIN_MESSAGES: [RegExp, string][] = [
  [/^must be <= (.+)$/, 'must be at most $1'],
  [/^must be < (.+)$/, 'must be less than $1'],
  [/^must be >= (.+)$/, 'must be at least $1'],
  [/^must be > (.+)$/, 'must be greater than $1'],
  [/^must be integer$/, 'must be a whole number'],
  [/^must be number$/, 'must be a number'],
  [/^must be boolean$/, 'must be true or false'],
  [/^must be string$/, 'must be text'],
  [/^must be array$/, 'must be a list'],
  [/^must be object$/, 'must be an object'],
  [/^must be equal to one of the allowed values: (.+)$/, 'must be one of $1'],
  [/^must match format "date-time"$/, 'must be an ISO 8601 date and time, such as 2024-03-01T00:00:00Z'],
  [/^must match format "(.+)"$/, 'must be a valid $1'],
  [/^must NOT have fewer than 1 characters$/, 'must not be empty'],
  [/^must NOT have fewer than (\d+) characters$/, 'must be at least $1 characters long'],
  [/^must NOT have more than (\d+) characters$/, 'must be at most $1 characters long'],
  [/^must NOT have fewer than (\d+) items$/, 'must have at least $1 item(s)'],
  [/^must NOT have more than (\d+) items$/, 'must have at most $1 items'],
  [/^must match pattern .*$/s, 'is not in the expected format'],
  [/^must have required property .*$/s, 'is required'],
  [/^must NOT have additional properties$/, 'is not a known field'],
  [/^Unknown query parameter .*$/s, 'is not a parameter of this operation'],
  [/^Empty value found .*$/s, 'must not be empty'],
];

export function plainMessage(message: string): string {
  for (const [pattern, replacement] of PLAIN_MESSAGES) if (pattern.test(message)) return message.replace(pattern, replacement);
  return message;
}

/**
 * express-openapi-validator reports `path: '.query.limit'` or `/body/shop_domain` and ajv's wording;
 * name the field, say it in plain words, and name each field once (its first problem).
 */
function fieldErrors(errors: unknown): FieldError[] | undefined {
  if (!Array.isArray(errors)) return undefined;
  const byField = new Map<string, FieldError>();
  for (const e of errors as { path?: string; message?: string }[]) {
    const parts = (e.path ?? '').split(/[./]/).filter(Boolean);
    const location = LOCATIONS[parts[0] ?? ''];
    const name = (location ? parts.slice(1) : parts).join('.') || '(body)';
    const field: FieldError = { location: location ?? 'body', name, message: plainMessage(e.message ?? 'is invalid') };
    const key = `${field.location} ${field.name}`;
    if (!byField.has(key)) byField.set(key, field);
  }
  return [...byField.values()];
}

/** One sentence naming every bad field: "The query parameter limit must be at most 250; the query parameter foo …". */
export function describeFieldErrors(errors: FieldError[]): string {
  const parts = errors.map((e) => (e.name === '(body)' ? `the request body ${e.message}` : `the ${e.location === 'body' ? 'body field' : `${e.location} parameter`} ${e.name} ${e.message}`));
  const sentence = parts.join('; ');
  return sentence.charAt(0).toUpperCase() + sentence.slice(1);
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
      const detail = status === 404 ? `No route for ${req.method} ${req.path}` : status === 400 && errors && errors.length > 0 ? describeFieldErrors(errors) : String(err.message ?? 'Bad request');
      return sendProblem(res, status, detail, errors && status === 400 ? { errors } : {});
    }
    log().error({ err }, 'unhandled error');
    return sendProblem(res, 500, 'An unexpected error occurred; quote the request id when reporting it.');
  };
}
