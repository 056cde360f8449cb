import { expect } from 'chai';
import { openAccessToken } from '../../src/store/integration-secrets.js';
import { startMockShopify, type MockShopify } from '../../scripts/mock-shopify/index.js';
import { sha256Hex } from '../../src/platform/crypto.js';
import { signOAuthQuery } from '../../src/shopify/oauth.js';
import { startTestContext, type TestContext } from '../support/context.js';
import { call, expectProblem } from '../support/http.js';

const HOOKS = 'https://hooks.example.test';
const CALLBACK_PATH = '/api/shopify/oauth/callback/';

describe('OAuth install (against the mock Shopify)', () => {
  let mock: MockShopify;
  let t: TestContext;
  const issued: string[] = [];
  const domains = ['oauth-a', 'oauth-b', 'oauth-c', 'oauth-d', 'oauth-e'].map((n) => `${n}.myshopify.com`);

  before(async () => {
    mock = await startMockShopify({ shops: domains.map((domain) => ({ domain, products: 2, orders: 2, customers: 2 })), rateLimit: { enabled: false } });
    t = await startTestContext({
      SHOPIFY_API_BASE_URL: mock.baseUrlTemplate,
      SHOPIFY_API_KEY: mock.apiKey,
      SHOPIFY_API_SECRET: mock.apiSecret,
      SHOPIFY_WEBHOOK_BASE_URL: HOOKS,
      SHOPIFY_SCOPES: 'read_products,read_orders',
      SHOPIFY_MAX_REQUESTS_PER_SECOND: '1000',
      SHOPIFY_BUCKET_SIZE: '1000',
      SHOPIFY_MAX_RETRY_ATTEMPTS: '1',
      SHOPIFY_RETRY_DELAY: '0.01',
    });
  });
  after(async () => {
    await t?.close();
    await mock?.close();
  });

  const initiate = async (key: string, shop: string) => {
    const res = await call(t.url, 'GET', `/api/shopify/oauth/initiate/?shop=${encodeURIComponent(shop)}`, { key });
    expect(res.status, res.text).to.equal(200);
    return res.body as { authorize_url: string; state: string; expires_at: string };
  };

  /** Follows the mock's authorize redirect: the callback query Shopify would send the browser back with. */
  const authorize = async (authorizeUrl: string): Promise<string> => {
    const res = await fetch(authorizeUrl, { redirect: 'manual' });
    expect(res.status).to.equal(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).to.equal(`${HOOKS}${CALLBACK_PATH}`);
    return location.search;
  };

  const callback = (search: string) => call(t.url, 'GET', `${CALLBACK_PATH}${search}`);

  /** A callback signed with the app secret, as Shopify would sign it (for the checks after the HMAC). */
  const signed = (params: Record<string, string>) => {
    const hmac = signOAuthQuery(params, mock.apiSecret);
    return `?${new URLSearchParams({ ...params, hmac }).toString()}`;
  };
  const now = () => String(Math.floor(Date.now() / 1000));

  const integrationsOf = (tenant: string) => t.ctx.db.selectFrom('shopify_integrations').selectAll().where('tenant_id', '=', tenant).execute();

  describe('GET /api/shopify/oauth/initiate/', () => {
    it('when a tenant starts an install, then it gets the authorize URL and a single-use state stored only as a hash', async () => {
      const key = await t.keyFor('tenant-init');
      const body = await initiate(key, 'OAuth-A.myshopify.com');
      const url = new URL(body.authorize_url);
      expect(`${url.origin}${url.pathname}`).to.equal(`${mock.url}/oauth-a.myshopify.com/admin/oauth/authorize`);
      expect(Object.fromEntries(url.searchParams)).to.deep.equal({
        client_id: mock.apiKey, scope: 'read_products,read_orders', redirect_uri: `${HOOKS}${CALLBACK_PATH}`, state: body.state,
      });
      expect(body.state).to.have.length.greaterThan(30);
      expect(Date.parse(body.expires_at) - Date.now()).to.be.within((t.config.oauthStateTtlSeconds - 5) * 1000, t.config.oauthStateTtlSeconds * 1000);

      const key1 = t.ctx.keys.key('oauth-state', sha256Hex(body.state));
      expect(JSON.parse((await t.ctx.redis.get(key1))!)).to.deep.equal({ tenant_id: 'tenant-init', shop: 'oauth-a.myshopify.com' });
      const ttl = await t.ctx.redis.ttl(key1);
      expect(ttl).to.be.within(1, t.config.oauthStateTtlSeconds);
      const keys: string[] = [];
      for await (const batch of t.ctx.redis.scanIterator({ MATCH: `${t.config.redisKeyPrefix}*`, COUNT: 500 })) keys.push(...(batch as unknown as string[]));
      expect(keys.join(' ')).not.to.include(body.state);
    });

    it('when redirect=true, then 302 to the authorize URL', async () => {
      const key = await t.keyFor('tenant-init');
      const res = await call(t.url, 'GET', '/api/shopify/oauth/initiate/?shop=oauth-a.myshopify.com&redirect=true', { key });
      expect(res.status, res.text).to.equal(302);
      expect(res.headers.get('location')).to.match(new RegExp(`^${mock.url}/oauth-a\\.myshopify\\.com/admin/oauth/authorize\\?`));
    });

    it('when the shop is not a myshopify.com domain, then 400', async () => {
      const key = await t.keyFor('tenant-init');
      const res = await call(t.url, 'GET', '/api/shopify/oauth/initiate/?shop=a.myshopify.com.evil.com', { key });
      expectProblem(res, 400);
      expect(res.body.errors[0].name).to.equal('shop');
    });

    it('when no key is sent, then 401', async () => {
      expectProblem(await call(t.url, 'GET', '/api/shopify/oauth/initiate/?shop=oauth-a.myshopify.com'), 401);
    });
  });

  describe('GET /api/shopify/oauth/callback/', () => {
    it('when the merchant approves, then the callback connects the store for the tenant that started it', async () => {
      const key = await t.keyFor('tenant-oauth');
      const search = await authorize((await initiate(key, 'oauth-a.myshopify.com')).authorize_url);
      const res = await callback(search);
      expect(res.status, res.text).to.equal(201);
      expect(res.body.integration).to.include({ shop_domain: 'oauth-a.myshopify.com', install_method: 'oauth', is_active: true, is_connected: true });
      expect(res.body.integration.scopes).to.deep.equal(['read_products', 'read_orders']);
      expect(res.body.webhooks.created.length).to.be.greaterThan(0);

      const [row] = await integrationsOf('tenant-oauth');
      const token = openAccessToken(t.ctx.secrets, row!);
      expect(mock.shop('oauth-a.myshopify.com').accessTokens.has(token)).to.equal(true);
      issued.push(token);
      expect(res.text).not.to.include(token);
      const status = await call(t.url, 'GET', '/api/shopify/status/', { key });
      expect(status.body).to.include({ shop_domain: 'oauth-a.myshopify.com', install_method: 'oauth' });

      // The same callback again: the state was used up.
      const replay = await callback(search);
      expectProblem(replay, 401);
      expect(replay.body.detail).to.match(/state/i);
      const [after] = await integrationsOf('tenant-oauth');
      expect(after!.updated_at.getTime()).to.equal(row!.updated_at.getTime());
    });

    it('when the hmac was tampered with, then 401, nothing is saved, and the state still works for the genuine callback', async () => {
      const key = await t.keyFor('tenant-tamper');
      const search = await authorize((await initiate(key, 'oauth-b.myshopify.com')).authorize_url);
      const params = new URLSearchParams(search);
      const hmac = params.get('hmac')!;
      params.set('hmac', `${hmac[0] === 'a' ? 'b' : 'a'}${hmac.slice(1)}`);
      expectProblem(await callback(`?${params}`), 401);
      const forged = new URLSearchParams(search);
      forged.set('shop', 'oauth-c.myshopify.com');
      expectProblem(await callback(`?${forged}`), 401);
      expect(await integrationsOf('tenant-tamper')).to.deep.equal([]);

      const genuine = await callback(search);
      expect(genuine.status, genuine.text).to.equal(201);
      issued.push(...mock.shop('oauth-b.myshopify.com').accessTokens);
    });

    it('when the timestamp is stale, then 401 and nothing is saved', async () => {
      const key = await t.keyFor('tenant-stale');
      const { state } = await initiate(key, 'oauth-c.myshopify.com');
      const res = await callback(signed({ code: 'abc', shop: 'oauth-c.myshopify.com', state, timestamp: String(Math.floor(Date.now() / 1000) - 3600) }));
      expectProblem(res, 401);
      expect(res.body.detail).to.match(/timestamp/);
      expect(await integrationsOf('tenant-stale')).to.deep.equal([]);
    });

    it('when a state issued for one shop comes back with another shop, then 401, nothing is saved, and the state is spent', async () => {
      const key = await t.keyFor('tenant-shop-swap');
      const { state } = await initiate(key, 'oauth-c.myshopify.com');
      const res = await callback(signed({ code: 'abc', shop: 'oauth-d.myshopify.com', state, timestamp: now() }));
      expectProblem(res, 401);
      expect(res.body.detail).to.match(/another shop/);
      expect(await integrationsOf('tenant-shop-swap')).to.deep.equal([]);
      const again = await callback(signed({ code: 'abc', shop: 'oauth-c.myshopify.com', state, timestamp: now() }));
      expectProblem(again, 401);
      expect(await integrationsOf('tenant-shop-swap')).to.deep.equal([]);
    });

    it('when a state was never issued, then 401 and nothing is saved', async () => {
      const before = (await t.ctx.db.selectFrom('shopify_integrations').select('id').execute()).length;
      expectProblem(await callback(signed({ code: 'abc', shop: 'oauth-d.myshopify.com', state: 'made-up-state', timestamp: now() })), 401);
      expect((await t.ctx.db.selectFrom('shopify_integrations').select('id').execute()).length).to.equal(before);
    });

    it('when Shopify refuses the code, then 422 and nothing is saved', async () => {
      const key = await t.keyFor('tenant-badcode');
      const { state } = await initiate(key, 'oauth-d.myshopify.com');
      const res = await callback(signed({ code: 'not-a-code', shop: 'oauth-d.myshopify.com', state, timestamp: now() }));
      expectProblem(res, 422);
      expect(await integrationsOf('tenant-badcode')).to.deep.equal([]);
    });

    it('when a parameter is missing or the shop is malformed, then 400', async () => {
      expectProblem(await callback(`?shop=oauth-d.myshopify.com&state=s&timestamp=${now()}&hmac=00`), 400);
      const res = await callback(signed({ code: 'abc', shop: 'evil.com', state: 's', timestamp: now() }));
      expectProblem(res, 400);
    });

    it('when the shop is already connected to another tenant, then 409 and it stays there', async () => {
      const key = await t.keyFor('tenant-late');
      const search = await authorize((await initiate(key, 'oauth-a.myshopify.com')).authorize_url);
      expectProblem(await callback(search), 409);
      expect(await integrationsOf('tenant-late')).to.deep.equal([]);
      expect((await integrationsOf('tenant-oauth'))[0]!.shop_domain).to.equal('oauth-a.myshopify.com');
      issued.push(...mock.shop('oauth-a.myshopify.com').accessTokens);
    });

    it('when a success URL is configured, then the callback redirects there', async () => {
      const key = await t.keyFor('tenant-redirect');
      const search = await authorize((await initiate(key, 'oauth-e.myshopify.com')).authorize_url);
      t.config.shopify.oauthSuccessUrl = 'https://app.example.test/shopify/connected?from=oauth';
      try {
        const res = await callback(search);
        expect(res.status, res.text).to.equal(302);
        expect(res.headers.get('location')).to.equal('https://app.example.test/shopify/connected?from=oauth&shop=oauth-e.myshopify.com');
      } finally {
        t.config.shopify.oauthSuccessUrl = undefined;
      }
      expect((await integrationsOf('tenant-redirect'))[0]).to.include({ shop_domain: 'oauth-e.myshopify.com', install_method: 'oauth' });
      issued.push(...mock.shop('oauth-e.myshopify.com').accessTokens);
    });

    it('when all of the above ran, then no token or code is in the logs, and no state at info level or above', () => {
      const logs = t.logs.text();
      expect(issued.length).to.be.greaterThan(2);
      for (const token of issued) expect(logs).not.to.include(token);
      const unredacted = (name: string) => new RegExp(`[?&]${name}=(?!\\[redacted\\])`);
      expect(logs).not.to.match(unredacted('code'));
      // The debug-level "request completed" line of `redirect=true` carries the Location header (the
      // authorize URL, with its state): pino-http logs response headers and only set-cookie is redacted.
      const infoAndAbove = t.logs.lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 30).join('\n');
      expect(infoAndAbove).not.to.match(unredacted('state'));
      expect(infoAndAbove).not.to.match(unredacted('hmac'));
    });
  });
});
