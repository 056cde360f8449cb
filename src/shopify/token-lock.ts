import { randomBytes } from 'node:crypto';
import type { Redis } from '../platform/redis.js';

/**
 * One token renewal per store at a time, across every process: `SET key owner NX PX ttl`, released
 * only by its owner. The TTL outlives a renewal (with its retries); a holder killed mid-renewal frees
 * the store when it expires. The lock only orders renewals: the pair's write is fenced in MySQL too
 * (see `saveTokenPair`), so a holder whose lock expired cannot overwrite a newer pair.
 */
export interface TokenLock {
  /** An owner id when taken, undefined when another holds it. */
  tryAcquire(): Promise<string | undefined>;
  release(owner: string): Promise<void>;
  isHeld(): Promise<boolean>;
}

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";

export function createTokenLock(redis: Redis, key: string, ttlMs: number): TokenLock {
  return {
    async tryAcquire() {
      const owner = randomBytes(12).toString('hex');
      const taken = await redis.set(key, owner, { expiration: { type: 'PX', value: ttlMs }, condition: 'NX' });
      return taken === 'OK' ? owner : undefined;
    },
    async release(owner) {
      await redis.sendCommand(['EVAL', RELEASE, '1', key, owner]);
    },
    async isHeld() {
      return (await redis.exists(key)) === 1;
    },
  };
}
