import { randomUUID } from 'node:crypto';
import { signWebhookBody } from '../../src/shopify/hmac.js';
import { webhookKeys } from '../../src/webhooks/stream.js';
import { childScript, startChild, type BenchChild } from './lib/child.js';
import { runLoad, type LoadResult } from './lib/http-load.js';
import { BENCH_APP_SECRET, BENCH_REDIS_URL, createBenchEnv, seedIntegration } from './lib/infra.js';
import { productBodyOfSize } from './lib/payloads.js';
import { CLK_TCK, cpuWindow, describeCpu, servicePids } from './lib/procfs.js';
import { describeProfile, profileWindow } from './lib/profile.js';
import { format, measured, median } from './lib/stats.js';
import type { Benchmark, BenchOptions, CpuShares, Figure } from './lib/types.js';
import { ratioOf } from './lib/types.js';

const SHOP = 'bench-ingest.myshopify.com';
const SIZES = [1024, 16 * 1024];
const CONNECTIONS = 10;
const RATE = 1000;
const RATE_CONNECTIONS = 10;

type Server = 'bare' | 'floor' | 'api';
const LABELS: Record<Server, string> = {
  bare: 'bare Express 5 POST handler',
  floor: 'bare Express 5 handler + one XADD of the body',
  api: 'the API',
};
const SCRIPTS: Record<Server, string> = { bare: 'bare-express', floor: 'bare-xadd', api: 'api-server' };

/**
 * Webhook ingest (HMAC → XADD → 200) through the real API process, against a bare Express 5 POST handler
 * reading the same raw body: closed-loop req/s and latency at 1 KB and 16 KB, then latency at a fixed
 * 1,000 req/s. The full run adds the floor of any ingest that stores before it acknowledges (the bare
 * handler plus one XADD of the body), which splits the gap into what the store costs and what the
 * service's own checks cost. Servers run side by side in child processes; runs alternate between them.
 */
