import type { ServiceContext } from '../../../src/context.js';
import { encodeEnvelope, ensureConsumerGroup, webhookKeys } from '../../../src/webhooks/stream.js';
import type { BenchEvent } from './payloads.js';

/**
 * A backlog of webhooks already in the stream, as the ingest would have left it: built under a side key
 * (same hash tag, so the rename stays in one Redis Cluster slot) with its consumer group, then renamed into
 * place when the measurement starts, so the workers' drain is timed from a full stream.
 */

export interface BacklogOwner {
  shop: string;
  tenantId: string;
  integrationId: number;
}

export function backlogKeys(ctx: Pick<ServiceContext, 'keys'>) {
  const keys = webhookKeys(ctx);
  return { stream: keys.stream, deadLetters: keys.deadLetters, side: keys.stream.replace(/stream$/, 'loading') };
}

/** Loads `events` under the side key; returns how many. */
export async function loadBacklog(ctx: Pick<ServiceContext, 'keys' | 'redis'>, events: Iterable<BenchEvent>, owner: BacklogOwner): Promise<number> {
  const { side } = backlogKeys(ctx);
  await ctx.redis.del(side);
  await ensureConsumerGroup(ctx.redis, { ...webhookKeys(ctx), stream: side });
  let multi = ctx.redis.multi();
  let queued = 0;
  let total = 0;
  for (const e of events) {
    multi.xAdd(
      side,
      '*',
      encodeEnvelope({
        topic: e.topic,
        shop: owner.shop,
        integrationId: owner.integrationId,
        tenantId: owner.tenantId,
        webhookId: null,
        eventId: e.eventId,
        triggeredAt: null,
        apiVersion: '2026-10',
        receivedAt: new Date(),
        body: e.body,
      }),
    );
    total++;
    if (++queued === 1000) {
      await multi.exec();
      multi = ctx.redis.multi();
      queued = 0;
    }
  }
  if (queued > 0) await multi.exec();
  return total;
}

/** Puts the loaded backlog in place of the stream (the workers' blocked reads see it at once). */
export async function releaseBacklog(ctx: Pick<ServiceContext, 'keys' | 'redis'>): Promise<void> {
  const { side, stream } = backlogKeys(ctx);
  await ctx.redis.rename(side, stream);
}

/** Polls until the stream is empty (every entry applied, acknowledged and deleted); `onPoll` sees what is left. */
export async function untilStreamEmpty(ctx: Pick<ServiceContext, 'keys' | 'redis'>, timeoutMs: number, onPoll?: (left: number) => void): Promise<void> {
  const { stream } = backlogKeys(ctx);
  const t0 = performance.now();
  for (;;) {
    const left = Number(await ctx.redis.xLen(stream));
    onPoll?.(left);
    if (left === 0) return;
    if (performance.now() - t0 > timeoutMs) throw new Error(`the stream did not drain within ${timeoutMs / 1000} s (${left} entries left)`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
