/** Conversions from Shopify's JSON to our column values. Each rejects rather than corrupts. */
export class MappingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MappingError';
  }
}

/** Shopify ids are JSON numbers; beyond 2^53 they would round, so such an id is refused. */
export function shopifyId(value: unknown, field: string): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) throw new MappingError(`${field} must be a positive integer id`);
  if (!Number.isSafeInteger(n)) throw new MappingError(`${field} ${String(value)} exceeds 2^53 and cannot be kept exactly`);
  return n;
}

export function optionalId(value: unknown, field: string): number | null {
  return value === null || value === undefined ? null : shopifyId(value, field);
}

// Date() alone accepts strings such as "bad-1"; Shopify always sends a full timestamp with an offset.
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** ISO 8601 with the shop's offset → a UTC instant; the offset is converted, never cut off. */
export function timestamp(value: unknown, field: string): Date | null {
  if (value === null || value === undefined || value === '') return null;
  if (typeof value !== 'string' || !ISO_8601.test(value)) throw new MappingError(`${field} "${String(value)}" is not an ISO 8601 timestamp`);
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) throw new MappingError(`${field} "${value}" is not a valid timestamp`);
  return date;
}

export function requiredTimestamp(value: unknown, field: string): Date {
  const date = timestamp(value, field);
  if (!date) throw new MappingError(`${field} is required`);
  return date;
}

/** Money stays a decimal string; it is validated, never turned into a float. */
export function money(value: unknown, field: string): string | null {
  if (value === null || value === undefined || value === '') return null;
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^-?\d{1,16}(\.\d{1,4})?$/.test(text)) throw new MappingError(`${field} "${String(value)}" is not a decimal amount`);
  return text;
}

export function text(value: unknown, maxLength: number): string | null {
  if (value === null || value === undefined) return null;
  const s = typeof value === 'string' ? value : String(value);
  return s.length > maxLength ? s.slice(0, maxLength) : s;
}

export function integer(value: unknown): number | null {
  if (value === null || value === undefined || value === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? Math.trunc(n) : null;
}

/** DECIMAL(20,4) comes back as "19.9900"; integrators get Shopify's form "19.99". */
export function formatMoney(value: string | null): string | null {
  if (value === null) return null;
  const [whole, fraction = ''] = value.split('.');
  const trimmed = fraction.replace(/0+$/, '').padEnd(2, '0');
  return `${whole}.${trimmed}`;
}

export function isoOrNull(value: Date | null | undefined): string | null {
  return value ? value.toISOString() : null;
}
