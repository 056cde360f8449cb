import type { Database } from '../store/schema.js';
import type { Config } from '../config.js';
import type { ServiceContext } from '../context.js';
import { createMapperPool } from '../mappings/pool.js';
import { createSecretBox } from '../platform/crypto.js';
import { createDb } from '../platform/db.js';
import { createLogger, resolveLogFormat, type Logger } from '../platform/logger.js';
import { createMetrics } from '../platform/metrics.js';
import { closeQueues, createQueues } from '../platform/queues.js';
import { createRedis, redisKeys } from '../platform/redis.js';
import { createShopEvents } from '../platform/shop-events.js';

/** config → logger → db → redis → queues: the infrastructure both processes (and tests) start from. */
export async function createContext(config: Config, logger?: Logger): Promise<ServiceContext> {
  const log = logger ?? createLogger({ level: config.logLevel, format: resolveLogFormat(config.logFormat, config.nodeEnv) });
  const db = createDb<Database>(config.databaseUrl, config.databasePoolSize);
  const redis = createRedis(config.redisUrl);
  redis.on('error', (err: Error) => log.warn({ err: err.message }, 'redis connection error'));
  await redis.connect();
  const queues = await createQueues(config, log);
  const keys = redisKeys(config.redisKeyPrefix);
  return {
    config,
    logger: log,
    db,
    redis,
    keys,
    secrets: createSecretBox(config.encryption.key, config.encryption.previousKeys),
    queues,
    metrics: createMetrics(),
    shopEvents: createShopEvents(redis, keys, log),
    mapper: createMapperPool(config.mappings, log),
  };
}

export async function closeContext(ctx: ServiceContext): Promise<void> {
  await closeQueues(ctx.queues);
  await ctx.shopEvents.close();
  await ctx.mapper?.close();
  await Promise.allSettled([ctx.redis.isOpen ? ctx.redis.quit() : Promise.resolve(), ctx.db.destroy()]);
}
