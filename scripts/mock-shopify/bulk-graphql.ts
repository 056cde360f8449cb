import { GraphQLError } from 'graphql';
import type { MockBulkOperations } from './bulk.js';
import type { BulkOperationState, MockBulkOperation } from './bulk-types.js';

/**
 * The GraphQL Admin API fields of bulk query operations, merged into the mock's root value:
 * `bulkOperationRunQuery`, `bulkOperationCancel`, `currentBulkOperation` and, where the version's schema
 * has them (2026-01+), `bulkOperation(id:)` and `bulkOperations(first, after, query, sortKey, reverse)`;
 * `node(id:)` answers bulk operations (other types are not served by it: null).
 * Fields a version's schema lacks are never asked for: the request is validated against it first.
 */
type Args = Record<string, unknown>;

/** GraphQL DateTime: UTC, whole seconds. */
const utc = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'));

function node(view: MockBulkOperation): Record<string, unknown> {
  return {
    id: view.id,
    status: view.status,
    errorCode: view.errorCode,
    objectCount: String(view.objectCount),
    rootObjectCount: String(view.rootObjectCount),
    fileSize: view.url && view.fileSize !== null ? String(view.fileSize) : null,
    url: view.url,
    partialDataUrl: view.partialDataUrl,
    createdAt: utc(view.createdAtMs),
    completedAt: utc(view.completedAtMs),
    query: view.query,
    type: 'QUERY',
  };
}

export function bulkGraphqlFields(bulk: MockBulkOperations, version: string, token: string): Args {
  const show = (op: BulkOperationState) => node(bulk.get(op.id) as MockBulkOperation);
  return {
    bulkOperationRunQuery: (args: Args) => {
      const result = bulk.start(version, token, String(args.query), args.groupObjects === true);
      if ('error' in result) return { bulkOperation: null, userErrors: [result.error] };
      return { bulkOperation: show(result.operation), userErrors: [] };
    },
    bulkOperationCancel: (args: Args) => {
      const op = bulk.find(String(args.id));
      if (!op) return { bulkOperation: null, userErrors: [{ field: ['id'], message: 'Bulk operation does not exist' }] };
      if (op.status !== 'CREATED' && op.status !== 'RUNNING') {
        return { bulkOperation: show(op), userErrors: [{ field: null, message: `A bulk operation cannot be canceled when it is ${op.status.toLowerCase()}` }] };
      }
      bulk.cancel(op);
      return { bulkOperation: show(op), userErrors: [] };
    },
    bulkOperation: (args: Args) => {
      const op = bulk.find(String(args.id));
      return op ? show(op) : null;
    },
    // `node(id:)` for the one Node type the mock's bulk API serves: how clients read an operation before 2026-01.
    node: (args: Args) => {
      const op = bulk.find(String(args.id));
      return op ? { __typename: 'BulkOperation', ...show(op) } : null;
    },
    currentBulkOperation: (args: Args) => {
      if (args.type === 'MUTATION') return null;
      const all = bulk.all();
      const newest = all[all.length - 1];
      return newest ? show(newest) : null;
    },
    bulkOperations: (args: Args) => {
      if (args.last !== undefined || args.before !== undefined) throw new GraphQLError('The mock serves first/after pagination only');
      const matches = operationFilter(args.query);
      const list = bulk.all().filter(matches);
      // Shopify: "Defaults to sorting by created_at, with newest operations first"; `reverse` turns it round.
      const key = (op: BulkOperationState) => (args.sortKey === 'COMPLETED_AT' ? (op.completedAtMs ?? Infinity) : op.createdAtMs);
      list.sort((a, b) => key(b) - key(a) || b.number - a.number);
      if (args.reverse === true) list.reverse();
      let start = 0;
      if (typeof args.after === 'string') {
        const after = decodeCursor(args.after);
        start = list.findIndex((op) => op.number === after) + 1;
      }
      const first = Number(args.first);
      const page = list.slice(start, start + first);
      const edges = page.map((op) => ({ cursor: encodeCursor(op.number), node: show(op) }));
      return {
        nodes: edges.map((e) => e.node),
        edges,
        pageInfo: { hasNextPage: start + first < list.length, hasPreviousPage: start > 0, startCursor: edges[0]?.cursor ?? null, endCursor: edges[edges.length - 1]?.cursor ?? null },
      };
    },
  };
}

const encodeCursor = (n: number) => Buffer.from(JSON.stringify([n])).toString('base64url');
function decodeCursor(value: string): number {
  try {
    const key = JSON.parse(Buffer.from(value, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(key) && typeof key[0] === 'number') return key[0];
  } catch {
    // fall through
  }
  throw new GraphQLError(`Invalid cursor for ${value}`, { extensions: { code: 'BAD_USER_INPUT' } });
}

/**
 * The `query:` of `bulkOperations`: `status:`, `operation_type:`, `id:` and `created_at:` terms (with
 * `>=`, `<=`, `>`, `<`), `-` negation, terms joined by AND (or space) and OR; other terms are ignored.
 */
function operationFilter(query: unknown): (op: BulkOperationState) => boolean {
  const text = typeof query === 'string' ? query.trim() : '';
  if (!text) return () => true;
  const alternatives = text.split(/\s+OR\s+/).map((part) =>
    part
      .split(/\s+/)
      .filter((t) => t && t !== 'AND')
      .map((term) => {
        const m = /^(-)?(\w+):(>=|<=|>|<)?['"]?([^'"]*)['"]?$/.exec(term);
        if (!m) return () => true;
        const [, negate, name, op = '=', value = ''] = m;
        const test = termTest(name as string, op, value);
        return negate ? (o: BulkOperationState) => !test(o) : test;
      }),
  );
  return (op) => alternatives.some((terms) => terms.every((t) => t(op)));
}

function termTest(name: string, op: string, value: string): (o: BulkOperationState) => boolean {
  const compare = (actual: number, wanted: number) =>
    op === '>=' ? actual >= wanted : op === '<=' ? actual <= wanted : op === '>' ? actual > wanted : op === '<' ? actual < wanted : actual === wanted;
  if (name === 'status') return (o) => o.status === value.toUpperCase();
  if (name === 'operation_type') return () => value.toLowerCase() === 'query';
  if (name === 'id') {
    const wanted = Number(/(\d+)$/.exec(value)?.[1] ?? NaN);
    return (o) => compare(o.number, wanted);
  }
  if (name === 'created_at') {
    const wanted = Date.parse(value);
    if (!Number.isFinite(wanted)) throw new GraphQLError(`Invalid date in query: ${value}`);
    return (o) => compare(o.createdAtMs, wanted);
  }
  return () => true;
}
