import { setTimeout as sleep } from 'node:timers/promises';
import type { MockBulkOperation, MockGraphqlStats, MockShopOptions } from '../mock-shopify/index.js';
import { BULK_PAGE_LIMITS } from '../../src/sync/bulk/file-pages.js';
import { benchJsonlParse, generateBulkJsonl } from './jsonl-parse.js';
import type { QueryCosts } from './lib/graphql-costs.js';
import { serveFileOnce } from './lib/file-server.js';
import { childScript, startChild, type BenchChild } from './lib/child.js';
import { createBenchEnv, seedIntegration } from './lib/infra.js';
import { measured, median, single } from './lib/stats.js';
import type { Benchmark, BenchOptions, Figure } from './lib/types.js';
import { runLogs } from './sync.js';

const TENANT = 'bench-bulk-sync';
const SHOP = 'bench-bulk-sync.myshopify.com';
const SMALL = 'bench-bulk-sync-paged.myshopify.com';
const TOKEN = 'shpat_bench_bulk_sync';
/** Shopify's Standard plan: 2,000 points, restoring 100 per second (as in the graphql-sync section). */
const STANDARD = { maximumAvailable: 2000, restoreRate: 100 } as const;
const MB = 1_000_000;
/** Apply and floor measured in turns this many times (the machine's other load drifts; each ratio compares neighbours). */
const REPETITIONS = { quick: 3, full: 2 } as const;

interface Step {
  status: 'waiting' | 'succeeded';
  seconds: number;
  retryInMs?: number;
  counts?: { pages: number; records_fetched: number; records_written: number; records_deleted: number };
}

/** One turn: a bulk sync of the shop, then its file downloaded and parsed alone, then its rows upserted alone. */
interface Turn {
  bulk: BulkRun;
  downloadParse: { seconds: number; lines: number };
  upsert: { seconds: number; pages: number; lines: number; written: number };
  floor: number;
  ratio: number;
}

interface BulkRun {
  /** From the run's first call (which starts the operation) to the mock reporting it COMPLETED. */
  exportSeconds: number;
  /** `runSync` calls after COMPLETED until the run succeeded: download, parse, map, write, sweep. */
  applySeconds: number;
  applySteps: number;
  operation: MockBulkOperation;
  peakRssMb: number;
  idleRssMb: number;
  rssSamples: number[];
  counts: NonNullable<Step['counts']>;
}

/**
 * One bulk full sync as the BullMQ job drives it: the first `runSync` starts the export and answers
 * `waiting`; once the mock's operation is COMPLETED, `runSync` is called again (and again, after
 * `retryInMs`, should it still answer `waiting`) until it succeeds. The poll delay between COMPLETED and
 * the next call is the job's scheduling (the finish webhook wakes it at once), so it is not counted.
 */
async function bulkSync(runner: BenchChild, mock: BenchChild, domain: string, integrationId: number): Promise<BulkRun> {
  const t0 = performance.now();
  const first = await runner.call<Step>('step', { integrationId });
  if (first.status !== 'waiting') throw new Error(`the first call of a bulk sync answered ${first.status}, not waiting`);
  const operations = await mock.call<MockBulkOperation[]>('bulkOperations', { domain });
  const started = operations[operations.length - 1];
  if (!started) throw new Error('the sync started no bulk operation at the mock');
  const { operation } = await mock.call<{ operation: MockBulkOperation }>('bulkSettled', { domain, id: started.id });
  const exportSeconds = (performance.now() - t0) / 1000;
  if (operation.status !== 'COMPLETED') throw new Error(`bulk operation ${operation.id} ended ${operation.status} (${operation.errorCode})`);
  runner.resetPeakMemory();
  const idleRssMb = runner.memory().rssMb;
  const rssSamples: number[] = [];
  const timer = setInterval(() => rssSamples.push(runner.memory().rssMb), 200);
  try {
    let applySeconds = 0;
    for (let steps = 1; ; steps++) {
      const step = await runner.call<Step>('step', { integrationId });
      applySeconds += step.seconds;
      if (step.status === 'succeeded' && step.counts) {
        return { exportSeconds, applySeconds, applySteps: steps, operation, peakRssMb: runner.memory().peakMb, idleRssMb, rssSamples, counts: step.counts };
      }
      if (steps >= 20) throw new Error(`the bulk sync still answered ${step.status} after ${steps} calls past COMPLETED`);
      await sleep(step.retryInMs ?? 100);
    }
  } finally {
    clearInterval(timer);
  }
}

