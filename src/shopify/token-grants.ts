import { errorForStatus, extractShopifyErrors, ShopifyClientError, ShopifyRetriableError, type ShopifyErrorInfo } from './errors.js';
import { requireShopDomain, shopOrigin } from './shop-domain.js';

/**
 * Shopify's token endpoint, `POST https://{shop}/admin/oauth/access_token`, for every grant the service
 * uses: the authorization code (with `expiring=1` an expiring offline pair), the refresh of a pair, the
 * one-time exchange of a non-expiring offline token for an expiring pair, and the client-credentials
 * grant of a merchant's own app (24-hour tokens, no refresh token). Secrets go in the body, never in a URL.
 */
export interface TokenGrant {
  accessToken: string;
  scope: string;
  /** Null: the token never expires. */
  expiresAt: Date | null;
  refreshToken: string | null;
  refreshTokenExpiresAt: Date | null;
}

export interface TokenEndpoint {
  apiBaseUrl: string;
  shop: string;
  clientId: string;
  clientSecret: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  now?: () => number;
}

/**
 * Shopify refused a grant (4xx other than 429): `reason` is its OAuth `error` code — `invalid_grant`,
 * `invalid_client`, `invalid_request` (e.g. "This request requires an active refresh_token"),
 * `shop_not_permitted` … Never retried: only new credentials or a new authorization help.
 */
export class TokenGrantRefusedError extends ShopifyClientError {
  readonly reason: string;
  constructor(message: string, info: ShopifyErrorInfo, reason: string) {
    super(message, info);
    this.reason = reason;
  }
}

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const OFFLINE_TOKEN = 'urn:shopify:params:oauth:token-type:offline-access-token';

export function requestCodeGrant(endpoint: TokenEndpoint, code: string, expiring: boolean): Promise<TokenGrant> {
  return postGrant(endpoint, { code, ...(expiring ? { expiring: '1' } : {}) });
}

/** A new pair for the refresh token (which Shopify retires once its replacement is used). */
export function requestRefreshGrant(endpoint: TokenEndpoint, refreshToken: string): Promise<TokenGrant> {
  return postGrant(endpoint, { grant_type: 'refresh_token', refresh_token: refreshToken });
}

/** Migration: a non-expiring offline token for an expiring pair (the old token is revoked; a retry within 7 days answers the same pair). */
export function requestTokenExchange(endpoint: TokenEndpoint, nonExpiringToken: string): Promise<TokenGrant> {
  return postGrant(endpoint, {
    grant_type: TOKEN_EXCHANGE,
    subject_token: nonExpiringToken,
    subject_token_type: OFFLINE_TOKEN,
    requested_token_type: OFFLINE_TOKEN,
    expiring: '1',
  });
}

/** A merchant's own Dev Dashboard app: a 24-hour token for a store of its organization. */
export function requestClientCredentialsGrant(endpoint: TokenEndpoint): Promise<TokenGrant> {
  return postGrant(endpoint, { grant_type: 'client_credentials' });
}

async function postGrant(endpoint: TokenEndpoint, fields: Record<string, string>): Promise<TokenGrant> {
  requireShopDomain(endpoint.shop);
  const path = '/admin/oauth/access_token';
  const doFetch = endpoint.fetch ?? fetch;
  let res: Response;
  let text: string;
  try {
    res = await doFetch(`${shopOrigin(endpoint.apiBaseUrl, endpoint.shop)}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ client_id: endpoint.clientId, client_secret: endpoint.clientSecret, ...fields }),
      redirect: 'manual',
      signal: AbortSignal.timeout(endpoint.timeoutMs ?? 30_000),
    });
    text = await res.text();
  } catch (error) {
    const timeout = (error as Error)?.name === 'TimeoutError';
    throw new ShopifyRetriableError(
      `POST ${path} ${timeout ? 'timed out' : 'failed'}: ${(error as Error)?.message}`,
      { upstreamStatus: 0, method: 'POST', path, cause: error },
      timeout ? 'timeout' : 'network',
    );
  }
  const requestId = res.headers.get('x-request-id') ?? undefined;
  if (res.status < 200 || res.status >= 300) {
    const info = { shopifyErrors: extractShopifyErrors(text), requestId, method: 'POST', path };
    if (res.status === 429 || res.status >= 500) throw errorForStatus(res.status, info);
    throw new TokenGrantRefusedError(
      `POST ${path} (${fields.grant_type ?? 'authorization_code'}) was refused with ${res.status}: ${String(info.shopifyErrors ?? '')}`.slice(0, 500),
      { ...info, upstreamStatus: res.status },
      oauthErrorCode(text),
    );
  }
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new ShopifyRetriableError(`POST ${path} answered ${res.status} with a body that is not JSON`, { upstreamStatus: res.status, requestId, method: 'POST', path, cause: error });
  }
  if (typeof body.access_token !== 'string' || !body.access_token) {
    throw new ShopifyClientError(`POST ${path} answered without an access_token`, { upstreamStatus: res.status, requestId, method: 'POST', path });
  }
  const now = endpoint.now?.() ?? Date.now();
  const after = (seconds: unknown) => (typeof seconds === 'number' && seconds > 0 ? new Date(now + seconds * 1000) : null);
  const refreshToken = typeof body.refresh_token === 'string' && body.refresh_token ? body.refresh_token : null;
  return {
    accessToken: body.access_token,
    scope: typeof body.scope === 'string' ? body.scope : '',
    expiresAt: after(body.expires_in),
    refreshToken,
    refreshTokenExpiresAt: refreshToken ? after(body.refresh_token_expires_in) : null,
  };
}

function oauthErrorCode(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // not JSON: no code
  }
  return 'unknown';
}
