import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { execute, GraphQLError, type GraphQLSchema } from 'graphql';
import { loadAdminSchema } from './admin-schema.js';
import { bulkGraphqlFields } from './bulk-graphql.js';
import { JsonlWriter } from './bulk-jsonl.js';
import { planBulkQuery } from './bulk-query.js';
import {
  bulkLimitFor,
  DEFAULT_BULK_CONFIG,
  emptyStats,
  type BulkErrorCode,
  type BulkOperationState,
  type BulkStatus,
  type MockBulkConfig,
  type MockBulkFailure,
  type MockBulkOperation,
  type MockBulkStats,
  type RunResult,
} from './bulk-types.js';
import { rootValue } from './graphql.js';
import { hashInts, prng } from './random.js';
import type { MockShop } from './shop.js';
import { newEvent, type DeliveryResult } from './webhooks.js';

/**
 * Bulk query operations of a mock shop (`shop.bulk`): Shopify's `bulkOperationRunQuery` run for real
 * over the catalog, page by page through the same resolvers as the GraphQL endpoint, into a JSONL file
 * in the temp directory served by the mock's HTTP server. Status moves CREATED → RUNNING → COMPLETED
 * (or FAILED, CANCELING → CANCELED, EXPIRED) in real time, at a pace tests set; timestamps, URL expiry
 * and the 10-day limit follow the mock's clock. Finishing sends `bulk_operations/finish` to the shop's
 * subscriptions, signed like every other webhook. The GraphQL fields are in bulk-graphql.ts, the file
 * downloads in bulk-http.ts, the shapes and defaults in bulk-types.ts.
 */
export * from './bulk-types.js';

const UNFINISHED: BulkStatus[] = ['CREATED', 'RUNNING', 'CANCELING'];
/** Objects per execution the page size adapts to, so a page of parents with many children stays small. */
const OBJECTS_PER_EXECUTION = 5000;

export class MockBulkOperations {
  config: MockBulkConfig = structuredClone(DEFAULT_BULK_CONFIG);
  stats: MockBulkStats = emptyStats();
  /** Results of every `bulk_operations/finish` delivery, in order. */
  readonly deliveries: DeliveryResult[] = [];
  /** The server's origin for download URLs (set by startMockShopify once it listens). */
  origin = 'http://127.0.0.1';
  private readonly ops: BulkOperationState[] = [];
  private readonly failures: MockBulkFailure[] = [];
  private cuts: number[] = [];
  private dir: string | undefined;
  private nextNumber: number;

  constructor(private readonly shop: MockShop) {
    this.nextNumber = this.firstNumber();
  }

  private firstNumber(): number {
    return 1 + this.shop.index * 1_000_000;
  }

  // ---------- controls for tests ----------

  configure(patch: Partial<MockBulkConfig>): void {
    this.config = { ...this.config, ...patch, interleave: { ...this.config.interleave, ...patch.interleave } };
  }

  /** The next `times` operations fail with `errorCode` after `afterRootObjects` top-level objects. */
  failNext(failure: MockBulkFailure, times = 1): void {
    for (let i = 0; i < times; i++) this.failures.push({ ...failure });
  }

  /** The next `times` downloads are cut (connection closed) after `afterBytes` bytes of the body. */
  cutNextDownload(afterBytes: number, times = 1): void {
    for (let i = 0; i < times; i++) this.cuts.push(afterBytes);
  }

  /** Lets held operations go on (one by id, or all). */
  release(id?: string): void {
    for (const op of this.ops) if (id === undefined || op.id === id) op.release();
  }

  operations(): MockBulkOperation[] {
    return this.ops.map((op) => this.view(op));
  }

  get(id: string): MockBulkOperation | undefined {
    const op = this.find(id);
    return op && this.view(op);
  }

  /** Resolves once the operation has finished (its webhook deliveries done). */
  async settled(id: string): Promise<MockBulkOperation> {
    const op = this.find(id);
    if (!op) throw new Error(`no bulk operation ${id}`);
    await op.done;
    return this.view(op);
  }

