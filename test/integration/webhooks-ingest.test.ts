import { expect } from 'chai';
import { startMockShopify, type MockShopify } from '../../scripts/mock-shopify/index.js';
import { webhookKeys } from '../../src/webhooks/stream.js';
import { ADMIN_KEY, startTestContext, TEST_REDIS_URL, type TestContext } from '../support/context.js';
import { call, expectProblem } from '../support/http.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { clientsReconnected, connectShop, sendWebhook, streamLength, WEBHOOK_PATH } from '../support/webhooks.js';

const APP_SECRET = 'test-app-secret';
const SHOP = 'ingest-shop.myshopify.com';
const CUSTOM_SHOP = 'ingest-custom.myshopify.com';
const CUSTOM_SECRET = 'custom-store-secret-123';

describe('webhook ingest (POST /api/shopify/webhook/)', () => {
  let t: TestContext;
  let mock: MockShopify;

  before(async () => {
    t = await startTestContext({ SHOPIFY_API_SECRET: APP_SECRET, WEBHOOK_MAX_BODY_BYTES: '65536' });
    mock = await startMockShopify({ apiSecret: APP_SECRET, shops: [{ domain: SHOP }, { domain: CUSTOM_SHOP, webhookSecret: CUSTOM_SECRET }] });
    await connectShop(t.ctx, 'ingest-tenant', SHOP);
    await connectShop(t.ctx, 'ingest-custom', CUSTOM_SHOP, CUSTOM_SECRET);
  });
  after(async () => {
    await mock?.close();
    await t?.close();
  });

  const url = (path = WEBHOOK_PATH) => `${t.url}${path}`;

  it('when a connected shop sends a signed webhook, then 200 queued and the stream holds it with its headers', async () => {
    const event = mock.shop(SHOP).createProduct({ title: 'Queued tee' });
    const [result] = await mock.shop(SHOP).deliver(event, { url: url() });
    expect(result?.status, result?.error).to.equal(200);
    const entries = (await t.ctx.redis.xRange(webhookKeys(t.ctx).stream, '-', '+')) ?? [];
    const entry = entries.find((e) => e.message.event_id === event.eventId);
    expect(entry, 'stream entry').to.exist;
    expect(entry!.message).to.include({ topic: 'products/create', shop: SHOP, tenant_id: 'ingest-tenant', api_version: mock.apiVersion, event_id: event.eventId });
    expect(JSON.parse(entry!.message.body!)).to.deep.equal(event.payload);
    expect(new Date(entry!.message.triggered_at!).toISOString()).to.equal(new Date(event.triggeredAt).toISOString());
  });

  it('when either path is used, with or without the trailing slash, then each answers 200 with the entry id', async () => {
    for (const path of ['/api/shopify/webhook/', '/api/shopify/webhook', '/api/integrations/shopify/webhook/', '/api/integrations/shopify/webhook']) {
      const res = await sendWebhook(t.url, { topic: 'customers/update', shop: SHOP, secret: APP_SECRET, body: JSON.stringify({ id: 1, updated_at: '2024-01-01T00:00:00Z' }), path });
      expect(res.status, `${path}: ${res.text}`).to.equal(200);
      expect(res.body.status).to.equal('queued');
      expect(res.body.id).to.match(/^\d+-\d+$/);
    }
  });

  describe('rejections store nothing', () => {
    let before: number;
    beforeEach(async () => {
      before = await streamLength(t.ctx);
    });
    afterEach(async () => {
      expect(await streamLength(t.ctx), 'stream length').to.equal(before);
    });

    it('when the webhook is signed with the wrong secret, then 401', async () => {
      const [result] = await mock.shop(SHOP).deliver(mock.shop(SHOP).createProduct(), { url: url(), secret: 'not-the-secret' });
      expect(result?.status).to.equal(401);
    });
    it('when the mock sends a bad signature, then 401', async () => {
      const [result] = await mock.shop(SHOP).deliver(mock.shop(SHOP).createProduct(), { url: url(), badSignature: true });
      expect(result?.status).to.equal(401);
    });
    it('when the body was tampered with after signing, then 401 problem+json', async () => {
      const body = JSON.stringify({ id: 5, title: 'original', updated_at: '2024-01-01T00:00:00Z' });
      const res = await sendWebhook(t.url, {
        topic: 'products/update',
        shop: SHOP,
        secret: APP_SECRET,
        body: body.replace('original', 'tampered'),
        headers: { 'x-shopify-hmac-sha256': (await import('../../src/shopify/hmac.js')).signWebhookBody(body, APP_SECRET) },
      });
      expectProblem(res, 401);
    });
    it('when the HMAC header is missing, then 401', async () => {
      expectProblem(await sendWebhook(t.url, { topic: 'products/update', shop: SHOP, secret: APP_SECRET, body: '{}', headers: { 'x-shopify-hmac-sha256': null } }), 401);
    });
    it('when a delivery is rejected, then one log line names its request id, shop, status and reason (never the body)', async () => {
      const res = await sendWebhook(t.url, { topic: 'products/update', shop: SHOP, secret: 'not-the-secret', body: JSON.stringify({ id: 7, title: 'log-probe-title' }) });
      expectProblem(res, 401);
      const requestId = res.headers.get('x-request-id');
      expect(requestId).to.match(/^[\w.:-]+$/);
      expect(res.body.request_id).to.equal(requestId);
      const lines = t.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.reqId === requestId);
      expect(lines).to.have.length(1);
      expect(lines[0]).to.include({ msg: 'webhook rejected', shop: SHOP, status: 401, reason: 'The webhook signature does not match' });
      expect(t.logs.text()).not.to.include('log-probe-title');
    });
    it('when the topic header is missing, then 400 naming the header', async () => {
      const res = await sendWebhook(t.url, { topic: 'products/update', shop: SHOP, secret: APP_SECRET, body: '{}', headers: { 'x-shopify-topic': null } });
      expectProblem(res, 400);
      expect(res.body.errors[0]).to.include({ location: 'header', name: 'X-Shopify-Topic' });
    });
    it('when the shop header is missing, then 400', async () => {
      expectProblem(await sendWebhook(t.url, { topic: 'products/update', shop: SHOP, secret: APP_SECRET, body: '{}', headers: { 'x-shopify-shop-domain': null } }), 400);
    });
    it('when an unknown shop signs with the app secret, then 404; with any other secret, 401 (shops cannot be probed)', async () => {
      const body = JSON.stringify({ id: 1 });
      expectProblem(await sendWebhook(t.url, { topic: 'products/update', shop: 'nobody.myshopify.com', secret: APP_SECRET, body }), 404);
      expectProblem(await sendWebhook(t.url, { topic: 'products/update', shop: 'nobody.myshopify.com', secret: 'guess', body }), 401);
    });
    it('when a shop with its own webhook secret is signed with the app secret, then 401', async () => {
      const [result] = await mock.shop(CUSTOM_SHOP).deliver(mock.shop(CUSTOM_SHOP).createProduct(), { url: url(), secret: APP_SECRET });
      expect(result?.status).to.equal(401);
    });
    it('when the body is larger than WEBHOOK_MAX_BODY_BYTES, then 413', async () => {
      const body = JSON.stringify({ id: 1, title: 'x'.repeat(70_000) });
      expectProblem(await sendWebhook(t.url, { topic: 'products/update', shop: SHOP, secret: APP_SECRET, body }), 413);
    });
    it('when the body is not JSON, or not an object, then 400', async () => {
      expectProblem(
        await sendWebhook(t.url, { topic: 'products/update', shop: SHOP, secret: APP_SECRET, body: 'id=1&title=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
        400,
      );
      expectProblem(await sendWebhook(t.url, { topic: 'products/update', shop: SHOP, secret: APP_SECRET, body: '[1,2]' }), 400);
    });
    it('when the topic is not in the allow-list, then 200 ignored, counted in the stats', async () => {
      const res = await sendWebhook(t.url, { topic: 'shop/update', shop: SHOP, secret: APP_SECRET, body: JSON.stringify({ id: 1 }) });
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.deep.equal({ status: 'ignored' });
      const stats = await call(t.url, 'GET', '/api/admin/webhooks/stats/', { key: ADMIN_KEY });
      expect(stats.status, stats.text).to.equal(200);
      expect(stats.body.ignored).to.be.at.least(1);
    });
  });

  it('when a shop has its own webhook secret, then webhooks signed with it are queued', async () => {
    const [result] = await mock.shop(CUSTOM_SHOP).deliver(mock.shop(CUSTOM_SHOP).createCustomer(), { url: url() });
    expect(result?.status, result?.error).to.equal(200);
  });

  it('when webhooks were queued, then the stats show the stream length and no consumer lag yet to apply', async () => {
    const res = await call(t.url, 'GET', '/api/admin/webhooks/stats/', { key: ADMIN_KEY });
    expect(res.status, res.text).to.equal(200);
    expect(res.body.stream_length).to.equal(await streamLength(t.ctx));
    expect(res.body).to.include.keys('pending', 'lag', 'dead_letters', 'consumers');
  });

  it('when the logs are searched, then no secret or signature appears', () => {
    const text = t.logs.text();
    expect(text).not.to.include(APP_SECRET);
    expect(text).not.to.include(CUSTOM_SECRET);
  });
});

describe('webhook ingest when Redis is down', () => {
  let t: TestContext;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;

  before(async () => {
    const target = new URL(TEST_REDIS_URL);
    proxy = await startTcpProxy({ targetHost: target.hostname, targetPort: Number(target.port || 6379) });
    t = await startTestContext({ REDIS_URL: `redis://127.0.0.1:${proxy.port}`, SHOPIFY_API_SECRET: APP_SECRET });
    await connectShop(t.ctx, 'redis-down', 'redis-down.myshopify.com');
  });
  after(async () => {
    proxy?.restore();
    if (t) await clientsReconnected(t.ctx);
    await t?.close();
    await proxy?.close();
  });

  it('when Redis cannot be reached, then 503 problem+json with Retry-After, and 200 again once it is back', async () => {
    const send = () => sendWebhook(t.url, { topic: 'products/update', shop: 'redis-down.myshopify.com', secret: APP_SECRET, body: JSON.stringify({ id: 9, updated_at: '2024-01-01T00:00:00Z' }) });
    expect((await send()).status).to.equal(200);
    proxy.cut();
    const res = await send();
    expectProblem(res, 503);
    expect(res.headers.get('retry-after')).to.equal('5');
    proxy.restore();
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline && status !== 200) {
      status = (await send()).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).to.equal(200);
  });
});
