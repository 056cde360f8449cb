import { createHmac } from 'node:crypto';
import { randomToken, safeEqual, sha256Hex } from '../platform/crypto.js';

/**
 * The two cookies that tie an OAuth install to the merchant's browser, as signed values (HMAC-SHA256
 * with a key of their own; see `deriveKey`). Neither carries the state itself, only its SHA-256.
 *
 * - The confirmation cookie (SameSite=Strict) holds a nonce the confirmation form echoes: a form posted
 *   from another site arrives without it (double submit).
 * - The install cookie (SameSite=Lax, so it comes back on Shopify's top-level redirect) names the state
 *   the merchant confirmed; the callback requires it.
 */
export const CONFIRM_COOKIE = 'shopint_oauth_confirm';
export const INSTALL_COOKIE = 'shopint_oauth_install';
export const OAUTH_COOKIE_PATH = '/api/shopify/oauth/';
/** The confirmation page is meant to be answered at once. */
export const CONFIRM_COOKIE_MAX_SECONDS = 600;

type Purpose = 'confirm' | 'install';

const mac = (key: Buffer, purpose: Purpose, stateHash: string, nonce: string, expires: number) =>
  createHmac('sha256', key).update(`${purpose}\n${stateHash}\n${nonce}\n${expires}`).digest('base64url');

function sign(key: Buffer, purpose: Purpose, state: string, nonce: string, maxAgeSeconds: number, now: number): string {
  const expires = Math.floor(now / 1000) + Math.max(1, Math.floor(maxAgeSeconds));
  return [nonce, expires, mac(key, purpose, sha256Hex(state), nonce, expires)].join('.');
}

/** The nonce of a valid, unexpired cookie of this purpose for this state; undefined otherwise. */
function verify(key: Buffer, purpose: Purpose, value: string | undefined, state: string, now: number): string | undefined {
  const [nonce, expiresText, given, ...rest] = (value ?? '').split('.');
  if (rest.length > 0 || nonce === undefined || !expiresText || !given || !/^\d{1,12}$/.test(expiresText)) return undefined;
  const expires = Number(expiresText);
  if (expires * 1000 <= now) return undefined;
  return safeEqual(given, mac(key, purpose, sha256Hex(state), nonce, expires)) ? nonce : undefined;
}

export function confirmCookieFor(key: Buffer, state: string, maxAgeSeconds: number, now = Date.now()): { value: string; nonce: string } {
  const nonce = randomToken(18);
  return { value: sign(key, 'confirm', state, nonce, maxAgeSeconds, now), nonce };
}

/** Whether the confirmation cookie is valid for this state and holds the nonce the form echoed. */
export function confirmCookieMatches(key: Buffer, value: string | undefined, state: string, formNonce: string, now = Date.now()): boolean {
  const nonce = verify(key, 'confirm', value, state, now);
  return nonce !== undefined && nonce !== '' && safeEqual(nonce, formNonce);
}

export function installCookieFor(key: Buffer, state: string, maxAgeSeconds: number, now = Date.now()): string {
  return sign(key, 'install', state, '', maxAgeSeconds, now);
}

export function installCookieMatches(key: Buffer, value: string | undefined, state: string, now = Date.now()): boolean {
  return verify(key, 'install', value, state, now) !== undefined;
}

/** One cookie's value from a Cookie header (the first, if repeated); undefined when absent. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}
