/**
 * `npm run bench` / `make bench`: the benchmark suite against the machine's MariaDB/MySQL and Redis and
 * the mock Shopify, every figure next to its baseline from the same run. Writes docs/benchmarks.md.
 *
 *   --quick (or QUICK=1)   smaller sizes, well under a minute; does not touch docs/benchmarks.md unless --out is given
 *   --only ingest,reads    run some benchmarks only
 *   --out <file>           where to write the report (default docs/benchmarks.md for a full run)
 *   --update               with --only: rewrite docs/benchmarks.md (or --out) with the sections of the benchmarks
 *                          run, keeping every other section as it is (e.g. `--only graphql-sync --update`)
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { withTimeout } from '../../src/platform/timeout.js';
import { applyBenchmark } from './apply.js';
import { bulkSyncBenchmark } from './bulk-sync.js';
import { graphqlSyncBenchmark } from './graphql-sync.js';
import { ingestBenchmark } from './ingest.js';
import { outboundBenchmark } from './outbound.js';
import { compileForBenchmarks } from './lib/build.js';
import { stopAllChildren, useCompiledChildren } from './lib/child.js';
import { assertLoopback, cleanupAll, sweepStaleRuns } from './lib/infra.js';
import { machineInfo } from './lib/machine.js';
import { mergeReport, renderReport } from './lib/report.js';
import { printResult } from './lib/print.js';
import type { Benchmark, BenchResult } from './lib/types.js';
import { readsBenchmark } from './reads.js';
import { syncBenchmark } from './sync.js';

const BENCHMARKS: Benchmark[] = [readsBenchmark, ingestBenchmark, applyBenchmark, syncBenchmark, graphqlSyncBenchmark, bulkSyncBenchmark, outboundBenchmark];
/** A benchmark that runs longer than this (unless it sets its own) is stopped (its processes, database and keys removed). */
const TIMEOUT_MS = { quick: 60_000, full: 300_000 };

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: /^(1|true|yes)$/i.test(process.env.QUICK ?? '') },
    only: { type: 'string' },
    out: { type: 'string' },
    update: { type: 'boolean', default: false },
  },
});
const quick = values.quick ?? false;
const only = values.only ? new Set(values.only.split(',').map((s) => s.trim())) : undefined;
const selected = BENCHMARKS.filter((b) => !only || only.has(b.id));
if (selected.length === 0) {
  console.error(`no benchmark matches --only ${values.only}; known: ${BENCHMARKS.map((b) => b.id).join(', ')}`);
  process.exit(2);
}
const DEFAULT_OUT = path.resolve(import.meta.dirname, '../../docs/benchmarks.md');
const update = Boolean(values.update && only);
const out = values.out ?? (update || !(quick || only) ? DEFAULT_OUT : undefined);

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\n${signal}: stopping benchmark processes and removing benchmark databases and keys…`);
    void Promise.allSettled([stopAllChildren(), cleanupAll()]).finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  assertLoopback();
  for (const leftover of await sweepStaleRuns()) console.log(`removed a leftover of a benchmark run that was killed: ${leftover}`);
  const started = new Date();
  const machine = await machineInfo();
  console.log(
    `Benchmarks (${quick ? 'QUICK' : 'full'}) on ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGb} GB; node ${machine.versions.node}, ${machine.versions.mysql}, Redis ${machine.versions.redis}`,
  );
  console.log(`Load average before the run: ${machine.loadAverage.join(' / ')} (other work on the machine counts against every figure; each baseline runs under the same conditions)\n`);

  const build = compileForBenchmarks((message) => console.log(message));
  useCompiledChildren(build.dir);
  if (build.seconds > 0) console.log(`compiled in ${Math.round(build.seconds)} s\n`);

  const results: BenchResult[] = [];
  const failures: string[] = [];
  for (const bench of selected) {
    const t0 = performance.now();
    console.log(`▶ ${bench.title}`);
    const log = (message: string) => console.log(`  ${bench.id}: ${message}`);
    const timeoutMs = (bench.timeoutMs ?? TIMEOUT_MS)[quick ? 'quick' : 'full'];
    try {
      const result = await withTimeout(bench.run({ quick, log }), timeoutMs, `${bench.title} did not finish within ${timeoutMs / 1000} s`);
      const full: BenchResult = { id: bench.id, title: bench.title, ...result, seconds: (performance.now() - t0) / 1000 };
      results.push(full);
      printResult(full);
    } catch (error) {
      failures.push(`${bench.title}: ${(error as Error)?.stack ?? error}`);
      console.error(`✗ ${bench.title} failed: ${(error as Error)?.stack ?? error}\n`);
      await Promise.allSettled([stopAllChildren(), cleanupAll()]);
    }
  }

  const totalSeconds = (Date.now() - started.getTime()) / 1000;
  console.log(`Done in ${Math.round(totalSeconds)} s.`);
  if (out && update && failures.length > 0) {
    console.log(`${path.relative(process.cwd(), out)} left as it is: a benchmark failed.`);
  } else if (out) {
    const report = renderReport({ quick, machine, results, failures, startedAt: started, totalSeconds, command: commandLine() });
    const merged =
      update && existsSync(out)
        ? mergeReport(
            readFileSync(out, 'utf8'),
            report,
            { machine, startedAt: started, command: commandLine(), quick },
            BENCHMARKS.map((b) => b.title),
          )
        : report;
    writeFileSync(out, merged);
    console.log(`Report written to ${path.relative(process.cwd(), out)}${update ? ` (sections updated: ${results.map((r) => r.title).join(', ')})` : ''}`);
  } else if (quick) {
    console.log('QUICK run: docs/benchmarks.md left as it is (pass --out <file> to write a report).');
  }
  if (failures.length > 0) process.exitCode = 1;
}

function commandLine(): string {
  return `make bench${quick ? ' QUICK=1' : ''}${only ? ` (npm run bench -- ${quick ? '--quick ' : ''}--only ${[...only].join(',')}${update ? ' --update' : ''})` : ''}`;
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(async () => {
    await Promise.allSettled([stopAllChildren(), cleanupAll()]);
    // Autocannon's and the pools' timers must not keep a finished run alive.
    setTimeout(() => process.exit(), 200).unref();
  });
