import { randomUUID } from 'node:crypto';
import { sealWebhookSecret } from '../../src/store/integration-secrets.js';
import type { Kysely } from 'kysely';
import type { ServiceContext } from '../../src/context.js';
import { signWebhookBody } from '../../src/shopify/hmac.js';
import { updateIntegration } from '../../src/store/integrations.js';
import { startWebhookConsumers } from '../../src/webhooks/consumer.js';
import { CONSUMER_GROUP, webhookKeys } from '../../src/webhooks/stream.js';
import type { TestContext } from './context.js';
import { call, type ApiResponse } from './http.js';
import { seedIntegration } from './seed.js';

export const WEBHOOK_PATH = '/api/shopify/webhook/';

export interface RawWebhook {
  topic: string;
  shop: string;
  body: string | Buffer;
  secret: string;
  eventId?: string;
  triggeredAt?: string;
  /** Header overrides; `null` removes a header. */
  headers?: Record<string, string | null>;
  path?: string;
}

/** Sends one webhook signed as Shopify signs it (for cases the mock's delivery does not cover). */
export function sendWebhook(url: string, w: RawWebhook): Promise<ApiResponse> {
  const headers: Record<string, string | null> = {
    'content-type': 'application/json',
    'x-shopify-topic': w.topic,
    'x-shopify-hmac-sha256': signWebhookBody(w.body, w.secret),
    'x-shopify-shop-domain': w.shop,
    'x-shopify-api-version': '2026-10',
    'x-shopify-webhook-id': randomUUID(),
    'x-shopify-event-id': w.eventId ?? randomUUID(),
    'x-shopify-triggered-at': w.triggeredAt ?? new Date().toISOString(),
    ...w.headers,
  };
  const sent = Object.fromEntries(Object.entries(headers).filter((e): e is [string, string] => e[1] !== null));
  return call(url, 'POST', w.path ?? WEBHOOK_PATH, { rawBody: w.body, headers: sent });
}

/** An integration for a (mock) shop, optionally with its own webhook secret. */
export async function connectShop(ctx: ServiceContext, tenantId: string, shopDomain: string, webhookSecret?: string) {
  const owner = await seedIntegration(ctx, tenantId, shopDomain);
  if (webhookSecret)
    await updateIntegration(ctx.db, owner.integrationId, { webhook_secret_encrypted: sealWebhookSecret(ctx.secrets, { tenant_id: tenantId, shop_domain: shopDomain }, webhookSecret) });
  return owner;
}

export async function streamLength(ctx: ServiceContext): Promise<number> {
  return Number(await ctx.redis.xLen(webhookKeys(ctx).stream));
}

export async function pendingCount(ctx: ServiceContext): Promise<number> {
  try {
    const summary = await ctx.redis.xPending(webhookKeys(ctx).stream, CONSUMER_GROUP);
    return Number(summary.pending);
  } catch {
    return 0;
  }
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 15_000, everyMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** Starts the webhook consumers on the test context; `stop` is idempotent. */
export async function runConsumers(t: Pick<TestContext, 'ctx'>) {
  return startWebhookConsumers(t.ctx);
}

/** Waits until every entry of the stream is applied (or dead-lettered): nothing left, nothing pending. */
export function drained(ctx: ServiceContext, timeoutMs = 20_000): Promise<true> {
  return waitFor('the webhook stream to drain', async () => (await streamLength(ctx)) === 0 && (await pendingCount(ctx)) === 0, timeoutMs);
}

/** Rows of a table of one tenant (raw JSON parsed). */
export async function tenantRows(ctx: ServiceContext, table: string, tenantId: string): Promise<Record<string, any>[]> {
  const rows: Record<string, unknown>[] = await (ctx.db as unknown as Kysely<any>).selectFrom(table).selectAll().where('tenant_id', '=', tenantId).execute();
  return rows.map((r) => ({ ...r, raw: typeof r.raw === 'string' ? JSON.parse(r.raw) : r.raw }));
}

/**
 * Waits until every Redis client of a context is connected again after an outage test. BullMQ's
 * Queue.close() cannot quit an ioredis client that is still reconnecting (no offline queue), which then
 * retries forever; closing only once all are ready avoids leaking it.
 */
export async function clientsReconnected(ctx: ServiceContext): Promise<void> {
  await waitFor(
    'Redis clients to reconnect',
    async () => {
      if (!ctx.redis.isReady) return false;
      const statuses = await Promise.all(Object.values(ctx.queues).map(async (q) => (await q.client).status));
      return statuses.every((s) => s === 'ready');
    },
    10_000,
  );
}
