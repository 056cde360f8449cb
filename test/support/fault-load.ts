/**
 * An open-loop load generator for webhook ingest: requests are offered at a fixed rate whatever the
 * server's latency (a slow server does not slow the sender down, as with Shopify), over keep-alive
 * connections. Each request is a distinct, signed event; which ones were acknowledged is recorded.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { signWebhookBody } from '../../src/shopify/hmac.js';
import { WEBHOOK_PATH } from './webhooks.js';

export interface LoadOptions {
  url: string;
  shop: string;
  secret: string;
  /** Requests per second offered. */
  rate: number;
  seconds: number;
  /** Requests in flight at most (beyond it the sender waits: the achieved rate says so). */
  maxInFlight?: number;
  /** The n-th event: topic and JSON body. */
  event: (n: number) => { topic: string; body: string };
  /** The n-th event's id (default: a new UUID); a redelivery keeps it, as Shopify's retries do. */
  eventId?: (n: number) => string;
  /** Which events to send (default 0 … rate × seconds − 1). */
  only?: number[];
}

export interface LoadResult {
  offered: number;
  acknowledged: number;
  /** Event ids answered 200. */
  acknowledgedIds: string[];
  /** Requests not acknowledged (no answer within 5 s, or not a 200): Shopify would send them again. */
  unacknowledged: { n: number; eventId: string }[];
  statuses: Record<string, number>;
  errors: number;
  seconds: number;
  achievedRate: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number;
}

export async function offerLoad(opts: LoadOptions): Promise<LoadResult> {
  const target = new URL(`${opts.url}${WEBHOOK_PATH}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.maxInFlight ?? 256 });
  const total = opts.only?.length ?? Math.round(opts.rate * opts.seconds);
  const latencies: number[] = [];
  const acknowledgedIds: string[] = [];
  const unacknowledged: { n: number; eventId: string }[] = [];
  const statuses: Record<string, number> = {};
  let errors = 0;
  let sent = 0;
  let inFlight = 0;
  let settled = 0;
  let allSettled: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (allSettled = resolve));

  const sendOne = (n: number) => {
    const { topic, body } = opts.event(n);
    const eventId = opts.eventId?.(n) ?? randomUUID();
    const payload = Buffer.from(body);
    const started = performance.now();
    inFlight++;
    const finish = (status: number | null) => {
      inFlight--;
      if (status !== 200) unacknowledged.push({ n, eventId });
      if (status === null) errors++;
      else {
        statuses[status] = (statuses[status] ?? 0) + 1;
        if (status === 200) {
          acknowledgedIds.push(eventId);
          latencies.push(performance.now() - started);
        }
      }
      if (++settled === total) allSettled();
    };
    const req = http.request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': payload.length,
          'x-shopify-topic': topic,
          'x-shopify-hmac-sha256': signWebhookBody(payload, opts.secret),
          'x-shopify-shop-domain': opts.shop,
          'x-shopify-event-id': eventId,
          'x-shopify-webhook-id': eventId,
          'x-shopify-api-version': '2026-10',
          'x-shopify-triggered-at': new Date().toISOString(),
        },
        timeout: 5000, // Shopify gives up on a webhook after 5 s
      },
      (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode ?? 0));
        res.on('error', () => finish(null));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => finish(null));
    req.end(payload);
  };

  const started = performance.now();
  await new Promise<void>((resolve) => {
    const tick = () => {
      // Open loop: whatever fell behind (a busy event loop) is sent now, so the average rate holds.
      const due = Math.min(total, Math.floor(((performance.now() - started) / 1000) * opts.rate));
      while (sent < due && inFlight < (opts.maxInFlight ?? 256)) {
        const index = sent++;
        sendOne(opts.only ? (opts.only[index] as number) : index);
      }
      if (sent >= total) resolve();
      else setTimeout(tick, 2);
    };
    tick();
  });
  const sendingSeconds = (performance.now() - started) / 1000;
  await done;
  agent.destroy();
  const sorted = latencies.sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    offered: total,
    acknowledged: acknowledgedIds.length,
    acknowledgedIds,
    unacknowledged,
    statuses,
    errors,
    seconds: round(sendingSeconds),
    achievedRate: Math.round(total / sendingSeconds),
    latencyMs: { p50: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)), p99: round(percentile(sorted, 99)), p999: round(percentile(sorted, 99.9)), max: round(sorted.at(-1) ?? 0) },
  };
}
