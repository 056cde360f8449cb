import type { BulkPlan } from './bulk-query.js';
import type { MockBulkInterleave } from './bulk-jsonl.js';

/** The shapes, defaults and limits of the mock's bulk query operations (the behaviour is in bulk.ts). */
export type BulkStatus = 'CREATED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELING' | 'CANCELED' | 'EXPIRED';
export type BulkErrorCode = 'ACCESS_DENIED' | 'INTERNAL_SERVER_ERROR' | 'TIMEOUT';

export interface MockBulkConfig {
  /** Real ms an operation stays CREATED before RUNNING. */
  createdMs: number;
  /** Top-level objects read per real second (undefined: as fast as the mock goes); objectCount grows meanwhile. */
  rootObjectsPerSecond: number | undefined;
  /** Least real ms from RUNNING to finishing (the data is read at once; the end waits). */
  durationMs: number;
  /** `true`: RUNNING, reading nothing, until `release()`; a number: hold after that many top-level objects. */
  hold: boolean | number;
  /** Real ms from CANCELING to CANCELED. */
  cancelMs: number;
  /** Lifetime of `url` / `partialDataUrl` on the mock's clock (Shopify: 7 days). */
  urlLifetimeMs: number;
  /** An operation not finished this long after its creation (mock clock) is EXPIRED (Shopify: 10 days). */
  expireAfterMs: number;
  /** Child line placement when `groupObjects` is false. */
  interleave: MockBulkInterleave;
  /** Seeds the interleaving (with the operation's number), so a run is reproducible. */
  seed: number;
  /** Top-level objects per execution of the inner query (fewer when their children are many). */
  pageSize: number;
  /** Operations that may run at once; default by API version: 5 from 2026-01, 1 before. */
  maxConcurrent: number | undefined;
  /** Deliver `bulk_operations/finish` to the shop's subscriptions. */
  webhooks: boolean;
}

export interface MockBulkFailure {
  errorCode: BulkErrorCode;
  /** Top-level objects (with their children) written to `partialDataUrl` before failing. */
  afterRootObjects: number;
}

export interface MockBulkStats {
  started: number;
  completed: number;
  failed: number;
  canceled: number;
  expired: number;
  /** Mutations answered with userErrors (INVALID, LIMIT_REACHED, OPERATION_IN_PROGRESS). */
  rejected: number;
  /** Most operations unfinished at one time. */
  concurrentMax: number;
  downloads: number;
  /** Downloads cut by `cutNextDownload`. */
  cutDownloads: number;
  /** Downloads refused because the URL expired. */
  expiredDownloads: number;
}

/** What tests see of an operation. */
export interface MockBulkOperation {
  id: string;
  number: number;
  status: BulkStatus;
  errorCode: BulkErrorCode | null;
  query: string;
  groupObjects: boolean;
  apiVersion: string;
  objectCount: number;
  rootObjectCount: number;
  fileSize: number | null;
  createdAtMs: number;
  completedAtMs: number | null;
  /** The result (or partial result) on disk, while it exists. */
  filePath: string | null;
  url: string | null;
  partialDataUrl: string | null;
}

export const DEFAULT_BULK_CONFIG: MockBulkConfig = {
  createdMs: 0,
  rootObjectsPerSecond: undefined,
  durationMs: 0,
  hold: false,
  cancelMs: 0,
  urlLifetimeMs: 7 * 86_400_000,
  expireAfterMs: 10 * 86_400_000,
  interleave: { window: 16, farShare: 0.02, farLines: 500 },
  seed: 1,
  pageSize: 1000,
  maxConcurrent: undefined,
  webhooks: true,
};

/** Operations per shop and app that may run at once in an API version. */
export const bulkLimitFor = (version: string): number => (version === 'unstable' || version >= '2026-01' ? 5 : 1);

/** An operation as the mock keeps it (internal to bulk*.ts; tests read `MockBulkOperation`). */
export interface BulkOperationState {
  number: number;
  id: string;
  query: string;
  groupObjects: boolean;
  apiVersion: string;
  token: string;
  plan: BulkPlan;
  status: BulkStatus;
  errorCode: BulkErrorCode | null;
  objectCount: number;
  rootObjectCount: number;
  fileSize: number | null;
  createdAtMs: number;
  completedAtMs: number | null;
  /** The file's secret name in its download URL. */
  opaque: string;
  filePath: string | null;
  expiresAtMs: number | null;
  partial: boolean;
  failure: MockBulkFailure | undefined;
  stop: AbortController;
  release: () => void;
  released: Promise<void>;
  isReleased: boolean;
  done: Promise<void>;
}

/** `bulkOperationRunQuery`: the operation started, or the userError refusing it. */
export type RunResult = { operation: BulkOperationState } | { error: { code: 'INVALID' | 'LIMIT_REACHED' | 'OPERATION_IN_PROGRESS'; message: string; field: string[] | null } };

export function emptyStats(): MockBulkStats {
  return { started: 0, completed: 0, failed: 0, canceled: 0, expired: 0, rejected: 0, concurrentMax: 0, downloads: 0, cutDownloads: 0, expiredDownloads: 0 };
}
