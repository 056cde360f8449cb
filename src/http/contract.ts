import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ErrorRequestHandler, Request, RequestHandler } from 'express';
import type { OpenAPIV3 } from 'express-openapi-validator/dist/framework/types.js';
import { ClientError, UnauthorizedError, ValidationError } from '../errors.js';
import { hasBearerToken } from './auth.js';
import { describeFieldErrors, type FieldError } from './problem.js';

/** The bundled contract (`npm run generate` writes it from openapi/). */
export const CONTRACT_PATH = path.resolve(import.meta.dirname, '../generated/openapi.json');

let cached: OpenAPIV3.DocumentV3 | undefined;
export function loadContract(): OpenAPIV3.DocumentV3 {
  cached ??= JSON.parse(readFileSync(CONTRACT_PATH, 'utf8')) as OpenAPIV3.DocumentV3;
  return cached;
}

/**
 * express-openapi-validator 5.6 coerces "Infinity", "-Infinity" and "1e400" in integer parameters to
 * ±Infinity without checking their bounds; such a value then reached SQL (`LIMIT Infinity`, a 500) or
 * Redis (a misleading 503). Runs after the validator: a parameter it made a number must be finite.
 */
export const rejectNonFiniteNumbers: RequestHandler = (req, _res, next) => {
  // Path parameters as the validator coerced them (Express resets req.params for each router).
  const pathParams = (req as { openapi?: { pathParams?: Record<string, unknown> } }).openapi?.pathParams;
  const sources = [
    ['query', req.query],
    ['path', pathParams],
  ] as const;
  for (const [location, values] of sources) {
    for (const [name, value] of Object.entries(values ?? {})) {
      if (typeof value === 'number' && !Number.isFinite(value)) {
        next(new ValidationError(`The ${location} parameter ${name} must be a finite number`, [{ location, name, message: 'must be a finite number' }]));
        return;
      }
    }
  }
  next();
};

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** One path of the contract: how to match a request path, and what each documented method needs. */
export interface ContractPath {
  path: string;
  pattern: RegExp;
  /** Documented methods (upper case) → whether the operation requires credentials. */
  methods: Map<string, boolean>;
}

/**
 * The contract's paths as request matchers. Like Express routing they ignore letter case and a trailing
 * slash, so a request the routers would answer is always matched here too.
 */
export function contractPaths(contract: OpenAPIV3.DocumentV3): ContractPath[] {
  return Object.entries(contract.paths).map(([path, item]) => {
    const source = path
      .replace(/\/+$/, '')
      .split(/(\{[^}]+\})/)
      .map((part) => (/^\{[^}]+\}$/.test(part) ? '[^/]+' : part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
      .join('');
    const methods = new Map<string, boolean>();
    for (const method of HTTP_METHODS) {
      const operation = (item as Record<string, OpenAPIV3.OperationObject | undefined>)[method];
      if (!operation) continue;
      const security = operation.security ?? contract.security ?? [];
      // `security: []` or an empty requirement (`- {}`) makes credentials optional.
      methods.set(method.toUpperCase(), security.length > 0 && security.every((requirement) => Object.keys(requirement).length > 0));
    }
    return { path, pattern: new RegExp(`^${source}/?$`, 'i'), methods };
  });
}

/**
 * The first wall, ahead of any body parsing: a method the contract does not list for a path is 405 with
 * an `Allow` header (so HEAD is never answered by a GET handler, and OPTIONS is refused: no CORS today),
 * and an operation that needs credentials is 401 without an `Authorization: Bearer` header, so no body is
 * parsed for a request that can only be refused. The validator still checks the key itself. Paths the
 * contract does not know pass on (to a 404).
 */
