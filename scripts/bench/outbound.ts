import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { createApiKey } from '../../src/store/api-keys.js';
import { alternateDrains, type ApplyArm, type ApplyRuns } from './lib/apply-ab.js';
import { baselineTree, type BaselineTree } from './lib/baseline.js';
import { childScript, startChild, type BenchChild } from './lib/child.js';
import { BENCH_APP_SECRET, BENCH_REDIS_URL, createBenchEnv, seedIntegration, type BenchEnv } from './lib/infra.js';
import { sendAtRate, signWebhooks, wallClockMs } from './lib/paced-webhooks.js';
import { eventStream, type BenchEvent } from './lib/payloads.js';
import { cpuWindow, describeCpu, servicePids } from './lib/procfs.js';
import { collectArrivals, type Arrival, type Receiver, type Taken } from './lib/receiver.js';
import { format, measured, median, percentile, perSecond, rateOf, single, type Measured } from './lib/stats.js';
import { backlogKeys, loadBacklog, releaseBacklog, untilStreamEmpty, type BacklogOwner } from './lib/stream-backlog.js';
import type { Benchmark, BenchOptions, CpuShares, Figure } from './lib/types.js';

const SHOP = 'bench-outbound.myshopify.com';
const TENANT = 'bench-outbound';
/** Changes per second sent to the API during the latency window. */
const RATE = 500;
/** The baseline of the A/B is the revision before this file was added. */
const OUTBOX_MIGRATION = 'migrations/0014_change_events.ts';
/** The receiver checks the signature of one delivery in this many. */
const VERIFY_EVERY = 10;
/** No new arrival for this long ends a wait for deliveries (longer than the first retry's 5 s). */
const QUIET_MS = 10_000;
/** The longest wait for the deliveries of one phase. */
const CAP_MS = 1_200_000;

interface Latency {
  sent: number;
  latencies: number[];
  ingest: number[];
  achievedRate: number;
  senderLagMs: number;
  failures: Record<string, number>;
  superseded: number;
  missing: number;
  /** Deliveries of other changes, by event type. */
  others: Record<string, number>;
  stages: { name: string; ms: number[]; slowest: number[] }[];
  failedAttempts: Record<string, number>;
  cpu: CpuShares;
}

interface Throughput {
  backlog: number;
  applyRate: Measured;
  deliveryRate: Measured;
  applySeconds: number;
  deliverySeconds: number;
  events: number;
  received: number;
  duplicates: number;
  missing: number;
  verified: number;
  /** Checked deliveries that failed verification (or were not JSON), and the first few reasons. */
  badSignatures: number;
  badSignatureSamples: string[];
  /** Median duration of one HTTP attempt, as the worker recorded it. */
  attemptMs: number;
  failedAttempts: Record<string, number>;
  cpu: CpuShares;
}

/**
 * Outbound webhooks end to end: Shopify webhooks POSTed to the real API at a steady 500 changes/s, applied
 * by a worker process running what the service's worker runs, delivered to a local receiver registered as
 * the tenant's endpoint (latency from send to arrival); a backlog applied and delivered (throughput, each
 * event exactly once); and the apply rate with the outbox against the revision before it (same-run A/B).
 */
