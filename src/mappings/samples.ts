import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ResourceName } from '../resources/index.js';

type Json = Record<string, any>;

/** The contract's schema of one record of each resource, as the API serves it. */
const RECORD_SCHEMAS: Readonly<Record<ResourceName, string>> = { products: 'Product', orders: 'Order', customers: 'Customer', inventory: 'InventoryLevel', locations: 'Location' };
const CONTRACT_PATH = path.resolve(import.meta.dirname, '../generated/openapi.json');
const samples = new Map<ResourceName, Record<string, unknown>>();

/**
 * A representative record of `resource` in its API shape, for trying a mapping when the tenant has no
 * record yet: the contract's example of the record (or the first of its list example), else one built
 * from the schema's property examples.
 */
export function sampleRecord(resource: ResourceName): Record<string, unknown> {
  let sample = samples.get(resource);
  if (!sample) {
    const contract = JSON.parse(readFileSync(CONTRACT_PATH, 'utf8')) as Json;
    const name = RECORD_SCHEMAS[resource];
    const examples = (contract.components?.examples ?? {}) as Json;
    sample = (examples[name]?.value ?? examples[`${name}List`]?.value?.data?.[0] ?? fromSchema(contract, { $ref: `#/components/schemas/${name}` })) as Record<string, unknown>;
    samples.set(resource, sample);
  }
  return structuredClone(sample);
}

function fromSchema(contract: Json, node: Json, depth = 0): unknown {
  const schema = resolve(contract, node);
  if (schema.example !== undefined) return schema.example;
  if (depth > 8) return null;
  if (schema.allOf) return fromSchema(contract, schema.allOf[0], depth + 1);
  if (schema.nullable && schema.type !== 'object' && schema.type !== 'array') return null;
  switch (schema.type) {
    case 'object':
      return Object.fromEntries(Object.entries((schema.properties ?? {}) as Json).map(([key, value]) => [key, fromSchema(contract, value as Json, depth + 1)]));
    case 'array':
      return [fromSchema(contract, schema.items ?? {}, depth + 1)];
    case 'integer':
    case 'number':
      return schema.minimum ?? 0;
    case 'boolean':
      return false;
    case 'string':
      return schema.format === 'date-time' ? '2024-03-01T12:00:00.000Z' : (schema.enum?.[0] ?? '');
    default:
      return null;
  }
}

function resolve(contract: Json, node: Json): Json {
  if (typeof node.$ref !== 'string') return node;
  return (node.$ref as string)
    .replace(/^#\//, '')
    .split('/')
    .reduce((at: Json, part) => at[part], contract) as Json;
}
