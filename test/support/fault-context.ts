/**
 * A second service context in the test process — the same database and key prefix as a test context,
 * but with some settings replaced (typically MySQL or Redis reached through a TCP proxy) — to run a
 * worker whose dependencies a test can cut while the test itself keeps a direct view.
 */
import { loadConfig } from '../../src/config.js';
import type { ServiceContext } from '../../src/context.js';
import { closeContext, createContext } from '../../src/main/context.js';
import { createLogger } from '../../src/platform/logger.js';
import type { TestContext } from './context.js';
import { serviceEnv } from './fault-processes.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';
import { captureLogs, type CapturedLogs } from './logs.js';
import { clientsReconnected } from './webhooks.js';

export interface SideContext {
  ctx: ServiceContext;
  logs: CapturedLogs;
  /** Waits for the Redis clients to be connected again (after an outage), then closes. */
  close(): Promise<void>;
}

export async function startSideContext(t: Pick<TestContext, 'config' | 'databaseUrl'>, env: Record<string, string>): Promise<SideContext> {
  const logs = captureLogs();
  const ctx = await createContext(loadConfig({ ...serviceEnv(t), LOG_LEVEL: 'debug', ...env }), createLogger({ level: 'debug' }, logs.stream));
  return {
    ctx,
    logs,
    async close() {
      await clientsReconnected(ctx).catch(() => undefined);
      await closeContext(ctx);
    },
  };
}

/** A TCP proxy in front of the MySQL server of `databaseUrl`, and the same URL through it. */
export async function proxiedDatabase(databaseUrl: string): Promise<{ proxy: TcpProxy; url: string }> {
  const target = new URL(databaseUrl);
  const proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 3306) });
  const url = new URL(databaseUrl);
  url.host = `127.0.0.1:${proxy.port}`;
  return { proxy, url: url.toString() };
}

/** A TCP proxy in front of the Redis server of `redisUrl`, and the same URL through it. */
export async function proxiedRedis(redisUrl: string): Promise<{ proxy: TcpProxy; url: string }> {
  const target = new URL(redisUrl);
  const proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 6379) });
  const url = new URL(redisUrl);
  url.host = `127.0.0.1:${proxy.port}`;
  return { proxy, url: url.toString().replace(/\/$/, '') };
}
