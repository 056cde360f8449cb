import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { resourceForTopic } from '../../../src/resources/index.js';
import { signWebhookBody } from '../../../src/shopify/hmac.js';
import type { BenchEvent } from './payloads.js';

/**
 * Shopify webhooks sent open loop at a steady rate: each request leaves when its time comes, whether or not
 * earlier ones were answered (as Shopify sends), so a slow server shows as latency instead of slowing the
 * sender down. Send times are wall-clock milliseconds (`performance.timeOrigin + performance.now()`), which
 * another process on the machine can compare its own arrival times with.
 */

export const wallClockMs = () => performance.timeOrigin + performance.now();

export interface SignedWebhook {
  body: Buffer;
  headers: Record<string, string>;
  /** The change the webhook carries, as an outbound event names it: `resource:record_id:updated_at (ISO)`. */
  change: string;
}

/** The change key of an outbound event body (the contract's ChangeEvent). */
export const changeOfEvent = (event: { resource?: string | null; record_id?: string | null; updated_at?: string | null }) => `${event.resource}:${event.record_id}:${event.updated_at}`;

/** Webhooks as Shopify signs them (HMAC-SHA256 of the raw body with the app secret) for `shop`. */
export function signWebhooks(events: Iterable<BenchEvent>, shop: string, appSecret: string): SignedWebhook[] {
  const signed: SignedWebhook[] = [];
  for (const e of events) {
    const body = Buffer.from(e.body);
    const record = JSON.parse(e.body) as { id: number; updated_at: string };
    const resource = resourceForTopic(e.topic)?.resource.name;
    if (!resource) throw new Error(`no resource handles ${e.topic}`);
    signed.push({
      body,
      headers: {
        'content-type': 'application/json',
        'content-length': String(body.length),
        'x-shopify-topic': e.topic,
        'x-shopify-hmac-sha256': signWebhookBody(body, appSecret),
        'x-shopify-shop-domain': shop,
        'x-shopify-api-version': '2026-10',
        'x-shopify-webhook-id': randomUUID(),
        'x-shopify-event-id': e.eventId,
        'x-shopify-triggered-at': new Date().toISOString(),
      },
      change: changeOfEvent({ resource, record_id: String(record.id), updated_at: new Date(record.updated_at).toISOString() }),
    });
  }
  return signed;
}

export interface PacedSend {
  /** Wall-clock send time of each webhook (NaN if never sent). */
  sentAt: Float64Array;
  /** Milliseconds from each send to its answer (NaN without one). */
  answeredMs: Float64Array;
  ok: number;
  /** Status code (or `error`) → count, for answers that were not 2xx. */
  failures: Record<string, number>;
  /** Webhooks per second actually sent (first to last send). */
  achievedRate: number;
  /** The most any send left behind its scheduled time, ms (the sender's own lag). */
  maxLagMs: number;
}

/** POSTs `webhooks` to `url` at `rate` per second over keep-alive connections (at most `maxSockets`). */
export async function sendAtRate(url: string, webhooks: SignedWebhook[], rate: number, maxSockets = 64): Promise<PacedSend> {
  const target = new URL(url);
  const agent = new http.Agent({ keepAlive: true, maxSockets });
  const sentAt = new Float64Array(webhooks.length).fill(NaN);
  const answeredMs = new Float64Array(webhooks.length).fill(NaN);
  const failures: Record<string, number> = {};
  let ok = 0;
  let maxLagMs = 0;
  const answers: Promise<void>[] = [];
  const send = (i: number) =>
    new Promise<void>((resolve) => {
      const webhook = webhooks[i] as SignedWebhook;
      const fail = (why: string) => {
        failures[why] = (failures[why] ?? 0) + 1;
        resolve();
      };
      const req = http.request({ agent, host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: webhook.headers }, (res) => {
        res.resume();
        res.on('end', () => {
          answeredMs[i] = wallClockMs() - (sentAt[i] as number);
          if (res.statusCode && res.statusCode >= 200 && res.statusCode < 300) ok++;
          else return fail(String(res.statusCode));
          resolve();
        });
        res.on('error', () => fail('error'));
      });
      req.on('error', () => fail('error'));
      sentAt[i] = wallClockMs();
      req.end(webhook.body);
    });
  const start = performance.now();
  await new Promise<void>((done) => {
    let next = 0;
    const tick = () => {
      const elapsed = performance.now() - start;
      const due = Math.min(webhooks.length, Math.floor((elapsed / 1000) * rate) + 1);
      if (next < due) maxLagMs = Math.max(maxLagMs, elapsed - (next / rate) * 1000);
      while (next < due) answers.push(send(next++));
      if (next < webhooks.length) setTimeout(tick, 1);
      else done();
    };
    tick();
  });
  await Promise.all(answers);
  agent.destroy();
  const first = sentAt[0] as number;
  const last = sentAt[webhooks.length - 1] as number;
  return { sentAt, answeredMs, ok, failures, achievedRate: webhooks.length > 1 ? ((webhooks.length - 1) / (last - first)) * 1000 : 0, maxLagMs };
}
