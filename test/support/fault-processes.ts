/**
 * The service's own entry points (`src/main/api.ts`, `src/main/worker.ts`) as child processes, so fault
 * tests can kill them the way production loses them: SIGKILL (crash, OOM killer) or SIGTERM (deploy).
 *
 * Children are started as `node --import tsx <entry>` — what `npx tsx <entry>` runs, minus the npx
 * wrapper: a signal then reaches the service itself, not a launcher that would leave it orphaned.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import type { TestContext } from './context.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ENTRY = { api: 'src/main/api.ts', worker: 'src/main/worker.ts' } as const;
/** How the line each entry point logs once it is serving begins. */
const READY_MESSAGE = { api: 'API listening', worker: 'worker started' } as const;

export type ServiceKind = keyof typeof ENTRY;

export interface ServiceProcess {
  kind: ServiceKind;
  pid: number;
  /** Every stdout/stderr line so far (pino JSON for the service's own logs). */
  lines: string[];
  /** Resolves with the exit code (or signal name) once the process is gone. */
  exited: Promise<number | string>;
  /** Sends a signal and waits for the process to exit. */
  kill(signal: NodeJS.Signals): Promise<number | string>;
}

/** A TCP port free right now (for an API child that must come back on the same port after a restart). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * The environment that makes a child process share a test context's database, Redis key prefix, app
 * credentials and Shopify base URL (the test context's own configuration, as env variables).
 */
export function serviceEnv(t: Pick<TestContext, 'config' | 'databaseUrl'>, extra: Record<string, string> = {}): Record<string, string> {
  const c = t.config;
  return {
    NODE_ENV: 'test',
    LOG_LEVEL: 'info',
    DATABASE_URL: t.databaseUrl,
    REDIS_URL: c.redisUrl,
    REDIS_KEY_PREFIX: c.redisKeyPrefix,
    ...(c.adminApiKey ? { ADMIN_API_KEY: c.adminApiKey } : {}),
    SHOPIFY_API_KEY: c.shopify.apiKey,
    SHOPIFY_API_SECRET: c.shopify.apiSecret,
    SHOPIFY_API_BASE_URL: c.shopify.apiBaseUrl,
    SHOPIFY_BUCKET_SIZE: String(c.shopify.bucketSize),
    SHOPIFY_MAX_REQUESTS_PER_SECOND: String(c.shopify.maxRequestsPerSecond),
    SHOPIFY_RETRY_DELAY: String(c.shopify.retryDelaySeconds),
    SHOPIFY_MAX_RETRY_ATTEMPTS: String(c.shopify.maxRetryAttempts),
    SHOPIFY_SYNC_INTERVAL_PRODUCTS: String(c.shopify.syncIntervals.products),
    SHOPIFY_SYNC_INTERVAL_ORDERS: String(c.shopify.syncIntervals.orders),
    SHOPIFY_SYNC_INTERVAL_CUSTOMERS: String(c.shopify.syncIntervals.customers),
    SHOPIFY_SYNC_INTERVAL_INVENTORY: String(c.shopify.syncIntervals.inventory),
    SYNC_JOB_BACKOFF_SECONDS: String(c.sync.jobBackoffSeconds),
    // Full runs as the test context has them (paginated unless a suite turns bulk exports on).
    SYNC_FULL_VIA_BULK: String(c.sync.fullViaBulk),
    SYNC_BULK_POLL_MIN_SECONDS: String(c.sync.bulkPollMinSeconds),
    SYNC_BULK_POLL_MAX_SECONDS: String(c.sync.bulkPollMaxSeconds),
    WEBHOOK_CLAIM_IDLE_MS: String(c.webhooks.claimIdleMs),
    WEBHOOK_BATCH_SIZE: String(c.webhooks.batchSize),
    ...extra,
  };
}

/**
 * Starts `src/main/<kind>.ts` and resolves once it logged that it serves (rejects if it exits first).
 * The start line is logged at info level: LOG_LEVEL must be info or lower.
 */
export async function startServiceProcess(kind: ServiceKind, env: Record<string, string>, timeoutMs = 30_000): Promise<ServiceProcess> {
  if (!['info', 'debug', 'trace'].includes(env.LOG_LEVEL ?? 'info')) throw new Error(`LOG_LEVEL ${env.LOG_LEVEL} hides the line telling that the ${kind} started; use info or lower`);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', ENTRY[kind]], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} did not start within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`)), timeoutMs);
    let partial = '';
    const onData = (chunk: Buffer) => {
      const text = partial + chunk.toString('utf8');
      const parts = text.split('\n');
      partial = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        if (line.includes(`"msg":"${READY_MESSAGE[kind]}`)) {
          clearTimeout(timer);
          resolve();
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`${kind} exited (${code}) before it was ready:\n${lines.slice(-20).join('\n')}`));
    });
  });
  try {
    await ready;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    kind,
    pid: child.pid as number,
    lines,
    exited,
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Kills whatever of these is still running (test clean-up). */
export async function killAll(processes: (ServiceProcess | undefined)[]): Promise<void> {
  await Promise.all(processes.map((p) => p?.kill('SIGKILL')));
}
