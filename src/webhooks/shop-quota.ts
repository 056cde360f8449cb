import { luaScript, type Redis } from '../platform/redis.js';
import type { WebhookKeys } from './stream.js';

/**
 * Checks the shop's quota for the current minute and appends the entry to the stream in one round
 * trip. What was refused is not counted, so a shop over its quota gets back in as Shopify retries.
 * An empty window always takes one entry, whatever its size, so no single delivery is refused forever.
 * KEYS: stream, the shop's counters of this minute (same hash tag). ARGV: max count, max bytes, size,
 * counters' TTL (ms), stream MAXLEN, then the entry's field/value pairs.
 */
const SCRIPT = `
local used = redis.call('HMGET', KEYS[2], 'count', 'bytes')
local count = tonumber(used[1]) or 0
local bytes = tonumber(used[2]) or 0
local size = tonumber(ARGV[3])
if count >= tonumber(ARGV[1]) then return {0, 'count'} end
if count > 0 and bytes + size > tonumber(ARGV[2]) then return {0, 'bytes'} end
redis.call('HINCRBY', KEYS[2], 'count', 1)
redis.call('HINCRBY', KEYS[2], 'bytes', size)
if count == 0 then redis.call('PEXPIRE', KEYS[2], ARGV[4]) end
return {1, redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', unpack(ARGV, 6))}
`;
const runQuotaScript = luaScript(SCRIPT);
const MINUTE_MS = 60_000;

export interface ShopQuota {
  maxPerMinute: number;
  maxBytesPerMinute: number;
}

export type QuotaAppend = { appended: true; id: string } | { appended: false; exceeded: 'count' | 'bytes'; retryAfterSeconds: number };

/** XADD `fields` to the stream unless `shop` is past its quota for this minute. */
export async function appendWithinQuota(
  redis: Redis,
  keys: WebhookKeys,
  shop: string,
  fields: Record<string, string | Buffer>,
  opts: ShopQuota & { size: number; streamMaxLen: number; now?: number },
): Promise<QuotaAppend> {
  const now = opts.now ?? Date.now();
  const minute = Math.floor(now / MINUTE_MS);
  const args: (string | Buffer)[] = [
    '2',
    keys.stream,
    keys.shopQuota(shop, minute),
    String(opts.maxPerMinute),
    String(opts.maxBytesPerMinute),
    String(opts.size),
    String(2 * MINUTE_MS),
    String(opts.streamMaxLen),
    ...Object.entries(fields).flat(),
  ];
  const reply = await runQuotaScript(redis, args);
  const [ok, value] = reply as [number, string];
  if (ok === 1) return { appended: true, id: String(value) };
  return { appended: false, exceeded: value === 'bytes' ? 'bytes' : 'count', retryAfterSeconds: ((minute + 1) * MINUTE_MS - now) / 1000 };
}
