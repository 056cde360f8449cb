import type { MockRateLimit, MockShopOptions, MockShopStats } from '../mock-shopify/index.js';
import { childScript, startChild, type BenchChild } from './lib/child.js';
import { BENCH_REDIS_URL, createBenchEnv, seedIntegration } from './lib/infra.js';
import { cpuWindow, describeCpu, servicePids } from './lib/procfs.js';
import { describeProfile, profileWindow } from './lib/profile.js';
import { single } from './lib/stats.js';
import type { Benchmark, BenchOptions, CpuShares, Figure } from './lib/types.js';

const TENANT = 'bench-sync';
const SHOP = 'bench-sync.myshopify.com';
const TWIN = 'bench-sync-twin.myshopify.com';
const TOKEN = 'shpat_bench_sync';
const PAGE = 250;

interface Fetched {
  seconds: number;
  pages: number;
  items: number;
  throttled: number;
}

interface Bucket {
  size: number;
  leakPerSecond: number;
  scale: number;
}

/**
 * Full sync of a store's products from the mock Shopify (50,000; QUICK 5,000):
 * - rate limit off: the sync against fetching alone and writing alone (target ≤ 1.2 × the larger);
 * - rate limit on at Shopify's shape (bucket 40, leak 2/s) sped up by a scale: the sync against the time
 *   the bucket allows for the requests it made (target ≤ 1.05×, no 429);
 * - the same limited fetch by the service's client and by shopify-api-node (autoLimit), side by side;
 * - the sync worker's resident memory while it runs.
 */
