import { existsSync } from 'node:fs';
import path from 'node:path';

/**
 * Loads `.env` from the working directory into `process.env` when the file exists (local runs; a
 * container passes its environment instead). A variable already set in the environment wins over the
 * file, as with Node's `--env-file`. Returns the absolute path loaded, or undefined.
 */
export function loadEnvFile(file = '.env'): string | undefined {
  const absolute = path.resolve(file);
  if (!existsSync(absolute)) return undefined;
  process.loadEnvFile(absolute);
  return absolute;
}
