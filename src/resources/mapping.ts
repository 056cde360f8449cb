import { AppError } from '../errors.js';

/**
 * Conversions from Shopify's JSON to our column values. Each rejects rather than corrupts, with a
 * MappingError: a permanent fault of one record (the same JSON fails the same way), never retried.
 * Should one reach the API it is Shopify's data at fault, not the request: 502.
 */
export class MappingError extends AppError {
  constructor(message: string) {
    super(message, { status: 502, code: 'unmappable-record', retriable: false });
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

/**
 * A string for a VARCHAR(maxLength) column, which counts characters: cut to `maxLength` UTF-16 units,
 * never between the two halves of a surrogate pair (emoji), so never more characters than allowed.
 */
export function text(value: unknown, maxLength: number): string | null {
  if (value === null || value === undefined) return null;
  const s = typeof value === 'string' ? value : String(value);
  if (s.length <= maxLength) return s;
  const cut = isHighSurrogate(s.charCodeAt(maxLength - 1)) ? maxLength - 1 : maxLength;
  return s.slice(0, cut);
}

const isHighSurrogate = (code: number) => code >= 0xd800 && code <= 0xdbff;

/** A MySQL `TEXT` column holds 65,535 bytes, whatever the characters. */
export const TEXT_COLUMN_BYTES = 65_535;

/**
 * A string for a column sized in bytes (`TEXT`): cut to at most `maxBytes` of UTF-8, on a character
 * boundary (never half of a multibyte character). Cutting by characters is not enough: 65,535
 * characters of a non-Latin tag list are up to four times as many bytes, and strict mode refuses them.
 */
export function textBytes(value: unknown, maxBytes: number = TEXT_COLUMN_BYTES): string | null {
  if (value === null || value === undefined) return null;
  const s = typeof value === 'string' ? value : String(value);
  // Each UTF-16 unit is at most 3 UTF-8 bytes: short strings need no encoding.
  if (s.length * 3 <= maxBytes) return s;
  const bytes = Buffer.from(s, 'utf8');
  if (bytes.length <= maxBytes) return s;
  let cut = maxBytes;
  // Back off over continuation bytes (10xxxxxx) to the first byte of the character that does not fit.
  while (cut > 0 && ((bytes[cut] as number) & 0xc0) === 0x80) cut--;
  return bytes.subarray(0, cut).toString('utf8');
}

export function integer(value: unknown): number | null {
  if (value === null || value === undefined || value === '') return null;
  const n = Number(value);
  return Number.isFinite(n) ? Math.trunc(n) : null;
}

/** ISO 4217 minor units of the currencies that do not have two; every other currency has two. */
const MINOR_UNITS: Readonly<Record<string, number>> = {
  BIF: 0,
  CLP: 0,
  DJF: 0,
  GNF: 0,
  ISK: 0,
  JPY: 0,
  KMF: 0,
  KRW: 0,
  PYG: 0,
  RWF: 0,
  UGX: 0,
  UYI: 0,
  VND: 0,
  VUV: 0,
  XAF: 0,
  XOF: 0,
  XPF: 0,
  BHD: 3,
  IQD: 3,
  JOD: 3,
  KWD: 3,
  LYD: 3,
  OMR: 3,
  TND: 3,
  CLF: 4,
  UYW: 4,
};

/** Decimal places of a currency (ISO 4217); 2 when the currency is unknown or absent. */
export function minorUnits(currency: unknown): number {
  return typeof currency === 'string' ? (MINOR_UNITS[currency.toUpperCase()] ?? 2) : 2;
}

/**
 * DECIMAL(20,4) comes back as "19.9900"; integrators get Shopify's form: as many decimals as the
 * currency has ("19.99" USD, "1.500" KWD, "1500" JPY), and more only when the amount has them (a
 * fraction is never dropped: "0.125" USD stays "0.125").
 */
export function formatMoney(value: string | null, currency?: unknown): string | null {
  if (value === null) return null;
  const [whole, fraction = ''] = value.split('.');
  const significant = fraction.replace(/0+$/, '');
  const decimals = Math.max(significant.length, minorUnits(currency));
  return decimals === 0 ? `${whole}` : `${whole}.${significant.padEnd(decimals, '0')}`;
}

export function isoOrNull(value: Date | null | undefined): string | null {
  return value ? value.toISOString() : null;
}
