import type { ServiceContext } from '../context.js';
import { AppError, DependencyUnavailableError, UnauthorizedError, ValidationError } from '../errors.js';
import type { components } from '../generated/api.js';
import { randomToken, sha256Hex } from '../platform/crypto.js';
import { buildAuthorizeUrl, exchangeCodeForToken, verifyOAuthQuery, type OAuthVerification } from '../shopify/oauth.js';
import { connectStore, type ConnectResult } from './connect.js';
import { normalizeShopDomain } from './shop-domain.js';
import { connectFailure } from './shopify.js';

export type OAuthInitiateResult = components['schemas']['OAuthInitiateResult'];

/** What a state stands for: the tenant that started the install, for this shop. */
interface PendingInstall {
  tenant_id: string;
  shop: string;
}

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

/** States live in Redis: when it is down, installs answer 503 (retry later), not 500. */
async function redisCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new DependencyUnavailableError('Redis', err);
  }
}

/** Only a hash of the state names the key: a Redis dump does not hand out usable states. */
const stateKey = (ctx: ServiceContext, state: string) => ctx.keys.key('oauth-state', sha256Hex(state));

export const oauthRedirectUri = (ctx: ServiceContext) => `${ctx.config.shopify.webhookBaseUrl}/api/shopify/oauth/callback/`;

function requireAppCredentials(ctx: ServiceContext): { apiKey: string; apiSecret: string } {
  const { apiKey, apiSecret } = ctx.config.shopify;
  if (!apiKey || !apiSecret) throw notConfigured();
  return { apiKey, apiSecret };
}

/** Step 1: a single-use state bound to tenant and shop (kept for `oauthStateTtlSeconds`), and the authorize URL. */
export async function initiateOAuth(ctx: ServiceContext, tenantId: string, shopInput: unknown): Promise<OAuthInitiateResult> {
  const shop = normalizeShopDomain(shopInput, { location: 'query', name: 'shop' });
  const { apiKey } = requireAppCredentials(ctx);
  const state = randomToken(32);
  const ttl = ctx.config.oauthStateTtlSeconds;
  const pending: PendingInstall = { tenant_id: tenantId, shop };
  await redisCall(() => ctx.redis.set(stateKey(ctx, state), JSON.stringify(pending), { expiration: { type: 'EX', value: ttl }, condition: 'NX' }));
  const authorizeUrl = buildAuthorizeUrl({
    apiBaseUrl: ctx.config.shopify.apiBaseUrl, shop, clientId: apiKey, scopes: ctx.config.shopify.scopes, redirectUri: oauthRedirectUri(ctx), state,
  });
  return { authorize_url: authorizeUrl, state, expires_at: new Date(Date.now() + ttl * 1000).toISOString() };
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

/** Consumes the state (GETDEL: a state works once, even when two callbacks race). */
async function takePendingInstall(ctx: ServiceContext, state: string): Promise<PendingInstall | undefined> {
  const value = await redisCall(() => ctx.redis.getDel(stateKey(ctx, state)));
  if (!value) return undefined;
  const parsed = JSON.parse(value) as Partial<PendingInstall>;
  return typeof parsed.tenant_id === 'string' && typeof parsed.shop === 'string' ? (parsed as PendingInstall) : undefined;
}

/**
 * Step 2, Shopify's redirect back: HMAC (app secret) → timestamp freshness → shop name → state (single
 * use, same shop) → code for token → connect as a pasted token would. Each check fails before anything
 * is written; the state is consumed only once the request is known to come from Shopify.
 */
export async function completeOAuth(ctx: ServiceContext, params: Record<string, string>): Promise<ConnectResult> {
  const { apiKey, apiSecret } = requireAppCredentials(ctx);
  for (const name of ['code', 'shop', 'state', 'timestamp', 'hmac']) {
    if (!params[name]) throw new ValidationError(`The callback lacks "${name}"`, [{ location: 'query', name, message: 'is required' }]);
  }
  const check = verifyOAuthQuery(params, apiSecret, { maxAgeSeconds: CALLBACK_MAX_AGE_SECONDS });
  if (!check.valid) throw REJECTIONS[check.reason]();
  const shop = normalizeShopDomain(params.shop, { location: 'query', name: 'shop' });
  const pending = await takePendingInstall(ctx, params.state as string);
  if (!pending) throw new UnauthorizedError('The OAuth state is unknown, expired or already used; start the install again');
  if (pending.shop !== shop) throw new UnauthorizedError('The OAuth state was issued for another shop');

  let token: { access_token: string; scope: string };
  try {
    token = await exchangeCodeForToken({
      apiBaseUrl: ctx.config.shopify.apiBaseUrl, shop, clientId: apiKey, clientSecret: apiSecret, code: params.code as string, timeoutMs: ctx.config.shopify.requestTimeoutMs,
    });
  } catch (err) {
    throw connectFailure(err, shop, 'the authorization code');
  }
  return connectStore(ctx, {
    tenantId: pending.tenant_id,
    shopDomain: shop,
    accessToken: token.access_token,
    installMethod: 'oauth',
    scopes: token.scope.split(',').map((s) => s.trim()).filter(Boolean),
  });
}
