import type { Redis } from '../platform/redis.js';
import { CONSUMER_GROUP, type WebhookKeys } from './stream.js';

export interface WebhookStats {
  stream_length: number;
  pending: number;
  lag: number | null;
  dead_letters: number;
  ignored: number;
  consumers: { name: string; pending: number; idle_ms: number }[];
}

const missing = (err: unknown) => /no such key|NOGROUP/i.test(String((err as Error)?.message));

/** Stream length, pending entries, lag and consumers of the group (XINFO), dead letters and ignored deliveries. */
export async function webhookStats(redis: Redis, keys: WebhookKeys): Promise<WebhookStats> {
  const [length, deadLetters, ignoredByTopic, groups, consumers] = await Promise.all([
    redis.xLen(keys.stream),
    redis.xLen(keys.deadLetters),
    redis.hGetAll(keys.ignored),
    redis.xInfoGroups(keys.stream).catch((err: unknown) => {
      if (missing(err)) return [];
      throw err;
    }),
    redis.xInfoConsumers(keys.stream, CONSUMER_GROUP).catch((err: unknown) => {
      if (missing(err)) return [];
      throw err;
    }),
  ]);
  const group = (groups as unknown as Record<string, unknown>[]).find((g) => g.name === CONSUMER_GROUP);
  const lag = group?.lag;
  return {
    stream_length: Number(length),
    pending: Number(group?.pending ?? 0),
    // Redis < 7 has no lag, and 7+ reports null when deletions make it unknowable.
    lag: typeof lag === 'number' ? lag : group ? null : Number(length),
    dead_letters: Number(deadLetters),
    ignored: Object.values(ignoredByTopic as Record<string, string>).reduce((sum, n) => sum + Number(n), 0),
    consumers: (consumers as unknown as Record<string, unknown>[]).map((c) => ({
      name: String(c.name),
      pending: Number(c.pending),
      idle_ms: Number(c.idle),
    })),
  };
}
