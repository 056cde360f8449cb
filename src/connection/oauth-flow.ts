import type { ServiceContext } from '../context.js';
import { AppError, ForbiddenError, NotFoundError, UnauthorizedError, ValidationError } from '../errors.js';
import type { components } from '../generated/api.js';
import { randomToken } from '../platform/crypto.js';
import { deriveKey } from '../platform/derived-keys.js';
import { buildAuthorizeUrl, verifyOAuthQuery, type OAuthVerification } from '../shopify/oauth.js';
import { shopOrigin } from '../shopify/shop-domain.js';
import { requestCodeGrant, type TokenGrant } from '../shopify/token-grants.js';
import { connectStore, type ConnectResult } from './connect.js';
import { CONFIRM_COOKIE_MAX_SECONDS, confirmCookieFor, confirmCookieMatches, installCookieFor, installCookieMatches } from './install-cookies.js';
import { confirmationPageCsp, renderConfirmationPage } from './oauth-page.js';
import { peekPendingInstall, savePendingInstall, takePendingInstall } from './oauth-states.js';
import { normalizeShopDomain } from './shop-domain.js';
import { connectFailure } from './shopify.js';

export type OAuthInitiateResult = components['schemas']['OAuthInitiateResult'];

/** How old a callback's `timestamp` may be (Shopify's own libraries allow the same order of magnitude). */
const CALLBACK_MAX_AGE_SECONDS = 300;

const notConfigured = () => new AppError('OAuth installs are not configured: set SHOPIFY_API_KEY and SHOPIFY_API_SECRET', { status: 503, code: 'oauth-not-configured' });

type Rejection = Extract<OAuthVerification, { valid: false }>['reason'];
/** Why a callback that fails `verifyOAuthQuery` is refused: 401 when it is not Shopify's, 400 when it is malformed. */
const REJECTIONS: Record<Rejection, () => Error> = {
  'missing-hmac': () => new UnauthorizedError('The callback signature (hmac) is not valid'),
  'invalid-hmac': () => new UnauthorizedError('The callback signature (hmac) is not valid'),
  'stale-timestamp': () => new UnauthorizedError(`The callback timestamp is more than ${CALLBACK_MAX_AGE_SECONDS} seconds old (or in the future); start the install again`),
  'invalid-shop': () => new ValidationError('The shop is not a *.myshopify.com domain', [{ location: 'query', name: 'shop', message: 'must be a *.myshopify.com domain' }]),
  'missing-timestamp': () => new ValidationError('The callback timestamp is missing or not a number', [{ location: 'query', name: 'timestamp', message: 'must be a Unix time' }]),
  'no-secret': () => notConfigured(),
};

export const OAUTH_BEGIN_PATH = '/api/shopify/oauth/begin/';
export const oauthRedirectUri = (ctx: ServiceContext) => `${ctx.config.shopify.webhookBaseUrl}/api/shopify/oauth/callback/`;

function requireAppCredentials(ctx: ServiceContext): { apiKey: string; apiSecret: string } {
  const { apiKey, apiSecret } = ctx.config.shopify;
  if (!apiKey || !apiSecret) throw notConfigured();
  return { apiKey, apiSecret };
}

/** The key signing the install cookies (derived from TOKEN_ENCRYPTION_KEY). */
const cookieKeys = new WeakMap<Buffer, Buffer>();
function cookieKey(ctx: ServiceContext): Buffer {
  const master = ctx.config.encryption.key;
  let key = cookieKeys.get(master);
  if (!key) cookieKeys.set(master, (key = deriveKey(master, 'oauth-install-cookie')));
  return key;
}

/** Install cookies are `Secure` when the service is reached over https. */
export const oauthCookiesSecure = (ctx: ServiceContext) => ctx.config.shopify.webhookBaseUrl.startsWith('https:');

const beginUrl = (ctx: ServiceContext, state: string) => `${ctx.config.shopify.webhookBaseUrl}${OAUTH_BEGIN_PATH}?state=${encodeURIComponent(state)}`;

const unknownState = () => new NotFoundError('This install link is unknown, expired or already used; start the install again from your account');

/**
 * Step 1 (tenant key): a single-use state bound to tenant and shop (kept for `oauthStateTtlSeconds`),
 * and the link the merchant opens: our confirmation page, never Shopify's authorize URL, so an install
 * is always confirmed in the browser that finishes it.
 */
export async function initiateOAuth(ctx: ServiceContext, tenantId: string, shopInput: unknown): Promise<OAuthInitiateResult> {
  const shop = normalizeShopDomain(shopInput, { location: 'query', name: 'shop' });
  requireAppCredentials(ctx);
  const state = randomToken(32);
  const ttl = ctx.config.oauthStateTtlSeconds;
  await savePendingInstall(ctx, state, { tenant_id: tenantId, shop }, ttl);
  return { authorize_url: beginUrl(ctx, state), state, expires_at: new Date(Date.now() + ttl * 1000).toISOString() };
}

export interface ConfirmationAnswer {
  html: string;
  csp: string;
  confirmCookie: { value: string; maxAgeSeconds: number };
}

/**
 * Step 2 (public, the merchant's browser): the page naming the shop and the tenant, with a
 * confirmation nonce in a SameSite=Strict cookie that its form echoes. Nothing is consumed.
 */
