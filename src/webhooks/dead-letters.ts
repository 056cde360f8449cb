import type { Redis } from '../platform/redis.js';
import { CONSUMER_GROUP, type WebhookKeys } from './stream.js';

/** Fields a dead letter carries besides the original entry's (stripped again on replay). */
const DEAD_FIELDS = ['dead_error', 'dead_deliveries', 'dead_at', 'dead_source_id'] as const;

export interface DeadLetterInput {
  /** Id of the entry on the main stream. */
  id: string;
  fields: Record<string, string>;
  error: string;
  deliveries: number;
}

export interface DeadLetter {
  id: string;
  topic: string;
  shop_domain: string;
  event_id: string | null;
  error: string;
  deliveries: number;
  dead_lettered_at: string;
}

/**
 * Moves entries to the dead-letter stream and acknowledges them on the main stream in one MULTI, so an
 * entry is never both gone from the main stream and missing from the dead letters.
 */
export async function moveToDeadLetters(redis: Redis, keys: WebhookKeys, entries: DeadLetterInput[], maxLen: number): Promise<void> {
  if (entries.length === 0) return;
  const at = new Date().toISOString();
  const multi = redis.multi();
  for (const e of entries) {
    multi.xAdd(keys.deadLetters, '*', {
      ...e.fields,
      dead_error: e.error.slice(0, 2000),
      dead_deliveries: String(e.deliveries),
      dead_at: at,
      dead_source_id: e.id,
    }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: maxLen } });
  }
  const ids = entries.map((e) => e.id);
  multi.xAck(keys.stream, CONSUMER_GROUP, ids);
  multi.xDel(keys.stream, ids);
  await multi.exec();
}

function toDeadLetter(id: string, f: Record<string, string>): DeadLetter {
  const deliveries = Number(f.dead_deliveries);
  const at = new Date(f.dead_at ?? Number(id.split('-')[0]));
  return {
    id,
    topic: f.topic ?? '',
    shop_domain: f.shop ?? '',
    event_id: f.event_id ? f.event_id : null,
    error: f.dead_error ?? '',
    deliveries: Number.isFinite(deliveries) ? deliveries : 0,
    dead_lettered_at: (Number.isNaN(at.getTime()) ? new Date(0) : at).toISOString(),
  };
}

/** Dead letters oldest first; `after` is the last id of the previous page (exclusive). */
export async function listDeadLetters(redis: Redis, keys: WebhookKeys, opts: { limit: number; after?: string }) {
  const entries = (await redis.xRange(keys.deadLetters, opts.after ? `(${opts.after}` : '-', '+', { COUNT: opts.limit + 1 })) ?? [];
  const page = entries.slice(0, opts.limit);
  return {
    data: page.map((e) => toDeadLetter(e.id, e.message as Record<string, string>)),
    nextAfter: entries.length > opts.limit ? (page[page.length - 1] as { id: string }).id : null,
  };
}

/** Puts dead letters back on the main stream (as new entries) and deletes them from the dead letters. */
async function replayEntries(redis: Redis, keys: WebhookKeys, entries: { id: string; message: Record<string, string> }[], maxLen: number): Promise<number> {
  if (entries.length === 0) return 0;
  const multi = redis.multi();
  for (const e of entries) {
    const fields = { ...e.message };
    for (const f of DEAD_FIELDS) delete fields[f];
    multi.xAdd(keys.stream, '*', fields, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: maxLen } });
  }
  multi.xDel(keys.deadLetters, entries.map((e) => e.id));
  await multi.exec();
  return entries.length;
}

const CHUNK = 500;

/** Replays the named dead letters (unknown ids are skipped), or every one present when the call starts. */
export async function replayDeadLetters(redis: Redis, keys: WebhookKeys, which: { ids: string[] } | 'all', maxLen: number): Promise<number> {
  let replayed = 0;
  if (which === 'all') {
    const [last] = (await redis.xRevRange(keys.deadLetters, '+', '-', { COUNT: 1 })) ?? [];
    if (!last) return 0;
    let from = '-';
    while (true) {
      const entries = (await redis.xRange(keys.deadLetters, from, last.id, { COUNT: CHUNK })) ?? [];
      replayed += await replayEntries(redis, keys, entries as { id: string; message: Record<string, string> }[], maxLen);
      if (entries.length < CHUNK) return replayed;
      from = `(${(entries[entries.length - 1] as { id: string }).id}`;
    }
  }
  for (let i = 0; i < which.ids.length; i += CHUNK) {
    const ids = [...new Set(which.ids.slice(i, i + CHUNK))];
    const found = await Promise.all(ids.map(async (id) => (await redis.xRange(keys.deadLetters, id, id)) ?? []));
    replayed += await replayEntries(redis, keys, found.flat() as { id: string; message: Record<string, string> }[], maxLen);
  }
  return replayed;
}