  /** Stops every operation (no webhooks), deletes their files, restores the defaults and zeroes the counters. */
  async reset(): Promise<void> {
    await this.stopAll();
    this.ops.length = 0;
    this.failures.length = 0;
    this.cuts = [];
    this.deliveries.length = 0;
    this.config = structuredClone(DEFAULT_BULK_CONFIG);
    this.stats = emptyStats();
    // Numbers (and so ids and interleaving seeds) start again: a reset shop runs as a fresh one.
    this.nextNumber = this.firstNumber();
  }

  /** Stops every operation and removes the shop's temp directory (the mock server's close calls it). */
  async close(): Promise<void> {
    await this.stopAll();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
  }

  // ---------- used by the GraphQL fields and the download route ----------

  /** The bulk fields of the GraphQL root value for a request of this API version and token. */
  graphqlFields(version: string, token: string): Record<string, unknown> {
    return bulkGraphqlFields(this, version, token);
  }

  unfinished(): BulkOperationState[] {
    this.refresh();
    return this.ops.filter((op) => UNFINISHED.includes(op.status));
  }

  /** Every operation of the shop's app, oldest first, with expiries applied. */
  all(): BulkOperationState[] {
    this.refresh();
    return this.ops;
  }

  find(id: string): BulkOperationState | undefined {
    this.refresh();
    return this.ops.find((op) => op.id === id);
  }

  /** The file behind a download URL's opaque name. */
  download(opaque: string): { path: string; size: number; expiresAtMs: number } | undefined {
    this.refresh();
    const op = this.ops.find((o) => o.opaque === opaque && o.filePath !== null && o.fileSize !== null);
    return op ? { path: op.filePath as string, size: op.fileSize as number, expiresAtMs: op.expiresAtMs as number } : undefined;
  }

  /** The pending download cut, taken when it falls inside a body of `length` bytes (a shorter body is sent whole). */
  takeCut(length: number): number | undefined {
    const cut = this.cuts[0];
    if (cut === undefined || cut >= length) return undefined;
    this.cuts.shift();
    return cut;
  }

  resultUrl(op: BulkOperationState): string | null {
    if (op.filePath === null || !op.fileSize || op.expiresAtMs === null) return null;
    return `${this.origin}/bulk-results/${op.opaque}.jsonl?expires=${Math.floor(op.expiresAtMs / 1000)}`;
  }

  start(version: string, token: string, query: string, groupObjects: boolean): RunResult {
    let schema: GraphQLSchema;
    try {
      schema = loadAdminSchema(version);
    } catch (error) {
      return this.reject('INVALID', (error as Error).message, ['query']);
    }
    const check = planBulkQuery(schema, query);
    if (!check.ok) return this.reject('INVALID', check.message, ['query']);
    const running = this.unfinished();
    const limit = this.config.maxConcurrent ?? bulkLimitFor(version);
    if (running.length >= limit) {
      if (limit === 1)
        return this.reject('OPERATION_IN_PROGRESS', `A bulk query operation for this app and shop is already in progress: ${(running[running.length - 1] as BulkOperationState).id}.`, null);
      return this.reject('LIMIT_REACHED', `Bulk operations limit reached: at most ${limit} bulk query operations may run at a time for this app and shop.`, null);
    }
    let resolveRelease = () => {};
    const released = new Promise<void>((resolve) => (resolveRelease = resolve));
    const number = this.nextNumber++;
    const op: BulkOperationState = {
      number,
      id: `gid://shopify/BulkOperation/${number}`,
      query,
      groupObjects,
      apiVersion: version,
      token,
      plan: check.plan,
      status: 'CREATED',
      errorCode: null,
      objectCount: 0,
      rootObjectCount: 0,
      fileSize: null,
      createdAtMs: this.shop.clock.now(),
      completedAtMs: null,
      opaque: randomBytes(18).toString('base64url'),
      filePath: null,
      expiresAtMs: null,
      partial: false,
      failure: this.failures.shift(),
      stop: new AbortController(),
      release: () => {},
      released,
      isReleased: false,
      done: Promise.resolve(),
    };
    op.release = () => {
      op.isReleased = true;
      resolveRelease();
    };
    this.ops.push(op);
    this.stats.started++;
    this.stats.concurrentMax = Math.max(this.stats.concurrentMax, running.length + 1);
    op.done = this.run(op, schema).catch(() => this.finish(op, 'FAILED', 'INTERNAL_SERVER_ERROR'));
    return { operation: op };
  }

