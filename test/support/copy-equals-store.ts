import { isDeepStrictEqual } from 'node:util';
import type { MockShop, MockTruth } from '../../scripts/mock-shopify/index.js';
import type { TestContext } from './context.js';
import { call, type ApiResponse } from './http.js';

/**
 * The promise of the service, checked whole: everything the read API serves for a tenant equals the
 * mock shop's truth, record for record and field by field. Every list endpoint is read page by page
 * with deleted records included; a record is keyed by id (inventory levels by item and location).
 */

type ApiRecord = Record<string, unknown>;
type ResourceKey = 'products' | 'orders' | 'customers' | 'inventory' | 'locations';

interface ResourceSpec {
  path: string;
  keyOf: (r: ApiRecord) => string;
  /** Child arrays compared element by element, keyed by id. */
  children: string[];
}

const RESOURCES: Record<ResourceKey, ResourceSpec> = {
  products: { path: '/api/shopify/products/', keyOf: (r) => String(r.id), children: ['variants'] },
  orders: { path: '/api/shopify/orders/', keyOf: (r) => String(r.id), children: ['line_items'] },
  customers: { path: '/api/shopify/customers/', keyOf: (r) => String(r.id), children: [] },
  inventory: { path: '/api/shopify/inventory/', keyOf: (r) => `${String(r.inventory_item_id)}:${String(r.location_id)}`, children: [] },
  locations: { path: '/api/shopify/locations/', keyOf: (r) => String(r.id), children: [] },
};

export interface RecordDifference {
  resource: ResourceKey;
  /** Id, or "inventory_item_id:location_id". */
  key: string;
  /** What is wrong with the record as a whole, or the differing fields. */
  problem: string;
}

export interface CopyComparisonOptions {
  /** Fields left out of the comparison, as "products.tags" or "products.variants.inventory_quantity". */
  ignoreFields?: string[];
  /** Differing records shown in a failure (default 5). */
  maxShown?: number;
}

/** Every record a list endpoint serves, deleted ones included, following `next_cursor` to the end. */
export async function readAll(baseUrl: string, apiKey: string, path: string): Promise<ApiRecord[]> {
  const records: ApiRecord[] = [];
  let cursor: string | null = null;
  for (let page = 0; page < 10_000; page++) {
    const query: string = `?limit=250&include_deleted=true${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res: ApiResponse<{ data: ApiRecord[]; next_cursor: string | null }> = await call(baseUrl, 'GET', path + query, { key: apiKey });
    if (res.status === 429) {
      const wait = Number(res.headers.get('retry-after') ?? '1');
      await new Promise((resolve) => setTimeout(resolve, Math.max(0.05, wait) * 1000));
      page--;
      continue;
    }
    if (res.status !== 200) throw new Error(`GET ${path}${query}: ${res.status} ${res.text}`);
    records.push(...res.body.data);
    cursor = res.body.next_cursor;
    if (!cursor) return records;
  }
  throw new Error(`GET ${path}: more than 10,000 pages`);
}

const show = (value: unknown) => (typeof value === 'string' && value.length > 80 ? JSON.stringify(`${value.slice(0, 77)}...`) + ` (${value.length} chars)` : JSON.stringify(value));

/** "field: copy X ≠ store Y" for each field of the truth that differs (children keyed by id). */
function fieldDifferences(resource: ResourceKey, copy: ApiRecord, store: ApiRecord, ignore: Set<string>, prefix = ''): string[] {
  const out: string[] = [];
  const spec = RESOURCES[resource];
  for (const [field, want] of Object.entries(store)) {
    const path = prefix ? `${prefix}.${field}` : field;
    if (field === 'deleted_at' || ignore.has(`${resource}.${path.replace(/\[[^\]]*\]/g, '')}`)) continue;
    const got = copy[field];
    if (!prefix && spec.children.includes(field) && Array.isArray(want)) {
      const copyChildren = new Map((Array.isArray(got) ? (got as ApiRecord[]) : []).map((c) => [String(c.id), c]));
      for (const child of want as ApiRecord[]) {
        const id = String(child.id);
        const match = copyChildren.get(id);
        copyChildren.delete(id);
        if (!match) out.push(`${field}[${id}] missing from the copy`);
        else out.push(...fieldDifferences(resource, match, child, ignore, `${field}[${id}]`));
      }
      for (const id of copyChildren.keys()) out.push(`${field}[${id}] in the copy, not at Shopify`);
      continue;
    }
    if (!isDeepStrictEqual(got, want)) out.push(`${path}: copy ${show(got)} ≠ store ${show(want)}`);
  }
  return out;
}

/** Compares what the API serves to `apiKey`'s tenant with the shop's truth; an empty list means equal. */
export async function copyDifferences(t: Pick<TestContext, 'url'>, apiKey: string, shop: MockShop, opts: CopyComparisonOptions = {}): Promise<RecordDifference[]> {
  const truth: MockTruth = shop.truth();
  const ignore = new Set(opts.ignoreFields ?? []);
  const differences: RecordDifference[] = [];
  for (const resource of Object.keys(RESOURCES) as ResourceKey[]) {
    const spec = RESOURCES[resource];
    const served = await readAll(t.url, apiKey, spec.path);
    const live = new Map<string, ApiRecord>();
    const deleted = new Set<string>();
    for (const r of served) {
      if (r.deleted_at === null || r.deleted_at === undefined) live.set(spec.keyOf(r), r);
      else deleted.add(spec.keyOf(r));
    }
    const storeLive = new Map((truth[resource] as unknown as ApiRecord[]).map((r) => [spec.keyOf(r), r]));
    const storeDeleted = new Set(truth.deleted[resource].map(String));

    for (const [key, want] of storeLive) {
      const got = live.get(key);
      if (!got) {
        differences.push({ resource, key, problem: deleted.has(key) ? 'deleted in the copy, live at Shopify' : 'missing from the copy' });
        continue;
      }
      const fields = fieldDifferences(resource, got, want, ignore);
      if (fields.length) differences.push({ resource, key, problem: fields.join('; ') });
    }
    for (const key of live.keys()) {
      if (storeLive.has(key)) continue;
      differences.push({ resource, key, problem: storeDeleted.has(key) ? 'live in the copy, deleted at Shopify' : 'in the copy, never at this shop' });
    }
    for (const key of deleted) {
      if (!storeLive.has(key) && !storeDeleted.has(key)) differences.push({ resource, key, problem: 'deleted record in the copy that never was at this shop' });
    }
  }
  return differences;
}

/** A readable report of the first differences. */
export function describeDifferences(differences: RecordDifference[], maxShown = 5): string {
  const lines = differences.slice(0, maxShown).map((d) => `  ${d.resource} ${d.key}: ${d.problem}`);
  const more = differences.length > maxShown ? `\n  … and ${differences.length - maxShown} more` : '';
  return `the copy differs from the store in ${differences.length} record(s):\n${lines.join('\n')}${more}`;
}

/** Fails with the first differing records unless the API serves exactly the shop's truth. */
export async function expectCopyEqualsStore(t: Pick<TestContext, 'url'>, apiKey: string, shop: MockShop, opts: CopyComparisonOptions = {}): Promise<void> {
  const differences = await copyDifferences(t, apiKey, shop, opts);
  if (differences.length) throw new CopyDiffersError(describeDifferences(differences, opts.maxShown), differences);
}

export class CopyDiffersError extends Error {
  constructor(
    message: string,
    readonly differences: RecordDifference[],
  ) {
    super(message);
    this.name = 'CopyDiffersError';
  }
}