export const ingestBenchmark: Benchmark = {
  id: 'ingest',
  title: 'Webhook ingest',
  async run(opts: BenchOptions) {
    const seconds = opts.quick ? 1 : 3;
    const reps = opts.quick ? 1 : 4;
    const rateSeconds = opts.quick ? 1 : 5;
    const servers: Server[] = opts.quick ? ['bare', 'api'] : ['bare', 'floor', 'api'];
    const bareStarting = startChild<{ port: number }>('bare-express', childScript('bare-express'));
    bareStarting.catch(() => undefined);
    const bench = await createBenchEnv('ingest', { WEBHOOK_STREAM_MAXLEN: '10000' });
    const stream = webhookKeys(bench.ctx).stream;
    const children: Partial<Record<Server, BenchChild<{ port: number }>>> = {};
    try {
      await seedIntegration(bench.ctx, 'bench-ingest', SHOP);
      const started = await Promise.all(servers.map((s) => (s === 'bare' ? bareStarting : startChild<{ port: number }>(s, childScript(SCRIPTS[s]), { env: bench.env }))));
      servers.forEach((s, i) => {
        children[s] = started[i];
      });
      const urlOf = (s: Server) => `http://127.0.0.1:${(children[s] as BenchChild<{ port: number }>).ready.port}${s === 'api' ? '/api/shopify/webhook/' : '/webhook'}`;
      const pids = { ...servicePids(new URL(BENCH_REDIS_URL).port || '6379'), runner: process.pid };
      const load = async (s: Server, body: Buffer, extra: { duration: number; overallRate?: number; connections?: number }) => {
        const result = await runLoad({ url: urlOf(s), method: 'POST', headers: headersFor(body), body, connections: extra.connections ?? CONNECTIONS, ...extra });
        if (s !== 'bare') await bench.ctx.redis.del(stream);
        return result;
      };

      opts.log(`warming up ${servers.join(', ')}`);
      for (const s of servers) await load(s, productBodyOfSize(SIZES[0] as number), { duration: opts.quick ? 0.5 : 1.5 });

      const figures: Figure[] = [];
      const limits: string[] = [];
      const findings: string[] = [];
      const non2xx: string[] = [];
      for (const size of SIZES) {
        const body = productBodyOfSize(size);
        const runs = Object.fromEntries(servers.map((s) => [s, [] as LoadResult[]])) as Record<Server, LoadResult[]>;
        const cpuPerRequest = Object.fromEntries(servers.map((s) => [s, [] as number[]])) as Record<Server, number[]>;
        let apiCpu: CpuShares | undefined;
        for (let rep = 0; rep < reps; rep++) {
          for (const s of rep % 2 === 0 ? servers : [...servers].reverse()) {
            const child = children[s] as BenchChild;
            const window = cpuWindow({ ...pids, [s]: child.pid });
            const ticks = child.cpuTicks();
            const r = await load(s, body, { duration: seconds });
            const shares = window();
            if (s === 'api') apiCpu = shares;
            cpuPerRequest[s].push(((child.cpuTicks() - ticks) / CLK_TCK / Math.max(1, r.ok)) * 1e6);
            runs[s].push(r);
            if (r.non2xx + r.errors > 0) non2xx.push(`${s} ${kb(size)}: ${JSON.stringify(r.statusCodes)}, ${r.errors} errors`);
          }
        }
        const rps = Object.fromEntries(servers.map((s) => [s, measured(runs[s].map((r) => r.rps))])) as Record<Server, ReturnType<typeof measured>>;
        opts.log(`${kb(size)}: ${servers.map((s) => `${s} ${Math.round(rps[s].median)} req/s`).join(', ')}`);
        const ratio = ratioOf(rps.api, rps.bare);
        figures.push({
          name: `Ingest throughput, ${kb(size)} body (${CONNECTIONS} connections)`,
          unit: 'req/s',
          better: 'higher',
          value: rps.api,
          baseline: { name: LABELS.bare, value: rps.bare },
          ratio,
          target: { text: '≥ 0.80 × bare', met: ratio >= 0.8 },
        });
        if (servers.includes('floor')) {
          figures.push({
            name: `Ingest throughput, ${kb(size)}, next to the floor of a store-then-acknowledge ingest`,
            unit: 'req/s',
            better: 'higher',
            value: rps.api,
            baseline: { name: LABELS.floor, value: rps.floor },
            ratio: ratioOf(rps.api, rps.floor),
          });
          figures.push({
            name: `Floor throughput, ${kb(size)} (${LABELS.floor})`,
            unit: 'req/s',
            better: 'higher',
            value: rps.floor,
            baseline: { name: LABELS.bare, value: rps.bare },
            ratio: ratioOf(rps.floor, rps.bare),
          });
        }
        for (const q of ['p50', 'p99'] as const) {
          const v = measured(runs.api.map((r) => r[q]));
          const b = measured(runs.bare.map((r) => r[q]));
          figures.push({ name: `Ingest ${q} latency, ${kb(size)}, closed loop`, unit: 'ms', better: 'lower', value: v, baseline: { name: 'bare Express 5', value: b }, ratio: ratioOf(v, b) });
        }
        const perRequest = servers.map((s) => `${s} ${format(median(cpuPerRequest[s]))} µs`).join(', ');
        limits.push(
          `${kb(size)}, closed loop: CPU time of the server process per request (median of the runs): ${perRequest}. During the API's last run, CPU in % of one core: ${apiCpu ? describeCpu(apiCpu) : 'n/a'}. ${explain(apiCpu)}`,
        );
        if (ratio < 0.8 && servers.includes('floor')) {
          const us = (sv: Server) => median(cpuPerRequest[sv]);
          const storeUs = us('floor') - us('bare');
          const storeCost =
            storeUs > 5
              ? `costs ${format(storeUs)} µs of server CPU per request (a loopback socket write of the body and a read, on the cores the load generator and Redis share)`
              : 'costs no measurable server CPU per request (the XADDs of requests handled in the same event-loop turn leave in one socket write)';
          findings.push(
            `${kb(size)}: storing the body before answering (one XADD, nothing else) takes the bare handler to ${format(ratioOf(rps.floor, rps.bare))}× and ${storeCost}; the service's own work on top of that floor (request id, request metrics, header checks, HMAC, JSON check, envelope, ingest counter) costs ${format(us('api') - us('floor'))} µs more and leaves the API at ${format(ratioOf(rps.api, rps.floor))}× the floor.`,
          );
        }
        if (ratio < 0.8 && !opts.quick) {
          opts.log(`throughput below target at ${kb(size)}: profiling the API process under the same load`);
          const summary = await profileWindow(children.api as BenchChild, () => load('api', body, { duration: seconds }));
          findings.push(...describeProfile(summary, `API at ${kb(size)}:`));
        }
      }

      for (const size of SIZES) {
        const body = productBodyOfSize(size);
        const paced: Partial<Record<Server, LoadResult>> = {};
        for (const s of ['bare', 'api'] as const) paced[s] = await load(s, body, { duration: rateSeconds, overallRate: RATE, connections: RATE_CONNECTIONS });
        const v = measured([paced.api?.p99 ?? NaN]);
        const b = measured([paced.bare?.p99 ?? NaN]);
        figures.push({
          name: `Ingest p99 latency at ${RATE.toLocaleString('en-US')} req/s, ${kb(size)} (achieved ${Math.round(paced.api?.rps ?? 0)} req/s)`,
          unit: 'ms',
          better: 'lower',
          value: v,
          baseline: { name: 'bare Express 5 at the same rate', value: b },
          ratio: ratioOf(v, b),
          target: { text: '≤ 25 ms', met: v.median <= 25 },
        });
      }
      if (non2xx.length > 0) limits.push(`Non-2xx answers or errors during load: ${non2xx.join('; ')}`);
      return {
        setup: [
          `Real API process (NODE_ENV=production, LOG_LEVEL=warn) vs a bare Express 5 app with the same \`express.raw\` body parser${servers.includes('floor') ? ", and the same bare app that first appends the body to a capped Redis stream with one XADD through the service's Redis client (children/bare-xadd.ts)" : ''}, each in its own child process; autocannon in the runner process, ${CONNECTIONS} connections, pipelining 1.`,
          `Closed loop: ${reps} run(s) × ${seconds} s per server and body size, alternating servers; figures are medians, ± the half-range of the runs.`,
          `Fixed rate: autocannon \`overallRate\` ${RATE} req/s over ${RATE_CONNECTIONS} connections for ${rateSeconds} s, one run per server (autocannon sends each connection's share of a second back to back, then waits for the next second).`,
          'Body: a `products/update` payload padded to exactly 1,024 / 16,384 bytes, signed with the app secret; the stream is capped (WEBHOOK_STREAM_MAXLEN=10000) and emptied after each run.',
        ],
        figures,
        limits,
        findings,
      };
    } finally {
      await Promise.allSettled(Object.values(children).map((c) => c.stop()));
      await bench.cleanup();
    }
  },
};

function kb(bytes: number): string {
  return `${bytes / 1024} KB`;
}

function headersFor(body: Buffer): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-shopify-topic': 'products/update',
    'x-shopify-hmac-sha256': signWebhookBody(body, BENCH_APP_SECRET),
    'x-shopify-shop-domain': SHOP,
    'x-shopify-api-version': '2026-10',
    'x-shopify-webhook-id': randomUUID(),
    'x-shopify-event-id': randomUUID(),
    'x-shopify-triggered-at': new Date().toISOString(),
  };
}

function explain(shares: CpuShares | undefined): string {
  if (!shares) return '';
  if ((shares.api ?? 0) >= 85) return 'The API process is CPU-bound on its one thread (HTTP parsing, middleware, HMAC and the Redis client share one event loop).';
  if ((shares.idle ?? 100) < 15) return `The machine's cores are saturated (load generator, server, Redis${(shares.other ?? 0) > 10 ? ' and other work on the machine' : ''}).`;
  return '';
}