export const syncBenchmark: Benchmark = {
  id: 'sync',
  title: 'Full sync',
  async run(opts: BenchOptions) {
    const n = opts.quick ? 5_000 : 50_000;
    const pages = Math.ceil(n / PAGE);
    // QUICK's 20 pages would fit in Shopify's bucket of 40: it keeps Shopify's shape at 1:10 (4 requests, 0.2/s).
    const shape = opts.quick ? { size: 4, leakPerSecond: 0.2 } : { size: 40, leakPerSecond: 2 };
    const limitedSeconds = opts.quick ? 1.5 : 25;
    const shop = (domain: string): MockShopOptions => ({ domain, accessToken: TOKEN, products: n, orders: 0, customers: 0, locations: 1, seed: 42 });
    const bench = await createBenchEnv('sync');
    const syncLog = runLogs();
    let mock: BenchChild<{ url: string; baseUrlTemplate: string }> | undefined;
    const runners: BenchChild[] = [];
    try {
      // The mock and two worker processes boot together: one for the unlimited runs, a fresh one for the
      // limited run (its own peak RSS). Their Shopify settings are given once the mock listens.
      const runnerEnv = { ...bench.env, LOG_LEVEL: 'info' };
      const booting = Promise.all([
        startChild<{ url: string; baseUrlTemplate: string }>('mock-shopify', childScript('mock-shopify'), {
          args: [JSON.stringify({ shops: [shop(SHOP), shop(TWIN)], rateLimit: { enabled: false } })],
        }),
        startChild('sync-worker-1', childScript('sync-runner'), { env: runnerEnv, log: syncLog.reader('sync-worker-1') }),
        startChild('sync-worker-2', childScript('sync-runner'), { env: runnerEnv, log: syncLog.reader('sync-worker-2') }),
      ]);
      const [mockChild, unlimitedRunner, limitedRunner] = await booting;
      // Resident set of a freshly booted worker: the baseline of the memory figures.
      const bootRssMb = Math.max(unlimitedRunner.memory().rssMb, limitedRunner.memory().rssMb);
      runners.push(unlimitedRunner, limitedRunner);
      mock = mockChild;
      const integration = await seedIntegration(bench.ctx, TENANT, SHOP, TOKEN);
      const pids = { ...servicePids(new URL(BENCH_REDIS_URL).port || '6379'), mock: mock.pid };
      const reset = async () => {
        await bench.truncateData();
        await bench.deleteKeys(`${bench.redisPrefix}:ratelimit:*`);
        await mock?.call('reset');
      };

      // 1. Rate limit off, all in one worker process: a short warm-up sync (every code path compiled by the
      //    JIT before anything is timed), each half alone, then the sync (its own peak RSS).
      const configured = { apiBaseUrl: mock.ready.baseUrlTemplate, bucketSize: 40, maxRequestsPerSecond: 2 };
      await reset();
      await unlimitedRunner.call('configure', { ...configured, maxPages: 4 });
      await unlimitedRunner.call('sync', { integrationId: integration.id, limited: false });
      await unlimitedRunner.call('configure', { ...configured, maxPages: 1000 });
      await reset();
      const fetchOnly = await unlimitedRunner.call<Fetched>('fetch', { shop: SHOP, accessToken: TOKEN, limited: false });
      await reset();
      const upsertOnly = await unlimitedRunner.call<{ seconds: number; written: number }>('upsert', { integrationId: integration.id, tenantId: TENANT, shop: shop(SHOP) });
      opts.log(`fetch only ${fetchOnly.seconds.toFixed(1)} s, upsert only ${upsertOnly.seconds.toFixed(1)} s`);
      await reset();
      const unlimited = await measureSync(unlimitedRunner, integration.id, false, { ...pids }, syncLog);
      opts.log(`sync without limit: ${unlimited.seconds.toFixed(1)} s (${Math.round(n / unlimited.seconds)} products/s), peak RSS ${Math.round(unlimited.peakRssMb)} MB`);

      // 2. Rate limit on: Shopify's bucket, sped up so the walk takes about `limitedSeconds`, and never faster
      //    than the unlimited sync could go (else the figure would measure the sync, not the limiter).
      const unlimitedPagesPerSecond = pages / unlimited.seconds;
      const rate = Math.min((pages - shape.size) / limitedSeconds, unlimitedPagesPerSecond * 0.6);
      const bucket: Bucket = { ...shape, scale: rate / shape.leakPerSecond };
      await mock.call('setRateLimit', { rateLimit: { enabled: true, bucketSize: bucket.size, leakPerSecond: bucket.leakPerSecond, scale: bucket.scale } satisfies MockRateLimit });
      await reset();
      await limitedRunner.call('configure', { apiBaseUrl: mock.ready.baseUrlTemplate, bucketSize: bucket.size, maxRequestsPerSecond: rate });
      const limited = await measureSync(limitedRunner, integration.id, true, { ...pids }, syncLog);
      const limitedStats = await mock.call<MockShopStats>('stats', { domain: SHOP });
      const allowed = allowedSeconds(limitedStats.requests - limitedStats.throttled, bucket);
      opts.log(`sync with limit: ${limited.seconds.toFixed(1)} s, bucket allows ${allowed.toFixed(1)} s, ${limitedStats.throttled} × 429`);

      // 3. The same limited fetch, the service's client and shopify-api-node side by side (twin shops, one bucket each).
      await reset();
      await bench.deleteKeys(`${bench.redisPrefix}:ratelimit:*`);
      // shopify-api-node's default is 2 calls per 1,000 ms from a bucket of 35 (of Shopify's 40): the same, sped up alike.
      const calls = Math.max(1, Math.round(bucket.leakPerSecond));
      const autoLimit = { calls, interval: (calls * 1000) / rate, bucketSize: Math.floor(bucket.size * 0.875) };
      const pair = await limitedRunner.call<{ ours: Fetched; theirs: Fetched }>('fetchPair', {
        ours: { shop: SHOP, accessToken: TOKEN },
        theirs: { shop: TWIN, accessToken: TOKEN },
        mockUrl: mock.ready.url,
        autoLimit,
      });
      const [oursStats, theirsStats] = await Promise.all([SHOP, TWIN].map((domain) => mock?.call<MockShopStats>('stats', { domain }) as Promise<MockShopStats>));
      opts.log(`limited fetch: ours ${pair.ours.seconds.toFixed(1)} s (${oursStats?.throttled} × 429), shopify-api-node ${pair.theirs.seconds.toFixed(1)} s (${theirsStats?.throttled} × 429)`);

      const figures: Figure[] = [];
      const limits: string[] = [];
      const findings: string[] = [];
      const fastestHalf = Math.max(fetchOnly.seconds, upsertOnly.seconds);
      const offRatio = unlimited.seconds / fastestHalf;
      figures.push({
        name: `Full sync of ${n.toLocaleString('en-US')} products (${pages} pages), rate limit off — ${Math.round(n / unlimited.seconds).toLocaleString('en-US')} products/s`,
        unit: 's',
        better: 'lower',
        value: single(unlimited.seconds),
        baseline: { name: `max(fetch only ${fetchOnly.seconds.toFixed(1)} s, upsert only ${upsertOnly.seconds.toFixed(1)} s)`, value: single(fastestHalf) },
        ratio: offRatio,
        target: { text: '≤ 1.2 × max(fetch-only, upsert-only)', met: offRatio <= 1.2 },
      });
      figures.push({ name: "Fetch only: the same pages through the service's Shopify client, nothing written", unit: 's', better: 'lower', value: single(fetchOnly.seconds) });
      figures.push({ name: 'Upsert only: the same records mapped and written page by page as the sync does (no HTTP)', unit: 's', better: 'lower', value: single(upsertOnly.seconds) });
      const limitedRatio = limited.seconds / allowed;
      figures.push({
        name: `Full sync, rate limit on (bucket ${bucket.size}, leak ${bucket.leakPerSecond}/s × ${bucket.scale.toFixed(2)} = ${rate.toFixed(2)} requests/s)`,
        unit: 's',
        better: 'lower',
        value: single(limited.seconds),
        baseline: { name: `time the bucket allows for its ${limitedStats.requests - limitedStats.throttled} requests: (requests − ${bucket.size}) ÷ ${rate.toFixed(2)}/s`, value: single(allowed) },
        ratio: limitedRatio,
        target: { text: "≤ 1.05 × the bucket's time", met: limitedRatio <= 1.05 },
      });
      figures.push({
        name: '429 responses during the limited sync (counted by the mock)',
        unit: '',
        better: 'lower',
        value: single(limitedStats.throttled),
        target: { text: '0', met: limitedStats.throttled === 0 },
      });
      const pairAllowed = allowedSeconds(pair.ours.pages, bucket);
      figures.push({
        name: `Limited fetch of ${pair.theirs.pages} pages by shopify-api-node (autoLimit ${autoLimit.calls} per ${Math.round(autoLimit.interval)} ms, bucket ${autoLimit.bucketSize}) — ${theirsStats?.throttled ?? 0} × 429`,
        unit: 's',
        better: 'lower',
        value: single(pair.theirs.seconds),
        baseline: { name: `the service's client, ${pair.ours.pages} pages, same bucket, side by side — ${oursStats?.throttled ?? 0} × 429`, value: single(pair.ours.seconds) },
        ratio: pair.theirs.seconds / pair.ours.seconds,
      });
      figures.push({
        name: `Limited fetch, the service's client ÷ the time the bucket allows (${pairAllowed.toFixed(1)} s)`,
        unit: '×',
        better: 'lower',
        value: single(pair.ours.seconds / pairAllowed),
      });
      const growth = (m: SyncRun) => (m.rssAtQuarterMb > 0 ? (m.rssAtEndMb - m.rssAtQuarterMb) / m.rssAtQuarterMb : 0);
      const pct = (g: number) => `${g >= 0 ? '+' : ''}${Math.round(g * 100)} %`;
      figures.push({
        name: `Sync worker peak RSS (VmHWM) during the ${n.toLocaleString('en-US')}-product sync (rate limit on, fresh worker process); RSS ${Math.round(limited.rssAtQuarterMb)} MB at ¼ of the run → ${Math.round(limited.rssAtEndMb)} MB at the end (${pct(growth(limited))})`,
        unit: 'MB',
        better: 'lower',
        value: single(limited.peakRssMb),
        baseline: { name: 'a freshly booted worker process, idle', value: single(bootRssMb) },
        ratio: limited.peakRssMb / bootRssMb,
        target: { text: '< 250 MB (target set for 100,000 products)', met: limited.peakRssMb < 250 },
      });
      limits.push(
        `Memory: pages are streamed (one written, one in flight); RSS stays flat over the run — rate limit on ${pct(growth(limited))} from ¼ of the run to its end, rate limit off ${pct(growth(unlimited))} (${Math.round(unlimited.rssAtQuarterMb)} → ${Math.round(unlimited.rssAtEndMb)} MB, peak ${Math.round(unlimited.peakRssMb)} MB, in the process that ran the baselines before). What a fresh worker holds idle (${Math.round(bootRssMb)} MB: modules, pools, BullMQ) is most of it.`,
      );
      limits.push(
        `Rate limit off, CPU in % of one core: ${describeCpu(unlimited.cpu)}. The sync fetches up to two pages ahead while it writes one, so it can approach max(fetch, upsert) only when the two use different cores; the worker process itself maps and JSON-parses on one thread.`,
      );
      const margin = Math.max(1, Math.ceil(bucket.size * 0.05));
      const rest = Math.max(0, limited.seconds - allowed - margin / rate - limited.sweepSeconds);
      // The same components at Shopify's own leak rate: the bucket's time and the margin scale, the sweep and the rest do not.
      const realAllowed = allowed * bucket.scale;
      const projected = (realAllowed + margin / bucket.leakPerSecond + limited.sweepSeconds + rest) / realAllowed;
      limits.push(
        `Rate limit on: the bucket is the limit (${rate.toFixed(2)} requests/s); CPU ${describeCpu(limited.cpu)}. Of the ${(limited.seconds - allowed).toFixed(2)} s above the bucket's time: the service's limiter keeps ${margin} slot(s) of the bucket free (5 %, at least 1) = ${(margin / rate).toFixed(2)} s; the full run's deletion sweep after the last page took ${limited.sweepSeconds.toFixed(2)} s; the rest (${rest.toFixed(2)} s) is the last page's write, the run's bookkeeping and the event loop's delays (mapping and SQL building are synchronous, so a limiter timer that falls due meanwhile fires late). The speed-up inflates the fixed parts: at the unscaled leak of ${bucket.leakPerSecond}/s the same components give ${projected.toFixed(3)}× the bucket's time.`,
      );
      if (offRatio > 1.2 && !opts.quick) findings.push(...(await profileSync(unlimitedRunner, integration.id, reset, opts)));
      return {
        setup: [
          `Mock Shopify (scripts/mock-shopify) in its own process with ${n.toLocaleString('en-US')} seeded products (1–5 variants each, ~3 KB of JSON per product), pages of ${PAGE}; the sync runs in a worker process of its own (\`runSync\`, the function the BullMQ sync job runs: pages → map → order-free upsert, one transaction per page, two pages fetched ahead), into empty tables each time. Rate limit off: after a 4-page warm-up sync, fetch only, upsert only and the sync run one after another in the same process.`,
          `Rate limit on: the mock enforces a leaky bucket of ${bucket.size} requests leaking ${bucket.leakPerSecond}/s (Shopify's standard plan${opts.quick ? ", at 1:10 so QUICK's 20 pages go past the burst; the limiter's one free slot is then a quarter of the bucket, so the full run is the reference for this ratio" : ''}) sped up ${bucket.scale.toFixed(2)}× to ${rate.toFixed(2)}/s so the walk takes well under a minute; the service's limiter is configured with the same numbers (SHOPIFY_BUCKET_SIZE, SHOPIFY_MAX_REQUESTS_PER_SECOND). The time the bucket allows is (requests − bucket) ÷ rate: the first ${bucket.size} requests go at once, then one per 1/rate s.`,
          `shopify-api-node with \`autoLimit\` (its own in-process token bucket; with autoLimit it does not retry, so a 429 is waited out as \`Retry-After\` says and the page asked again), pointed at the mock by replacing its \`baseUrl\` and prefixing the path in a got \`beforeRequest\` hook; it fetches a twin shop (same catalog, its own bucket) at the same time as the service's client fetches the first.`,
          "Each figure is one run (the sizes are large; the runs take most of the suite's time). Memory: VmRSS of the worker sampled every 200 ms; peak is the kernel's VmHWM, reset when the sync starts (Linux clear_refs); the limited sync runs in a second, freshly booted worker process.",
        ],
        figures,
        limits,
        findings,
      };
    } finally {
      await Promise.allSettled([...runners.map((r) => r.stop()), mock?.stop()]);
      await bench.cleanup();
    }
  },
};