export const outboundBenchmark: Benchmark = {
  id: 'outbound',
  title: 'Outbound webhooks',
  timeoutMs: { quick: 900_000, full: 3_600_000 },
  async run(opts: BenchOptions) {
    const size = opts.quick ? { warmS: 3, windowS: 15, backlog: 5_000, pairs: 2 } : { warmS: 5, windowS: 60, backlog: 20_000, pairs: 3 };
    const baseline = baselineTree(OUTBOX_MIGRATION, opts.log);
    if (baseline.seconds > 0) opts.log(`baseline ${baseline.commit.slice(0, 10)} compiled in ${Math.round(baseline.seconds)} s`);
    const bench = await createBenchEnv('outbound', { OUTBOUND_ALLOW_PRIVATE_TARGETS: 'true' });
    const children: BenchChild[] = [];
    try {
      const integration = await seedIntegration(bench.ctx, TENANT, SHOP);
      const owner: BacklogOwner = { shop: SHOP, tenantId: TENANT, integrationId: integration.id };
      const [api, worker, receiver] = await Promise.all([
        startChild<{ port: number }>('api', childScript('api-server'), { env: bench.env }),
        startChild('worker', childScript('outbound-worker'), { env: bench.env }),
        startChild<{ port: number }>('receiver', childScript('webhook-receiver')),
      ]);
      children.push(api, worker, receiver);
      const secret = await registerEndpoint(bench, api.ready.port, receiver.ready.port);
      await receiver.call('configure', { secret, every: VERIFY_EVERY });
      const pids = { ...servicePids(new URL(BENCH_REDIS_URL).port || '6379'), api: api.pid, worker: worker.pid, receiver: receiver.pid, runner: process.pid };

      opts.log(`latency: ${RATE} changes/s for ${size.warmS} s (warm-up) + ${size.windowS} s`);
      const latency = await measureLatency(bench, api, worker, receiver, pids, size);
      opts.log(`latency: p50 ${format(percentile(latency.latencies, 50))} ms, p99 ${format(percentile(latency.latencies, 99))} ms over ${latency.latencies.length} changes`);

      opts.log(`throughput: a backlog of ${size.backlog.toLocaleString('en-US')} changes`);
      const events = eventStream(size.backlog);
      const throughput = await measureThroughput(bench, worker, receiver, pids, events, owner);
      opts.log(`throughput: applied ${Math.round(throughput.applyRate.median)} changes/s, delivered ${Math.round(throughput.deliveryRate.median)} deliveries/s`);
      await Promise.allSettled(children.splice(0).map((c) => c.stop()));

      opts.log(`outbox cost: ${size.pairs} × (with the outbox, ${baseline.commit.slice(0, 10)} before it)`);
      const [withOutbox, before] = (await measureOutboxCost(bench, baseline, events, owner, size.pairs, opts.log)) as [ApplyRuns, ApplyRuns];
      return report(bench.ctx.config, size, latency, throughput, withOutbox, before, baseline);
    } finally {
      await Promise.allSettled(children.map((c) => c.stop()));
      await bench.cleanup();
    }
  },
};

/** The tenant's endpoint, registered through the API as an integrator would; answers its signing secret. */
async function registerEndpoint(bench: BenchEnv, apiPort: number, receiverPort: number): Promise<string> {
  const { key } = await createApiKey(bench.ctx.db, TENANT, 'outbound benchmark');
  const res = await fetch(`http://127.0.0.1:${apiPort}/api/webhook-endpoints/`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ url: `http://127.0.0.1:${receiverPort}/hooks`, description: 'benchmark receiver' }),
  });
  const body = (await res.json()) as { secret?: string };
  if (res.status !== 201 || !body.secret) throw new Error(`registering the endpoint answered ${res.status}: ${JSON.stringify(body)}`);
  return body.secret;
}

const tally = (values: string[]) => values.reduce<Record<string, number>>((counts, v) => ({ ...counts, [v]: (counts[v] ?? 0) + 1 }), {});

/** `resource:record_id` and `updated_at` of a change key. */
function splitChange(change: string): [string, string] {
  const parts = change.split(':');
  return [parts.slice(0, 2).join(':'), parts.slice(2).join(':')];
}

