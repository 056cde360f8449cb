import { ConcurrentEventError } from './webhook-events.js';

/** Lock conflicts: running the same transaction again succeeds. */
const CONFLICT_ERRNOS = new Set([1213 /* deadlock */, 1205 /* lock wait timeout */]);

/** The server or the connection, not the data: the same statements succeed once MySQL is back. */
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'PROTOCOL_ENQUEUE_AFTER_FATAL_ERROR',
  'PROTOCOL_ENQUEUE_AFTER_QUIT',
]);
const UNAVAILABLE_ERRNOS = new Set([
  1040 /* too many connections */, 1053 /* server shutdown */, 1077 /* normal shutdown */, 1317 /* query interrupted */, 1290 /* read-only (failover) */, 1792 /* read-only transaction */,
  1927 /* connection killed (MariaDB) */, 2006, 2013 /* server gone / lost */,
]);

interface DriverError {
  code?: unknown;
  errno?: unknown;
  fatal?: unknown;
  message?: unknown;
}

/** A lock conflict (deadlock, lock wait timeout, an event id recorded concurrently): run the transaction again. */
export function isConflict(err: unknown): boolean {
  if (err instanceof ConcurrentEventError) return true;
  const e = err as DriverError | null;
  return typeof e?.errno === 'number' && CONFLICT_ERRNOS.has(e.errno);
}

/** MySQL (or the pool) is unavailable: the same work succeeds once it is back. */
export function isUnavailable(err: unknown): boolean {
  const e = err as DriverError | null;
  if (!e) return false;
  if (e.fatal === true) return true;
  if (typeof e.code === 'string' && UNAVAILABLE_CODES.has(e.code)) return true;
  if (typeof e.errno === 'number' && UNAVAILABLE_ERRNOS.has(e.errno)) return true;
  return /pool is closed|connection.*(closed|lost)|driver has already been destroyed|can't add new command/i.test(String(e.message ?? ''));
}

/** Failures worth retrying as they are: never a sign that the data itself is wrong. */
export const isTransient = (err: unknown) => isConflict(err) || isUnavailable(err);