/** Shopify's leaky bucket lets the first `size` requests through at once, then one per 1/rate s. */
function allowedSeconds(requests: number, bucket: Bucket): number {
  return Math.max(0, requests - bucket.size) / (bucket.leakPerSecond * bucket.scale);
}

/** The sync's own "sync succeeded" log lines (ms, sweepMs); other lines pass through from warnings up. */
export function runLogs() {
  const done: { ms: number; sweepMs: number }[] = [];
  return {
    done,
    reader: (name: string) => (line: string) => {
      let entry: { msg?: string; level?: number; ms?: number; sweepMs?: number } | undefined;
      try {
        entry = JSON.parse(line) as typeof entry;
      } catch {
        entry = undefined;
      }
      if (entry?.msg === 'sync succeeded') done.push({ ms: Number(entry.ms), sweepMs: Number(entry.sweepMs) });
      else if (!entry || (entry.level ?? 0) >= 40) process.stderr.write(`  [${name}] ${line}\n`);
    },
    async next(count: number): Promise<{ ms: number; sweepMs: number } | undefined> {
      for (let i = 0; i < 40 && done.length <= count; i++) await new Promise((r) => setTimeout(r, 25));
      return done[count];
    },
  };
}
export type RunLogs = ReturnType<typeof runLogs>;

