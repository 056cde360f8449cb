import { Kysely, MysqlDialect } from 'kysely';
import { createPool, type PoolOptions } from 'mysql2';

/** mysql2 pool options from a `mysql://user:pass@host:port/db` URL. */
export function poolOptionsFromUrl(databaseUrl: string, connectionLimit = 10): PoolOptions {
  const url = new URL(databaseUrl);
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : 3306,
    user: decodeURIComponent(url.username || 'root'),
    password: decodeURIComponent(url.password),
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || undefined,
    connectionLimit,
    timezone: 'Z',
    dateStrings: false,
    supportBigNumbers: true,
    bigNumberStrings: false,
    decimalNumbers: false,
    charset: 'utf8mb4_unicode_ci',
    connectTimeout: 5000,
    enableKeepAlive: true,
  };
}

/** A Kysely instance over a mysql2 pool; `DB` is the schema type (the store's `Database`). */
export function createDb<DB>(databaseUrl: string, connectionLimit = 10): Kysely<DB> {
  const pool = createPool(poolOptionsFromUrl(databaseUrl, connectionLimit));
  // Every session works in UTC so DATETIME values mean the same on every server.
  pool.on('connection', (conn) => {
    conn.query("SET time_zone = '+00:00'");
  });
  return new Kysely<DB>({ dialect: new MysqlDialect({ pool }) });
}

/** Runs one statement about the URL's database on a connection to its server (the database may not exist). */
async function onServer(databaseUrl: string, statement: (name: string) => string): Promise<void> {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.replace(/^\//, ''));
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`database name "${name}" must be letters, digits and _`);
  const opts = poolOptionsFromUrl(databaseUrl, 1);
  delete opts.database;
  const pool = createPool(opts).promise();
  try {
    await pool.query(statement(name));
  } finally {
    await pool.end();
  }
}

/** Creates the database named in the URL when it does not exist yet (local runs, tests). */
export function ensureDatabase(databaseUrl: string): Promise<void> {
  return onServer(databaseUrl, (name) => `CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);
}

export function dropDatabase(databaseUrl: string): Promise<void> {
  return onServer(databaseUrl, (name) => `DROP DATABASE IF EXISTS \`${name}\``);
}
