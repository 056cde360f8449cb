import type { Config } from './config.js';
import type { Mapper } from './mappings/pool.js';
import type { SecretBox } from './platform/crypto.js';
import type { Db } from './store/schema.js';
import type { Logger } from './platform/logger.js';
import type { Metrics } from './platform/metrics.js';
import type { Queues } from './platform/queues.js';
import type { Redis, RedisKeys } from './platform/redis.js';
import type { ShopEvents } from './platform/shop-events.js';

/** The infrastructure every part of the service is handed (never imported as a global). */
export interface ServiceContext {
  config: Config;
  logger: Logger;
  db: Db;
  redis: Redis;
  keys: RedisKeys;
  secrets: SecretBox;
  /** BullMQ queues (producers); workers are started by the worker process only. */
  queues: Queues;
  /** Prometheus families of this process (a registry of its own per context). */
  metrics: Metrics;
  /** Shop connects announced by any process (Redis pub/sub), so cached shop lookups are dropped at once. */
  shopEvents: ShopEvents;
  /** Evaluator threads of tenants' JSONata mappings (threads start on first use); absent in contexts built without it. */
  mapper?: Mapper;
}
