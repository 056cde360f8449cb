import { withoutUserErrors, type GraphqlClient } from '../graphql-client.js';
import { ShopifyClientError } from '../errors.js';
import {
  BULK_CANCEL_MUTATION,
  BULK_MUTATION_COST,
  BULK_OPERATION_COST,
  BULK_OPERATION_NODE_QUERY,
  BULK_OPERATION_QUERY,
  BULK_RUN_QUERY_MUTATION,
  CURRENT_BULK_OPERATION_QUERY,
  RUNNING_BULK_OPERATIONS_QUERY,
  runningBulkOperationsCost,
} from './documents/bulk.js';

/**
 * Shopify's bulk query operations: start an export, follow it, find one already running. Since API
 * 2026-01 up to five run at a time per shop and app and each can be read by id; before, one at a time,
 * visible only as the shop's `currentBulkOperation`.
 */
export type BulkStatus = 'CREATED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELING' | 'CANCELED' | 'EXPIRED';
export type BulkErrorCode = 'ACCESS_DENIED' | 'INTERNAL_SERVER_ERROR' | 'TIMEOUT';

export interface BulkOperation {
  id: string;
  status: BulkStatus;
  errorCode: BulkErrorCode | null;
  /** Objects written so far (parents and children), as a decimal string (UnsignedInt64). */
  objectCount: string;
  rootObjectCount: string;
  fileSize: string | null;
  url: string | null;
  partialDataUrl: string | null;
  createdAt: string;
  completedAt: string | null;
  query: string;
}

export type StartResult =
  | { started: BulkOperation }
  /** The shop's limit is reached (or, before 2026-01, another operation runs): wait for a slot. */
  | { busy: string };

/** Operations per shop and app that may run at once in this API version. */
export function bulkSlots(apiVersion: string): number {
  return apiVersion === 'unstable' || apiVersion >= '2026-01' ? 5 : 1;
}

const readsById = (apiVersion: string) => bulkSlots(apiVersion) > 1;

export function isFinished(status: BulkStatus): boolean {
  return status === 'COMPLETED' || status === 'FAILED' || status === 'CANCELED' || status === 'EXPIRED';
}

interface RunPayload {
  bulkOperation: BulkOperation | null;
  userErrors: { field?: string[] | null; message: string; code?: string | null }[];
}

/**
 * Starts an export. `groupObjects: false` (Shopify's default since 2026-01, and the faster one for it):
 * children may come anywhere after their parent, which the apply is built for.
 */
export async function startBulkQuery(client: GraphqlClient, query: string): Promise<StartResult> {
  const { data } = await client.query<{ bulkOperationRunQuery: RunPayload }>({
    document: BULK_RUN_QUERY_MUTATION,
    variables: { query, groupObjects: false },
    requestedCost: BULK_MUTATION_COST,
  });
  const payload = data.bulkOperationRunQuery;
  const busy = payload.userErrors.find((e) => e.code === 'LIMIT_REACHED' || e.code === 'OPERATION_IN_PROGRESS');
  if (busy) return { busy: busy.message };
  const operation = withoutUserErrors(payload, 'bulkOperationRunQuery').bulkOperation;
  if (!operation) throw new ShopifyClientError('bulkOperationRunQuery answered no operation', { upstreamStatus: 200 });
  return { started: operation };
}

/**
 * The operation, or null when Shopify no longer knows it. Before 2026-01 it is read through `node(id:)`:
 * the shop's `currentBulkOperation` names only the newest, which another export may have become.
 */
export async function findBulkOperation(client: GraphqlClient, id: string): Promise<BulkOperation | null> {
  if (readsById(client.apiVersion)) {
    const { data } = await client.query<{ bulkOperation: BulkOperation | null }>({ document: BULK_OPERATION_QUERY, variables: { id }, requestedCost: BULK_OPERATION_COST });
    return data.bulkOperation;
  }
  const { data } = await client.query<{ node: BulkOperation | null }>({ document: BULK_OPERATION_NODE_QUERY, variables: { id }, requestedCost: BULK_OPERATION_COST });
  return data.node && typeof data.node.status === 'string' ? data.node : null;
}

async function currentBulkOperation(client: GraphqlClient): Promise<BulkOperation | null> {
  const { data } = await client.query<{ currentBulkOperation: BulkOperation | null }>({ document: CURRENT_BULK_OPERATION_QUERY, requestedCost: BULK_OPERATION_COST });
  return data.currentBulkOperation;
}

/** Operations of this app on the shop that have not finished (newest first). */
export async function unfinishedBulkOperations(client: GraphqlClient): Promise<BulkOperation[]> {
  if (!readsById(client.apiVersion)) {
    const current = await currentBulkOperation(client);
    return current && !isFinished(current.status) ? [current] : [];
  }
  const first = 10;
  const { data } = await client.query<{ bulkOperations: { nodes: BulkOperation[] } }>({
    document: RUNNING_BULK_OPERATIONS_QUERY,
    variables: { first },
    requestedCost: runningBulkOperationsCost(first),
  });
  return data.bulkOperations.nodes.filter((op) => !isFinished(op.status));
}

export async function cancelBulkOperation(client: GraphqlClient, id: string): Promise<void> {
  await client.query<{ bulkOperationCancel: RunPayload }>({ document: BULK_CANCEL_MUTATION, variables: { id }, requestedCost: BULK_MUTATION_COST });
}