async function measureLatency(
  bench: BenchEnv,
  api: Receiver,
  worker: BenchChild,
  receiver: Receiver,
  pids: Record<string, number | undefined>,
  size: { warmS: number; windowS: number },
): Promise<Latency> {
  const warmCount = RATE * size.warmS;
  const webhooks = signWebhooks(eventStream(RATE * (size.warmS + size.windowS))(), SHOP, BENCH_APP_SECRET);
  const warm = webhooks.slice(0, warmCount);
  const window = webhooks.slice(warmCount);
  const url = `http://127.0.0.1:${api.ready.port}/api/shopify/webhook/`;
  const arrivedOf = (changes: Set<string>) => (all: Arrival[]) => all.filter((a) => a.change !== null && changes.has(a.change)).length >= changes.size;
  await worker.call('workers:start');
  try {
    // Warm-up (JIT, pools and connections of every process): its deliveries are waited for and dropped.
    await sendAtRate(url, warm, RATE);
    await collectArrivals(receiver, arrivedOf(new Set(warm.map((w) => w.change))), { quietMs: QUIET_MS, capMs: CAP_MS });

    const cpu = cpuWindow(pids);
    const sent = await sendAtRate(url, window, RATE);
    const shares = cpu();
    const indexOf = new Map(window.map((w, i) => [w.change, i]));
    const arrivals = await collectArrivals(receiver, arrivedOf(new Set(indexOf.keys())), { quietMs: QUIET_MS, capMs: CAP_MS });

    const delivered = new Map<string, { a: Arrival; sentAt: number }>();
    for (const a of arrivals) {
      if (a.change === null || delivered.has(a.change) || !indexOf.has(a.change)) continue;
      delivered.set(a.change, { a, sentAt: sent.sentAt[indexOf.get(a.change) as number] as number });
    }
    // A change not delivered is superseded when a later version of its record was (versions applied in one
    // batch are announced as the last one), else missing.
    const newest = new Map<string, string>();
    for (const a of arrivals) {
      if (a.change === null) continue;
      const [record, updatedAt] = splitChange(a.change);
      if ((newest.get(record) ?? '') < updatedAt) newest.set(record, updatedAt);
    }
    const undelivered = [...indexOf.keys()].filter((c) => !delivered.has(c));
    const superseded = undelivered.filter((c) => (newest.get(splitChange(c)[0]) ?? '') > splitChange(c)[1]).length;
    return {
      sent: window.length,
      latencies: [...delivered.values()].map((d) => d.a.at - d.sentAt),
      ingest: [...sent.answeredMs].filter(Number.isFinite),
      achievedRate: sent.achievedRate,
      senderLagMs: sent.maxLagMs,
      failures: sent.failures,
      superseded,
      missing: undelivered.length - superseded,
      others: tally(arrivals.filter((a) => a.change === null || !indexOf.has(a.change)).map((a) => a.type)),
      stages: await stagesOf(bench, [...delivered.values()]),
      failedAttempts: await failedAttempts(bench),
      cpu: shares,
    };
  } finally {
    await worker.call('workers:stop');
  }
}

/**
 * Where the time went, per delivered change, from the rows the pipeline wrote: sent → outbox row written in
 * the apply transaction (`occurred_at`, MariaDB's clock) → delivery created by the dispatcher (after the
 * commit, the sequencer and the dispatcher's poll) → first attempt started (the job picked up) → arrival.
 * `slowest`: the same stages, medians over the changes at or above the p99 latency.
 */
async function stagesOf(bench: BenchEnv, delivered: { a: Arrival; sentAt: number }[]): Promise<Latency['stages']> {
  const rows = await bench.ctx.db
    .selectFrom('change_events as e')
    .innerJoin('webhook_deliveries as d', 'd.event_id', 'e.id')
    .leftJoin('webhook_delivery_attempts as t', (join) => join.onRef('t.delivery_id', '=', 'd.id').on('t.attempt', '=', 1))
    .select(['e.id', 'e.occurred_at', 'd.created_at', 't.attempted_at'])
    .where('e.tenant_id', '=', TENANT)
    .execute();
  const byEvent = new Map(rows.map((r) => [`evt_${r.id}`, r]));
  const names = ['ingest + apply (sent → outbox row)', 'commit + sequencer + dispatcher (→ delivery row)', 'queue (→ first attempt)', 'attempt (→ arrival)'];
  const spans = delivered.flatMap(({ a, sentAt }) => {
    const r = byEvent.get(a.eventId);
    if (!r?.attempted_at) return [];
    const marks = [sentAt, r.occurred_at.getTime(), r.created_at.getTime(), r.attempted_at.getTime(), a.at];
    return [{ total: a.at - sentAt, parts: names.map((_, i) => (marks[i + 1] as number) - (marks[i] as number)) }];
  });
  const p99 = percentile(
    spans.map((s) => s.total),
    99,
  );
  const slow = spans.filter((s) => s.total >= p99);
  return names.map((name, i) => ({ name, ms: spans.map((s) => s.parts[i] as number), slowest: slow.map((s) => s.parts[i] as number) }));
}

/** Attempts that failed (each retried later), by their error. */
async function failedAttempts(bench: BenchEnv): Promise<Record<string, number>> {
  const rows = await bench.ctx.db.selectFrom('webhook_delivery_attempts').select('error').where('ok', '=', 0).execute();
  return tally(rows.map((r) => (r.error ?? 'failed').slice(0, 120)));
}

