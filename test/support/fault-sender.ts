/**
 * A webhook sender that behaves like Shopify's: every event is POSTed, signed, until it is answered 2xx;
 * a refused connection, a reset, a timeout or a 5xx is retried after a short pause (Shopify retries for
 * hours; tests compress that). What was answered, and how, is recorded per event so a test can check
 * that every acknowledged event was applied.
 */
import { randomUUID } from 'node:crypto';
import type { MockWebhookEvent } from '../../scripts/mock-shopify/index.js';
import { signWebhookBody } from '../../src/shopify/hmac.js';
import { WEBHOOK_PATH } from './webhooks.js';

export interface SendOutcome {
  eventId: string;
  /** Status of each attempt, 0 for no answer (refused, reset, timeout). */
  attempts: number[];
  /** The answer that ended the retries: 200 when acknowledged. */
  finalStatus: number;
}

export interface RetryingSenderOptions {
  /** `() => url` so a test can point the sender elsewhere while it runs. */
  baseUrl: () => string;
  shop: string;
  secret: string;
  concurrency?: number;
  /** Pause between attempts of one event. */
  retryDelayMs?: number;
  /** Stop retrying an event after this long (Shopify: 4 hours). */
  giveUpAfterMs?: number;
  timeoutMs?: number;
  /** Updated live, so a test can act (kill, cut) once a share of the events went through. */
  progress?: { acknowledged: number; attempts: number };
}

export interface SendReport {
  outcomes: SendOutcome[];
  acknowledged: number;
  /** Attempts that got no answer or a non-2xx answer, by status (0 = no answer). */
  failedAttempts: Record<number, number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends one delivery attempt; 0 when no HTTP answer came back. */
export async function attemptDelivery(url: string, event: MockWebhookEvent, shop: string, secret: string, webhookId: string, timeoutMs = 5000): Promise<number> {
  const body = JSON.stringify(event.payload);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-shopify-topic': event.topic,
        'x-shopify-hmac-sha256': signWebhookBody(body, secret),
        'x-shopify-shop-domain': shop,
        'x-shopify-api-version': '2026-10',
        'x-shopify-webhook-id': webhookId,
        'x-shopify-event-id': event.eventId,
        'x-shopify-triggered-at': event.triggeredAt,
      },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** Delivers every event until acknowledged (or given up), `concurrency` at a time. */
export async function sendUntilAcknowledged(events: MockWebhookEvent[], opts: RetryingSenderOptions): Promise<SendReport> {
  const outcomes: SendOutcome[] = new Array(events.length);
  const failedAttempts: Record<number, number> = {};
  let next = 0;
  const lane = async () => {
    while (next < events.length) {
      const index = next++;
      const event = events[index] as MockWebhookEvent;
      const webhookId = randomUUID(); // Shopify keeps the webhook id (and the event id) across retries
      const outcome: SendOutcome = { eventId: event.eventId, attempts: [], finalStatus: 0 };
      const deadline = Date.now() + (opts.giveUpAfterMs ?? 120_000);
      for (;;) {
        const status = await attemptDelivery(`${opts.baseUrl()}${WEBHOOK_PATH}`, event, opts.shop, opts.secret, webhookId, opts.timeoutMs);
        outcome.attempts.push(status);
        outcome.finalStatus = status;
        if (opts.progress) opts.progress.attempts++;
        if (status >= 200 && status < 300) {
          if (opts.progress) opts.progress.acknowledged++;
          break;
        }
        failedAttempts[status] = (failedAttempts[status] ?? 0) + 1;
        // Shopify stops at once on nothing; a 4xx other than 429 would be retried too, but none is expected here.
        if (Date.now() > deadline) break;
        await sleep(opts.retryDelayMs ?? 50);
      }
      outcomes[index] = outcome;
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency ?? 16 }, lane));
  return { outcomes, acknowledged: outcomes.filter((o) => o.finalStatus === 200).length, failedAttempts };
}
