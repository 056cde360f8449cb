import { randomBytes } from 'node:crypto';
import { signOAuthQuery } from '../../src/shopify/oauth.js';
import { HttpError } from './listing.js';
import type { MockAppContext, MockShop } from './shop.js';
import { MockTokenGrants, type MockTokenLifetimes, type TokenAnswer } from './tokens.js';

/**
 * The mock's OAuth: `GET /admin/oauth/authorize` approves at once and redirects to `redirect_uri` with
 * `code, hmac, host, shop, state, timestamp` (hmac signed with the app secret); `POST
 * /admin/oauth/access_token` trades a code (single use, 10 min) for a new token of that shop, holding the
 * scopes asked for (`GET /admin/oauth/access_scopes.json` lists them); with `expiring=1`, an expiring
 * pair. The other grants of that endpoint (refresh, token exchange, client credentials) are in tokens.ts.
 */
interface Grant {
  shop: string;
  clientId: string;
  scope: string;
  expiresAt: number;
}

export class MockOAuth {
  private readonly codes = new Map<string, Grant>();
  readonly tokens: MockTokenGrants;

  constructor(
    private readonly app: MockAppContext,
    lifetimes: Partial<MockTokenLifetimes> = {},
  ) {
    this.tokens = new MockTokenGrants(app, lifetimes);
  }

  authorize(shop: MockShop, query: URLSearchParams): string {
    const clientId = query.get('client_id') ?? '';
    if (clientId !== this.app.apiKey) throw new HttpError(400, { errors: 'Oauth error invalid_request: The client_id is not recognized.' });
    const redirectUri = query.get('redirect_uri') ?? '';
    let target: URL;
    try {
      target = new URL(redirectUri);
    } catch {
      throw new HttpError(400, { errors: 'Oauth error invalid_request: The redirect_uri is missing or not a URL.' });
    }
    const code = randomBytes(16).toString('hex');
    this.codes.set(code, { shop: shop.domain, clientId, scope: query.get('scope') ?? shop.scope, expiresAt: Date.now() + 600_000 });
    const params: Record<string, string> = {
      code,
      host: Buffer.from(`${shop.domain}/admin`).toString('base64'),
      shop: shop.domain,
      state: query.get('state') ?? '',
      timestamp: String(Math.floor(Date.now() / 1000)),
    };
    const hmac = signOAuthQuery(params, this.app.apiSecret);
    for (const [k, v] of Object.entries({ code: params.code, hmac, host: params.host, shop: params.shop, state: params.state, timestamp: params.timestamp })) {
      target.searchParams.set(k, v ?? '');
    }
    return target.toString();
  }

  accessToken(shop: MockShop, body: Record<string, string>): TokenAnswer {
    const kind = MockTokenGrants.kindOf(body);
    if (kind !== 'authorization_code') return this.tokens.grant(shop, body, kind);
    if (body.client_id !== this.app.apiKey || body.client_secret !== this.app.apiSecret) {
      throw new HttpError(400, { error: 'invalid_client', error_description: 'Client credentials are invalid' });
    }
    const grant = body.code ? this.codes.get(body.code) : undefined;
    if (body.code) this.codes.delete(body.code);
    if (!grant || grant.shop !== shop.domain || grant.clientId !== body.client_id || grant.expiresAt < Date.now()) {
      throw new HttpError(400, { error: 'invalid_request', error_description: 'The authorization code was not found or was already used' });
    }
    if (body.expiring === '1') {
      const answer = this.tokens.issuePair(shop, grant.scope);
      this.tokens.stats.authorization_code++;
      return answer;
    }
    return { access_token: shop.issueToken(undefined, grant.scope), scope: grant.scope };
  }
}
