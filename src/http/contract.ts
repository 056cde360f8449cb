import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { OpenAPIV3 } from 'express-openapi-validator/dist/framework/types.js';

/** The bundled contract (`npm run generate` writes it from openapi/). */
export const CONTRACT_PATH = path.resolve(import.meta.dirname, '../generated/openapi.json');

let cached: OpenAPIV3.DocumentV3 | undefined;
export function loadContract(): OpenAPIV3.DocumentV3 {
  cached ??= JSON.parse(readFileSync(CONTRACT_PATH, 'utf8')) as OpenAPIV3.DocumentV3;
  return cached;
}
