import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { buildClientSchema, type GraphQLSchema, type IntrospectionQuery } from 'graphql';

/**
 * Shopify's Admin GraphQL schema, offline: the devDependency `@shopify/dev-mcp` ships the introspection
 * of every supported version as `dist/data/admin_<version>.json.gz`. The mock serves GraphQL from it and
 * the tests validate our documents against it. The service never loads it at run time.
 */
function dataDir(): string {
  try {
    // The package exports only its entry point (dist/index.js); the data sits beside it.
    return join(dirname(fileURLToPath(import.meta.resolve('@shopify/dev-mcp'))), 'data');
  } catch {
    return join(dirname(fileURLToPath(import.meta.url)), '../../node_modules/@shopify/dev-mcp/dist/data');
  }
}

/** The Admin API versions whose schema is installed (`2026-10`, …, `unstable`). */
export function availableAdminSchemaVersions(): string[] {
  const dir = dataDir();
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .map((f) => /^admin_(.+)\.json\.gz$/.exec(f)?.[1])
    .filter((v): v is string => v !== undefined)
    .sort();
}

const cache = new Map<string, GraphQLSchema>();

/** The schema of one Admin API version (built once per process: about a second). */
export function loadAdminSchema(version: string): GraphQLSchema {
  const cached = cache.get(version);
  if (cached) return cached;
  const file = join(dataDir(), `admin_${version}.json.gz`);
  if (!existsSync(file)) {
    const known = availableAdminSchemaVersions();
    throw new Error(
      `No Admin GraphQL schema for API version "${version}" in @shopify/dev-mcp (${known.length ? `installed: ${known.join(', ')}` : 'package not installed: npm ci'}). ` +
        'Set SHOPIFY_API_VERSION to one of them, or upgrade @shopify/dev-mcp.',
    );
  }
  const parsed = JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as { data?: IntrospectionQuery } & Partial<IntrospectionQuery>;
  const schema = buildClientSchema(parsed.data ?? (parsed as IntrospectionQuery));
  cache.set(version, schema);
  return schema;
}
