import { createServer } from 'node:net';
import { openAccessToken, openWebhookSecret } from '../../src/store/integration-secrets.js';
import { expect } from 'chai';
import { startMockShopify, defaultToken, type MockShopify } from '../../scripts/mock-shopify/index.js';
import { clientForIntegration } from '../../src/connection/shopify.js';
import { rateLimitKey } from '../../src/shopify/rate-limiter.js';
import { findIntegrationByShop, findIntegrationByTenant, markSuccess, recordIntegrationError } from '../../src/store/integrations.js';
import { startTestContext, type TestContext } from '../support/context.js';
import { call, expectProblem } from '../support/http.js';
import { product, seedRecords } from '../support/seed.js';

const HOOKS = 'https://hooks.example.test';
const ADDRESS = `${HOOKS}/api/shopify/webhook/`;
const COMPLIANCE = ['customers/data_request', 'customers/redact', 'shop/redact'];

/** The service configured against the mock Shopify, with retries and limits that keep tests fast. */
function mockEnv(mock: MockShopify, overrides: Record<string, string> = {}): Record<string, string> {
  return {
    SHOPIFY_API_BASE_URL: mock.baseUrlTemplate,
    SHOPIFY_API_KEY: mock.apiKey,
    SHOPIFY_API_SECRET: mock.apiSecret,
    SHOPIFY_WEBHOOK_BASE_URL: HOOKS,
    SHOPIFY_MAX_REQUESTS_PER_SECOND: '1000',
    SHOPIFY_BUCKET_SIZE: '1000',
    SHOPIFY_MAX_RETRY_ATTEMPTS: '2',
    SHOPIFY_RETRY_DELAY: '0.01',
    ...overrides,
  };
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('connection API (against the mock Shopify)', () => {
  let mock: MockShopify;
  let t: TestContext;
  const tokens: string[] = [];
  const SECRET = 'custom-app-secret-do-not-log-0451';

  const domains = ['acme', 'beta', 'gamma', 'delta', 'moved', 'revoked', 'status', 'purge', 'bucket'].map((n) => `${n}.myshopify.com`);
  const tokenOf = (domain: string) => defaultToken(domain);
  const connect = (key: string, body: Record<string, unknown>) => call(t.url, 'POST', '/api/shopify/connect/', { key, body });
  const ourSubscriptions = (domain: string) => mock.shop(domain).webhooks.filter((w) => w.address === ADDRESS);
  const rowOf = async (tenant: string) => t.ctx.db.selectFrom('shopify_integrations').selectAll().where('tenant_id', '=', tenant).executeTakeFirst();

  before(async () => {
    mock = await startMockShopify({ shops: domains.map((domain) => ({ domain, products: 3, orders: 3, customers: 3 })), rateLimit: { enabled: false } });
    t = await startTestContext(mockEnv(mock));
    tokens.push(...domains.map(tokenOf));
  });
  after(async () => {
    await t?.close();
    await mock?.close();
  });

  describe('POST /api/shopify/connect/', () => {
    let key: string;
    before(async () => {
      key = await t.keyFor('tenant-acme');
    });

    it('when the token works, then the store is saved encrypted, webhooks are registered and an initial sync is queued', async () => {
      const res = await connect(key, { shop_domain: 'ACME.myshopify.com', access_token: tokenOf('acme.myshopify.com'), webhook_secret: SECRET });
      expect(res.status, res.text).to.equal(201);
      expect(res.body.integration).to.include({
        shop_domain: 'acme.myshopify.com',
        shop_name: 'Acme',
        shop_currency: 'USD',
        install_method: 'token',
        is_active: true,
        is_connected: true,
        api_version: t.config.shopify.apiVersion,
        error_count: 0,
      });
      expect(res.body.integration.resources.products).to.have.property('status');
      expect(res.text).not.to.include(tokenOf('acme.myshopify.com'));
      expect(res.text).not.to.include(SECRET);

      const expectedTopics = t.config.shopify.webhookTopics.filter((topic) => !COMPLIANCE.includes(topic));
      expect(res.body.webhooks.address).to.equal(ADDRESS);
      expect(res.body.webhooks.created).to.have.members(expectedTopics);
      expect(res.body.webhooks.failed).to.deep.equal([]);
      expect(ourSubscriptions('acme.myshopify.com').map((w) => w.topic)).to.have.members(expectedTopics);
      expect(res.body.initial_sync.mode).to.equal('full');
      expect(res.body.initial_sync.jobs.map((j: { resource: string }) => j.resource)).to.have.members(['products', 'orders', 'customers', 'inventory', 'locations']);
      // Job ids are opaque: they do not carry the sequential integration id.
      const { id } = (await rowOf('tenant-acme'))!;
      for (const job of res.body.initial_sync.jobs as { resource: string; job_id: string }[]) {
        expect(job.job_id).to.match(new RegExp(`^sync:[0-9a-f]{24}:${job.resource}$`));
        expect(job.job_id).not.to.include(`:${id}:`);
      }

      const row = await rowOf('tenant-acme');
      expect(row).to.exist;
      for (const [column, value] of Object.entries(row!)) {
        expect(String(value), column).not.to.include(tokenOf('acme.myshopify.com'));
        expect(String(value), column).not.to.include(SECRET);
      }
      expect(row!.encryption_key_id).to.equal(t.ctx.secrets.currentKeyId);
      expect(openAccessToken(t.ctx.secrets, row!)).to.equal(tokenOf('acme.myshopify.com'));
      expect(openWebhookSecret(t.ctx.secrets, { ...row!, webhook_secret_encrypted: row!.webhook_secret_encrypted! })).to.equal(SECRET);
    });

    it('when the same tenant connects again, then its row is updated and existing subscriptions are kept', async () => {
      const res = await connect(key, { shop_domain: 'acme.myshopify.com', access_token: tokenOf('acme.myshopify.com') });
      expect(res.status, res.text).to.equal(201);
      expect(res.body.webhooks.created).to.deep.equal([]);
      expect(res.body.webhooks.existing).to.have.length(ourSubscriptions('acme.myshopify.com').length);
      const rows = await t.ctx.db.selectFrom('shopify_integrations').select('id').where('tenant_id', '=', 'tenant-acme').execute();
      expect(rows).to.have.length(1);
      expect((await rowOf('tenant-acme'))!.webhook_secret_encrypted).to.equal(null);
    });

    it("when the token is refused, then 422 with Shopify's reason and nothing is saved", async () => {
      const other = await t.keyFor('tenant-badtoken');
      const res = await connect(other, { shop_domain: 'beta.myshopify.com', access_token: 'shpat_wrong-token' });
      expectProblem(res, 422);
      expect(res.body.detail).to.include('Invalid API key or access token');
      expect(await rowOf('tenant-badtoken')).to.equal(undefined);
    });

    for (const shop of ['evil.com', 'a.myshopify.com.evil.com', '', 'x'.repeat(300), 'https://acme.myshopify.com', '-acme.myshopify.com', 'acme.myshopify.com/admin']) {
      it(`when the shop name is "${shop.slice(0, 40)}", then 400 naming shop_domain and nothing is asked of Shopify`, async () => {
        const before = [...mock.shops.values()].reduce((n, s) => n + s.stats.requests, 0);
        const res = await connect(key, { shop_domain: shop, access_token: 'shpat_x' });
        expectProblem(res, 400);
        expect(res.body.errors.map((e: { name: string }) => e.name)).to.include('shop_domain');
        expect([...mock.shops.values()].reduce((n, s) => n + s.stats.requests, 0)).to.equal(before);
      });
    }

    it('when the body lacks the token, then 400', async () => {
      expectProblem(await connect(key, { shop_domain: 'acme.myshopify.com' }), 400);
    });

    it('when a second tenant connects a shop another tenant has connected, then 409 and the first keeps it', async () => {
      const other = await t.keyFor('tenant-thief');
      const res = await connect(other, { shop_domain: 'acme.myshopify.com', access_token: tokenOf('acme.myshopify.com') });
      expectProblem(res, 409);
      expect(await rowOf('tenant-thief')).to.equal(undefined);
      expect((await rowOf('tenant-acme'))!.is_active).to.equal(1);
    });

    it('when Shopify answers 5xx after every retry, then 502 and nothing is saved', async () => {
      const other = await t.keyFor('tenant-5xx');
      mock.setFaults({ failNext: 10, errorStatus: 503 }, 'gamma.myshopify.com');
      try {
        const res = await connect(other, { shop_domain: 'gamma.myshopify.com', access_token: tokenOf('gamma.myshopify.com') });
        expectProblem(res, 502);
      } finally {
        mock.shop('gamma.myshopify.com').resetFaults();
      }
      expect(await rowOf('tenant-5xx')).to.equal(undefined);
    });

    it('when the shop is unknown to Shopify, then 422', async () => {
      const res = await connect(key, { shop_domain: 'no-such-shop.myshopify.com', access_token: 'shpat_x' });
      expectProblem(res, 422);
      expect((await rowOf('tenant-acme'))!.shop_domain).to.equal('acme.myshopify.com');
    });

    it("when a tenant moves to another shop, then the old shop's data and subscriptions go", async () => {
      const k = await t.keyFor('tenant-mover');
      expect((await connect(k, { shop_domain: 'delta.myshopify.com', access_token: tokenOf('delta.myshopify.com') })).status).to.equal(201);
      const before = await findIntegrationByTenant(t.ctx.db, 'tenant-mover');
      await seedRecords(t.ctx, { tenantId: 'tenant-mover', integrationId: before!.id }, 'products', [product()]);
      const res = await connect(k, { shop_domain: 'moved.myshopify.com', access_token: tokenOf('moved.myshopify.com') });
      expect(res.status, res.text).to.equal(201);
      expect(res.body.integration.shop_domain).to.equal('moved.myshopify.com');
      const after = await findIntegrationByTenant(t.ctx.db, 'tenant-mover');
      expect(after!.id).to.equal(before!.id);
      expect(await t.ctx.db.selectFrom('shopify_products').select('id').where('tenant_id', '=', 'tenant-mover').execute()).to.deep.equal([]);
      expect(ourSubscriptions('delta.myshopify.com')).to.deep.equal([]);
      expect(ourSubscriptions('moved.myshopify.com')).not.to.be.empty;
    });

    it('when the shop is unreachable, then 502 and nothing is saved', async () => {
      // SHOPIFY_API_BASE_URL pointed at a closed port (the config is read at each request).
      const k = await t.keyFor('tenant-offline');
      const configured = t.config.shopify.apiBaseUrl;
      t.config.shopify.apiBaseUrl = `http://127.0.0.1:${await closedPort()}/{shop}`;
      try {
        const res = await connect(k, { shop_domain: 'acme.myshopify.com', access_token: 'shpat_offline' });
        expectProblem(res, 502);
        expect(res.body.detail).to.include('no response');
      } finally {
        t.config.shopify.apiBaseUrl = configured;
      }
      expect(await rowOf('tenant-offline')).to.equal(undefined);
    });
  });

  describe('POST /api/shopify/connect/ limits', () => {
    it("when bogus tokens are connected for a shop 20 times, then the shop's shared rate-limit bucket is not touched", async () => {
      const bucketKey = rateLimitKey(t.ctx.keys, 'bucket.myshopify.com');
      const requestsBefore = mock.shop('bucket.myshopify.com').stats.requests;
      for (let i = 0; i < 20; i++) {
        const k = await t.keyFor(`tenant-bogus-${i % 4}`);
        expectProblem(await connect(k, { shop_domain: 'bucket.myshopify.com', access_token: `shpat_bogus_${i}` }), 422);
      }
      expect(mock.shop('bucket.myshopify.com').stats.requests - requestsBefore).to.equal(20);
      expect(await t.ctx.redis.exists(bucketKey)).to.equal(0);
      // A verified token's calls (webhook registration) do count against it.
      const owner = await t.keyFor('tenant-bucket');
      expect((await connect(owner, { shop_domain: 'bucket.myshopify.com', access_token: tokenOf('bucket.myshopify.com') })).status).to.equal(201);
      expect(Number(await t.ctx.redis.hGet(bucketKey, 'level'))).to.be.greaterThan(0);
    });

    it(`when a tenant connects more than CONNECT_MAX_PER_MINUTE times in a minute, then 429 with Retry-After and Shopify is not asked`, async () => {
      const k = await t.keyFor('tenant-hammer');
      for (let i = 0; i < t.config.connectMaxPerMinute; i++) {
        expectProblem(await connect(k, { shop_domain: 'bucket.myshopify.com', access_token: `shpat_loop_${i}` }), 422);
      }
      const requests = mock.shop('bucket.myshopify.com').stats.requests;
      const res = await connect(k, { shop_domain: 'bucket.myshopify.com', access_token: 'shpat_loop_last' });
      expectProblem(res, 429);
      expect(Number(res.headers.get('retry-after'))).to.be.within(1, 60);
      expect(mock.shop('bucket.myshopify.com').stats.requests).to.equal(requests);
      // Other tenants are not affected.
      expectProblem(await connect(await t.keyFor('tenant-calm'), { shop_domain: 'bucket.myshopify.com', access_token: 'shpat_calm' }), 422);
    });
  });

  describe('GET /api/shopify/status/', () => {
    let key: string;
    before(async () => {
      key = await t.keyFor('tenant-status');
    });

    it('when nothing is connected, then 404 problem+json', async () => {
      expectProblem(await call(t.url, 'GET', '/api/shopify/status/', { key }), 404);
    });

    it('when syncs ran, then each resource shows its latest run', async () => {
      expect((await connect(key, { shop_domain: 'status.myshopify.com', access_token: tokenOf('status.myshopify.com') })).status).to.equal(201);
      const integration = (await findIntegrationByTenant(t.ctx.db, 'tenant-status'))!;
      const base = { tenant_id: 'tenant-status', integration_id: integration.id, job_id: null };
      await t.ctx.db
        .insertInto('shopify_sync_logs')
        .values([
          {
            ...base,
            resource: 'products',
            trigger: 'connect',
            mode: 'full',
            status: 'succeeded',
            started_at: new Date('2026-01-01T00:00:00Z'),
            finished_at: new Date('2026-01-01T00:00:05Z'),
            records_fetched: 25,
            records_written: 25,
            error: null,
          },
          {
            ...base,
            resource: 'products',
            trigger: 'scheduled',
            mode: 'incremental',
            status: 'failed',
            started_at: new Date('2026-01-01T01:00:00Z'),
            finished_at: new Date('2026-01-01T01:00:01Z'),
            records_fetched: 0,
            records_written: 0,
            error: 'boom',
          },
          {
            ...base,
            resource: 'orders',
            trigger: 'manual',
            mode: 'full',
            status: 'running',
            started_at: new Date('2026-01-01T02:00:00Z'),
            finished_at: null,
            records_fetched: 250,
            records_written: 200,
            error: null,
          },
        ])
        .execute();
      const res = await call(t.url, 'GET', '/api/shopify/status/', { key });
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.include({ shop_domain: 'status.myshopify.com', shop_name: 'Status', shop_plan: 'basic', shop_currency: 'USD', is_active: true, is_connected: true });
      expect(res.body.connected_at).to.match(/Z$/);
      expect(res.body.resources.products).to.deep.equal({
        status: 'failed',
        mode: 'incremental',
        trigger: 'scheduled',
        started_at: '2026-01-01T01:00:00.000Z',
        finished_at: '2026-01-01T01:00:01.000Z',
        records_fetched: 0,
        records_written: 0,
        error: 'boom',
      });
      expect(res.body.resources.orders).to.include({ status: 'running', trigger: 'manual', finished_at: null, records_fetched: 250, records_written: 200 });
      // The initial sync queued by the connect is the latest run of the others.
      expect(res.body.resources.customers).to.include({ status: 'queued', mode: 'full', trigger: 'connect', finished_at: null, records_fetched: 0, error: null });
    });

    it('when Shopify answers 401 to the saved token, then the error is recorded and the store shows disconnected', async () => {
      const integration = (await findIntegrationByTenant(t.ctx.db, 'tenant-status'))!;
      mock.shop('status.myshopify.com').revokeToken();
      const failure = await clientForIntegration(t.ctx, integration)
        .testConnection()
        .then(
          () => undefined,
          (err: unknown) => err,
        );
      expect(failure).to.be.instanceOf(Error);
      await recordIntegrationError(t.ctx.db, integration.id, failure);
      const res = await call(t.url, 'GET', '/api/shopify/status/', { key });
      expect(res.body).to.include({ is_active: true, is_connected: false, error_count: 1 });
      expect(res.body.last_error_message).to.include('401');
      expect(res.body.last_error_at).to.be.a('string');
    });

    it('when a run succeeds after errors, then the error count is reset and the error kept for reference', async () => {
      const integration = (await findIntegrationByTenant(t.ctx.db, 'tenant-status'))!;
      await recordIntegrationError(t.ctx.db, integration.id, new Error('Shopify did not answer'));
      expect((await call(t.url, 'GET', '/api/shopify/status/', { key })).body.error_count).to.equal(2);
      await markSuccess(t.ctx.db, integration.id);
      const res = await call(t.url, 'GET', '/api/shopify/status/', { key });
      expect(res.body).to.include({ error_count: 0, last_error_message: 'Shopify did not answer' });
      expect(res.body.last_sync_at).to.be.a('string');
    });

    it('when the store is connected again with a new token, then it is connected with a clean health', async () => {
      const token = mock.shop('status.myshopify.com').issueToken();
      tokens.push(token);
      const res = await connect(key, { shop_domain: 'status.myshopify.com', access_token: token });
      expect(res.status, res.text).to.equal(201);
      expect(res.body.integration).to.include({ is_connected: true, error_count: 0, last_error_message: null, last_error_at: null });
    });
  });

  describe('DELETE /api/shopify/connect/', () => {
    it('when disconnecting twice, then our subscriptions go, the store is inactive, and the second call changes nothing', async () => {
      const key = await t.keyFor('tenant-leaver');
      expect((await connect(key, { shop_domain: 'beta.myshopify.com', access_token: tokenOf('beta.myshopify.com') })).status).to.equal(201);
      const registered = ourSubscriptions('beta.myshopify.com').length;
      expect(registered).to.be.greaterThan(0);

      const first = await call(t.url, 'DELETE', '/api/shopify/connect/', { key });
      expect(first.status, first.text).to.equal(200);
      expect(first.body).to.deep.equal({ shop_domain: 'beta.myshopify.com', is_active: false, webhooks_deleted: registered, purged: false });
      expect(ourSubscriptions('beta.myshopify.com')).to.deep.equal([]);
      const status = await call(t.url, 'GET', '/api/shopify/status/', { key });
      expect(status.body).to.include({ is_active: false, is_connected: false });

      const requests = mock.shop('beta.myshopify.com').stats.requests;
      const second = await call(t.url, 'DELETE', '/api/shopify/connect', { key });
      expect(second.status, second.text).to.equal(200);
      expect(second.body).to.deep.equal({ shop_domain: 'beta.myshopify.com', is_active: false, webhooks_deleted: 0, purged: false });
      expect(mock.shop('beta.myshopify.com').stats.requests).to.equal(requests);
    });

    it('when a store is connected and disconnected twice, then the change feed has integration.connected and one integration.disconnected', async () => {
      const key = await t.keyFor('tenant-leaver');
      const feed = await call(t.url, 'GET', '/api/events/?types=integration.connected,integration.disconnected', { key });
      expect(feed.status, feed.text).to.equal(200);
      expect(feed.body.data.map((e: { type: string; data: { shop_domain: string } }) => `${e.type} ${e.data.shop_domain}`)).to.deep.equal([
        'integration.connected beta.myshopify.com',
        'integration.disconnected beta.myshopify.com',
      ]);
      expect(feed.body.data[1]).to.include({ resource: null, record_id: null, updated_at: null });
      expect(feed.body.data[1].data).to.deep.equal({ shop_domain: 'beta.myshopify.com', reason: 'disconnected' });
    });

    it("when a disconnected shop is connected by another tenant, then it moves there, the previous tenant's copy goes and its status says so, with a warning logged", async () => {
      const leaver = (await rowOf('tenant-leaver'))!;
      await seedRecords(t.ctx, { tenantId: 'tenant-leaver', integrationId: leaver.id }, 'products', [product()]);
      await t.ctx.db
        .insertInto('shopify_sync_state')
        .values({ integration_id: leaver.id, resource: 'products', cursor_updated_at: new Date(), last_full_sync_at: new Date(), last_incremental_sync_at: null })
        .execute();
      const key = await t.keyFor('tenant-newowner');
      const res = await connect(key, { shop_domain: 'beta.myshopify.com', access_token: tokenOf('beta.myshopify.com') });
      expect(res.status, res.text).to.equal(201);
      expect(res.body.integration.connected_elsewhere_at).to.equal(null);
      expect((await rowOf('tenant-newowner'))!.shop_domain).to.equal('beta.myshopify.com');

      // The previous tenant's row stays, disconnected and no longer holding the shop; what it copied is gone.
      const leaverKey = await t.keyFor('tenant-leaver');
      const status = await call(t.url, 'GET', '/api/shopify/status/', { key: leaverKey });
      expect(status.status, status.text).to.equal(200);
      expect(status.body).to.include({ shop_domain: 'beta.myshopify.com', is_active: false, is_connected: false });
      expect(Date.parse(status.body.connected_elsewhere_at)).to.be.within(Date.now() - 60_000, Date.now());
      expect((await call(t.url, 'GET', '/api/shopify/products/', { key: leaverKey })).body.data).to.deep.equal([]);
      expect(await t.ctx.db.selectFrom('shopify_sync_state').selectAll().where('integration_id', '=', leaver.id).execute()).to.deep.equal([]);
      expect((await findIntegrationByShop(t.ctx.db, 'beta.myshopify.com'))!.tenant_id).to.equal('tenant-newowner');
      const warned = t.logs.lines
        .map((l) => JSON.parse(l) as { level: number; msg: string; previousTenantId?: string; tenantId?: string })
        .filter((l) => l.level === 40 && /moved here from another tenant/.test(l.msg));
      expect(warned.map((l) => [l.previousTenantId, l.tenantId])).to.deep.include(['tenant-leaver', 'tenant-newowner']);

      // While the new tenant holds it, the previous one cannot take it back (409); once released, it can.
      expectProblem(await connect(leaverKey, { shop_domain: 'beta.myshopify.com', access_token: tokenOf('beta.myshopify.com') }), 409);
      expect((await call(t.url, 'DELETE', '/api/shopify/connect/', { key })).status).to.equal(200);
      const back = await connect(leaverKey, { shop_domain: 'beta.myshopify.com', access_token: tokenOf('beta.myshopify.com') });
      expect(back.status, back.text).to.equal(201);
      expect(back.body.integration).to.include({ is_active: true, connected_elsewhere_at: null });
      expect((await rowOf('tenant-leaver'))!.id).to.equal(leaver.id);
      expect((await call(t.url, 'GET', '/api/shopify/status/', { key })).body.connected_elsewhere_at).to.be.a('string');
    });

    it('when purge=true, then the synced data and sync state of this tenant go, and other tenants keep theirs', async () => {
      const key = await t.keyFor('tenant-purge');
      expect((await connect(key, { shop_domain: 'purge.myshopify.com', access_token: tokenOf('purge.myshopify.com') })).status).to.equal(201);
      const mine = (await findIntegrationByTenant(t.ctx.db, 'tenant-purge'))!;
      const theirs = (await findIntegrationByTenant(t.ctx.db, 'tenant-acme'))!;
      await seedRecords(t.ctx, { tenantId: 'tenant-purge', integrationId: mine.id }, 'products', [product(), product()]);
      await seedRecords(t.ctx, { tenantId: 'tenant-acme', integrationId: theirs.id }, 'products', [product()]);
      await t.ctx.db
        .insertInto('shopify_sync_state')
        .values({ integration_id: mine.id, resource: 'products', cursor_updated_at: new Date(), last_full_sync_at: new Date(), last_incremental_sync_at: null })
        .execute();

      const res = await call(t.url, 'DELETE', '/api/shopify/connect/?purge=true', { key });
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.include({ shop_domain: 'purge.myshopify.com', is_active: false, purged: true });
      const count = async (tenant: string) => (await t.ctx.db.selectFrom('shopify_products').select('id').where('tenant_id', '=', tenant).execute()).length;
      expect(await count('tenant-purge')).to.equal(0);
      expect(await count('tenant-acme')).to.equal(1);
      expect(await t.ctx.db.selectFrom('shopify_sync_state').selectAll().where('integration_id', '=', mine.id).execute()).to.deep.equal([]);
      expect((await call(t.url, 'GET', '/api/shopify/products/', { key })).body.data).to.deep.equal([]);
    });

    it('when the token was revoked at Shopify, then disconnect still succeeds and marks it revoked', async () => {
      const key = await t.keyFor('tenant-revoked');
      expect((await connect(key, { shop_domain: 'revoked.myshopify.com', access_token: tokenOf('revoked.myshopify.com') })).status).to.equal(201);
      mock.shop('revoked.myshopify.com').revokeToken();
      const res = await call(t.url, 'DELETE', '/api/shopify/connect/', { key });
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.include({ is_active: false, webhooks_deleted: 0 });
      expect((await rowOf('tenant-revoked'))!.token_revoked_at).to.be.instanceOf(Date);
    });

    it('when nothing was ever connected, then 200 with shop_domain null', async () => {
      const key = await t.keyFor('tenant-never');
      const res = await call(t.url, 'DELETE', '/api/shopify/connect/', { key });
      expect(res.status, res.text).to.equal(200);
      expect(res.body).to.deep.equal({ shop_domain: null, is_active: false, webhooks_deleted: 0, purged: false });
    });

    it('when no key is sent, then 401', async () => {
      expectProblem(await call(t.url, 'DELETE', '/api/shopify/connect/'), 401);
    });
  });

  describe('secrets', () => {
    it('when all of the above ran, then no token or webhook secret is in the logs', () => {
      const logs = t.logs.text();
      expect(logs.length).to.be.greaterThan(0);
      for (const token of tokens) expect(logs).not.to.include(token);
      expect(logs).not.to.include(SECRET);
    });
  });
});
