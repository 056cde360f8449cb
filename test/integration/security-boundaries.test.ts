import { createHash, createHmac } from 'node:crypto';
import http from 'node:http';
import { expect } from 'chai';
import { startMockShopify, type MockShopify } from '../../scripts/mock-shopify/index.js';
import { signWebhookBody } from '../../src/shopify/hmac.js';
import { signOAuthQuery } from '../../src/shopify/oauth.js';
import { webhookKeys } from '../../src/webhooks/stream.js';
import { startTestContext, type TestContext } from '../support/context.js';
import { parseRaw, sendRaw } from '../support/fuzz-client.js';
import { call, expectProblem, type ApiResponse } from '../support/http.js';
import { OAuthBrowser } from '../support/oauth-browser.js';
import { connectShop, WEBHOOK_PATH } from '../support/webhooks.js';

const APP_SECRET = 'bounds-app-secret';
const STORE_SECRET = 'bounds-store-secret';
const SHOP = 'bounds-shop.myshopify.com';
const CUSTOM_SHOP = 'bounds-custom.myshopify.com';
const OAUTH_SHOPS = ['bounds-oauth-a', 'bounds-oauth-b', 'bounds-oauth-c', 'bounds-oauth-d'].map((n) => `${n}.myshopify.com`);

/** A webhook request with full control over header names and values (an array sends a header twice). */
function rawWebhook(url: string, body: string | Buffer, headers: Record<string, string | string[]>): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  const target = new URL(`${url}${WEBHOOK_PATH}`);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('security: signatures, OAuth state, headers and limits', () => {
  let t: TestContext;
  let mock: MockShopify;

  before(async () => {
    mock = await startMockShopify({
      apiKey: 'bounds-app-key',
      apiSecret: APP_SECRET,
      shops: OAUTH_SHOPS.map((domain) => ({ domain, products: 1, orders: 1, customers: 1 })),
      rateLimit: { enabled: false },
    });
    t = await startTestContext({
      SHOPIFY_API_BASE_URL: mock.baseUrlTemplate,
      SHOPIFY_API_KEY: 'bounds-app-key',
      SHOPIFY_API_SECRET: APP_SECRET,
      SHOPIFY_WEBHOOK_BASE_URL: 'https://hooks.example.test',
      SHOPIFY_MAX_REQUESTS_PER_SECOND: '1000',
      SHOPIFY_BUCKET_SIZE: '1000',
      SHOPIFY_RETRY_DELAY: '0.01',
      SHOPIFY_MAX_RETRY_ATTEMPTS: '1',
      SHOPIFY_SYNC_INTERVAL_PRODUCTS: '0',
      SHOPIFY_SYNC_INTERVAL_ORDERS: '0',
      SHOPIFY_SYNC_INTERVAL_CUSTOMERS: '0',
      SHOPIFY_SYNC_INTERVAL_INVENTORY: '0',
    });
    await connectShop(t.ctx, 'bounds-tenant', SHOP);
    await connectShop(t.ctx, 'bounds-custom-tenant', CUSTOM_SHOP, STORE_SECRET);
  });
  after(async () => {
    await t?.close();
    await mock?.close();
  });

  describe('webhook HMAC: every bypass attempt is 401 and stores nothing', () => {
    const payload = { id: 7_300_000_000_001, title: 'Zürich café', updated_at: '2024-03-01T00:00:00Z' };
    const body = JSON.stringify(payload);
    const good = signWebhookBody(body, APP_SECRET);
    const base = { 'x-shopify-topic': 'products/update', 'x-shopify-shop-domain': SHOP, 'x-shopify-event-id': 'bounds-event' };
    const hmacOf = (h: string | string[]) => ({ ...base, 'x-shopify-hmac-sha256': h });
    const hexOfGood = createHmac('sha256', APP_SECRET).update(body).digest('hex');

    const attempts: [string, string | Buffer, Record<string, string | string[]>][] = [
      ['empty header', body, hmacOf('')],
      ['whitespace only', body, hmacOf('   ')],
      ['truncated to 40 characters', body, hmacOf(good.slice(0, 40))],
      ['padding dropped', body, hmacOf(good.replace(/=+$/, ''))],
      ['one character changed', body, hmacOf(`${good[0] === 'A' ? 'B' : 'A'}${good.slice(1)}`)],
      ['signed with another secret', body, hmacOf(signWebhookBody(body, 'some-other-secret'))],
      ['signed with an empty secret', body, hmacOf(signWebhookBody(body, ''))],
      ['signed with the store secret of another shop', body, hmacOf(signWebhookBody(body, STORE_SECRET))],
      ['hex digest instead of base64', body, hmacOf(hexOfGood)],
      ['hex digest, base64-encoded', body, hmacOf(Buffer.from(hexOfGood).toString('base64'))],
      ['plain SHA-256 of the body (no key)', body, hmacOf(createHash('sha256').update(body).digest('base64'))],
      ['base64url alphabet', body, hmacOf(signWebhookBody(body, APP_SECRET).replace(/\+/g, '-').replace(/\//g, '_'))],
      ['junk around a valid signature', body, hmacOf(`!!${good}!!`)],
      ['valid then empty header (doubled)', body, hmacOf([good, ''])],
      ['empty then valid header (doubled)', body, hmacOf(['', good])],
      ['valid then forged header (doubled)', body, hmacOf([good, signWebhookBody(body, 'x')])],
      ['forged then valid header (doubled)', body, hmacOf([signWebhookBody(body, 'x'), good])],
      ['valid header twice', body, hmacOf([good, good])],
      ['header name with an underscore', body, { ...base, 'x-shopify-hmac_sha256': good }],
      ['header name misspelt', body, { ...base, 'x-shopify-hmac-sha-256': good }],
      ['body pretty-printed after signing', JSON.stringify(payload, null, 2), hmacOf(good)],
      ['body with a trailing newline after signing', `${body}\n`, hmacOf(good)],
      ['body re-encoded with \\u escapes after signing', body.replace('é', '\\u00e9').replace('ü', '\\u00fc'), hmacOf(good)],
      ['body with a BOM after signing', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(body)]), hmacOf(good)],
      ['body with keys reordered after signing', JSON.stringify({ updated_at: payload.updated_at, title: payload.title, id: payload.id }), hmacOf(good)],
      ['body signed as latin1, sent as UTF-8', body, hmacOf(createHmac('sha256', APP_SECRET).update(Buffer.from(body, 'latin1')).digest('base64'))],
      ['app secret for a shop with its own secret', body, { ...hmacOf(good), 'x-shopify-shop-domain': CUSTOM_SHOP }],
      ['upper-case header name, forged value', body, { ...base, 'X-SHOPIFY-HMAC-SHA256': signWebhookBody(body, 'x') }],
    ];

    it(`when ${attempts.length} forged, altered or doubled signatures are sent, then each is 401 problem+json and the stream stays as it was`, async () => {
      const stream = webhookKeys(t.ctx).stream;
      const before = Number(await t.ctx.redis.xLen(stream));
      const outcomes: string[] = [];
      for (const [name, sent, headers] of attempts) {
        const res = await rawWebhook(t.url, sent, headers);
        if (res.status !== 401 || !/^application\/problem\+json/.test(String(res.headers['content-type']))) outcomes.push(`${name}: ${res.status} ${res.text.slice(0, 120)}`);
      }
      expect(outcomes).to.deep.equal([]);
      expect(Number(await t.ctx.redis.xLen(stream))).to.equal(before);
    });

    it('when the same webhook is sent signed correctly (header name in any case), then it is accepted: the checks above refuse the forgery, not the format', async () => {
      for (const name of ['x-shopify-hmac-sha256', 'X-Shopify-Hmac-SHA256']) {
        const res = await rawWebhook(t.url, body, { ...base, [name]: good });
        expect(res.status, res.text).to.equal(200);
      }
      const custom = await rawWebhook(t.url, body, { ...base, 'x-shopify-shop-domain': CUSTOM_SHOP, 'x-shopify-hmac-sha256': signWebhookBody(body, STORE_SECRET) });
      expect(custom.status, custom.text).to.equal(200);
    });
  });

  describe('OAuth state: single use, bound to its tenant and shop', () => {
    const initiate = async (key: string, shop: string) => {
      const res = await call(t.url, 'GET', `/api/shopify/oauth/initiate/?shop=${shop}`, { key });
      expect(res.status, res.text).to.equal(200);
      return res.body as { authorize_url: string; state: string };
    };
    /** Each install's browser, by state: the callback comes back in the browser that confirmed. */
    const browsers = new Map<string, OAuthBrowser>();
    const browserFor = (link: string) => {
      const browser = new OAuthBrowser(t.url, 'https://hooks.example.test');
      browsers.set(new URL(link).searchParams.get('state')!, browser);
      return browser;
    };
    const confirm = (link: string) => browserFor(link).confirm(link);
    const approve = (link: string) => browserFor(link).approve(link);
    const callback = async (search: string) => {
      const cookies = browsers.get(new URLSearchParams(search).get('state') ?? '')?.cookies;
      const cookie = cookies ? [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
      return call(t.url, 'GET', `/api/shopify/oauth/callback/${search}`, cookie ? { headers: { cookie } } : {});
    };
    const owner = async (shop: string) => (await t.ctx.db.selectFrom('shopify_integrations').select('tenant_id').where('shop_domain', '=', shop).executeTakeFirst())?.tenant_id;

    it('when the genuine callback is replayed five times at once, then exactly one install happens and the others are 401', async () => {
      const key = await t.keyFor('oauth-race');
      const search = await approve((await initiate(key, OAUTH_SHOPS[0]!)).authorize_url);
      const results = await Promise.all(Array.from({ length: 5 }, () => callback(search)));
      expect(results.map((r) => r.status).sort()).to.deep.equal([201, 401, 401, 401, 401]);
      for (const r of results.filter((x) => x.status === 401)) expectProblem(r, 401);
      expect(await owner(OAUTH_SHOPS[0]!)).to.equal('oauth-race');
    });

    it('when two tenants start installs of the same shop, then the store goes to whoever completes first and the other state cannot take it over', async () => {
      const [keyA, keyB] = [await t.keyFor('oauth-first'), await t.keyFor('oauth-second')];
      const first = await approve((await initiate(keyA, OAUTH_SHOPS[1]!)).authorize_url);
      const second = await approve((await initiate(keyB, OAUTH_SHOPS[1]!)).authorize_url);
      expect((await callback(first)).status).to.equal(201);
      const token = (await t.ctx.db.selectFrom('shopify_integrations').select('access_token_encrypted').where('shop_domain', '=', OAUTH_SHOPS[1]!).executeTakeFirstOrThrow()).access_token_encrypted;
      expectProblem(await callback(second), 409);
      expect(await owner(OAUTH_SHOPS[1]!)).to.equal('oauth-first');
      const after = (await t.ctx.db.selectFrom('shopify_integrations').select('access_token_encrypted').where('shop_domain', '=', OAUTH_SHOPS[1]!).executeTakeFirstOrThrow()).access_token_encrypted;
      expect(after, "the first tenant's token was not replaced").to.equal(token);
    });

    it('when a parameter is repeated or one is slipped in (a tenant id), then the callback is refused and the state is not spent', async () => {
      const key = await t.keyFor('oauth-pollute');
      const { authorize_url, state } = await initiate(key, OAUTH_SHOPS[2]!);
      const search = await approve(authorize_url);
      expectProblem(await callback(`${search}&state=${encodeURIComponent(state)}`), 400);
      expectProblem(await callback(`${search}&state=someone-elses-state`), 400);
      expectProblem(await callback(`${search}&tenant_id=oauth-first`), 401);
      expect(await owner(OAUTH_SHOPS[2]!)).to.equal(undefined);
      expect((await callback(search)).status, 'the genuine callback still works').to.equal(201);
      expect(await owner(OAUTH_SHOPS[2]!)).to.equal('oauth-pollute');
    });

    it('when Shopify refuses the code, then the state is spent all the same: a second try with it is 401', async () => {
      const key = await t.keyFor('oauth-spent');
      const { state, authorize_url } = await initiate(key, OAUTH_SHOPS[3]!);
      await confirm(authorize_url);
      const params = { code: 'not-a-code', shop: OAUTH_SHOPS[3]!, state, timestamp: String(Math.floor(Date.now() / 1000)) };
      const signed = `?${new URLSearchParams({ ...params, hmac: signOAuthQuery(params, APP_SECRET) })}`;
      expectProblem(await callback(signed), 422);
      const again = await callback(signed);
      expectProblem(again, 401);
      expect(again.body.detail).to.match(/state/);
      expect(await owner(OAUTH_SHOPS[3]!)).to.equal(undefined);
    });
  });

  describe('response headers and request limits', () => {
    it('when any kind of answer goes out (JSON, problem, docs, webhook), then it carries the security headers and no X-Powered-By', async () => {
      const key = await t.keyFor('bounds-tenant');
      const answers: [string, ApiResponse][] = [
        ['list', await call(t.url, 'GET', '/api/shopify/products/', { key })],
        ['401', await call(t.url, 'GET', '/api/shopify/products/')],
        ['404', await call(t.url, 'GET', '/api/nothing/here/', { key })],
        ['400', await call(t.url, 'GET', '/api/shopify/products/?limit=0', { key })],
        ['healthz', await call(t.url, 'GET', '/healthz')],
        ['docs', await call(t.url, 'GET', '/docs/')],
        ['webhook 401', await call(t.url, 'POST', WEBHOOK_PATH, { rawBody: '{}', headers: { 'content-type': 'application/json' } })],
      ];
      for (const [what, res] of answers) {
        const h = res.headers;
        expect(h.get('x-content-type-options'), what).to.equal('nosniff');
        expect(h.get('x-frame-options'), what).to.equal('SAMEORIGIN');
        expect(h.get('strict-transport-security'), what).to.match(/max-age=\d+/);
        expect(h.get('content-security-policy'), what).to.match(/default-src 'self'/);
        expect(h.get('referrer-policy'), what).to.equal('no-referrer');
        expect(h.get('cross-origin-opener-policy'), what).to.equal('same-origin');
        expect(h.get('x-powered-by'), what).to.equal(null);
      }
    });

    it('when a JSON body is over 64 KB (with or without Content-Length) or a webhook over its limit, then 413 problem+json, before any handler runs', async () => {
      const key = await t.keyFor('bounds-tenant');
      const big = JSON.stringify({ shop_domain: 'x.myshopify.com', access_token: 'a'.repeat(64 * 1024) });
      expectProblem(await call(t.url, 'POST', '/api/shopify/connect/', { key, rawBody: big, headers: { 'content-type': 'application/json' } }), 413);
      // Chunked: the limit is counted while reading, not taken from a header.
      const target = new URL(`${t.url}/api/shopify/connect/`);
      const chunked = await new Promise<{ status: number; type: string }>((resolve, reject) => {
        const req = http.request(
          {
            host: target.hostname,
            port: target.port,
            path: target.pathname,
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, 'transfer-encoding': 'chunked' },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']) }));
          },
        );
        req.on('error', reject);
        for (let i = 0; i < 4; i++) req.write('x'.repeat(32 * 1024));
        req.end();
      });
      expect(chunked.status).to.equal(413);
      expect(chunked.type).to.match(/^application\/problem\+json/);
      const webhook = Buffer.alloc(t.config.webhooks.maxBodyBytes + 1, 0x20);
      expectProblem(
        await call(t.url, 'POST', WEBHOOK_PATH, {
          rawBody: webhook,
          headers: { 'content-type': 'application/json', 'x-shopify-hmac-sha256': signWebhookBody(webhook, APP_SECRET), 'x-shopify-topic': 'products/update', 'x-shopify-shop-domain': SHOP },
        }),
        413,
      );
    });

    it('when HTTP itself is abused (CR/LF inside a header, smuggling with Content-Length and Transfer-Encoding, a 20 KB header), then it is refused with a problem+json 4xx (431 for the header) and closed, and the service keeps serving', async () => {
      const host = new URL(t.url).host;
      const cases: [string, string][] = [
        ['CR/LF in a reflected header', `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Request-Id: abc\rSet-Cookie: injected=1\r\n\r\n`],
        ['bare LF line endings with a NUL', `GET /healthz HTTP/1.1\nHost: ${host}\nX-Fuzz: a\0b\n\n`],
        [
          'Content-Length and Transfer-Encoding together',
          `POST ${WEBHOOK_PATH} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`,
        ],
        ['two different Content-Length headers', `POST ${WEBHOOK_PATH} HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 2\r\nContent-Length: 10\r\n\r\n{}`],
        ['a 20 KB header', `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`],
        ['a header name with a space', `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Shopify-Hmac-Sha256 : abc\r\n\r\n`],
      ];
      for (const [name, bytes] of cases) {
        const answer = parseRaw(await sendRaw(t.url, bytes));
        expect(answer.status, name).to.equal(name === 'a 20 KB header' ? 431 : 400);
        expect(Object.keys(answer.headers).join(' '), name).not.to.match(/set-cookie/);
        expect(answer.headers['content-type'], name).to.match(/^application\/problem\+json/);
        expect(answer.headers.connection, name).to.equal('close');
        const problem = JSON.parse(answer.body) as { status: number; title: string; type: string; detail: string };
        expect(problem, name).to.include({ status: answer.status });
        expect(problem.type, name).to.match(/^https:\/\/.+\/problems\/(validation-error|headers-too-large)$/);
        expect(problem.detail, name).to.be.a('string').and.not.to.include('injected');
      }
      // Reflected header: X-Request-Id is echoed only when it is a plain id.
      const res = await call(t.url, 'GET', '/healthz', { headers: { 'x-request-id': 'abc<script>' } });
      expect(res.headers.get('x-request-id')).to.match(/^[0-9a-f-]{36}$/);
      expect((await call(t.url, 'GET', '/healthz')).status).to.equal(200);
    });
  });
});
