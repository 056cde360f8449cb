import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { RequestHandler } from 'express';
import type { OpenAPIV3 } from 'express-openapi-validator/dist/framework/types.js';
import { ValidationError } from '../errors.js';

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
