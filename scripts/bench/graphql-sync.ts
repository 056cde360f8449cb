import type { MockGraphqlRateLimit, MockGraphqlStats, MockRateLimit, MockShopOptions, MockShopStats } from '../mock-shopify/index.js';
import { childScript, startChild, type BenchChild } from './lib/child.js';
import { BENCH_REDIS_URL, createBenchEnv, seedIntegration } from './lib/infra.js';
import { cpuWindow, describeCpu, servicePids } from './lib/procfs.js';
import { single } from './lib/stats.js';
import type { Benchmark, BenchOptions, Figure } from './lib/types.js';
import { measureSync, runLogs, type SyncRun } from './sync.js';

const TENANT = 'bench-graphql-sync';
const SHOP = 'bench-graphql-sync.myshopify.com';
const TOKEN = 'shpat_bench_graphql_sync';
/** Shopify's Standard plan: 2,000 points, restoring 100 per second. */
const STANDARD = { maximumAvailable: 2000, restoreRate: 100 } as const;
/** Shopify's REST bucket on the same plan: 40 requests, leaking 2 per second. */
const REST_STANDARD = { size: 40, leakPerSecond: 2 } as const;

/** Requested and actual cost of each query of one walk, in order, as the runner records them. */
interface QueryCosts {
  requested: number[];
  actual: (number | null)[];
}
interface SyncAnswer {
  seconds: number;
  costs: QueryCosts;
  limiterWaitMs: number;
  throttled: number;
  counts: { pages: number; records_fetched: number };
}
interface Fetched {
  seconds: number;
  pages: number;
  items: number;
  queries?: number;
}

const sum = (values: readonly (number | null)[]) => values.reduce<number>((a, b) => a + (b ?? 0), 0);

/**
 * The time Shopify's points bucket allows for walks that spent what these did, whatever the client.
 * Shopify takes a query's requested cost up front (the query is refused THROTTLED unless the bucket
 * holds it) and refunds requested − actual once it has run, so a client that sends each query the
 * moment the bucket holds its requested cost, with zero latency, sends its last query (of any walk) at
 *   t = (Σ actual cost of every query before it + requested cost of the last − bucket maximum) ÷ rate
 * (the bucket starts full; capping it at its maximum only delays a client, so this stays a floor).
 * The last query is whichever walk's last one gives the smallest t. Every query thus pays its actual
 * cost in restore time, and only the last one's requested cost counts in full: charging every query its
 * requested cost instead would make the floor 2.5× too lenient (a products page requests 991 points and
 * spends about 390), while "what was spent − maximum" would ignore the one requested cost no client can
 * avoid waiting for. Work after the last answer (writing the last page, the deletion sweep) is not in it.
 */
export function pointsFloorSeconds(walks: QueryCosts[], maximumAvailable: number, ratePerSecond: number): number {
  const spent = sum(walks.flatMap((w) => w.actual));
  const lastExtra = Math.min(...walks.filter((w) => w.requested.length > 0).map((w) => (w.requested.at(-1) as number) - (w.actual.at(-1) ?? 0)));
  return Math.max(0, (spent + (Number.isFinite(lastExtra) ? lastExtra : 0) - maximumAvailable) / ratePerSecond);
}

/**
 * Full sync of a store's products over the GraphQL Admin API (the service's default) from the mock
 * Shopify (50,000; QUICK 5,000):
 * - points bucket off: the sync against fetching alone and writing alone (target ≤ 1.2 × the larger);
 * - points bucket on at Shopify's Standard shape (2,000 points, 100/s) sped up by a scale: the sync
 *   against the time the bucket allows for the cost it spent (target ≤ 1.05×, no THROTTLED), in one
 *   worker process, then in two sharing the shop's bucket (products in one, customers in the other);
 * - the same catalog over REST at the same speed-up: requests, wall time, and both at Shopify's own rates;
 * - the sync worker's resident memory (target < 250 MB).
 */
