import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import { createConnection } from 'mysql2/promise';
import { poolOptionsFromUrl } from '../../../src/platform/db.js';
import { BENCH_DATABASE_SERVER, BENCH_REDIS_URL } from './infra.js';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  kernel: string;
  loadAverage: string[];
  versions: Record<'node' | 'mysql' | 'redis' | 'express' | 'autocannon' | 'shopifyApiNode' | 'mysql2' | 'kysely' | 'nodeRedis', string>;
  /** Server settings that bound the figures (InnoDB buffer pool, redo flushing). */
  mysqlSettings: string;
}

const ROOT = path.resolve(import.meta.dirname, '../../..');
const packageVersion = (name: string): string => {
  try {
    return (JSON.parse(readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
};

/** The machine and the versions every figure depends on, read at the start of the run. */
export async function machineInfo(): Promise<MachineInfo> {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() || 'unknown CPU',
    cores: cpus.length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    kernel: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg().map((l) => l.toFixed(2)),
    mysqlSettings: await mysqlSettings(),
    versions: {
      node: process.version,
      mysql: await mysqlVersion(),
      redis: await redisVersion(),
      express: packageVersion('express'),
      autocannon: packageVersion('autocannon'),
      shopifyApiNode: packageVersion('shopify-api-node'),
      mysql2: packageVersion('mysql2'),
      kysely: packageVersion('kysely'),
      nodeRedis: packageVersion('redis'),
    },
  };
}

async function mysqlVersion(): Promise<string> {
  const opts = poolOptionsFromUrl(BENCH_DATABASE_SERVER, 1);
  const conn = await createConnection({ host: opts.host, port: opts.port, user: opts.user, password: opts.password });
  try {
    const [rows] = await conn.query('SELECT VERSION() AS v');
    const v = String((rows as { v: string }[])[0]?.v ?? 'unknown');
    return /mariadb/i.test(v) ? `MariaDB ${v.replace(/-MariaDB.*$/i, '')}` : `MySQL ${v}`;
  } finally {
    await conn.end();
  }
}

async function mysqlSettings(): Promise<string> {
  const opts = poolOptionsFromUrl(BENCH_DATABASE_SERVER, 1);
  const conn = await createConnection({ host: opts.host, port: opts.port, user: opts.user, password: opts.password });
  try {
    const [rows] = await conn.query("SHOW VARIABLES WHERE Variable_name IN ('innodb_buffer_pool_size', 'innodb_flush_log_at_trx_commit')");
    const v = Object.fromEntries((rows as { Variable_name: string; Value: string }[]).map((r) => [r.Variable_name, r.Value]));
    return `innodb_buffer_pool_size ${Math.round(Number(v.innodb_buffer_pool_size) / 1024 / 1024)} MB, innodb_flush_log_at_trx_commit ${v.innodb_flush_log_at_trx_commit}`;
  } finally {
    await conn.end();
  }
}

async function redisVersion(): Promise<string> {
  const client = createClient({ url: BENCH_REDIS_URL });
  await client.connect();
  try {
    return /redis_version:(\S+)/.exec(await client.info('server'))?.[1] ?? 'unknown';
  } finally {
    await client.quit();
  }
}
