import { createHmac, timingSafeEqual } from 'node:crypto';
import { isValidShopDomain, requireShopDomain, shopOrigin } from './shop-domain.js';

/**
 * Shopify's authorization-code grant: send the merchant to `/admin/oauth/authorize` and verify the
 * callback's `hmac` and `timestamp` (the `state` check against a single-use value is the caller's); the
 * code is exchanged for tokens at the token endpoint (token-grants.ts).
 */
export function buildAuthorizeUrl(opts: { apiBaseUrl: string; shop: string; clientId: string; scopes: string[] | string; redirectUri: string; state: string }): string {
  requireShopDomain(opts.shop);
  const url = new URL(`${shopOrigin(opts.apiBaseUrl, opts.shop)}/admin/oauth/authorize`);
  url.searchParams.set('client_id', opts.clientId);
  url.searchParams.set('scope', Array.isArray(opts.scopes) ? opts.scopes.join(',') : opts.scopes);
  url.searchParams.set('redirect_uri', opts.redirectUri);
  url.searchParams.set('state', opts.state);
  return url.toString();
}

/**
 * The message Shopify signs: every parameter but `hmac` and `signature`, sorted by name, joined as
 * `k=v&…` with form encoding (as Shopify's own libraries build it).
 */
export function oauthQueryMessage(query: Record<string, string>): string {
  const params = new URLSearchParams();
  for (const key of Object.keys(query)
    .filter((k) => k !== 'hmac' && k !== 'signature')
    .sort()) {
    params.append(key, query[key] ?? '');
  }
  return params.toString();
}

/** Hex HMAC-SHA256 of the callback query (what Shopify puts in `hmac`). */
export function signOAuthQuery(query: Record<string, string>, secret: string): string {
  return createHmac('sha256', secret).update(oauthQueryMessage(query)).digest('hex');
}

export type OAuthVerification = { valid: true } | { valid: false; reason: 'missing-hmac' | 'invalid-hmac' | 'invalid-shop' | 'missing-timestamp' | 'stale-timestamp' | 'no-secret' };

/**
 * Checks an OAuth callback (or app-proxy style) query: the hex `hmac` over the other parameters, made
 * with the app's client secret (compared in constant time), a valid `shop`, and a `timestamp` no older
 * than `maxAgeSeconds` (default 5 min; 60 s of clock skew into the future tolerated).
 */
export function verifyOAuthQuery(query: Record<string, string>, secret: string, opts: { now?: number; maxAgeSeconds?: number } = {}): OAuthVerification {
  if (!secret) return { valid: false, reason: 'no-secret' };
  const given = query.hmac;
  if (!given) return { valid: false, reason: 'missing-hmac' };
  const expected = Buffer.from(signOAuthQuery(query, secret), 'hex');
  const actual = /^[0-9a-f]{64}$/i.test(given) ? Buffer.from(given, 'hex') : Buffer.alloc(0);
  if (actual.length !== expected.length || !timingSafeEqual(actual, expected)) return { valid: false, reason: 'invalid-hmac' };
  if (query.shop !== undefined && !isValidShopDomain(query.shop)) return { valid: false, reason: 'invalid-shop' };
  if (query.timestamp === undefined || !/^\d+$/.test(query.timestamp)) return { valid: false, reason: 'missing-timestamp' };
  const nowSeconds = Math.floor((opts.now ?? Date.now()) / 1000);
  const age = nowSeconds - Number(query.timestamp);
  if (age > (opts.maxAgeSeconds ?? 300) || age < -60) return { valid: false, reason: 'stale-timestamp' };
  return { valid: true };
}
