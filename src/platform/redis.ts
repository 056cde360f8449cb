import { createHash } from 'node:crypto';
import { createClient } from 'redis';
import { AppError, DependencyUnavailableError } from '../errors.js';
import { redisReconnect } from './retry-policies.js';

export type Redis = ReturnType<typeof createRedis>;

/**
 * A node-redis client that keeps retrying its connection (with a capped backoff) instead of giving up,
 * so a Redis restart is survived without an operator. Commands issued while disconnected fail fast
 * (no offline queue) so callers can answer 503 rather than hang.
 */
export function createRedis(url: string) {
  return createClient({
    url,
    disableOfflineQueue: true,
    socket: {
      connectTimeout: 5000,
      reconnectStrategy: (retries) => redisReconnect.delayMs(retries),
    },
  });
}

/**
 * Runs Redis work for a request: a Redis failure becomes DependencyUnavailableError (503, the caller
 * retries) instead of a 500; errors of our own (AppError) pass through as they are.
 */
export async function redisCall<T>(fn: () => Promise<T>, dependency = 'Redis'): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new DependencyUnavailableError(dependency, err);
  }
}

/** Redis keys of this deployment, all under one prefix (tests and tenants of Redis use their own). */
export function redisKeys(prefix: string) {
  return {
    key: (...parts: string[]) => [prefix, ...parts].join(':'),
    prefix,
  };
}
export type RedisKeys = ReturnType<typeof redisKeys>;

/** ioredis connection options (BullMQ) from a redis:// URL. */
export function bullConnectionFromUrl(url: string) {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(u.pathname && u.pathname !== '/' ? { db: Number(u.pathname.slice(1)) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/**
 * A Lua script called by its SHA-1 (EVALSHA), sent whole only when Redis does not hold it yet (NOSCRIPT:
 * after a restart, a failover or SCRIPT FLUSH). Returns the function that runs it with `args`
 * (numkeys, keys…, arguments…; a body may go as the bytes it is).
 */
export function luaScript(source: string): (redis: Redis, args: (string | Buffer)[]) => Promise<unknown> {
  const sha = createHash('sha1').update(source).digest('hex');
  return async (redis, args) => {
    try {
      return await redis.sendCommand(['EVALSHA', sha, ...args]);
    } catch (error) {
      if (!String((error as Error)?.message).startsWith('NOSCRIPT')) throw error;
      return redis.sendCommand(['EVAL', source, ...args]);
    }
  };
}
