import { expect } from 'chai';
import { openAccessToken } from '../../src/store/integration-secrets.js';
import { startMockShopify, type MockShopify } from '../../scripts/mock-shopify/index.js';
import { sha256Hex } from '../../src/platform/crypto.js';
import { signOAuthQuery } from '../../src/shopify/oauth.js';
import { startTestContext, type TestContext } from '../support/context.js';
import { call, expectProblem, type ApiResponse } from '../support/http.js';
import { OAuthBrowser } from '../support/oauth-browser.js';
import { product, seedRecords } from '../support/seed.js';

const HOOKS = 'https://hooks.example.test';
const CALLBACK_PATH = '/api/shopify/oauth/callback/';
const BEGIN_PATH = '/api/shopify/oauth/begin/';
const MAX_PENDING = 3;

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
      OAUTH_MAX_PENDING_PER_TENANT: String(MAX_PENDING),
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

  class Browser extends OAuthBrowser {
    constructor() {
      super(t.url, HOOKS);
    }
  }
  const openPage = (browser: Browser, link: string) => browser.openPage(link);
  const confirmIn = (browser: Browser, link: string) => browser.confirm(link);

  /** Follows the mock's authorize redirect: the callback query Shopify would send the browser back with. */
  const authorize = async (authorizeUrl: string): Promise<string> => {
    const res = await fetch(authorizeUrl, { redirect: 'manual' });
    expect(res.status).to.equal(302);
    const location = new URL(res.headers.get('location')!);
    expect(`${location.origin}${location.pathname}`).to.equal(`${HOOKS}${CALLBACK_PATH}`);
    return location.search;
  };

  const asResponse = async (res: Response): Promise<ApiResponse> => {
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, body: /json/.test(res.headers.get('content-type') ?? '') && text ? JSON.parse(text) : text };
  };
  const callback = async (browser: Browser, search: string) => asResponse(await browser.fetch(`${t.url}${CALLBACK_PATH}${search}`));

  /** The whole install in one browser: initiate, confirm, approve at Shopify; the callback query and the browser. */
  const install = async (key: string, shop: string) => {
    const browser = new Browser();
    const search = await authorize(await confirmIn(browser, (await initiate(key, shop)).authorize_url));
    return { browser, search };
  };

  /** A browser that confirmed `state` (for callbacks built by hand). */
  const confirmedBrowser = async (link: string) => {
    const browser = new Browser();
    await confirmIn(browser, link);
    return browser;
  };

  /** A callback signed with the app secret, as Shopify would sign it (for the checks after the HMAC). */
  const signed = (params: Record<string, string>) => {
    const hmac = signOAuthQuery(params, mock.apiSecret);
    return `?${new URLSearchParams({ ...params, hmac }).toString()}`;
  };
  const now = () => String(Math.floor(Date.now() / 1000));

  const integrationsOf = (tenant: string) => t.ctx.db.selectFrom('shopify_integrations').selectAll().where('tenant_id', '=', tenant).execute();
  const stateIsPending = async (state: string) => (await t.ctx.redis.exists(t.ctx.keys.key('oauth-state', sha256Hex(state)))) === 1;

  describe('GET /api/shopify/oauth/initiate/', () => {
    it('when a tenant starts an install, then it gets our confirmation link and a single-use state stored only as a hash', async () => {
      const key = await t.keyFor('tenant-init');
      const body = await initiate(key, 'OAuth-A.myshopify.com');
      const url = new URL(body.authorize_url);
      expect(`${url.origin}${url.pathname}`).to.equal(`${HOOKS}${BEGIN_PATH}`);
      expect(Object.fromEntries(url.searchParams)).to.deep.equal({ state: body.state });
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

    it('when redirect=true, then 302 to the confirmation page', async () => {
      const key = await t.keyFor('tenant-init');
      const res = await call(t.url, 'GET', '/api/shopify/oauth/initiate/?shop=oauth-a.myshopify.com&redirect=true', { key });
      expect(res.status, res.text).to.equal(302);
      expect(res.headers.get('location')).to.match(new RegExp(`^${HOOKS}${BEGIN_PATH}\\?state=`));
    });

    it(`when a tenant starts more than ${MAX_PENDING} installs, then its oldest states are dropped and the newest work`, async () => {
      const key = await t.keyFor('tenant-many');
      const started = [];
      for (let i = 0; i < MAX_PENDING + 2; i++) started.push(await initiate(key, 'oauth-d.myshopify.com'));
      const pending = await Promise.all(started.map((s) => stateIsPending(s.state)));
      expect(pending).to.deep.equal([false, false, ...Array(MAX_PENDING).fill(true)]);
      expect(await t.ctx.redis.zCard(t.ctx.keys.key('oauth-states-of', 'tenant-many'))).to.equal(MAX_PENDING);
      expectProblem(await asResponse(await new Browser().fetch(started[0]!.authorize_url)), 404);
      expect((await new Browser().fetch(started.at(-1)!.authorize_url)).status).to.equal(200);
      // Another tenant's states are not touched.
      expect(await stateIsPending((await initiate(await t.keyFor('tenant-few'), 'oauth-d.myshopify.com')).state)).to.equal(true);
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

  describe('GET and POST /api/shopify/oauth/begin/', () => {
    it('when the merchant opens the link, then a self-contained, unframeable, uncached page names the shop and the tenant and sets a Strict nonce cookie', async () => {
      const key = await t.keyFor('tenant-page');
      const { authorize_url: link } = await initiate(key, 'oauth-b.myshopify.com');
      const browser = new Browser();
      const { res, html, nonce } = await openPage(browser, link);
      expect(res.status).to.equal(200);
      expect(res.headers.get('content-type')).to.match(/^text\/html/);
      expect(html).to.include('oauth-b.myshopify.com').and.to.include('tenant-page');
      expect(html).to.match(/<form method="post" action="\/api\/shopify\/oauth\/begin\/">/);
      expect(html).not.to.match(/<script|\s(src|href)=/i);
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).to.include("frame-ancestors 'none'").and.to.include("default-src 'none'");
      expect(csp).to.include(`form-action 'self' ${mock.url}/oauth-b.myshopify.com`);
      expect(res.headers.get('x-frame-options')).to.equal('DENY');
      expect(res.headers.get('cache-control')).to.equal('no-store');
      const [set] = browser.setCookies;
      expect(set)
        .to.match(/^shopint_oauth_confirm=/)
        .and.to.match(/HttpOnly/)
        .and.to.match(/SameSite=Strict/)
        .and.to.match(/Path=\/api\/shopify\/oauth\//);
      expect(nonce).to.have.length.greaterThan(20);
      expect(set).not.to.include(nonce === '' ? 'x' : `=${nonce};`);
    });

    it('when the link is unknown or expired, then 404 problem+json', async () => {
      expectProblem(await asResponse(await new Browser().fetch(`${t.url}${BEGIN_PATH}?state=made-up`)), 404);
    });

    it("when the merchant confirms, then 303 to Shopify's authorize URL with a signed, HttpOnly, Lax install cookie as long-lived as the state", async () => {
      const key = await t.keyFor('tenant-page');
      const { authorize_url: link, state } = await initiate(key, 'oauth-b.myshopify.com');
      const browser = new Browser();
      const authorizeUrl = new URL(await confirmIn(browser, link));
      expect(`${authorizeUrl.origin}${authorizeUrl.pathname}`).to.equal(`${mock.url}/oauth-b.myshopify.com/admin/oauth/authorize`);
      expect(Object.fromEntries(authorizeUrl.searchParams)).to.deep.equal({
        client_id: mock.apiKey,
        scope: 'read_products,read_orders',
        redirect_uri: `${HOOKS}${CALLBACK_PATH}`,
        state,
      });
      const install = browser.setCookies.find((c) => c.startsWith('shopint_oauth_install='))!;
      expect(install)
        .to.match(/HttpOnly/)
        .and.to.match(/SameSite=Lax/)
        .and.to.match(/Path=\/api\/shopify\/oauth\//)
        .and.to.match(/Secure/);
      const maxAge = Number(/Max-Age=(\d+)/.exec(install)![1]);
      expect(maxAge).to.be.within(t.config.oauthStateTtlSeconds - 5, t.config.oauthStateTtlSeconds);
      expect(install).not.to.include(state);
      expect(browser.cookies.has('shopint_oauth_confirm')).to.equal(false);
      expect(await stateIsPending(state)).to.equal(true);
    });

    it('when a form is posted from another site (no Strict cookie) or with another nonce, then 403 and no install cookie', async () => {
      const key = await t.keyFor('tenant-page');
      const { authorize_url: link, state } = await initiate(key, 'oauth-b.myshopify.com');
      const victim = new Browser();
      const { nonce } = await openPage(victim, link);
      // The cross-site form: the attacker knows state and even a nonce, but the browser sends no Strict cookie.
      const crossSite = new Browser();
      const res = await asResponse(await crossSite.postForm(`${t.url}${BEGIN_PATH}`, { state, nonce }));
      expectProblem(res, 403);
      expect(crossSite.setCookies).to.deep.equal([]);
      const wrongNonce = await asResponse(await victim.postForm(`${t.url}${BEGIN_PATH}`, { state, nonce: `${nonce}x` }));
      expectProblem(wrongNonce, 403);
      expect(victim.cookies.has('shopint_oauth_install')).to.equal(false);
      // The page's own form still works.
      expect((await victim.postForm(`${t.url}${BEGIN_PATH}`, { state, nonce })).status).to.equal(303);
    });

    it('when the form lacks a field, then 400', async () => {
      const res = await asResponse(await new Browser().postForm(`${t.url}${BEGIN_PATH}`, { state: 'x' }));
      expectProblem(res, 400);
    });
  });

  describe('GET /api/shopify/oauth/callback/', () => {
    it('when the merchant confirms and approves, then the callback connects the store for the tenant that started it and clears the cookie', async () => {
      const key = await t.keyFor('tenant-oauth');
      const { browser, search } = await install(key, 'oauth-a.myshopify.com');
      const res = await callback(browser, search);
      expect(res.status, res.text).to.equal(201);
      expect(res.body.integration).to.include({ shop_domain: 'oauth-a.myshopify.com', install_method: 'oauth', is_active: true, is_connected: true });
      expect(res.body.integration.scopes).to.deep.equal(['read_products', 'read_orders']);
      expect(res.body.webhooks.created.length).to.be.greaterThan(0);
      expect(browser.cookies.has('shopint_oauth_install')).to.equal(false);

      const [row] = await integrationsOf('tenant-oauth');
      const token = openAccessToken(t.ctx.secrets, row!);
      expect(mock.shop('oauth-a.myshopify.com').accessTokens.has(token)).to.equal(true);
      issued.push(token);
      expect(res.text).not.to.include(token);
      const status = await call(t.url, 'GET', '/api/shopify/status/', { key });
      expect(status.body).to.include({ shop_domain: 'oauth-a.myshopify.com', install_method: 'oauth' });

      // The same callback again: the state was used up.
      const replay = await callback(browser, search);
      expectProblem(replay, 401);
      expect(replay.body.detail).to.match(/state/i);
      const [after] = await integrationsOf('tenant-oauth');
      expect(after!.updated_at.getTime()).to.equal(row!.updated_at.getTime());
    });

    it("when an attacker tenant's authorize link is followed in another browser (issue #20), then 403, nothing is connected and the state is kept", async () => {
      const attacker = await t.keyFor('tenant-attacker');
      const { authorize_url: link, state } = await initiate(attacker, 'oauth-c.myshopify.com');
      // The attacker confirms in its own browser and hands the merchant Shopify's authorize URL, which an
      // installed app approves without a prompt.
      const shopifyLink = await confirmIn(new Browser(), link);
      const merchant = new Browser();
      const res = await callback(merchant, await authorize(shopifyLink));
      expectProblem(res, 403);
      expect(res.body.detail).to.match(/same browser/);
      expect(await integrationsOf('tenant-attacker')).to.deep.equal([]);
      expect(await t.ctx.db.selectFrom('shopify_integrations').select('id').where('shop_domain', '=', 'oauth-c.myshopify.com').execute()).to.deep.equal([]);
      expect(await stateIsPending(state)).to.equal(true);
      // The bare Shopify URL built from the state (skipping our page) fails the same way.
      const skipped = new URL(`${mock.url}/oauth-c.myshopify.com/admin/oauth/authorize`);
      for (const [k, v] of Object.entries({ client_id: mock.apiKey, scope: 'read_products', redirect_uri: `${HOOKS}${CALLBACK_PATH}`, state })) skipped.searchParams.set(k, v);
      expectProblem(await callback(new Browser(), await authorize(skipped.toString())), 403);
      expect(await integrationsOf('tenant-attacker')).to.deep.equal([]);
    });

    it('when the install cookie names another install, then 403 and the state is kept', async () => {
      const key = await t.keyFor('tenant-two-tabs');
      const first = await initiate(key, 'oauth-c.myshopify.com');
      const other = await confirmedBrowser((await initiate(key, 'oauth-d.myshopify.com')).authorize_url);
      const res = await callback(other, signed({ code: 'abc', shop: 'oauth-c.myshopify.com', state: first.state, timestamp: now() }));
      expectProblem(res, 403);
      expect(await stateIsPending(first.state)).to.equal(true);
    });

    it('when the hmac was tampered with, then 401, nothing is saved, and the state still works for the genuine callback', async () => {
      const key = await t.keyFor('tenant-tamper');
      const { browser, search } = await install(key, 'oauth-b.myshopify.com');
      const params = new URLSearchParams(search);
      const hmac = params.get('hmac')!;
      params.set('hmac', `${hmac[0] === 'a' ? 'b' : 'a'}${hmac.slice(1)}`);
      expectProblem(await callback(browser, `?${params}`), 401);
      const forged = new URLSearchParams(search);
      forged.set('shop', 'oauth-c.myshopify.com');
      expectProblem(await callback(browser, `?${forged}`), 401);
      expect(await integrationsOf('tenant-tamper')).to.deep.equal([]);

      const genuine = await callback(browser, search);
      expect(genuine.status, genuine.text).to.equal(201);
      issued.push(...mock.shop('oauth-b.myshopify.com').accessTokens);
    });

    it('when the timestamp is stale, then 401 and nothing is saved', async () => {
      const key = await t.keyFor('tenant-stale');
      const { state, authorize_url: link } = await initiate(key, 'oauth-c.myshopify.com');
      const res = await callback(await confirmedBrowser(link), signed({ code: 'abc', shop: 'oauth-c.myshopify.com', state, timestamp: String(Math.floor(Date.now() / 1000) - 3600) }));
      expectProblem(res, 401);
      expect(res.body.detail).to.match(/timestamp/);
      expect(await integrationsOf('tenant-stale')).to.deep.equal([]);
    });

    it('when a state issued for one shop comes back with another shop, then 401, nothing is saved, and the state is spent', async () => {
      const key = await t.keyFor('tenant-shop-swap');
      const { state, authorize_url: link } = await initiate(key, 'oauth-c.myshopify.com');
      const browser = await confirmedBrowser(link);
      const res = await callback(browser, signed({ code: 'abc', shop: 'oauth-d.myshopify.com', state, timestamp: now() }));
      expectProblem(res, 401);
      expect(res.body.detail).to.match(/another shop/);
      expect(await integrationsOf('tenant-shop-swap')).to.deep.equal([]);
      const again = await callback(browser, signed({ code: 'abc', shop: 'oauth-c.myshopify.com', state, timestamp: now() }));
      expectProblem(again, 401);
      expect(await integrationsOf('tenant-shop-swap')).to.deep.equal([]);
    });

    it('when a state was never issued, then 401 and nothing is saved', async () => {
      const before = (await t.ctx.db.selectFrom('shopify_integrations').select('id').execute()).length;
      expectProblem(await callback(new Browser(), signed({ code: 'abc', shop: 'oauth-d.myshopify.com', state: 'made-up-state', timestamp: now() })), 401);
      expect((await t.ctx.db.selectFrom('shopify_integrations').select('id').execute()).length).to.equal(before);
    });

    it('when Shopify refuses the code, then 422 and nothing is saved', async () => {
      const key = await t.keyFor('tenant-badcode');
      const { state, authorize_url: link } = await initiate(key, 'oauth-d.myshopify.com');
      const res = await callback(await confirmedBrowser(link), signed({ code: 'not-a-code', shop: 'oauth-d.myshopify.com', state, timestamp: now() }));
      expectProblem(res, 422);
      expect(await integrationsOf('tenant-badcode')).to.deep.equal([]);
    });

    it('when a parameter is missing or the shop is malformed, then 400', async () => {
      expectProblem(await callback(new Browser(), `?shop=oauth-d.myshopify.com&state=s&timestamp=${now()}&hmac=00`), 400);
      const res = await callback(new Browser(), signed({ code: 'abc', shop: 'evil.com', state: 's', timestamp: now() }));
      expectProblem(res, 400);
    });

    it('when the shop is already connected to another tenant, then 409 and it stays there', async () => {
      const key = await t.keyFor('tenant-late');
      const { browser, search } = await install(key, 'oauth-a.myshopify.com');
      expectProblem(await callback(browser, search), 409);
      expect(await integrationsOf('tenant-late')).to.deep.equal([]);
      expect((await integrationsOf('tenant-oauth'))[0]!.shop_domain).to.equal('oauth-a.myshopify.com');
      issued.push(...mock.shop('oauth-a.myshopify.com').accessTokens);
    });

    it("when the shop was disconnected by another tenant, then it moves here, and that tenant's copy is deleted and its status says so", async () => {
      const oldKey = await t.keyFor('tenant-oauth');
      const old = (await integrationsOf('tenant-oauth'))[0]!;
      await seedRecords(t.ctx, { tenantId: 'tenant-oauth', integrationId: old.id }, 'products', [product()]);
      expect((await call(t.url, 'DELETE', '/api/shopify/connect/', { key: oldKey })).status).to.equal(200);

      const key = await t.keyFor('tenant-next');
      const { browser, search } = await install(key, 'oauth-a.myshopify.com');
      const res = await callback(browser, search);
      expect(res.status, res.text).to.equal(201);
      issued.push(...mock.shop('oauth-a.myshopify.com').accessTokens);
      expect((await integrationsOf('tenant-next'))[0]!.shop_domain).to.equal('oauth-a.myshopify.com');
      const previous = await call(t.url, 'GET', '/api/shopify/status/', { key: oldKey });
      expect(previous.status, previous.text).to.equal(200);
      expect(previous.body).to.include({ shop_domain: 'oauth-a.myshopify.com', is_active: false, is_connected: false });
      expect(Date.parse(previous.body.connected_elsewhere_at)).to.be.within(Date.now() - 60_000, Date.now());
      expect((await call(t.url, 'GET', '/api/shopify/products/', { key: oldKey })).body.data).to.deep.equal([]);
      const warned = t.logs.lines.map((l) => JSON.parse(l) as { level: number; msg: string; previousTenantId?: string }).filter((l) => l.level === 40 && /moved here from another tenant/.test(l.msg));
      expect(warned.map((l) => l.previousTenantId)).to.include('tenant-oauth');
    });

    it('when a success URL is configured, then the callback redirects there', async () => {
      const key = await t.keyFor('tenant-redirect');
      const { browser, search } = await install(key, 'oauth-e.myshopify.com');
      t.config.shopify.oauthSuccessUrl = 'https://app.example.test/shopify/connected?from=oauth';
      try {
        const res = await callback(browser, search);
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
      // Debug-level "request completed" lines carry Location headers (with a state): pino-http logs
      // response headers and only set-cookie is redacted.
      const infoAndAbove = t.logs.lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 30).join('\n');
      expect(infoAndAbove).not.to.match(unredacted('state'));
      expect(infoAndAbove).not.to.match(unredacted('hmac'));
    });
  });
});