export const graphqlSyncBenchmark: Benchmark = {
  id: 'graphql-sync',
  title: 'GraphQL sync',
  timeoutMs: { quick: 300_000, full: 1_500_000 },
  async run(opts: BenchOptions) {
    const n = opts.quick ? 5_000 : 50_000;
    const customers = n / 2;
    const limitedSeconds = opts.quick ? 6 : 25;
    const shop: MockShopOptions = { domain: SHOP, accessToken: TOKEN, products: n, orders: 0, customers, locations: 1, seed: 42 };
    const bench = await createBenchEnv('gqlsync');
    const logs = [runLogs(), runLogs(), runLogs()] as const;
    let mock: BenchChild<{ url: string; baseUrlTemplate: string }> | undefined;
    const runners: BenchChild[] = [];
    try {
      // The mock and three worker processes boot together: one for the unlimited runs and REST, two fresh
      // ones for the limited runs (their own peak RSS).
      const runnerEnv = { ...bench.env, LOG_LEVEL: 'info', SYNC_MAX_PAGES: '100000' };
      const [mockChild, unlimitedRunner, limitedRunner, secondRunner] = await Promise.all([
        startChild<{ url: string; baseUrlTemplate: string }>('mock-shopify', childScript('mock-shopify'), {
          args: [JSON.stringify({ shops: [shop], rateLimit: { enabled: false }, graphqlRateLimit: { enabled: false } })],
        }),
        startChild('gql-worker-1', childScript('sync-runner'), { env: runnerEnv, log: logs[0].reader('gql-worker-1') }),
        startChild('gql-worker-2', childScript('sync-runner'), { env: runnerEnv, log: logs[1].reader('gql-worker-2') }),
        startChild('gql-worker-3', childScript('sync-runner'), { env: runnerEnv, log: logs[2].reader('gql-worker-3') }),
      ]);
      mock = mockChild;
      runners.push(unlimitedRunner, limitedRunner, secondRunner);
      const bootRssMb = Math.max(...runners.map((r) => r.memory().rssMb));
      const integration = await seedIntegration(bench.ctx, TENANT, SHOP, TOKEN);
      const pids = { ...servicePids(new URL(BENCH_REDIS_URL).port || '6379'), mock: mock.pid };
      const graphqlStats = () => mock?.call<MockGraphqlStats>('graphqlStats', { domain: SHOP }) as Promise<MockGraphqlStats>;
      const reset = async () => {
        await bench.truncateData();
        await bench.deleteKeys(`${bench.redisPrefix}:ratelimit:*`);
        await bench.deleteKeys(`${bench.redisPrefix}:graphql-points:*`);
        await mock?.call('reset');
      };
      const configured = { apiBaseUrl: mock.ready.baseUrlTemplate, bucketSize: REST_STANDARD.size, maxRequestsPerSecond: REST_STANDARD.leakPerSecond, api: 'graphql' };
      for (const r of runners) await r.call('configure', configured);

      // 1. Bucket off, one worker process: a 4-page warm-up sync (JIT), each half alone, then the sync.
      await reset();
      await unlimitedRunner.call('configure', { ...configured, maxPages: 4 });
      await unlimitedRunner.call('sync', { integrationId: integration.id, limited: false });
      await unlimitedRunner.call('configure', { ...configured, maxPages: 100_000 });
      await reset();
      const fetchOnly = await unlimitedRunner.call<Fetched>('fetch', { shop: SHOP, accessToken: TOKEN, limited: false });
      await reset();
      const upsertOnly = await unlimitedRunner.call<{ seconds: number; pages: number; written: number }>('upsert', { integrationId: integration.id, tenantId: TENANT, shop });
      opts.log(`fetch only ${fetchOnly.seconds.toFixed(1)} s (${fetchOnly.pages} pages), upsert only ${upsertOnly.seconds.toFixed(1)} s`);
      await reset();
      const unlimited = await measureSync<SyncAnswer>(unlimitedRunner, integration.id, false, { ...pids }, logs[0]);
      const unlimitedStats = await graphqlStats();
      const queries = unlimited.result.costs.requested.length;
      opts.log(
        `sync without limit: ${unlimited.seconds.toFixed(1)} s (${Math.round(n / unlimited.seconds)} products/s, ${queries} queries, ${unlimitedStats.pointsSpent} points spent of ${unlimitedStats.pointsRequested} requested)`,
      );

      // 2. Bucket on: Standard's shape, sped up so the walk takes about `limitedSeconds`, and never faster
      //    than 0.6 × the points/s the unlimited sync spent (else the figure would measure the sync, not the limiter).
      const unlimitedPointsPerSecond = unlimitedStats.pointsSpent / unlimited.seconds;
      const rate = Math.min((unlimitedStats.pointsSpent - STANDARD.maximumAvailable) / limitedSeconds, unlimitedPointsPerSecond * 0.6);
      const scale = rate / STANDARD.restoreRate;
      await mock.call('setGraphqlRateLimit', { rateLimit: { enabled: true, ...STANDARD, scale } satisfies MockGraphqlRateLimit });
      await reset();
      const limited = await measureSync<SyncAnswer>(limitedRunner, integration.id, true, { ...pids }, logs[1]);
      const limitedStats = await graphqlStats();
      const limitedFloor = pointsFloorSeconds([limited.result.costs], STANDARD.maximumAvailable, rate);
      opts.log(`sync with the points bucket: ${limited.seconds.toFixed(2)} s, bucket allows ${limitedFloor.toFixed(2)} s, ${limitedStats.throttled} × THROTTLED`);

      // 3. Two worker processes at once, one shop, one bucket: products in one, customers in the other.
      await reset();
      const twoCpu = cpuWindow({ ...pids, 'worker-products': limitedRunner.pid, 'worker-customers': secondRunner.pid });
      const [twoProducts, twoCustomers] = await Promise.all([
        measureSync<SyncAnswer>(limitedRunner, integration.id, true, {}, logs[1], { resource: 'products' }),
        measureSync<SyncAnswer>(secondRunner, integration.id, true, {}, logs[2], { resource: 'customers' }),
      ]);
      const twoCpuShares = twoCpu();
      const twoStats = await graphqlStats();
      const twoSeconds = Math.max(twoProducts.seconds, twoCustomers.seconds);
      const twoFloor = pointsFloorSeconds([twoProducts.result.costs, twoCustomers.result.costs], STANDARD.maximumAvailable, rate);
      opts.log(
        `two workers: ${twoSeconds.toFixed(2)} s (products ${twoProducts.seconds.toFixed(2)} s, customers ${twoCustomers.seconds.toFixed(2)} s), bucket allows ${twoFloor.toFixed(2)} s, ${twoStats.throttled} × THROTTLED`,
      );

      // 4. The same catalog over REST, its request bucket at Standard's shape with the same speed-up.
      const restRate = REST_STANDARD.leakPerSecond * scale;
      await mock.call('setGraphqlRateLimit', { rateLimit: { enabled: false } });
      await mock.call('setRateLimit', { rateLimit: { enabled: true, bucketSize: REST_STANDARD.size, leakPerSecond: REST_STANDARD.leakPerSecond, scale } satisfies MockRateLimit });
      await unlimitedRunner.call('configure', { ...configured, api: 'rest', maxRequestsPerSecond: restRate, maxPages: 100_000 });
      await reset();
      const rest = await measureSync(unlimitedRunner, integration.id, true, { ...pids }, logs[0]);
      const restStats = await mock.call<MockShopStats>('stats', { domain: SHOP });
      const restRequests = restStats.requests - restStats.throttled;
      const restFloor = Math.max(0, restRequests - REST_STANDARD.size) / restRate;
      opts.log(`REST: ${rest.seconds.toFixed(2)} s, ${restRequests} requests (${restStats.throttled} × 429)`);

      const figures: Figure[] = [];
      const count = (v: number) => Math.round(v).toLocaleString('en-US');
      const fastestHalf = Math.max(fetchOnly.seconds, upsertOnly.seconds);
      const offRatio = unlimited.seconds / fastestHalf;
      figures.push({
        name: `GraphQL sync of ${count(n)} products (${queries} queries of up to ${Math.max(...unlimited.result.costs.requested)} points), bucket off — ${count(n / unlimited.seconds)} products/s`,
        unit: 's',
        better: 'lower',
        value: single(unlimited.seconds),
        baseline: { name: `max(fetch only ${fetchOnly.seconds.toFixed(1)} s, upsert only ${upsertOnly.seconds.toFixed(1)} s)`, value: single(fastestHalf) },
        ratio: offRatio,
        target: { text: '≤ 1.2 × max(fetch-only, upsert-only)', met: offRatio <= 1.2 },
      });
      figures.push({ name: "Fetch only: the same queries through the service's GraphQL client and pages, nothing written", unit: 's', better: 'lower', value: single(fetchOnly.seconds) });
      figures.push({
        name: `Upsert only: the same pages (${upsertOnly.pages} of them, made by the mock's GraphQL handler in the worker, not timed) mapped and written as the sync does`,
        unit: 's',
        better: 'lower',
        value: single(upsertOnly.seconds),
      });
      const bucketName = `${count(STANDARD.maximumAvailable)} points, ${STANDARD.restoreRate}/s × ${scale.toFixed(1)} = ${count(rate)} points/s`;
      const limitedRatio = limited.seconds / limitedFloor;
      figures.push({
        name: `GraphQL sync, points bucket on (${bucketName}), 1 worker process`,
        unit: 's',
        better: 'lower',
        value: single(limited.seconds),
        baseline: {
          name: `time the bucket allows for the cost spent: (${count(sum(limited.result.costs.actual))} points spent by ${limited.result.costs.requested.length} queries + the last one's unspent ${count((limited.result.costs.requested.at(-1) ?? 0) - (limited.result.costs.actual.at(-1) ?? 0))} − ${count(STANDARD.maximumAvailable)}) ÷ ${count(rate)}/s`,
          value: single(limitedFloor),
        },
        ratio: limitedRatio,
        target: { text: "≤ 1.05 × the bucket's time", met: limitedRatio <= 1.05 },
      });
      figures.push({
        name: 'THROTTLED answers during the 1-worker sync (counted by the mock)',
        unit: '',
        better: 'lower',
        value: single(limitedStats.throttled),
        target: { text: '0', met: limitedStats.throttled === 0 },
      });
      const twoRatio = twoSeconds / twoFloor;
      figures.push({
        name: `GraphQL sync, same bucket, 2 worker processes at once: the ${count(n)} products in one, ${count(customers)} customers in the other (products ${twoProducts.seconds.toFixed(1)} s, customers ${twoCustomers.seconds.toFixed(1)} s)`,
        unit: 's',
        better: 'lower',
        value: single(twoSeconds),
        baseline: {
          name: `time the bucket allows for both walks' cost: (${count(sum(twoProducts.result.costs.actual) + sum(twoCustomers.result.costs.actual))} points spent by ${twoProducts.result.costs.requested.length + twoCustomers.result.costs.requested.length} queries − ${count(STANDARD.maximumAvailable)} + the last one's unspent) ÷ ${count(rate)}/s`,
          value: single(twoFloor),
        },
        ratio: twoRatio,
        target: { text: "≤ 1.05 × the bucket's time", met: twoRatio <= 1.05 },
      });
      figures.push({
        name: 'THROTTLED answers during the 2-worker syncs (counted by the mock)',
        unit: '',
        better: 'lower',
        value: single(twoStats.throttled),
        target: { text: '0', met: twoStats.throttled === 0 },
      });
      figures.push({
        name: `Points the 1-worker sync spent (actual cost; ${count(limitedStats.pointsRequested)} requested up front, ${Math.round((limitedStats.pointsSpent / limitedStats.pointsRequested) * 100)} % of it spent)`,
        unit: 'points',
        better: 'lower',
        value: single(limitedStats.pointsSpent),
      });
      figures.push({
        name: `The same catalog over REST: ${count(restRequests)} requests (${restStats.throttled} × 429), its bucket at Standard's shape with the same speed-up (${REST_STANDARD.size} requests, ${REST_STANDARD.leakPerSecond}/s × ${scale.toFixed(1)})`,
        unit: 's',
        better: 'lower',
        value: single(rest.seconds),
        baseline: { name: `the GraphQL sync above, ${limited.result.costs.requested.length} queries, ${count(limitedStats.pointsSpent)} points`, value: single(limited.seconds) },
        ratio: rest.seconds / limited.seconds,
      });
      const atShopify = { graphql: limitedFloor * scale, rest: restFloor * scale };
      figures.push({
        name: `At Shopify's own rates (no speed-up), the time the REST bucket allows for the ${count(restRequests)} requests: (requests − ${REST_STANDARD.size}) ÷ ${REST_STANDARD.leakPerSecond}/s`,
        unit: 's',
        better: 'lower',
        value: single(atShopify.rest),
        baseline: { name: `what the points bucket allows the GraphQL walk at ${STANDARD.restoreRate} points/s`, value: single(atShopify.graphql) },
      });
      const growth = (m: SyncRun) => (m.rssAtQuarterMb > 0 ? (m.rssAtEndMb - m.rssAtQuarterMb) / m.rssAtQuarterMb : 0);
      const pct = (g: number) => `${g >= 0 ? '+' : ''}${Math.round(g * 100)} %`;
      figures.push({
        name: `Sync worker peak RSS (VmHWM) during the ${count(n)}-product GraphQL sync (bucket on, fresh worker process); RSS ${Math.round(limited.rssAtQuarterMb)} MB at ¼ of the run → ${Math.round(limited.rssAtEndMb)} MB at the end (${pct(growth(limited))})`,
        unit: 'MB',
        better: 'lower',
        value: single(limited.peakRssMb),
        baseline: { name: 'a freshly booted worker process, idle', value: single(bootRssMb) },
        ratio: limited.peakRssMb / bootRssMb,
        target: { text: '< 250 MB', met: limited.peakRssMb < 250 },
      });
      const twoPeak = Math.max(twoProducts.peakRssMb, twoCustomers.peakRssMb);
      figures.push({
        name: `Sync worker peak RSS, 2 worker processes, the larger of the two (products ${Math.round(twoProducts.peakRssMb)} MB, customers ${Math.round(twoCustomers.peakRssMb)} MB)`,
        unit: 'MB',
        better: 'lower',
        value: single(twoPeak),
        baseline: { name: 'a freshly booted worker process, idle', value: single(bootRssMb) },
        ratio: twoPeak / bootRssMb,
        target: { text: '< 250 MB', met: twoPeak < 250 },
      });

      const limits: string[] = [];
      limits.push(
        `Bucket off, CPU in % of one core: ${describeCpu(unlimited.cpu)}. Fetching costs the mock more than the worker (it runs graphql-js and Shopify's cost rules twice per query: requested and actual); the sync fetches up to two pages ahead while it writes one.`,
      );
      const over = (seconds: number, floor: number, sweep: number, walkQueries: number) => {
        const rest = Math.max(0, seconds - floor - sweep);
        return { rest, perQueryMs: (rest * 1000) / walkQueries };
      };
      const one = over(limited.seconds, limitedFloor, limited.sweepSeconds, limited.result.costs.requested.length);
      // At Shopify's own rate the floor grows by the scale; the per-query delays and the sweep do not.
      const projected = (limitedFloor * scale + limited.sweepSeconds + one.rest) / (limitedFloor * scale);
      limits.push(
        `Bucket on, 1 worker: the bucket is the limit (${count(rate)} points/s); CPU ${describeCpu(limited.cpu)}. Of the ${(limited.seconds - limitedFloor).toFixed(2)} s above the bucket's time, the deletion sweep after the last page took ${limited.sweepSeconds.toFixed(2)} s; the rest, ${one.rest.toFixed(2)} s, is ${one.perQueryMs.toFixed(2)} ms per query: what the client loses between Shopify refilling the points and the next query arriving (the limiter's Redis round trips, its timer, the event loop busy mapping and writing the previous page, the request's way to the mock). The client waited ${(limited.result.limiterWaitMs / 1000).toFixed(2)} s in the limiter in all. The speed-up inflates these fixed parts ${scale.toFixed(0)}-fold: at Shopify's own ${STANDARD.restoreRate} points/s the same components give ${projected.toFixed(3)}× the bucket's time.`,
      );
      const two = over(twoSeconds, twoFloor, Math.max(twoProducts.sweepSeconds, twoCustomers.sweepSeconds), twoProducts.result.costs.requested.length + twoCustomers.result.costs.requested.length);
      limits.push(
        `Bucket on, 2 workers: CPU ${describeCpu(twoCpuShares)}; the two walks reserve from one Redis hash, so together they stay within Shopify's bucket; the time above the bucket's is ${two.perQueryMs.toFixed(2)} ms per query beyond the sweep.`,
      );
      limits.push(
        `REST against GraphQL: Shopify's REST bucket counts requests (a page of 250 products costs 1 of 40, restoring 2/s), the points bucket counts objects (a product with its variants costs ${(sum(limited.result.costs.actual) / n).toFixed(1)} points of 2,000, restoring 100/s), so at Shopify's own rates the bucket lets REST read these ${count(n)} products in ${atShopify.rest.toFixed(0)} s (the first ${REST_STANDARD.size} requests go at once) and GraphQL in ${atShopify.graphql.toFixed(0)} s (every variant, though: REST answers at most 100 per product); at the speed-up here both walks are bound by the sync itself (REST) or by the bucket (GraphQL). Memory: pages are streamed (one written, one in flight): ${pct(growth(limited))} from ¼ of the run to its end.`,
      );
      return {
        setup: [
          `Mock Shopify (scripts/mock-shopify) in its own process with ${count(n)} seeded products (1–5 variants each) and ${count(customers)} customers, served by its GraphQL Admin API (Shopify's schema, Shopify's cost rules: requested cost charged up front, the rest refunded); the sync runs in worker processes of their own (\`runSync\` with SHOPIFY_SYNC_API=graphql, the BullMQ job's function, its GraphQL client built as the service builds it and wrapped to record each query's requested and actual cost), into empty tables each time. Pages hold as many products as keep a query's requested cost ≤ 1,000 with 10 variants each asked for.`,
          `Bucket off: after a 4-page warm-up sync, fetch only, upsert only and the sync run one after another in the same process. Bucket on: Shopify's Standard plan (${count(STANDARD.maximumAvailable)} points restoring ${STANDARD.restoreRate}/s), sped up ${scale.toFixed(1)}× so the walk takes about ${limitedSeconds} s and spends at most 0.6 × the points per second of the unlimited sync; the service's limiter learns the bucket from each answer's throttleStatus. Each limited run starts with a full bucket and empty limiter state, in a freshly booted worker process (a third one for the customers walk).`,
          "The time the bucket allows: (Σ actual cost of every query but the last + the last one's requested cost − bucket maximum) ÷ restore rate — Shopify needs the requested cost in the bucket before it runs a query and refunds the unspent part after it, so a perfect client pays each query's actual cost in restore time and waits for one requested cost in full (with two walks, the smaller of their last queries' unspent parts). Work after the last answer (last page's write, the deletion sweep) is not in it.",
          `REST: the same store and sync (SHOPIFY_SYNC_API=rest), the mock's request bucket at Standard's shape (${REST_STANDARD.size}, ${REST_STANDARD.leakPerSecond}/s) with the same speed-up and the service's request limiter set alike. Memory: VmRSS sampled every 200 ms, peak = VmHWM reset when the sync starts. Each figure is one run.`,
        ],
        figures,
        limits,
        findings: [],
      };
    } finally {
      await Promise.allSettled([...runners.map((r) => r.stop()), mock?.stop()]);
      await bench.cleanup();
    }
  },
};
