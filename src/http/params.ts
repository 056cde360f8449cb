import type { Request } from 'express';
import { ValidationError } from '../errors.js';
import { decodeCursor, invalidCursor } from './cursor.js';

/**
 * Parameter parsing for handlers. The contract validator has already checked and coerced these values;
 * handlers parse and bound them again so that a request the validator never saw (an undocumented method,
 * a gap in the contract) still cannot turn into NaN, an unbounded read or a 500.
 */

type Location = 'query' | 'path' | 'body';

function invalid(location: Location, name: string, message: string): ValidationError {
  return new ValidationError(`The ${location === 'body' ? 'body field' : `${location} parameter`} ${name} ${message}`, [{ location, name, message }]);
}

/** Throws a 400 naming the parameter or body field unless `ok`. */
export function expectValid(ok: boolean, location: Location, name: string, message: string): void {
  if (!ok) throw invalid(location, name, message);
}

/** One value: a repeated parameter (`?limit=1&limit=2`) or a nested one (`?limit[a]=1`) is refused. */
function single(value: unknown, location: Location, name: string): string | number | boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  throw invalid(location, name, 'must be a single value');
}

/** An integer within [min, max] (the validator coerces numbers; a bypass sends strings). */
export function integerParam(value: unknown, location: Location, name: string, bounds: { min: number; max: number }): number | undefined {
  const raw = single(value, location, name);
  if (raw === undefined) return undefined;
  const number = typeof raw === 'number' ? raw : typeof raw === 'string' && /^-?\d{1,16}$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(number)) throw invalid(location, name, 'must be an integer');
  if (number < bounds.min || number > bounds.max) throw invalid(location, name, `must be between ${bounds.min} and ${bounds.max}`);
  return number;
}

/** `limit`: 1–250, default 50, as the contract's Limit parameter says. */
export function limitParam(query: Request['query']): number {
  return integerParam(query.limit, 'query', 'limit', { min: 1, max: 250 }) ?? 50;
}

/** An id of this service's own records (the contract's DbId). */
export function dbIdParam(value: unknown, location: Location, name: string): number {
  const id = integerParam(value, location, name, { min: 1, max: Number.MAX_SAFE_INTEGER });
  if (id === undefined) throw invalid(location, name, 'is required');
  return id;
}

/** A boolean query parameter (`true` or `false`). */
export function booleanParam(query: Request['query'], name: string): boolean | undefined {
  const raw = single(query[name], 'query', name);
  if (raw === undefined || typeof raw === 'boolean') return raw;
  if (raw === 'true' || raw === 'false') return raw === 'true';
  throw invalid('query', name, 'must be true or false');
}

/** Whether `value` is a string matching `rule` (tenant ids, names…). */
export function matches(value: unknown, rule: { pattern: RegExp; maxLength: number }): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= rule.maxLength && rule.pattern.test(value);
}

/** A query string matching `rule`. */
export function stringParam(query: Request['query'], name: string, rule: { pattern: RegExp; maxLength: number }): string | undefined {
  const raw = single(query[name], 'query', name);
  if (raw === undefined) return undefined;
  expectValid(matches(raw, rule), 'query', name, 'is not valid');
  return raw as string;
}

/** The contract's TenantId. */
export const TENANT_ID = { pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*$/, maxLength: 64 };

/** A cursor of one value, checked to be what this API issues (the contract's Cursor, then the position). */
export function cursorParam<T extends string | number>(query: Request['query'], accept: (value: string | number) => value is T): T | undefined {
  const raw = single(query.cursor, 'query', 'cursor');
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || raw.length > 512 || !/^[A-Za-z0-9_-]+$/.test(raw)) throw invalidCursor();
  const [value] = decodeCursor(raw, 1);
  if (value === undefined || !accept(value)) throw invalidCursor();
  return value;
}

export const isDbId = (value: string | number): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;