  cancel(op: BulkOperationState): void {
    if (op.status !== 'CREATED' && op.status !== 'RUNNING') return;
    op.status = 'CANCELING';
    op.stop.abort();
  }

  // ---------- the run ----------

  private reject(code: 'INVALID' | 'LIMIT_REACHED' | 'OPERATION_IN_PROGRESS', message: string, field: string[] | null): RunResult {
    this.stats.rejected++;
    return { error: { code, message, field } };
  }

  private async run(op: BulkOperationState, schema: GraphQLSchema): Promise<void> {
    const config = this.config;
    const signal = op.stop.signal;
    const wait = (ms: number) => (ms > 0 ? sleep(ms, undefined, { signal }).catch(() => undefined) : nextTurn());
    const held = () => Promise.race([op.released, new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))]);
    await wait(config.createdMs);
    if (signal.aborted) return this.stopped(op, undefined);
    op.status = 'RUNNING';
    const startedMs = performance.now();
    if (config.hold === true && !op.isReleased) await held();
    op.filePath = join(this.tempDir(), `${op.opaque}.jsonl`);
    const writer = new JsonlWriter(op.filePath, op.groupObjects, config.interleave, prng(hashInts(config.seed, op.number)));
    const progress = () => {
      op.objectCount = writer.objects;
      op.rootObjectCount = writer.roots;
    };
    let after: string | null = null;
    let pageSize = Math.max(1, config.pageSize);
    for (;;) {
      if (signal.aborted) return this.stopped(op, writer);
      const result = execute({ schema, document: op.plan.document, rootValue: rootValue(this.shop, op.token), variableValues: { bulkFirst_: pageSize, bulkAfter_: after } });
      if (result instanceof Promise) throw new Error('mock GraphQL resolvers are synchronous');
      if (result.errors?.length) {
        const denied = result.errors.some((e: GraphQLError) => e.extensions?.code === 'ACCESS_DENIED');
        return this.failWith(op, writer, denied ? 'ACCESS_DENIED' : 'INTERNAL_SERVER_ERROR');
      }
      let connection: unknown = result.data;
      for (const key of op.plan.rootPath) connection = (connection as Record<string, unknown> | null | undefined)?.[key];
      const page = connection as { nodes: Record<string, unknown>[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } | null | undefined;
      const objectsBefore = writer.objects;
      for (const node of page?.nodes ?? []) {
        if (op.failure && writer.roots >= op.failure.afterRootObjects) return this.failWith(op, writer, op.failure.errorCode);
        if (typeof config.hold === 'number' && writer.roots >= config.hold && !op.isReleased) await held();
        if (signal.aborted) return this.stopped(op, writer);
        if (config.rootObjectsPerSecond) {
          const dueMs = startedMs + (writer.roots * 1000) / config.rootObjectsPerSecond;
          if (dueMs - performance.now() > 5) await wait(dueMs - performance.now());
          if (signal.aborted) return this.stopped(op, writer);
        }
        await writer.addRoot(node, op.plan.children);
        progress();
      }
      const made = writer.objects - objectsBefore;
      if (made > 0) pageSize = Math.max(1, Math.min(config.pageSize, Math.round((pageSize * OBJECTS_PER_EXECUTION) / made)));
      if (!page?.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
      await nextTurn();
    }
    if (op.failure) return this.failWith(op, writer, op.failure.errorCode);
    const left = startedMs + config.durationMs - performance.now();
    if (left > 0) await wait(left);
    if (signal.aborted) return this.stopped(op, writer);
    op.fileSize = await writer.finish();
    progress();
    if (op.fileSize === 0) await this.dropFile(op);
    op.expiresAtMs = this.shop.clock.now() + config.urlLifetimeMs;
    await this.finish(op, 'COMPLETED', null);
  }

  /** Keeps the top-level objects written so far (with their children) as the partial data. */
  private async failWith(op: BulkOperationState, writer: JsonlWriter, errorCode: BulkErrorCode): Promise<void> {
    op.fileSize = await writer.finish();
    op.objectCount = writer.objects;
    op.rootObjectCount = writer.roots;
    op.partial = true;
    if (op.fileSize === 0) await this.dropFile(op);
    op.expiresAtMs = this.shop.clock.now() + this.config.urlLifetimeMs;
    await this.finish(op, 'FAILED', errorCode);
  }

  /** Cancelled (or expired, or the shop reset): nothing is kept. */
  private async stopped(op: BulkOperationState, writer: JsonlWriter | undefined): Promise<void> {
    await writer?.abandon();
    await this.dropFile(op);
    if (op.status === 'EXPIRED') return;
    if (op.status !== 'CANCELING') op.status = 'CANCELING';
    if (this.config.cancelMs > 0) await sleep(this.config.cancelMs);
    await this.finish(op, 'CANCELED', null);
  }

  private async finish(op: BulkOperationState, status: BulkStatus, errorCode: BulkErrorCode | null): Promise<void> {
    if (!UNFINISHED.includes(op.status) || !this.ops.includes(op)) return;
    op.status = status;
    op.errorCode = errorCode;
    op.completedAtMs = this.shop.clock.now();
    if (status === 'COMPLETED') this.stats.completed++;
    else if (status === 'FAILED') this.stats.failed++;
    else if (status === 'CANCELED') this.stats.canceled++;
    if (!this.config.webhooks) return;
    const payload = {
      admin_graphql_api_id: op.id,
      completed_at: this.shop.catalog.time(op.completedAtMs),
      created_at: this.shop.catalog.time(op.createdAtMs),
      error_code: errorCode ? errorCode.toLowerCase() : null,
      status: status.toLowerCase(),
      type: 'query',
    };
    this.deliveries.push(...(await this.shop.deliver(newEvent('bulk_operations/finish', payload, op.completedAtMs))));
  }

  private async dropFile(op: BulkOperationState): Promise<void> {
    if (op.filePath) await rm(op.filePath, { force: true });
    op.filePath = null;
    op.fileSize = op.fileSize === 0 ? null : op.fileSize;
  }

  /** Applies the 10-day limit on the mock's clock (checked whenever operations are looked at). */
  private refresh(): void {
    const now = this.shop.clock.now();
    for (const op of this.ops) {
      if (UNFINISHED.includes(op.status) && now - op.createdAtMs >= this.config.expireAfterMs) {
        op.status = 'EXPIRED';
        op.stop.abort();
        this.stats.expired++;
      }
    }
  }

  private tempDir(): string {
    this.dir ??= mkdtempSync(join(tmpdir(), 'mock-shopify-bulk-'));
    return this.dir;
  }

  private async stopAll(): Promise<void> {
    const live = this.ops.filter((op) => UNFINISHED.includes(op.status));
    for (const op of this.ops) {
      op.stop.abort();
      op.release();
    }
    // Removed from the list first, so a stopping run neither finishes nor sends its webhook.
    const all = this.ops.splice(0, this.ops.length);
    await Promise.all(live.map((op) => op.done));
    await Promise.all(all.map((op) => (op.filePath ? rm(op.filePath, { force: true }) : undefined)));
  }

  private view(op: BulkOperationState): MockBulkOperation {
    return {
      id: op.id,
      number: op.number,
      status: op.status,
      errorCode: op.errorCode,
      query: op.query,
      groupObjects: op.groupObjects,
      apiVersion: op.apiVersion,
      objectCount: op.objectCount,
      rootObjectCount: op.rootObjectCount,
      fileSize: op.fileSize,
      createdAtMs: op.createdAtMs,
      completedAtMs: op.completedAtMs,
      filePath: op.filePath,
      url: op.partial ? null : this.resultUrl(op),
      partialDataUrl: op.partial ? this.resultUrl(op) : null,
    };
  }
}
