import { createHash } from 'node:crypto';
import type { Redis } from '../platform/redis.js';
import { pageOf, type Page } from '../store/page.js';
import { CONSUMER_GROUP, isNoGroupError, type WebhookKeys } from './stream.js';

/** Fields a dead letter carries besides the original entry's (stripped again on replay). */
const DEAD_FIELDS = ['dead_error', 'dead_deliveries', 'dead_at', 'dead_source_id'] as const;
/** Set on a dead letter whose body was cut: it keeps the original's size and SHA-256, and cannot be replayed. */
const TRUNCATED = { flag: 'dead_body_truncated', bytes: 'dead_body_bytes', sha256: 'dead_body_sha256' } as const;

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
  /** The body was cut to WEBHOOK_DEAD_LETTER_MAX_BODY_BYTES: size and SHA-256 are the original's. */
  body_truncated: boolean;
  body_bytes: number;
  body_sha256?: string;
}

export interface DeadLetterLimits {
  /** Approximate cap of the dead-letter stream (MAXLEN ~). */
  maxLen: number;
  /** Bodies longer than this are cut (the rest of a 2 MB unmappable body is of no use to an operator). */
  maxBodyBytes: number;
}

/** The body as kept in a dead letter: whole, or cut with the original's size and SHA-256. */
function boundedBody(fields: Record<string, string>, maxBodyBytes: number): Record<string, string> {
  const body = Buffer.from(fields.body ?? '', 'utf8');
  if (body.length <= maxBodyBytes) return {};
  return {
    // A multi-byte character cut in half decodes to U+FFFD: harmless, the entry is never replayed.
    body: body.subarray(0, maxBodyBytes).toString('utf8'),
    [TRUNCATED.flag]: '1',
    [TRUNCATED.bytes]: String(body.length),
    [TRUNCATED.sha256]: createHash('sha256').update(body).digest('hex'),
  };
}

/**
 * Moves entries to the dead-letter stream and acknowledges them on the main stream in one MULTI, so an
 * entry is never both gone from the main stream and missing from the dead letters.
 */
export async function moveToDeadLetters(redis: Redis, keys: WebhookKeys, entries: DeadLetterInput[], limits: DeadLetterLimits): Promise<void> {
  if (entries.length === 0) return;
  const at = new Date().toISOString();
  const multi = redis.multi();
  for (const e of entries) {
    multi.xAdd(
      keys.deadLetters,
      '*',
      {
        ...e.fields,
        ...boundedBody(e.fields, limits.maxBodyBytes),
        dead_error: e.error.slice(0, 2000),
        dead_deliveries: String(e.deliveries),
        dead_at: at,
        dead_source_id: e.id,
      },
      { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: limits.maxLen } },
    );
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
    body_truncated: f[TRUNCATED.flag] === '1',
    body_bytes: f[TRUNCATED.flag] === '1' ? Number(f[TRUNCATED.bytes]) : Buffer.byteLength(f.body ?? '', 'utf8'),
    ...(f[TRUNCATED.sha256] ? { body_sha256: f[TRUNCATED.sha256] } : {}),
  };
}

/** Dead letters oldest first; `after` is the last id of the previous page (exclusive). */
export async function listDeadLetters(redis: Redis, keys: WebhookKeys, opts: { limit: number; after?: string }): Promise<Page<DeadLetter, string>> {
  const entries = (await redis.xRange(keys.deadLetters, opts.after ? `(${opts.after}` : '-', '+', { COUNT: opts.limit + 1 })) ?? [];
  const page = pageOf(entries, opts.limit, (last) => last.id);
  return { rows: page.rows.map((e) => toDeadLetter(e.id, e.message as Record<string, string>)), next: page.next };
}

export interface ReplayResult {
  replayed: number;
  /** Dead letters left where they are: their body was truncated, so the event cannot be applied. */
  notReplayable: string[];
}

/**
 * Puts dead letters back on the main stream (as new entries) and deletes them from the dead letters;
 * truncated ones stay and are named in the result.
 */
async function replayEntries(redis: Redis, keys: WebhookKeys, found: { id: string; message: Record<string, string> }[], maxLen: number, result: ReplayResult): Promise<void> {
  const entries = found.filter((e) => e.message[TRUNCATED.flag] !== '1');
  for (const e of found) if (e.message[TRUNCATED.flag] === '1') result.notReplayable.push(e.id);
  if (entries.length === 0) return;
  const multi = redis.multi();
  for (const e of entries) {
    const fields = { ...e.message };
    for (const f of DEAD_FIELDS) delete fields[f];
    multi.xAdd(keys.stream, '*', fields, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: maxLen } });
  }
  multi.xDel(
    keys.deadLetters,
    entries.map((e) => e.id),
  );
  await multi.exec();
  result.replayed += entries.length;
}

const CHUNK = 500;

/** Replays the named dead letters (unknown ids are skipped), or every one present when the call starts. */
export async function replayDeadLetters(redis: Redis, keys: WebhookKeys, which: { ids: string[] } | 'all', maxLen: number): Promise<ReplayResult> {
  const result: ReplayResult = { replayed: 0, notReplayable: [] };
  if (which === 'all') {
    const [last] = (await redis.xRevRange(keys.deadLetters, '+', '-', { COUNT: 1 })) ?? [];
    if (!last) return result;
    let from = '-';
    while (true) {
      const entries = (await redis.xRange(keys.deadLetters, from, last.id, { COUNT: CHUNK })) ?? [];
      await replayEntries(redis, keys, entries as { id: string; message: Record<string, string> }[], maxLen, result);
      if (entries.length < CHUNK) return result;
      from = `(${(entries[entries.length - 1] as { id: string }).id}`;
    }
  }
  for (let i = 0; i < which.ids.length; i += CHUNK) {
    const ids = [...new Set(which.ids.slice(i, i + CHUNK))];
    const found = await Promise.all(ids.map(async (id) => (await redis.xRange(keys.deadLetters, id, id)) ?? []));
    await replayEntries(redis, keys, found.flat() as { id: string; message: Record<string, string> }[], maxLen, result);
  }
  return result;
}

/** Deletes dead letters older than `before` (XTRIM MINID: ids start with their time in ms). */
export async function trimDeadLettersBefore(redis: Redis, keys: WebhookKeys, before: Date): Promise<number> {
  return Number(await redis.xTrim(keys.deadLetters, 'MINID', `${before.getTime()}-0`));
}

/**
 * Deletes the entries of a stream that `matches` picks, walking it in chunks; returns their ids. Used by
 * redactions on the dead letters and on the main stream's backlog; with `group`, entries are also
 * acknowledged there (a consumer holding one finds it gone and drops it).
 */
export async function deleteStreamEntries(redis: Redis, stream: string, matches: (fields: Record<string, string>) => boolean, group?: string): Promise<string[]> {
  const deleted: string[] = [];
  let from = '-';
  while (true) {
    const entries = ((await redis.xRange(stream, from, '+', { COUNT: CHUNK })) ?? []) as { id: string; message: Record<string, string> }[];
    const ids = entries.filter((e) => matches(e.message)).map((e) => e.id);
    if (ids.length > 0) {
      await redis.xDel(stream, ids);
      // Without a group yet nothing is pending.
      if (group)
        await redis.xAck(stream, group, ids).catch((err: unknown) => {
          if (!isNoGroupError(err)) throw err;
        });
      deleted.push(...ids);
    }
    if (entries.length < CHUNK) return deleted;
    from = `(${(entries[entries.length - 1] as { id: string }).id}`;
  }
}