export function contractGate(contract: OpenAPIV3.DocumentV3): RequestHandler {
  const paths = contractPaths(contract);
  return (req, res, next) => {
    const match = paths.find((p) => p.pattern.test(req.path));
    if (!match) {
      next();
      return;
    }
    const secured = match.methods.get(req.method);
    if (secured === undefined) {
      res.setHeader('Allow', [...match.methods.keys()].join(', '));
      next(new ClientError(`${req.method} is not allowed on ${match.path}; use ${[...match.methods.keys()].join(' or ')}`, { status: 405, code: 'method-not-allowed' }));
      return;
    }
    if (secured && !hasBearerToken(req)) {
      next(new UnauthorizedError('Send the API key as "Authorization: Bearer <key>"'));
      return;
    }
    next();
  };
}

type ParameterObject = { name: string; in: string; allowEmptyValue?: boolean };
type ParameterOrRef = ParameterObject | { $ref: string };
/** What express-openapi-validator's metadata step leaves on the request: the matched operation. */
type ContractRequest = Request & { openapi?: { schema?: { parameters?: ParameterOrRef[]; 'x-eov-allow-unknown-query-parameters'?: boolean } } };

/**
 * The query parameters of the request's operation that the validator leaves to us: it is told to let
 * unknown names through, because it refuses the first unknown one before checking any other parameter,
 * and every bad parameter should be named at once. Unknown names, and known ones sent empty (the
 * validator's own empty-value check is skipped with them), are reported here.
 */
export function queryParameterProblems(req: Request, contract: OpenAPIV3.DocumentV3 = loadContract()): FieldError[] {
  const operation = (req as ContractRequest).openapi?.schema;
  if (!operation) return [];
  const known = new Map<string, ParameterObject>();
  for (const parameter of operation.parameters ?? []) {
    const resolved = '$ref' in parameter ? (contract.components?.parameters?.[parameter.$ref.split('/').pop() ?? ''] as ParameterObject | undefined) : parameter;
    if (resolved?.in === 'query') known.set(resolved.name, resolved);
  }
  const problems: FieldError[] = [];
  // An operation may take parameters it does not list (Shopify's OAuth callback adds its own).
  const unknownAllowed = operation['x-eov-allow-unknown-query-parameters'] === true;
  for (const name of unknownAllowed ? [] : Object.keys(req.query ?? {})) {
    if (!known.has(name)) problems.push({ location: 'query', name, message: 'is not a parameter of this operation' });
  }
  const q = req.originalUrl.indexOf('?');
  for (const [name, value] of new URLSearchParams(q === -1 ? '' : req.originalUrl.slice(q + 1))) {
    const parameter = known.get(name);
    if (parameter && value === '' && !parameter.allowEmptyValue) problems.push({ location: 'query', name, message: 'must not be empty' });
  }
  return problems;
}

/** After the validator: refuses unknown or empty query parameters (see queryParameterProblems). */
export const rejectUnknownQueryParameters: RequestHandler = (req, _res, next) => {
  const problems = queryParameterProblems(req);
  next(problems.length > 0 ? new ValidationError(describeFieldErrors(problems), problems) : undefined);
};

/** A 400 of the validator (bad values) also names the unknown or empty query parameters of the same request. */
export const addQueryParameterProblems: ErrorRequestHandler = (err, req, _res, next) => {
  const validatorError = err as { status?: number; errors?: unknown };
  if (validatorError?.status === 400 && Array.isArray(validatorError.errors) && !(err instanceof ClientError)) {
    const extra = queryParameterProblems(req).map((p) => ({ path: `/query/${p.name}`, message: p.message }));
    validatorError.errors = [...validatorError.errors, ...extra];
  }
  next(err);
};

/**
 * The validator's middleware with the query checks (queryParameterProblems) right after its request
 * step and ahead of its response step: a refusal there is answered before response validation is armed,
 * like the validator's own refusals, also on operations whose contract lists no 400.
 */
export function withQueryParameterChecks(validator: RequestHandler[]): (RequestHandler | ErrorRequestHandler)[] {
  const at = validator.findIndex((middleware) => middleware.name === 'requestMiddleware');
  if (at === -1) throw new Error('express-openapi-validator has no "requestMiddleware" step: its layout changed; see withQueryParameterChecks');
  return [...validator.slice(0, at + 1), rejectUnknownQueryParameters, addQueryParameterProblems, ...validator.slice(at + 1)];
}
