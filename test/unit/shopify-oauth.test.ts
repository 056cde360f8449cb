import { createHmac } from 'node:crypto';
import { expect } from 'chai';
import sinon from 'sinon';
import { ShopifyClientError } from '../../src/shopify/errors.js';
import { buildAuthorizeUrl, oauthQueryMessage, verifyOAuthQuery } from '../../src/shopify/oauth.js';
import { isValidShopDomain } from '../../src/shopify/shop-domain.js';
import { requestCodeGrant } from '../../src/shopify/token-grants.js';

const SECRET = 'hush';
const NOW = Date.parse('2026-03-01T12:00:00Z');
const nowSeconds = String(NOW / 1000);

/** Signs like Shopify, written out by hand so the test does not reuse the code under test. */
function shopifySigned(params: Record<string, string>, secret = SECRET): Record<string, string> {
  const message = Object.keys(params)
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  return { ...params, hmac: createHmac('sha256', secret).update(message).digest('hex') };
}

const callback = () => shopifySigned({ code: '0907a61c0c8d55e99db179b68161bc00', shop: 'some-shop.myshopify.com', state: '0.6784241404160823', timestamp: nowSeconds });

describe('Shopify OAuth', () => {
  describe('isValidShopDomain', () => {
    it('when the shop is a *.myshopify.com name, then it is valid', () => {
      for (const shop of ['my-shop.myshopify.com', 'Shop1.myshopify.com', '0abc.myshopify.com']) expect(isValidShopDomain(shop), shop).to.equal(true);
    });

    it('when the shop is anything else, then it is refused', () => {
      const bad = [
        '-shop.myshopify.com',
        'shop.myshopify.com.evil.com',
        'evil.com',
        'shop.myshopify.com/',
        'a_b.myshopify.com',
        'sh op.myshopify.com',
        '',
        `${'a'.repeat(250)}.myshopify.com`,
        'https://shop.myshopify.com',
      ];
      for (const shop of bad) expect(isValidShopDomain(shop), shop).to.equal(false);
      expect(isValidShopDomain(undefined)).to.equal(false);
    });
  });

  describe('buildAuthorizeUrl', () => {
    it('when asked, then it points at the shop with client_id, scope, redirect_uri and state', () => {
      const url = new URL(
        buildAuthorizeUrl({
          apiBaseUrl: 'https://{shop}',
          shop: 'my-shop.myshopify.com',
          clientId: 'key',
          scopes: ['read_products', 'read_orders'],
          redirectUri: 'https://app.example/cb',
          state: 'nonce',
        }),
      );
      expect(url.origin + url.pathname).to.equal('https://my-shop.myshopify.com/admin/oauth/authorize');
      expect(Object.fromEntries(url.searchParams)).to.deep.equal({ client_id: 'key', scope: 'read_products,read_orders', redirect_uri: 'https://app.example/cb', state: 'nonce' });
    });

    it('when the base URL is a mock template, then the shop is put in the path', () => {
      const url = buildAuthorizeUrl({ apiBaseUrl: 'http://127.0.0.1:9/{shop}', shop: 'a.myshopify.com', clientId: 'k', scopes: 'read_products', redirectUri: 'http://x/cb', state: 's' });
      expect(url.startsWith('http://127.0.0.1:9/a.myshopify.com/admin/oauth/authorize?')).to.equal(true);
    });

    it('when the shop is not a myshopify domain, then no URL is built', () => {
      expect(() => buildAuthorizeUrl({ apiBaseUrl: 'https://{shop}', shop: 'evil.com', clientId: 'k', scopes: [], redirectUri: 'x', state: 's' })).to.throw(ShopifyClientError);
    });
  });

  describe('verifyOAuthQuery', () => {
    it('when the query is signed with the secret and fresh, then it is valid', () => {
      expect(verifyOAuthQuery(callback(), SECRET, { now: NOW })).to.deep.equal({ valid: true });
    });

    it('when any parameter was changed, then the hmac is invalid', () => {
      const q = { ...callback(), shop: 'other-shop.myshopify.com' };
      expect(verifyOAuthQuery(q, SECRET, { now: NOW })).to.deep.equal({ valid: false, reason: 'invalid-hmac' });
    });

    it('when signed with another secret, then the hmac is invalid', () => {
      expect(verifyOAuthQuery(callback(), 'other', { now: NOW })).to.deep.equal({ valid: false, reason: 'invalid-hmac' });
    });

    it('when the hmac is missing or malformed, then it is refused with a reason', () => {
      const { hmac: _omit, ...rest } = callback();
      expect(verifyOAuthQuery(rest, SECRET, { now: NOW })).to.deep.equal({ valid: false, reason: 'missing-hmac' });
      expect(verifyOAuthQuery({ ...callback(), hmac: 'zz' }, SECRET, { now: NOW })).to.deep.equal({ valid: false, reason: 'invalid-hmac' });
    });

    it('when a signature parameter is present, then it is left out of the message like hmac', () => {
      expect(verifyOAuthQuery({ ...callback(), signature: 'legacy' }, SECRET, { now: NOW })).to.deep.equal({ valid: true });
    });

    it('when the timestamp is older than the window or far in the future, then it is stale', () => {
      expect(verifyOAuthQuery(callback(), SECRET, { now: NOW + 301_000 })).to.deep.equal({ valid: false, reason: 'stale-timestamp' });
      expect(verifyOAuthQuery(callback(), SECRET, { now: NOW - 120_000 })).to.deep.equal({ valid: false, reason: 'stale-timestamp' });
      expect(verifyOAuthQuery(callback(), SECRET, { now: NOW + 299_000 })).to.deep.equal({ valid: true });
    });

    it('when the signed shop is not a myshopify domain, then it is refused', () => {
      const q = shopifySigned({ code: 'c', shop: 'evil.com', state: 's', timestamp: nowSeconds });
      expect(verifyOAuthQuery(q, SECRET, { now: NOW })).to.deep.equal({ valid: false, reason: 'invalid-shop' });
    });

    it('when no secret is configured, then nothing verifies', () => {
      expect(verifyOAuthQuery(callback(), '', { now: NOW })).to.deep.equal({ valid: false, reason: 'no-secret' });
    });

    it('when values need encoding (host is base64 with =), then the message is form encoded, sorted by name', () => {
      expect(oauthQueryMessage({ timestamp: '1', host: 'YQ==', hmac: 'x', code: 'a&b' })).to.equal('code=a%26b&host=YQ%3D%3D&timestamp=1');
    });
  });

  describe('requestCodeGrant (the authorization-code exchange)', () => {
    const endpoint = (fetch: typeof globalThis.fetch) => ({ apiBaseUrl: 'https://{shop}', shop: 'a.myshopify.com', clientId: 'k', clientSecret: 's', fetch, now: () => 0 });

    it('when Shopify accepts the code, then the token and scope are returned', async () => {
      const fetch = sinon.stub().resolves(new Response(JSON.stringify({ access_token: 'shpat_x', scope: 'read_products' }), { status: 200 }));
      const result = await requestCodeGrant(endpoint(fetch), 'c', false);
      expect(result).to.deep.equal({ accessToken: 'shpat_x', scope: 'read_products', expiresAt: null, refreshToken: null, refreshTokenExpiresAt: null });
      const [url, init] = fetch.firstCall.args as [string, RequestInit];
      expect(url).to.equal('https://a.myshopify.com/admin/oauth/access_token');
      expect(init.method).to.equal('POST');
      expect(JSON.parse(String(init.body))).to.deep.equal({ client_id: 'k', client_secret: 's', code: 'c' });
    });

    it('when expiring tokens are asked for, then expiring=1 is sent and both expiries are returned', async () => {
      const fetch = sinon
        .stub()
        .resolves(new Response(JSON.stringify({ access_token: 'shpat_x', scope: 'read_products', expires_in: 3600, refresh_token: 'shprt_y', refresh_token_expires_in: 7_776_000 }), { status: 200 }));
      const result = await requestCodeGrant(endpoint(fetch), 'c', true);
      expect(JSON.parse(String((fetch.firstCall.args as [string, RequestInit])[1].body))).to.include({ code: 'c', expiring: '1' });
      expect(result).to.deep.equal({ accessToken: 'shpat_x', scope: 'read_products', expiresAt: new Date(3_600_000), refreshToken: 'shprt_y', refreshTokenExpiresAt: new Date(7_776_000_000) });
    });

    it('when Shopify refuses the code, then a ShopifyClientError carries its error', async () => {
      const fetch = sinon.stub().resolves(new Response(JSON.stringify({ error: 'invalid_request', error_description: 'used' }), { status: 400 }));
      const error = await requestCodeGrant(endpoint(fetch), 'c', false).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(ShopifyClientError).and.include({ upstreamStatus: 400, shopifyErrors: 'invalid_request: used' });
    });
  });
});
