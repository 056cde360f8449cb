/**
 * A sync worker process for the bulk-sync benchmark, configured from the environment (the service's
 * config, pointed at the mock Shopify). Each command is one measured phase:
 * - `step`: one `runSync` call of a full products sync (the BullMQ job's function); while the bulk
 *   operation runs it answers `waiting`, as the job would, and the caller decides when to call again;
 * - `downloadParse`: the operation's file through the apply's downloader and JSONL reader, nothing mapped;
 * - `upsertFile`: the file's lines (read from disk and split, not timed) mapped and written as the apply
 *   writes them (timed);
 * - `paginated`: a full sync over paginated GraphQL (bulk off), each query's requested and actual cost recorded.
 */
import { createReadStream } from 'node:fs';
import { loadConfig } from '../../../src/config.js';
import { closeContext, createContext } from '../../../src/main/context.js';
import { RESOURCES } from '../../../src/resources/index.js';
import type { GraphqlClient } from '../../../src/shopify/graphql-client.js';
import { downloadChunks } from '../../../src/sync/bulk/download.js';
import { BULK_PAGE_LIMITS, bulkFilePages, mapLines } from '../../../src/sync/bulk/file-pages.js';
import { jsonlBatches } from '../../../src/sync/bulk/jsonl.js';
import { runSync } from '../../../src/sync/run-sync.js';
import { writePage } from '../../../src/sync/write-page.js';
import { openBenchSyncLog, recordingGraphqlClient, type QueryCosts } from '../lib/graphql-costs.js';
import { sendReady, serveRunner } from '../lib/child-ipc.js';

const ctx = await createContext(loadConfig());
const products = RESOURCES.products;

/** The GraphQL client `runSync` would build, unlimited, its queries' costs recorded. */
const recordingClient = (shop: string, accessToken: string, costs: QueryCosts): GraphqlClient => recordingGraphqlClient(ctx, shop, accessToken, false, costs);

serveRunner(
  {
    configure({ apiBaseUrl, bulk }: { apiBaseUrl: string; bulk: boolean }) {
      ctx.config.shopify.apiBaseUrl = apiBaseUrl;
      ctx.config.shopify.syncApi = 'graphql';
      ctx.config.sync.fullViaBulk = bulk;
      ctx.config.sync.maxPages = 1_000_000;
    },
    async step({ integrationId }: { integrationId: number }) {
      const t0 = performance.now();
      const result = await runSync(ctx, { integrationId, resource: 'products', mode: 'full', trigger: 'manual', jobId: null });
      const seconds = (performance.now() - t0) / 1000;
      if (result.status === 'waiting') return { status: result.status, seconds, retryInMs: result.retryInMs };
      if (result.status !== 'succeeded') throw new Error(`sync ${result.status}: ${JSON.stringify(result)}`);
      return { status: result.status, seconds, counts: result.counts };
    },
    async downloadParse({ url }: { url: string }) {
      const t0 = performance.now();
      let lines = 0;
      let batches = 0;
      const chunks = downloadChunks(url);
      for await (const batch of jsonlBatches(chunks, BULK_PAGE_LIMITS)) {
        lines += batch.length;
        batches++;
      }
      return { seconds: (performance.now() - t0) / 1000, lines, batches };
    },
    async upsertFile({ path, integrationId, tenantId }: { path: string; integrationId: number; tenantId: string }) {
      const owner = { tenantId, integrationId };
      const logId = await openBenchSyncLog(ctx, integrationId, tenantId);
      const counts = { pages: 0, records_fetched: 0, records_written: 0, records_deleted: 0 };
      const observedAt = new Date();
      let timed = 0;
      const chunks = createReadStream(path, { highWaterMark: 64 * 1024 }) as AsyncIterable<Buffer>;
      for await (const batch of jsonlBatches(chunks, BULK_PAGE_LIMITS)) {
        const t0 = performance.now();
        const page = mapLines(products, batch, { shopCurrency: 'USD' }, ctx.logger);
        counts.pages++;
        counts.records_fetched += batch.length;
        counts.records_written += await writePage(ctx.db, products, owner, page, { logId, counts, markSeen: true }, observedAt);
        timed += performance.now() - t0;
      }
      return { seconds: timed / 1000, pages: counts.pages, lines: counts.records_fetched, written: counts.records_written };
    },
    /** A file at `url` streamed through the apply's own pages (bulkFilePages) and written, as a bulk sync applies one. */
    async applyUrl({ url, integrationId, tenantId }: { url: string; integrationId: number; tenantId: string }) {
      const owner = { tenantId, integrationId };
      const logId = await openBenchSyncLog(ctx, integrationId, tenantId);
      const counts = { pages: 0, records_fetched: 0, records_written: 0, records_deleted: 0 };
      const observedAt = new Date();
      const t0 = performance.now();
      for await (const filePage of bulkFilePages(url, products, { from: { offset: 0, line: 1 }, mapCtx: { shopCurrency: 'USD' }, log: ctx.logger })) {
        counts.pages++;
        counts.records_fetched += filePage.lines;
        counts.records_written += await writePage(ctx.db, products, owner, filePage.page, { logId, counts, markSeen: true }, observedAt);
      }
      return { seconds: (performance.now() - t0) / 1000, pages: counts.pages, lines: counts.records_fetched, written: counts.records_written };
    },
    async paginated({ integrationId }: { integrationId: number }) {
      const costs: QueryCosts = { requested: [], actual: [] };
      const t0 = performance.now();
      const result = await runSync(
        ctx,
        { integrationId, resource: 'products', mode: 'full', trigger: 'manual', jobId: null },
        {
          createGraphqlClient: (integration, accessToken) => recordingClient(integration.shop_domain, accessToken, costs),
        },
      );
      const seconds = (performance.now() - t0) / 1000;
      if (result.status !== 'succeeded') throw new Error(`paginated sync ${result.status}: ${JSON.stringify(result)}`);
      return { seconds, costs, counts: result.counts };
    },
  },
  () => closeContext(ctx),
);
sendReady();
