import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchChild } from './child.js';
import { BENCH_REDIS_URL, type BenchEnv } from './infra.js';
import type { BenchEvent } from './payloads.js';
import { CLK_TCK, procCpuTicks, servicePids } from './procfs.js';
import { loadBacklog, releaseBacklog, untilStreamEmpty, type BacklogOwner } from './stream-backlog.js';

/**
 * A same-run A/B of the webhook apply rate: the same backlog drained by one worker process of each arm
 * (children answering `consumers:start` / `consumers:stop`, as children/webhook-worker.ts does in every
 * revision), the arms taking turns, each run into emptied tables.
 */

export interface ApplyArm {
  label: string;
  bench: BenchEnv;
  child: BenchChild;
  owner: BacklogOwner;
  /** Empties the arm's tables and stream before each run. */
  reset(): Promise<void>;
  /** Work the arm still does once the stream is empty (its duration is recorded, not timed in the rate). */
  settle?(): Promise<void>;
}

export interface ApplyRuns {
  /** Backlog ÷ drain time (the rename until the stream is empty), per run. */
  rates: number[];
  /** CPU time of the worker process and of MariaDB per event, µs, per run. */
  workerCpuUs: number[];
  mysqlCpuUs: number[];
  /** How long `settle` took after each drain, ms. */
  settleMs: number[];
}

/** `pairs` rounds of every arm in turn (A B A B …); the runs of each arm, in the arms' order. */
export async function alternateDrains(arms: ApplyArm[], events: () => Generator<BenchEvent>, pairs: number, log: (message: string) => void): Promise<ApplyRuns[]> {
  const runs = arms.map((): ApplyRuns => ({ rates: [], workerCpuUs: [], mysqlCpuUs: [], settleMs: [] }));
  for (let pair = 0; pair < pairs; pair++) {
    for (const [i, arm] of arms.entries()) {
      const run = runs[i] as ApplyRuns;
      await drainOnce(arm, events, run);
      log(`${arm.label}: ${Math.round(run.rates[run.rates.length - 1] as number)} events/s`);
    }
  }
  return runs;
}

async function drainOnce(arm: ApplyArm, events: () => Generator<BenchEvent>, run: ApplyRuns): Promise<void> {
  await arm.reset();
  const total = await loadBacklog(arm.bench.ctx, events(), arm.owner);
  await arm.child.call('consumers:start');
  try {
    // Let the first empty reads (own pending, claims, then a blocking read) settle, as the apply section does.
    await sleep(300);
    const mysql = servicePids(new URL(BENCH_REDIS_URL).port || '6379').mysql;
    const ticks = { worker: arm.child.cpuTicks(), mysql: mysql ? procCpuTicks(mysql) : 0 };
    const t0 = performance.now();
    await releaseBacklog(arm.bench.ctx);
    await untilStreamEmpty(arm.bench.ctx, 600_000);
    const seconds = (performance.now() - t0) / 1000;
    run.rates.push(total / seconds);
    run.workerCpuUs.push(((arm.child.cpuTicks() - ticks.worker) / CLK_TCK / total) * 1e6);
    if (mysql) run.mysqlCpuUs.push(((procCpuTicks(mysql) - ticks.mysql) / CLK_TCK / total) * 1e6);
    if (arm.settle) {
      const t1 = performance.now();
      await arm.settle();
      run.settleMs.push(performance.now() - t1);
    }
    const applied = await arm.bench.ctx.db
      .selectFrom('shopify_webhook_events')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    if (Number(applied.n) !== total) throw new Error(`${arm.label}: ${applied.n} of ${total} events recorded as applied`);
  } finally {
    await arm.child.call('consumers:stop');
  }
}