export interface SyncRun {
  /** Deletion sweep at the end of the full run, from the sync's log line. */
  sweepSeconds: number;
  seconds: number;
  idleRssMb: number;
  peakRssMb: number;
  rssAtQuarterMb: number;
  rssAtEndMb: number;
  cpu: CpuShares;
}

/** One `sync` call of a runner, with its memory sampled and CPU measured; `args` are passed on to the call (resource), `result` is its answer. */
export async function measureSync<R extends { seconds: number } = { seconds: number }>(
  runner: BenchChild,
  integrationId: number,
  limited: boolean,
  pids: Record<string, number | undefined>,
  logs: RunLogs,
  args: Record<string, unknown> = {},
): Promise<SyncRun & { result: R }> {
  const logged = logs.done.length;
  runner.resetPeakMemory();
  const idleRssMb = runner.memory().rssMb;
  const samples: { at: number; mb: number }[] = [];
  const t0 = performance.now();
  const timer = setInterval(() => samples.push({ at: performance.now() - t0, mb: runner.memory().rssMb }), 200);
  const window = cpuWindow({ ...pids, worker: runner.pid });
  try {
    const result = await runner.call<R>('sync', { ...args, integrationId, limited });
    const cpu = window();
    const total = performance.now() - t0;
    const quarter = samples.find((s) => s.at >= total / 4) ?? samples[0];
    const line = await logs.next(logged);
    return {
      result,
      seconds: result.seconds,
      sweepSeconds: (line?.sweepMs ?? 0) / 1000,
      idleRssMb,
      peakRssMb: runner.memory().peakMb,
      rssAtQuarterMb: quarter?.mb ?? idleRssMb,
      rssAtEndMb: samples[samples.length - 1]?.mb ?? idleRssMb,
      cpu,
    };
  } finally {
    clearInterval(timer);
  }
}

/** A CPU profile of the worker over one more unlimited sync, to say where the time goes. */
async function profileSync(runner: BenchChild, integrationId: number, reset: () => Promise<void>, opts: BenchOptions): Promise<string[]> {
  opts.log('sync above target: profiling the worker over one more unlimited sync');
  await reset();
  const summary = await profileWindow(runner, () => runner.call('sync', { integrationId, limited: false }), 10);
  return describeProfile(summary, 'Sync worker (rate limit off):');
}