/**
 * Full sync of a store's products by bulk export (200,000 products; QUICK 10,000) from the mock Shopify:
 * - the apply (COMPLETED → succeeded) against the floor max(download + parse of the same file, upsert
 *   only of its rows in the same pages) (target ≤ 1.2×), in turns (a fresh export applied, then its floor)
 *   so that both meet the same load; the mock's export generation reported on its own;
 * - against the paginated GraphQL sync at a Standard plan's rate, modelled from a measured smaller
 *   paginated run's actual cost per product;
 * - the worker's peak RSS while applying the file (target < 250 MB for a file of 500 MB or more);
 * - the JSONL parser alone (benchJsonlParse), bytes/s.
 */
export const bulkSyncBenchmark: Benchmark = {
  id: 'bulk-sync',
  title: 'Bulk full sync',
  timeoutMs: { quick: 300_000, full: 3_600_000 },
  async run(opts: BenchOptions) {
    const n = opts.quick ? 10_000 : 200_000;
    const paged = opts.quick ? 1_000 : 5_000;
    const parseMb = opts.quick ? 20 : 200;
    const shop = (domain: string, products: number): MockShopOptions => ({ domain, accessToken: TOKEN, products, orders: 0, customers: 0, locations: 1, seed: 42 });
    const bench = await createBenchEnv('bulksync');
    const logs = runLogs();
    let mock: BenchChild<{ url: string; baseUrlTemplate: string }> | undefined;
    let runner: BenchChild | undefined;
    try {
      const runnerEnv = { ...bench.env, SYNC_BULK_POLL_MIN_SECONDS: '0.05', SYNC_BULK_POLL_MAX_SECONDS: '0.5' };
      const mockOptions = { shops: [shop(SHOP, n), shop(SMALL, paged)], rateLimit: { enabled: false }, graphqlRateLimit: { enabled: false } };
      [mock, runner] = await Promise.all([
        startChild<{ url: string; baseUrlTemplate: string }>('mock-shopify', childScript('mock-shopify'), { args: [JSON.stringify(mockOptions)] }),
        startChild('bulk-worker', childScript('bulk-runner'), { env: runnerEnv, log: logs.reader('bulk-worker') }),
      ]);
      const bootRssMb = runner.memory().rssMb;
      for (const domain of [SHOP, SMALL]) await mock.call('bulkConfigure', { domain, patch: { webhooks: false } });
      const main = await seedIntegration(bench.ctx, TENANT, SHOP, TOKEN);
      const small = await seedIntegration(bench.ctx, `${TENANT}-paged`, SMALL, TOKEN);
      const reset = async () => {
        await bench.truncateData();
        await mock?.call('reset');
      };
      await runner.call('configure', { apiBaseUrl: mock.ready.baseUrlTemplate, bulk: true });

      // 1. A bulk sync of the small shop first (the JIT compiles every path), then the measured turns.
      await reset();
      await bulkSync(runner, mock, SMALL, small.id);
      const turns: Turn[] = [];
      const repetitions = REPETITIONS[opts.quick ? 'quick' : 'full'];
      for (let turn = 1; turn <= repetitions; turn++) {
        await reset();
        const bulk = await bulkSync(runner, mock, SHOP, main.id);
        // 2. The same file downloaded and parsed alone (over HTTP from the mock, as the apply reads it).
        if (!bulk.operation.url || !bulk.operation.filePath) throw new Error('the completed operation has no file');
        const downloadParse = await runner.call<Turn['downloadParse']>('downloadParse', { url: bulk.operation.url });
        // 3. Its rows written alone into emptied tables (file read and split from disk, not timed).
        await bench.truncateData();
        const upsert = await runner.call<Turn['upsert']>('upsertFile', { path: bulk.operation.filePath, integrationId: main.id, tenantId: TENANT });
        const floor = Math.max(downloadParse.seconds, upsert.seconds);
        turns.push({ bulk, downloadParse, upsert, floor, ratio: bulk.applySeconds / floor });
        opts.log(
          `turn ${turn}/${repetitions}: export by the mock ${bulk.exportSeconds.toFixed(1)} s, apply ${bulk.applySeconds.toFixed(1)} s (${bulk.applySteps} call(s)), peak RSS ${Math.round(bulk.peakRssMb)} MB; download + parse ${downloadParse.seconds.toFixed(1)} s, upsert only ${upsert.seconds.toFixed(1)} s (${upsert.pages} pages); apply ÷ floor ${(bulk.applySeconds / floor).toFixed(2)}`,
        );
      }
      const first = turns[0] as Turn;
      const bulk = first.bulk;
      const fileBytes = bulk.operation.fileSize ?? 0;
      const variantLines = bulk.operation.objectCount - bulk.operation.rootObjectCount;
      const apply = measured(turns.map((x) => x.bulk.applySeconds));
      const floor = measured(turns.map((x) => x.floor));
      const downloadParse = measured(turns.map((x) => x.downloadParse.seconds));
      const upsert = measured(turns.map((x) => x.upsert.seconds));
      const exportSeconds = median(turns.map((x) => x.bulk.exportSeconds));
      const ratio = median(turns.map((x) => x.ratio));
      opts.log(`file ${(fileBytes / MB).toFixed(0)} MB, ${bulk.operation.objectCount} lines; apply ÷ floor, median of ${turns.length} turns: ${ratio.toFixed(2)}`);

      // 4. Paginated GraphQL on the small shop, bucket off, each query's cost recorded; the time Shopify's
      //    Standard bucket allows for `n` products is extrapolated from its actual cost per product.
      await reset();
      await runner.call('configure', { apiBaseUrl: mock.ready.baseUrlTemplate, bulk: false });
      const pagedRun = await runner.call<{ seconds: number; costs: QueryCosts }>('paginated', { integrationId: small.id });
      const pagedStats = await mock.call<MockGraphqlStats>('graphqlStats', { domain: SMALL });
      const spent = pagedRun.costs.actual.reduce<number>((a, b) => a + (b ?? 0), 0);
      const pointsPerProduct = spent / paged;
      const lastUnspent = (pagedRun.costs.requested.at(-1) ?? 0) - (pagedRun.costs.actual.at(-1) ?? 0);
      const pagedModel = Math.max(0, (pointsPerProduct * n + lastUnspent - STANDARD.maximumAvailable) / STANDARD.restoreRate);
      const bulkTotal = exportSeconds + apply.median;
      opts.log(
        `paginated ${paged} products: ${pagedRun.seconds.toFixed(1)} s, ${pagedRun.costs.requested.length} queries, ${pointsPerProduct.toFixed(2)} points/product → ${n} products at Standard: ${pagedModel.toFixed(0)} s`,
      );

      // 5. Memory while applying a large file (≥ 500 MB at full size): a generated products export
      //    (3 variants each) served over HTTP, streamed through the apply's pages into emptied tables.
      await bench.truncateData();
      const largeBytes = (opts.quick ? 20 : 520) * MB;
      const large = await serveFileOnce(generateBulkJsonl(largeBytes, 7));
      let largeRun: { seconds: number; pages: number; lines: number; written: number };
      let largePeakMb: number;
      try {
        runner.resetPeakMemory();
        largeRun = await runner.call<typeof largeRun>('applyUrl', { url: large.url, integrationId: main.id, tenantId: TENANT });
        largePeakMb = runner.memory().peakMb;
      } finally {
        await large.close();
      }
      opts.log(`large file: ${(large.bytes / MB).toFixed(0)} MB, ${largeRun.lines} lines applied in ${largeRun.seconds.toFixed(1)} s, peak RSS ${Math.round(largePeakMb)} MB`);

      // 6. The JSONL reader alone, in this process, on a generated products file.
      const parser = await benchJsonlParse({ megabytes: parseMb });
      opts.log(`JSONL parser: ${(parser.bytesPerSecond / MB).toFixed(1)} MB/s on ${(parser.bytes / MB).toFixed(0)} MB`);

      const count = (v: number) => Math.round(v).toLocaleString('en-US');
      const figures: Figure[] = [];
      figures.push({
        name: `Bulk full sync of ${count(n)} products (${count(variantLines)} variant lines, ${(fileBytes / MB).toFixed(0)} MB of JSONL): apply, from the operation COMPLETED to the run succeeded — ${count(n / apply.median)} products/s`,
        unit: 's',
        better: 'lower',
        value: apply,
        baseline: {
          name: `max(download + parse, upsert only) of each turn (medians ${downloadParse.median.toFixed(1)} s and ${upsert.median.toFixed(1)} s); ratio: the median of the turns' ratios`,
          value: floor,
        },
        ratio,
        target: { text: '≤ 1.2 × max(download + parse, upsert only)', met: ratio <= 1.2 },
      });
      figures.push({
        name: "Download + parse only: the same file through the apply's downloader and JSONL reader, nothing mapped or written",
        unit: 's',
        better: 'lower',
        value: downloadParse,
      });
      figures.push({
        name: `Upsert only: the file's ${count(first.upsert.lines)} lines in ${count(first.upsert.pages)} pages mapped (mapLines) and written (writePage) into emptied tables; reading and splitting the file not timed`,
        unit: 's',
        better: 'lower',
        value: upsert,
      });
      figures.push({
        name: "Export generation by the mock (first call → COMPLETED; not in the apply, not Shopify's own export time)",
        unit: 's',
        better: 'lower',
        value: measured(turns.map((x) => x.bulk.exportSeconds)),
      });
      figures.push({
        name: `Paginated GraphQL sync of the same ${count(n)} products at a Standard plan's rate (modelled: ${pointsPerProduct.toFixed(2)} points actually spent per product in a measured ${count(paged)}-product paginated run, ${count(STANDARD.restoreRate)} points/s) ÷ bulk (mock export + apply, ${bulkTotal.toFixed(1)} s)`,
        unit: '×',
        better: 'higher',
        value: single(pagedModel / bulkTotal),
        baseline: {
          name: `the time the points bucket allows the paginated walk: (${count(pointsPerProduct * n)} points + the last query's unspent ${count(lastUnspent)} − ${count(STANDARD.maximumAvailable)}) ÷ ${STANDARD.restoreRate}/s`,
          value: single(pagedModel),
          unit: 's',
        },
        ratio: pagedModel / bulkTotal,
      });
      figures.push({
        name: `Worker peak RSS (VmHWM) while applying the sync's ${(fileBytes / MB).toFixed(0)} MB file in the first turn (idle before ${Math.round(bulk.idleRssMb)} MB, highest 200 ms sample ${Math.round(Math.max(0, ...bulk.rssSamples))} MB; later turns, on a heap grown by the earlier ones: ${turns
          .slice(1)
          .map((x) => `${Math.round(x.bulk.peakRssMb)} MB`)
          .join(', ')})`,
        unit: 'MB',
        better: 'lower',
        value: single(bulk.peakRssMb),
        baseline: { name: 'a freshly booted worker process, idle', value: single(bootRssMb) },
        ratio: bulk.peakRssMb / bootRssMb,
      });
      const bigEnough = large.bytes >= 500 * MB;
      figures.push({
        name: `Worker peak RSS (VmHWM) while applying a generated ${(large.bytes / MB).toFixed(0)} MB products export (${count(largeRun.lines)} lines, 3 variants per product, ${largeRun.seconds.toFixed(0)} s)${bigEnough ? '' : ' — QUICK: under 500 MB, the target needs a full run'}`,
        unit: 'MB',
        better: 'lower',
        value: single(largePeakMb),
        baseline: { name: 'a freshly booted worker process, idle', value: single(bootRssMb) },
        ratio: largePeakMb / bootRssMb,
        target: { text: '< 250 MB with a file of ≥ 500 MB', met: bigEnough && largePeakMb < 250 },
      });
      figures.push({ name: 'Bulk file size', unit: 'MB', better: 'lower', value: single(fileBytes / MB) });
      figures.push({
        name: `JSONL parser alone (benchJsonlParse, batches, ${(parser.bytes / MB).toFixed(0)} MB generated in memory, 64 KiB chunks) — ${count(parser.linesPerSecond)} lines/s`,
        unit: 'MB/s',
        better: 'higher',
        value: single(parser.bytesPerSecond / MB),
      });

      const limits: string[] = [];
      limits.push(
        `Apply: ${count(bulk.counts.pages)} pages of up to ${count(BULK_PAGE_LIMITS.maxRecords)} lines (and ${BULK_PAGE_LIMITS.maxBytes / 1024 / 1024} MiB), one transaction each, ${count(bulk.counts.records_written)} rows written, ${count(bulk.counts.records_deleted)} deleted by the sweep; the file is downloaded and parsed while the previous page is written (two pages fetched ahead), so the apply approaches the larger of the two halves only when they run on different cores — the mock serving the file and MariaDB take the machine's other core.`,
      );
      limits.push(
        `Paginated comparison: the bucket's time is a floor for any paginated client (every query pays its actual cost in restore time); the measured ${count(paged)}-product run took ${pagedRun.seconds.toFixed(1)} s with the bucket off (${pagedRun.costs.requested.length} queries, ${count(pagedStats.pointsSpent)} points spent), linearly ${(pagedRun.seconds * (n / paged)).toFixed(0)} s for ${count(n)} products, which the bucket's ${pagedModel.toFixed(0)} s exceeds. Bulk's figure uses the mock's export time, not Shopify's (which grows with the store and the platform's load, and is paid without holding a worker).`,
      );
      return {
        setup: [
          `Mock Shopify (scripts/mock-shopify) in its own process with ${count(n)} seeded products (1–5 variants each, ${(variantLines / n).toFixed(2)} on average), its bulk operations run for real over the catalog into a JSONL file served over HTTP (webhooks off); the sync runs in a worker process of its own (\`runSync\` with SHOPIFY_SYNC_API=graphql and SYNC_FULL_VIA_BULK on, called again after each \`waiting\` as the BullMQ job is), into empty tables. A bulk sync of a ${count(paged)}-product shop runs first (JIT warm-up).`,
          `Apply = the \`runSync\` call(s) after the mock reports the operation COMPLETED (the job's poll delay before that call is excluded); download + parse = downloadChunks + jsonlBatches over the same URL; upsert only = the same lines in the same pages (jsonlBatches over the file on disk with the apply's page limits, untimed) through mapLines and writePage into emptied tables, timed. Floor = the larger of the two. ${repetitions} turns, each a fresh export applied, then its download + parse, then its upsert only; figures are medians (± the half-range of the turns), the ratio is the median of the turns' own ratios.`,
          `Paginated: a full products sync over paginated GraphQL (bulk off, bucket off) of a ${count(paged)}-product shop with the same seed, each query's actual cost recorded; the time Shopify's Standard bucket (${count(STANDARD.maximumAvailable)} points, ${STANDARD.restoreRate}/s) allows for ${count(n)} products = (points per product × ${count(n)} + the last query's unspent part − ${count(STANDARD.maximumAvailable)}) ÷ ${STANDARD.restoreRate}, extrapolated linearly in points, not run at full size.`,
          `Memory: the worker's VmHWM reset when the apply starts, VmRSS sampled every 200 ms. JSONL parser: benchJsonlParse on ${parseMb} MB generated in memory, in the benchmark's own process. Each figure is one run.`,
        ],
        figures,
        limits,
        findings: [],
      };
    } finally {
      await Promise.allSettled([runner?.stop(), mock?.stop()]);
      await bench.cleanup();
    }
  },
};
