import { ValidationError } from '../errors.js';

/** Opaque list cursors: base64url of the keyset position (the last row's key values). */
export function encodeCursor(position: unknown[]): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/** The one answer to a cursor this API did not issue (400, naming the parameter). */
export function invalidCursor(): ValidationError {
  return new ValidationError('The cursor is not one this API issued', [{ location: 'query', name: 'cursor', message: 'is not a valid cursor' }]);
}

export function decodeCursor(cursor: string, arity: number): (string | number)[] {
  try {
    const position: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(position) && position.length === arity && position.every((v) => (typeof v === 'number' && Number.isSafeInteger(v)) || typeof v === 'string')) {
      return position as (string | number)[];
    }
  } catch {
    // fall through to the validation error
  }
  throw invalidCursor();
}

/** A positive safe integer: the ids of our rows and of Shopify's records alike. */
export const isPositiveId = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;

/**
 * A position made of exactly `arity` ids (a record list's key: every resource is keyed by Shopify ids),
 * so a forged position (`[0]`, a text, a key of another resource) is refused rather than read as "from the start".
 */
export function decodeIdCursor(cursor: string, arity: number): number[] {
  const position = decodeCursor(cursor, arity);
  if (!position.every(isPositiveId)) throw invalidCursor();
  return position as number[];
}
