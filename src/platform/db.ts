import { CompiledQuery, Kysely, MysqlDialect, sql, type SelectQueryBuilder } from 'kysely';
import { createPool, type PoolOptions } from 'mysql2';
import { RetriableError } from '../errors.js';

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

export type ServerFlavour = 'mysql' | 'mariadb';

const flavours = new WeakMap<Kysely<any>, Promise<ServerFlavour>>();

/** MySQL or MariaDB, asked once per Kysely instance (`SELECT VERSION()` names MariaDB in its answer). */
export function serverFlavour(db: Kysely<any>): Promise<ServerFlavour> {
  let flavour = flavours.get(db);
  if (!flavour) {
    flavour = sql<{ v: string }>`SELECT VERSION() AS v`.execute(db).then((r) => (/mariadb/i.test(String(r.rows[0]?.v)) ? 'mariadb' : 'mysql'));
    // A failed probe (server away) is asked again next time rather than remembered.
    flavour.catch(() => flavours.delete(db));
    flavours.set(db, flavour);
  }
  return flavour;
}

/** A statement cut by its time bound; the same read may pass later. */
export class StatementTimeoutError extends RetriableError {
  constructor(
    readonly timeoutMs: number,
    cause?: unknown,
  ) {
    super(`The read took longer than ${timeoutMs} ms and was stopped; retry later or narrow it with filters`, { status: 503, code: 'read-timeout', cause });
  }
}

/** ER_QUERY_TIMEOUT (MySQL's MAX_EXECUTION_TIME) and ER_STATEMENT_TIMEOUT (MariaDB's max_statement_time). */
const TIMEOUT_ERRNOS = new Set([3024, 1969]);

/**
 * Runs a SELECT that the server stops after `timeoutMs` (0: no bound). MySQL takes the optimizer hint
 * `MAX_EXECUTION_TIME`, which MariaDB ignores; MariaDB takes `SET STATEMENT max_statement_time=… FOR`,
 * which MySQL does not parse. Both bound this statement only, never the pooled session.
 */
export async function selectWithTimeout<O>(db: Kysely<any>, query: SelectQueryBuilder<any, any, O>, timeoutMs: number): Promise<O[]> {
  if (timeoutMs <= 0) return query.execute();
  const ms = Math.ceil(timeoutMs);
  try {
    if ((await serverFlavour(db)) === 'mysql') return await query.modifyFront(sql.raw(`/*+ MAX_EXECUTION_TIME(${ms}) */`)).execute();
    const compiled = query.compile();
    const seconds = (ms / 1000).toFixed(3);
    const result = await db.executeQuery<O>(CompiledQuery.raw(`SET STATEMENT max_statement_time=${seconds} FOR ${compiled.sql}`, [...compiled.parameters]));
    return result.rows;
  } catch (err) {
    if (TIMEOUT_ERRNOS.has((err as { errno?: number }).errno ?? 0)) throw new StatementTimeoutError(ms, err);
    throw err;
  }
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