export async function showConfirmation(ctx: ServiceContext, state: string): Promise<ConfirmationAnswer> {
  requireAppCredentials(ctx);
  const found = await peekPendingInstall(ctx, state);
  if (!found) throw unknownState();
  const maxAgeSeconds = Math.max(1, Math.min(CONFIRM_COOKIE_MAX_SECONDS, Math.floor(found.ttlMs / 1000)));
  const { value, nonce } = confirmCookieFor(cookieKey(ctx), state, maxAgeSeconds);
  const html = renderConfirmationPage({
    shop: found.pending.shop,
    tenantId: found.pending.tenant_id,
    state,
    nonce,
    action: OAUTH_BEGIN_PATH,
    expiresAt: new Date(Date.now() + found.ttlMs),
  });
  return { html, csp: confirmationPageCsp(shopOrigin(ctx.config.shopify.apiBaseUrl, found.pending.shop)), confirmCookie: { value, maxAgeSeconds } };
}

/**
 * Step 3 (the page's form): the nonce cookie must come back with the form's nonce (a form posted from
 * another site carries no SameSite=Strict cookie); then the browser gets the install cookie, as
 * long-lived as the state, and goes on to Shopify's authorize page.
 */
export async function confirmInstall(ctx: ServiceContext, form: { state: string; nonce: string }, confirmCookie: string | undefined) {
  const { apiKey } = requireAppCredentials(ctx);
  if (!confirmCookieMatches(cookieKey(ctx), confirmCookie, form.state, form.nonce)) {
    throw new ForbiddenError('This confirmation did not come from the confirmation page in this browser; open the install link again and confirm there');
  }
  const found = await peekPendingInstall(ctx, form.state);
  if (!found) throw unknownState();
  const maxAgeSeconds = Math.max(1, Math.floor(found.ttlMs / 1000));
  const authorizeUrl = buildAuthorizeUrl({
    apiBaseUrl: ctx.config.shopify.apiBaseUrl,
    shop: found.pending.shop,
    clientId: apiKey,
    scopes: ctx.config.shopify.scopes,
    redirectUri: oauthRedirectUri(ctx),
    state: form.state,
  });
  return { authorizeUrl, installCookie: { value: installCookieFor(cookieKey(ctx), form.state, maxAgeSeconds), maxAgeSeconds } };
}

/**
 * The callback's parameters exactly as sent (the HMAC is over the raw values, not over what a query
 * parser makes of them). A repeated parameter is refused rather than guessed at.
 */
export function callbackParams(rawQuery: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(rawQuery)) {
    if (k in params) throw new ValidationError(`The parameter "${k}" is repeated`, [{ location: 'query', name: k, message: 'must appear once' }]);
    params[k] = v;
  }
  return params;
}

/**
 * Step 4, Shopify's redirect back: HMAC (app secret) → timestamp freshness → shop name → a known state
 * → the install cookie of the browser that confirmed it (403 otherwise, the state kept) → the state
 * consumed (single use, same shop) → code for token → connect as a pasted token would. Each check fails
 * before anything is written; the state is consumed only once the request is known to come from
 * Shopify through the confirming browser.
 */
export async function completeOAuth(ctx: ServiceContext, params: Record<string, string>, installCookie: string | undefined): Promise<ConnectResult> {
  const { apiKey, apiSecret } = requireAppCredentials(ctx);
  for (const name of ['code', 'shop', 'state', 'timestamp', 'hmac']) {
    if (!params[name]) throw new ValidationError(`The callback lacks "${name}"`, [{ location: 'query', name, message: 'is required' }]);
  }
  const check = verifyOAuthQuery(params, apiSecret, { maxAgeSeconds: CALLBACK_MAX_AGE_SECONDS });
  if (!check.valid) throw REJECTIONS[check.reason]();
  const shop = normalizeShopDomain(params.shop, { location: 'query', name: 'shop' });
  const state = params.state as string;
  const unknown = () => new UnauthorizedError('The OAuth state is unknown, expired or already used; start the install again');
  if (!(await peekPendingInstall(ctx, state))) throw unknown();
  if (!installCookieMatches(cookieKey(ctx), installCookie, state)) {
    throw new ForbiddenError('This install was not confirmed in this browser; start the install again from the same browser');
  }
  const pending = await takePendingInstall(ctx, state);
  if (!pending) throw unknown();
  if (pending.shop !== shop) throw new UnauthorizedError('The OAuth state was issued for another shop');

  // Expiring offline tokens (`expiring=1`) unless turned off: the pair is saved with the connect, in one write.
  let token: TokenGrant;
  try {
    token = await requestCodeGrant(
      { apiBaseUrl: ctx.config.shopify.apiBaseUrl, shop, clientId: apiKey, clientSecret: apiSecret, timeoutMs: ctx.config.shopify.requestTimeoutMs },
      params.code as string,
      ctx.config.shopify.expiringTokens,
    );
  } catch (err) {
    throw connectFailure(err, shop, 'the authorization code');
  }
  return connectStore(ctx, {
    tenantId: pending.tenant_id,
    shopDomain: shop,
    accessToken: token.accessToken,
    accessTokenExpiresAt: token.expiresAt,
    refreshToken: token.refreshToken,
    refreshTokenExpiresAt: token.refreshTokenExpiresAt,
    installMethod: 'oauth',
    scopes: token.scope
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  });
}