async function unsequencedEvents(bench: BenchEnv): Promise<number> {
  const row = await bench.ctx.db
    .selectFrom('change_events')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('position', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

async function measureThroughput(
  bench: BenchEnv,
  worker: BenchChild,
  receiver: Receiver,
  pids: Record<string, number | undefined>,
  events: () => Generator<BenchEvent>,
  owner: BacklogOwner,
): Promise<Throughput> {
  await resetOutboundData(bench);
  await receiver.call('reset');
  const backlog = await loadBacklog(bench.ctx, events(), owner);
  await worker.call('workers:start');
  try {
    await sleep(300);
    const cpu = cpuWindow(pids);
    const t0 = wallClockMs();
    await releaseBacklog(bench.ctx);
    const left: { at: number; left: number }[] = [];
    let appliedAt = 0;
    const applying = untilStreamEmpty(bench.ctx, 600_000, (n) => left.push({ at: wallClockMs(), left: n })).then(() => void (appliedAt = wallClockMs()));
    applying.catch(() => undefined);
    const eventIds = new Set<string>();
    let seen = 0;
    let expected: number | undefined;
    const arrivals = await collectArrivals(
      receiver,
      async (all) => {
        for (; seen < all.length; seen++) eventIds.add((all[seen] as Arrival).eventId);
        if (!appliedAt) return false;
        // Every event of the backlog is in the outbox once the stream is empty; their number once all are sequenced.
        if (expected === undefined && (await unsequencedEvents(bench)) === 0) expected = (await eventIdsOfTenant(bench)).size;
        return expected !== undefined && eventIds.size >= expected;
      },
      { quietMs: QUIET_MS, capMs: CAP_MS, settled: () => appliedAt > 0 },
    );
    const shares = cpu();
    await applying;
    const inDb = await eventIdsOfTenant(bench);
    const stats = await receiver.call<Taken>('take');
    const lastAt = Math.max(...arrivals.map((a) => a.at));
    const received = new Set(arrivals.map((a) => a.eventId));
    return {
      backlog,
      applyRate: rateOf(
        backlog,
        (appliedAt - t0) / 1000,
        perSecond(
          left.map((l) => ({ at: l.at, done: backlog - l.left })),
          t0,
        ),
      ),
      deliveryRate: rateOf(
        arrivals.length,
        (lastAt - t0) / 1000,
        perSecond(
          arrivals.map((a, i) => ({ at: a.at, done: i + 1 })),
          t0,
        ),
      ),
      applySeconds: (appliedAt - t0) / 1000,
      deliverySeconds: (lastAt - t0) / 1000,
      events: inDb.size,
      received: arrivals.length,
      duplicates: arrivals.length - new Set(arrivals.map((a) => a.webhookId)).size,
      missing: [...inDb].filter((id) => !received.has(id)).length,
      verified: stats.verified,
      badSignatures: stats.failed,
      badSignatureSamples: stats.failures,
      attemptMs: median((await bench.ctx.db.selectFrom('webhook_delivery_attempts').select('duration_ms').execute()).map((r) => Number(r.duration_ms))),
      failedAttempts: await failedAttempts(bench),
      cpu: shares,
    };
  } finally {
    await worker.call('workers:stop');
  }
}

async function eventIdsOfTenant(bench: BenchEnv): Promise<Set<string>> {
  const rows = await bench.ctx.db.selectFrom('change_events').select('id').where('tenant_id', '=', TENANT).execute();
  return new Set(rows.map((r) => `evt_${r.id}`));
}

async function resetOutboundData(bench: BenchEnv): Promise<void> {
  await bench.truncateData();
  for (const table of ['change_events', 'webhook_deliveries', 'webhook_delivery_attempts']) await sql`TRUNCATE TABLE ${sql.table(table)}`.execute(bench.ctx.db);
  await resetStream(bench);
}

async function resetStream(bench: BenchEnv): Promise<void> {
  const keys = backlogKeys(bench.ctx);
  await bench.ctx.redis.del([keys.stream, keys.deadLetters, keys.side]);
}

/**
 * The apply rate with the outbox (this tree's outbound-worker child: consumers + sequencer) and before it
 * (the baseline's webhook-worker child and migrations, a database of its own), the same backlog alternately.
 */
async function measureOutboxCost(
  bench: BenchEnv,
  baseline: BaselineTree,
  events: () => Generator<BenchEvent>,
  owner: BacklogOwner,
  pairs: number,
  log: (message: string) => void,
): Promise<ApplyRuns[]> {
  const base = await createBenchEnv('outboundbase', {}, { migrationsFolder: path.join(baseline.dir, 'migrations') });
  const started: BenchChild[] = [];
  try {
    const baseIntegration = await seedIntegration(base.ctx, TENANT, SHOP);
    const [withOutbox, before] = await Promise.all([
      startChild('worker-outbox', childScript('outbound-worker'), { env: bench.env }),
      startChild('worker-before', path.join(baseline.dir, 'scripts/bench/children/webhook-worker.js'), { env: base.env }),
    ]);
    started.push(withOutbox, before);
    const arms: ApplyArm[] = [
      {
        label: 'with the outbox',
        bench,
        child: withOutbox,
        owner,
        reset: () => resetOutboundData(bench),
        settle: async () => {
          while ((await unsequencedEvents(bench)) > 0) await sleep(20);
        },
      },
      { label: 'before the outbox', bench: base, child: before, owner: { ...owner, integrationId: baseIntegration.id }, reset: () => base.truncateData().then(() => resetStream(base)) },
    ];
    return await alternateDrains(arms, events, pairs, log);
  } finally {
    await Promise.allSettled(started.map((c) => c.stop()));
    await base.cleanup();
  }
}

const ms = (v: number) => `${format(v)} ms`;
const count = (v: number) => v.toLocaleString('en-US');

function report(
  config: BenchEnv['ctx']['config'],
  size: { warmS: number; windowS: number; backlog: number; pairs: number },
  latency: Latency,
  throughput: Throughput,
  withOutbox: ApplyRuns,
  before: ApplyRuns,
  baseline: BaselineTree,
) {
  const figures: Figure[] = [];
  const limits: string[] = [];
  const findings: string[] = [];
  const delivered = latency.latencies.length;
  const window = `${RATE} changes/s for ${size.windowS} s, ${count(delivered)} changes`;
  for (const p of [50, 95, 99] as const) {
    const value = single(percentile(latency.latencies, p));
    const ingest = single(percentile(latency.ingest, p));
    figures.push({
      name: `Webhook in → webhook out latency, p${p} (${window})`,
      unit: 'ms',
      better: 'lower',
      value,
      baseline: { name: `the webhook POST's own answer from the API, p${p}`, value: ingest },
      ratio: value.median / ingest.median,
      ...(p === 99 ? { target: { text: '< 1 s', met: value.median < 1000 } } : {}),
    });
  }
  figures.push({ name: `Webhook in → webhook out latency, max (${window})`, unit: 'ms', better: 'lower', value: single(Math.max(...latency.latencies)) });

  const ratio = throughput.deliveryRate.median / throughput.applyRate.median;
  figures.push({
    name: `Apply rate while delivering, ${count(throughput.backlog)}-change backlog, 1 worker process (${format(throughput.applySeconds)} s)`,
    unit: 'changes/s',
    better: 'higher',
    value: throughput.applyRate,
  });
  figures.push({
    name: `Deliveries to a local receiver, same backlog: ${count(throughput.received)} deliveries, the last ${format(throughput.deliverySeconds)} s after the backlog was released`,
    unit: 'deliveries/s',
    better: 'higher',
    value: throughput.deliveryRate,
    baseline: { name: 'the apply rate above, same run', value: throughput.applyRate, unit: 'changes/s' },
    ratio,
  });
  figures.push({
    name: `Events not delivered exactly once (by webhook-id): ${count(throughput.duplicates)} twice or more, ${count(throughput.missing)} never, of ${count(throughput.events)} change events`,
    unit: '',
    better: 'lower',
    value: single(throughput.duplicates + throughput.missing),
    target: { text: '0', met: throughput.duplicates + throughput.missing === 0 },
  });
  figures.push({
    name: `Signatures failing verification at the receiver (1 delivery in ${VERIFY_EVERY} checked: ${count(throughput.verified + throughput.badSignatures)})`,
    unit: '',
    better: 'lower',
    value: single(throughput.badSignatures),
    target: { text: '0', met: throughput.badSignatures === 0 },
  });

  const withRate = measured(withOutbox.rates);
  const beforeRate = measured(before.rates);
  const cost = 1 - withRate.median / beforeRate.median;
  figures.push({
    name: `Apply rate with the outbox, ${count(size.backlog)}-event backlog, 1 worker process, median of ${withOutbox.rates.length} runs — outbox cost ${format(cost * 100)} %`,
    unit: 'events/s',
    better: 'higher',
    value: withRate,
    baseline: { name: `the revision before the outbox (${baseline.commit.slice(0, 10)}), same backlog, median of ${before.rates.length} runs`, value: beforeRate },
    ratio: withRate.median / beforeRate.median,
    target: { text: 'cost ≤ 15 %', met: cost <= 0.15 },
  });

  const failures = Object.entries(latency.failures).map(([why, n]) => `${n} × ${why}`);
  const others = Object.entries(latency.others).map(([type, n]) => `${n} × ${type}`);
  const jobMs = (config.outbound.concurrency / throughput.deliveryRate.median) * 1000;
  limits.push(
    `Latency window: ${count(latency.sent)} webhooks sent at ${format(latency.achievedRate)}/s (no send more than ${ms(latency.senderLagMs)} behind its time)${failures.length > 0 ? `; answers not 2xx: ${failures.join(', ')}` : ', all answered 2xx'}. Of their changes ${count(delivered)} were delivered, ${count(latency.superseded)} superseded (a later version of the record applied in the same batch, announced once as that version), ${count(latency.missing)} missing${others.length > 0 ? `; other deliveries: ${others.join(', ')}` : ''}.`,
  );
  const stage = (pick: (s: Latency['stages'][number]) => number[]) => latency.stages.map((s) => `${s.name} ${ms(median(pick(s)))}`).join(', ');
  limits.push(`Where the time goes (medians per stage, from the rows the pipeline wrote): ${stage((s) => s.ms)}. The slowest 1 % (at or above p99): ${stage((s) => s.slowest)}.`);
  limits.push(`CPU during the latency window in % of one core: ${describeCpu(latency.cpu)}.`);
  const failedOf = (tallied: Record<string, number>) => {
    const entries = Object.entries(tallied).sort((a, b) => b[1] - a[1]);
    return entries.length === 0 ? 'none' : entries.map(([why, n]) => `${count(n)} × ${why}`).join('; ');
  };
  limits.push(`Failed attempts (each retried on the schedule): latency window ${failedOf(latency.failedAttempts)}; backlog ${failedOf(throughput.failedAttempts)}.`);
  limits.push(
    `Backlog: ${count(throughput.backlog)} webhooks gave ${count(throughput.events)} change events; the stream was empty after ${format(throughput.applySeconds)} s, the last delivery ${format(throughput.deliverySeconds - throughput.applySeconds)} s later; ${count(throughput.received)} deliveries received. CPU in % of one core: ${describeCpu(throughput.cpu)}.`,
  );
  const runs = withOutbox.rates.map((r, i) => `${Math.round(r)} / ${Math.round(before.rates[i] as number)}`).join(', ');
  limits.push(
    `Outbox A/B, events/s per pair (with / before, in run order): ${runs}. Per event, worker CPU ${format(median(withOutbox.workerCpuUs))} µs with the outbox against ${format(median(before.workerCpuUs))} µs before it, MariaDB CPU ${format(median(withOutbox.mysqlCpuUs))} µs against ${format(median(before.mysqlCpuUs))} µs; the sequencer had positioned every event ${ms(median(withOutbox.settleMs))} (median) after the stream emptied.`,
  );
  if (throughput.badSignatures > 0) limits.push(`Deliveries the receiver refused: ${throughput.badSignatureSamples.join('; ')}.`);
  if (latency.latencies.length > 0 && percentile(latency.latencies, 99) >= 1000) {
    const slowest = [...latency.stages].sort((a, b) => median(b.slowest) - median(a.slowest))[0];
    findings.push(`p99 ${ms(percentile(latency.latencies, 99))}: in the slowest 1 % the largest stage is ${slowest?.name} (median ${ms(median(slowest?.slowest ?? []))}).`);
    if (throughput.deliveryRate.median < RATE) {
      findings.push(
        `Deliveries ran at ${format(throughput.deliveryRate.median)}/s in the backlog run, below the ${RATE} changes/s arriving, so the queue grew for as long as the window lasted: with OUTBOUND_CONCURRENCY=${config.outbound.concurrency} jobs at once that is ${ms(jobMs)} per job, of which the HTTP attempt took ${ms(throughput.attemptMs)} (median); the rest is the job's own MySQL round trips (the delivery with whether an earlier one of its record is pending; the endpoint and the event; the outcome and the attempt in one transaction (one log flush); the record's next delivery) and BullMQ's, on cores shared with everything else (CPU above).`,
      );
    }
  }
  if (cost > 0.15) {
    findings.push(
      `The outbox adds ${format(median(withOutbox.workerCpuUs) - median(before.workerCpuUs))} µs of worker CPU and ${format(median(withOutbox.mysqlCpuUs) - median(before.mysqlCpuUs))} µs of MariaDB CPU per event: each applied batch reads its records back in their API shape (child rows included) and inserts a change_events row (the record's JSON) per changed record in the same transaction; the sequencer then updates every row once more.`,
    );
  }

  return {
    setup: [
      `Processes: the real API; one worker process running what src/main/workers.ts starts (webhook consumers: WEBHOOK_CONSUMERS=${config.webhooks.consumersPerProcess}, WEBHOOK_BATCH_SIZE=${config.webhooks.batchSize}; the sequencer every ${config.events.sequenceEveryMs} ms; the outbound dispatcher polling every ${config.outbound.pollMs} ms; OUTBOUND_CONCURRENCY=${config.outbound.concurrency} delivery jobs; the sync worker and retention, idle); a receiver (node:http on 127.0.0.1, answering 200 with no body) registered as the tenant's endpoint through POST /api/webhook-endpoints/ (OUTBOUND_ALLOW_PRIVATE_TARGETS=true for its http://127.0.0.1 URL). Each runs in a child process of its own.`,
      `Latency: the apply section's Shopify-shaped events (40 % products, 30 % orders, 30 % customers; every fourth updates an earlier record with a newer updated_at), signed with the app secret as Shopify signs them and POSTed to /api/shopify/webhook/ open loop at a steady ${RATE}/s over keep-alive connections (each request leaves at its time whether or not earlier ones were answered); ${size.warmS} s of warm-up (delivered, then dropped), then ${size.windowS} s measured. Latency per change = the receiver's arrival time (body complete) − the moment its POST was sent, matched by the delivered event's resource, record_id and updated_at; both are wall-clock times (performance.timeOrigin + performance.now()) of processes on this machine. Waiting for stragglers ends when every change arrived or none came for ${QUIET_MS / 1000} s. One run: each figure is a percentile of all the window's changes.`,
      `Throughput: ${count(size.backlog)} events placed in the stream (built under a side key, renamed into place, as the apply section), drained by the same worker process with the endpoint registered; applied = backlog ÷ time until the stream is empty; delivered = deliveries ÷ time from the rename to the last arrival (apply and delivery share the one process); "±" is the 10th–90th percentile of the per-second rates. The receiver checks the Standard Webhooks signature of every ${VERIFY_EVERY}th delivery with the endpoint's secret (the standardwebhooks library, which the SDK's verifyWebhook uses); exactly once = every change event of the tenant in MySQL arrived, none twice by webhook-id.`,
      `Outbox cost (same-run A/B): the same ${count(size.backlog)}-event backlog drained by one worker process with the outbox (this tree: webhook consumers, which write change events in their apply transaction, and the sequencer) and without it: the service before the outbox existed, commit ${baseline.commit.slice(0, 12)}: ${baseline.why}; checked out with \`git worktree add --detach\` into a temporary directory, given this repository's node_modules, compiled like the tree under test (the worktree is then removed), its webhook-worker child run against a database of its own migrated by its own migrations. Runs alternate (with, before) × ${size.pairs}, each into emptied tables; rate = backlog ÷ drain time (rename → stream empty); figures are each arm's median, "±" its half-range; cost = 1 − with ÷ before.`,
    ],
    figures,
    limits,
    findings,
  };
}
