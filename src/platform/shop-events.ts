import { errorMessage } from '../errors.js';
import type { Logger } from './logger.js';
import type { Redis, RedisKeys } from './redis.js';

type Listener = (shop: string) => void;

/**
 * Connects announced by any process of the deployment. Each process caches shop → integration (and
 * unknown shops) for webhook ingest; a connect is published on a Redis channel so every process drops
 * its cached entry at once instead of after the cache's TTL.
 */
export interface ShopEvents {
  /** Calls `listener` with the shop domain of every connect announced anywhere; returns the unsubscribe. */
  onConnected(listener: Listener): () => void;
  /** Tells this process's listeners directly (the announcing process does not wait for the round trip). */
  emitLocally(shop: string): void;
  close(): Promise<void>;
}

export const shopConnectedChannel = (keys: RedisKeys) => keys.key('shops', 'connected');

/**
 * Subscribes lazily, on a duplicate of `redis` (a subscribed connection can do nothing else), when the
 * first listener registers: processes without a webhook route (workers) hold no extra connection.
 * Messages published while the subscriber is reconnecting are missed; the caches' short TTL bounds that.
 */
export function createShopEvents(redis: Redis, keys: RedisKeys, logger: Logger): ShopEvents {
  const listeners = new Set<Listener>();
  let subscriber: Redis | undefined;
  let subscribed: Promise<void> | undefined;

  const emitLocally = (shop: string) => {
    for (const listener of listeners) listener(shop);
  };

  function subscribe(): void {
    const client = redis.duplicate();
    subscriber = client;
    client.on('error', (err: Error) => logger.debug({ err: err.message }, 'shop events subscriber connection error'));
    subscribed = (async () => {
      await client.connect();
      await client.subscribe(shopConnectedChannel(keys), (message) => emitLocally(message));
    })().catch((err: unknown) => logger.warn({ err: errorMessage(err) }, 'could not subscribe to shop connects; cached unknown shops expire by their TTL'));
  }

  return {
    onConnected(listener) {
      listeners.add(listener);
      if (!subscriber) subscribe();
      return () => listeners.delete(listener);
    },
    emitLocally,
    async close() {
      listeners.clear();
      await subscribed;
      if (subscriber?.isOpen) subscriber.destroy();
    },
  };
}

/**
 * Announces that `shop` was connected (or reconnected, or moved to another tenant): every process's
 * webhook ingest forgets what it cached about it. A failed publish is logged, not thrown: the connect
 * itself succeeded, and other processes' caches expire within WEBHOOK_UNKNOWN_SHOP_CACHE_MS.
 */
export async function announceShopConnected(ctx: { redis: Redis; keys: RedisKeys; logger: Logger; shopEvents: ShopEvents }, shop: string): Promise<void> {
  ctx.shopEvents.emitLocally(shop);
  try {
    await ctx.redis.publish(shopConnectedChannel(ctx.keys), shop);
  } catch (err) {
    ctx.logger.warn({ err: errorMessage(err), shop }, 'could not announce a shop connect to the other processes');
  }
}
