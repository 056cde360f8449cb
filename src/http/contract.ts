import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RequestHandler } from 'express';
import type { OpenAPIV3 } from 'express-openapi-validator/dist/framework/types.js';
import { ClientError, UnauthorizedError, ValidationError } from '../errors.js';
import { hasBearerToken } from './auth.js';

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
  const sources = [['query', req.query], ['path', pathParams]] as const;
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
