import { expect } from 'chai';
import { startMockShopify, type MockShopify } from '../../scripts/mock-shopify/index.js';
import { ApiProblemError, createClient, type ShopifyIntegrationClient } from '../../sdk/typescript/src/index.js';
import { signWebhookBody } from '../../src/shopify/hmac.js';
import { createApiKey } from '../../src/store/api-keys.js';
import { ADMIN_KEY, startTestContext, type TestContext } from '../support/context.js';
import { RESOURCE_NAMES } from '../../src/resources/index.js';
import { customer, inventoryLevel, location, order, product, seedIntegration, seedRecords } from '../support/seed.js';
import { OperationCoverage, sdkClient, unlessNotImplemented } from '../support/sdk.js';

/**
 * The TypeScript SDK (sdk/typescript) driving the real service, one or more cases per operation of the
 * contract; the last case fails when an operation of the contract was never called through the SDK.
 * Cases whose endpoint is not implemented yet are skipped, saying so in their title.
 */
describe('TypeScript SDK against the running service', () => {
  const coverage = new OperationCoverage();
  const TOKEN_SHOP = 'sdk-token.myshopify.com';
  const OAUTH_SHOP = 'sdk-oauth.myshopify.com';
  let mock: MockShopify;
  let t: TestContext;
  let admin: ShopifyIntegrationClient;
  /** Tenant keys: sdk-token's comes from the SDK's create-key case (when that route exists), the others from the database. */
  const keys = new Map<string, string>();
  const keyOf = async (tenant: string) => keys.get(tenant) ?? keys.set(tenant, await t.keyFor(tenant)).get(tenant)!;
  const clientOf = async (tenant: string) => sdkClient(t, coverage, await keyOf(tenant));
  /** Runs `fn`, skipping the current test when its endpoint is not implemented yet. */
  const run = <T>(test: Mocha.Context, fn: () => Promise<T>) => unlessNotImplemented(test, t, coverage, fn);
  /** The token tenant's store: connected through the SDK when connect works, else seeded, so later cases still run. */
  let tokenStoreReady = false;
  const ensureTokenStore = async () => {
    if (!tokenStoreReady) await seedIntegration(t.ctx, 'sdk-token', TOKEN_SHOP);
    tokenStoreReady = true;
  };
  const rejection = async (promise: Promise<unknown>): Promise<ApiProblemError> => {
    try {
      await promise;
    } catch (err) {
      if (err instanceof ApiProblemError) return err;
      throw err;
    }
    throw new Error('expected the call to fail with an ApiProblemError');
  };

  before(async () => {
    mock = await startMockShopify({
      shops: [
        { domain: TOKEN_SHOP, products: 3, orders: 3, customers: 3 },
        { domain: OAUTH_SHOP, products: 3, orders: 3, customers: 3 },
      ],
      rateLimit: { enabled: false },
    });
    t = await startTestContext({
      SHOPIFY_API_BASE_URL: mock.baseUrlTemplate,
      SHOPIFY_API_KEY: mock.apiKey,
      SHOPIFY_API_SECRET: mock.apiSecret,
      SHOPIFY_WEBHOOK_BASE_URL: 'https://hooks.example.test',
      SHOPIFY_MAX_REQUESTS_PER_SECOND: '1000',
      SHOPIFY_BUCKET_SIZE: '1000',
      SHOPIFY_MAX_RETRY_ATTEMPTS: '1',
      SHOPIFY_RETRY_DELAY: '0.01',
    });
    admin = sdkClient(t, coverage, ADMIN_KEY);
  });
  after(async () => {
    await t?.close();
    await mock?.close();
  });

  describe('Health', () => {
    it('when the liveness probe is read, then it answers ok', async () => {
      const { data } = await sdkClient(t, coverage).GET('/healthz');
      expect(data).to.deep.equal({ status: 'ok' });
    });
    it('when the readiness probe is read, then MySQL and Redis are up', async () => {
      const { data } = await sdkClient(t, coverage).GET('/readyz');
      expect(data.status).to.equal('ready');
      expect(data.checks.mysql.status).to.equal('up');
      expect(data.checks.redis.status).to.equal('up');
    });
  });

  describe('Admin: API keys', () => {
    let createdId: number;

    it('when the operator creates a tenant key, then the key is shown once and works', async function () {
      const { data, response } = await run(this, () => admin.POST('/api/admin/api-keys/', { body: { tenant_id: 'sdk-token', name: 'sdk test' } }));
      expect(response.status).to.equal(201);
      expect(data).to.include({ tenant_id: 'sdk-token', name: 'sdk test', revoked_at: null });
      expect(data.key.startsWith(data.key_prefix)).to.equal(true);
      createdId = data.id;
      keys.set('sdk-token', data.key);
      const { data: page } = await sdkClient(t, coverage, data.key).GET('/api/shopify/products/');
      expect(page.data).to.be.an('array');
    });

    it('when the operator lists keys page by page, then every key shows without its secret', async function () {
      await keyOf('sdk-list-a');
      await keyOf('sdk-list-b');
      const seen: { id: number; tenant_id: string }[] = [];
      await run(this, async () => {
        for await (const info of admin.paginate('/api/admin/api-keys/', { params: { query: { limit: 1 } } })) seen.push(info);
      });
      expect(seen.map((k) => k.tenant_id)).to.include.members(['sdk-list-a', 'sdk-list-b']);
      expect(new Set(seen.map((k) => k.id)).size).to.equal(seen.length);
      for (const info of seen) expect(info).not.to.have.property('key');
      if (createdId !== undefined) expect(seen.map((k) => k.id)).to.include(createdId);
    });

    it('when the operator revokes a key, then it is marked revoked and refused afterwards', async function () {
      const { record, key } = await createApiKey(t.ctx.db, 'sdk-revoke', 'to revoke');
      const { data } = await run(this, () => admin.DELETE('/api/admin/api-keys/{id}/', { params: { path: { id: record.id } } }));
      expect(data).to.include({ id: record.id, tenant_id: 'sdk-revoke' });
      expect(data.revoked_at).to.be.a('string');
      const refused = await rejection(sdkClient(t, coverage, key).GET('/api/shopify/products/'));
      expect(refused.status).to.equal(401);
    });
  });

  describe('Connection', () => {
    it('when a tenant connects its store with a token, then webhooks are registered and an initial sync is queued', async function () {
      const client = await clientOf('sdk-token');
      const { data, response } = await run(this, () => client.POST('/api/shopify/connect/', { body: { shop_domain: TOKEN_SHOP, access_token: mock.shop(TOKEN_SHOP).accessToken } }));
      expect(response.status).to.equal(201);
      expect(data.integration).to.include({ shop_domain: TOKEN_SHOP, install_method: 'token', is_active: true, is_connected: true });
      expect(data.webhooks.created).to.not.be.empty;
      expect(data.initial_sync.jobs.map((j) => j.resource)).to.have.members([...RESOURCE_NAMES]);
      tokenStoreReady = true;
    });

    it('when the tenant reads its status, then the connection and each resource are described', async function () {
      await ensureTokenStore();
      const client = await clientOf('sdk-token');
      const { data } = await run(this, () => client.GET('/api/shopify/status/'));
      expect(data).to.include({ shop_domain: TOKEN_SHOP, is_active: true });
      expect(data.resources).to.have.all.keys(...RESOURCE_NAMES);
    });
  });

  describe('OAuth', () => {
    let link: URL | undefined;
    const HOOKS = 'https://hooks.example.test';

    it('when a tenant starts the OAuth install, then it gets the confirmation link with a single-use state', async function () {
      const client = await clientOf('sdk-oauth');
      const { data } = await run(this, () => client.GET('/api/shopify/oauth/initiate/', { params: { query: { shop: OAUTH_SHOP } } }));
      link = new URL(data.authorize_url);
      expect(link.pathname).to.equal('/api/shopify/oauth/begin/');
      expect(link.searchParams.get('state')).to.equal(data.state);
      expect(Date.parse(data.expires_at)).to.be.greaterThan(Date.now());
    });

    it('when the merchant confirms in a browser and Shopify redirects back, then the store is connected by OAuth', async function () {
      if (!link) {
        if (this.test) this.test.title += ' (skipped: needs the link of the initiate case)';
        this.skip();
      }
      const state = link!.searchParams.get('state')!;
      // The browser: the page (its nonce cookie), the confirmation (the install cookie), Shopify's approval.
      const { data: html, response: page } = await run(this, () => sdkClient(t, coverage).GET('/api/shopify/oauth/begin/', { params: { query: { state } }, parseAs: 'text' }));
      const confirmCookie = page.headers.getSetCookie()[0]!.split(';')[0]!;
      const nonce = /name="nonce" value="([^"]+)"/.exec(String(html))![1]!;
      const manual = createClient({ baseUrl: t.url, fetch: (req) => fetch(req, { redirect: 'manual' }), headers: { cookie: confirmCookie } });
      manual.use(coverage.middleware);
      const confirmed = await rejection(
        manual.POST('/api/shopify/oauth/begin/', {
          body: { state, nonce },
          bodySerializer: (b: Record<string, string>) => new URLSearchParams(b).toString(),
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        }),
      );
      expect(confirmed.status).to.equal(303); // the SDK reports every non-2xx answer as an error: here, the redirect to Shopify
      const installCookie = confirmed.response.headers
        .getSetCookie()
        .find((c) => c.startsWith('shopint_oauth_install='))!
        .split(';')[0]!;
      const approval = await fetch(confirmed.response.headers.get('location')!, { redirect: 'manual' });
      expect(approval.status).to.equal(302);
      const callback = new URL(approval.headers.get('location')!);
      expect(callback.origin).to.equal(HOOKS);
      const q = Object.fromEntries(callback.searchParams) as { code: string; hmac: string; shop: string; state: string; timestamp: string; host?: string };
      const { data, response } = await run(this, () => sdkClient(t, coverage).GET('/api/shopify/oauth/callback/', { params: { query: q }, headers: { cookie: installCookie } }));
      expect(response.status).to.equal(201);
      expect(data.integration).to.include({ shop_domain: OAUTH_SHOP, install_method: 'oauth', is_connected: true });
    });

    it('when a callback carries a forged HMAC, then it is refused as a problem', async function () {
      const forged = { code: 'c0de', hmac: 'f'.repeat(64), shop: OAUTH_SHOP, state: 'forged-state', timestamp: String(Math.floor(Date.now() / 1000)) };
      const err = await run(this, () => rejection(sdkClient(t, coverage).GET('/api/shopify/oauth/callback/', { params: { query: forged } })));
      expect(err.status).to.be.oneOf([400, 401]);
      expect(err.type).to.match(/^https:\/\//);
    });

    it("when a confirmation is posted without the page's cookie, then 403 problem", async function () {
      const err = await run(this, () =>
        rejection(
          sdkClient(t, coverage).POST('/api/shopify/oauth/begin/', {
            body: { state: 'some-state', nonce: 'some-nonce' },
            bodySerializer: (b: Record<string, string>) => new URLSearchParams(b).toString(),
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
          }),
        ),
      );
      expect(err.status).to.equal(403);
    });
  });

  describe('Records (seeded)', () => {
    let client: ShopifyIntegrationClient;
    const products = [product(), product(), product(), product(), product()];
    const orders = [order({ financial_status: 'paid' }), order({ financial_status: 'refunded' }), order({ financial_status: 'paid' })];
    const customers = [customer(), customer(), customer()];
    const item = { a: 4_100_000_000_001, b: 4_100_000_000_002 };
    const levels = [
      inventoryLevel({ inventory_item_id: item.a, location_id: 5_000_000_000_001 }),
      inventoryLevel({ inventory_item_id: item.a, location_id: 5_000_000_000_002 }),
      inventoryLevel({ inventory_item_id: item.b, location_id: 5_000_000_000_001 }),
    ];
    const locations = [location({ id: 5_000_000_000_001, name: 'Main Warehouse' }), location({ id: 5_000_000_000_002, name: 'Outlet' })];

    before(async () => {
      const owner = await seedIntegration(t.ctx, 'sdk-reader');
      await seedRecords(t.ctx, owner, 'products', products);
      await seedRecords(t.ctx, owner, 'orders', orders);
      await seedRecords(t.ctx, owner, 'customers', customers);
      await seedRecords(t.ctx, owner, 'inventory', levels);
      await seedRecords(t.ctx, owner, 'locations', locations);
      client = await clientOf('sdk-reader');
    });

    it('when products are paginated two at a time, then every product comes once, in id order', async () => {
      const first = await client.GET('/api/shopify/products/', { params: { query: { limit: 2 } } });
      expect(first.data.data).to.have.length(2);
      expect(first.data.next_cursor).to.be.a('string');
      const ids: number[] = [];
      for await (const p of client.paginate('/api/shopify/products/', { params: { query: { limit: 2 } } })) {
        expect(p.variants).to.have.length(1);
        ids.push(p.id);
      }
      expect(ids).to.deep.equal(products.map((p) => p.id).sort((x, y) => x - y));
    });

    it('when a product is retrieved, then it comes with its variants, UTC times and decimal money', async () => {
      const { data } = await client.GET('/api/shopify/products/{id}/', { params: { path: { id: products[0]!.id } } });
      expect(data).to.include({ id: products[0]!.id, updated_at: '2024-03-01T12:00:00.000Z' });
      expect(data.variants[0]).to.include({ price: '19.99', currency: 'USD' });
    });

    it('when orders are paginated with a filter, then only matching orders come', async () => {
      const got: number[] = [];
      for await (const o of client.paginate('/api/shopify/orders/', { params: { query: { financial_status: 'paid', limit: 1 } } })) got.push(o.id);
      expect(got).to.have.members([orders[0]!.id, orders[2]!.id]);
    });

    it('when an order is retrieved, then it comes with its line items', async () => {
      const { data } = await client.GET('/api/shopify/orders/{id}/', { params: { path: { id: orders[1]!.id } } });
      expect(data).to.include({ id: orders[1]!.id, financial_status: 'refunded', total_price: '42.50', currency: 'EUR' });
      expect(data.line_items).to.have.length(1);
    });

    it('when customers are paginated, then every customer comes once', async () => {
      const got: number[] = [];
      for await (const c of client.paginate('/api/shopify/customers/', { params: { query: { limit: 2 } } })) got.push(c.id);
      expect(got).to.have.members(customers.map((c) => c.id));
    });

    it('when a customer is retrieved, then it is the stored one', async () => {
      const { data } = await client.GET('/api/shopify/customers/{id}/', { params: { path: { id: customers[1]!.id } } });
      expect(data).to.include({ id: customers[1]!.id, email: customers[1]!.email, total_spent: '42.50' });
    });

    it('when inventory levels are paginated, then each (item, location) pair comes once', async () => {
      const got: string[] = [];
      for await (const l of client.paginate('/api/shopify/inventory/', { params: { query: { limit: 2 } } })) got.push(`${l.inventory_item_id}@${l.location_id}`);
      expect(got).to.have.members(levels.map((l) => `${l.inventory_item_id}@${l.location_id}`));
    });

    it('when an inventory item is retrieved, then its level at every location comes', async () => {
      const { data } = await client.GET('/api/shopify/inventory/{id}/', { params: { path: { id: item.a } } });
      expect(data.inventory_item_id).to.equal(item.a);
      expect(data.levels.map((l) => l.location_id)).to.have.members([5_000_000_000_001, 5_000_000_000_002]);
    });

    it('when inventory levels are filtered by several inventory items, then only their levels come', async () => {
      const { data } = await client.GET('/api/shopify/inventory/', { params: { query: { inventory_item_id: String(item.b) } } });
      expect(data.data.map((l) => l.inventory_item_id)).to.deep.equal([item.b]);
    });

    it('when locations are paginated and one is retrieved, then each comes once with its name', async () => {
      const got: string[] = [];
      for await (const l of client.paginate('/api/shopify/locations/', { params: { query: { limit: 1 } } })) got.push(l.name);
      expect(got).to.deep.equal(['Main Warehouse', 'Outlet']);
      const { data } = await client.GET('/api/shopify/locations/{id}/', { params: { path: { id: 5_000_000_000_002 } } });
      expect(data).to.include({ id: 5_000_000_000_002, name: 'Outlet', active: true });
    });
  });

  describe('Sync', () => {
    it('when a tenant starts a sync, then one job per resource is accepted with a link to the runs', async function () {
      const client = await clientOf('sdk-reader');
      const { data, response } = await run(this, () => client.POST('/api/shopify/sync/', { body: { resources: ['products', 'customers'], mode: 'full' } }));
      expect(response.status).to.equal(202);
      expect(data.jobs.map((j) => j.resource)).to.have.members(['products', 'customers']);
      for (const job of data.jobs) expect(job.state).to.be.oneOf(['queued', 'already_queued']);
      expect(data.links.sync_logs).to.equal('/api/shopify/sync-logs/');
    });

    it("when a started sync's run ids are followed, then each run is retrieved by id and the list filters on them", async function () {
      const client = await clientOf('sdk-reader');
      const { data: accepted } = await client.POST('/api/shopify/sync/', { body: { resources: ['orders'], mode: 'incremental' } });
      const runId = accepted!.jobs[0]!.run_id!;
      const { data, response } = await run(this, () => client.GET('/api/shopify/sync-logs/{id}/', { params: { path: { id: runId } } }));
      expect(response.status).to.equal(200);
      expect(data).to.include({ id: runId, resource: 'orders' });
      const { data: listed } = await client.GET('/api/shopify/sync-logs/', { params: { query: { run_id: [runId] } } });
      expect(listed!.data.map((r) => r.id)).to.deep.equal([runId]);
    });

    it('when the tenant pages through its sync runs, then the queued runs are listed', async function () {
      const client = await clientOf('sdk-reader');
      const runs: { resource: string; status: string; trigger: string }[] = [];
      await run(this, async () => {
        for await (const log of client.paginate('/api/shopify/sync-logs/', { params: { query: { limit: 1 } } })) runs.push(log);
      });
      for (const r of runs) expect(r.resource).to.be.oneOf([...RESOURCE_NAMES]);
      const manual = runs.filter((r) => r.trigger === 'manual').map((r) => r.resource);
      if (manual.length > 0) expect(manual).to.include.members(['products', 'customers']);
    });
  });

  describe('Webhooks', () => {
    const deliver = (path: '/api/shopify/webhook/' | '/api/integrations/shopify/webhook/', secret = mock.apiSecret) => {
      const payload = { ...product(), admin_graphql_api_id: 'gid://shopify/Product/1' };
      const headers = {
        'X-Shopify-Topic': 'products/update',
        'X-Shopify-Hmac-Sha256': signWebhookBody(JSON.stringify(payload), secret), // openapi-fetch sends JSON.stringify(body)
        'X-Shopify-Shop-Domain': TOKEN_SHOP,
        'X-Shopify-Event-Id': `evt-${payload.id}`,
        'X-Shopify-Webhook-Id': `wh-${payload.id}`,
        'X-Shopify-API-Version': '2026-10',
        'X-Shopify-Triggered-At': new Date().toISOString(),
      };
      return sdkClient(t, coverage).POST(path, { params: { header: headers }, body: payload });
    };

    before(ensureTokenStore);

    it('when Shopify delivers a signed webhook, then it is queued', async function () {
      const { data } = await run(this, () => deliver('/api/shopify/webhook/'));
      expect(data.status).to.equal('queued');
      expect(data.id).to.match(/^\d+-\d+$/);
    });

    it('when Shopify delivers to the alias path, then it is queued the same way', async function () {
      const { data } = await run(this, () => deliver('/api/integrations/shopify/webhook/'));
      expect(data.status).to.equal('queued');
    });

    it('when the HMAC is wrong, then it is refused with 401', async function () {
      const err = await run(this, () => rejection(deliver('/api/shopify/webhook/', 'not-the-secret')));
      expect(err.status).to.equal(401);
    });
  });

  describe('Admin: operations', () => {
    it('when the operator lists integrations, then every tenant store shows with its health', async function () {
      const tenants: string[] = [];
      await run(this, async () => {
        for await (const entry of admin.paginate('/api/admin/integrations/', { params: { query: { limit: 1 } } })) {
          expect(entry.integration.resources).to.have.all.keys(...RESOURCE_NAMES);
          tenants.push(entry.tenant_id);
        }
      });
      expect(tenants).to.include('sdk-reader');
    });

    it('when the operator starts a sync of any integration, then it is accepted', async function () {
      const integration = await t.ctx.db.selectFrom('shopify_integrations').select('id').where('tenant_id', '=', 'sdk-reader').executeTakeFirstOrThrow();
      const { data, response } = await run(this, () => admin.POST('/api/admin/integrations/{id}/sync/', { params: { path: { id: integration.id } }, body: { resources: ['orders'] } }));
      expect(response.status).to.equal(202);
      expect(data.jobs.map((j) => j.resource)).to.deep.equal(['orders']);
    });

    it('when the operator lists dead letters, then none are there', async function () {
      const { data } = await run(this, () => admin.GET('/api/admin/webhooks/dead-letters/'));
      expect(data).to.deep.equal({ data: [], next_cursor: null });
    });

    it('when the operator replays every dead letter, then nothing is replayed', async function () {
      const { data } = await run(this, () => admin.POST('/api/admin/webhooks/dead-letters/replay/', { body: { all: true } }));
      expect(data.replayed).to.equal(0);
    });

    it('when the operator reads webhook stats, then the stream and its consumers are described', async function () {
      const { data } = await run(this, () => admin.GET('/api/admin/webhooks/stats/'));
      expect(data.stream_length).to.be.a('number');
      expect(data.pending).to.be.a('number');
      expect(data.consumers).to.be.an('array');
    });
  });

  describe('Disconnect', () => {
    it('when the tenant disconnects, then the integration becomes inactive and its data stays', async function () {
      await ensureTokenStore();
      const client = await clientOf('sdk-token');
      const { data } = await run(this, () => client.DELETE('/api/shopify/connect/', { params: { query: { purge: false } } }));
      expect(data).to.include({ is_active: false, purged: false });
    });
  });

  describe('Errors as ApiProblemError', () => {
    it('when a record does not exist, then a 404 problem is thrown with its fields', async () => {
      const client = await clientOf('sdk-reader');
      const err = await rejection(client.GET('/api/shopify/products/{id}/', { params: { path: { id: 8_999_999_999_999 } } }));
      expect(err).to.be.instanceOf(ApiProblemError);
      expect(err).to.include({ status: 404, title: 'Not Found', method: 'GET', type: 'https://shopify-integration.dev/problems/not-found' });
      expect(err.detail).to.include('8999999999999');
      expect(err.errors).to.deep.equal([]);
      expect(err.requestId).to.be.a('string');
      expect(err.message).to.include('404 Not Found');
    });

    it('when a parameter is out of range, then a 400 problem names it in errors[]', async () => {
      const client = await clientOf('sdk-reader');
      const err = await rejection(client.GET('/api/shopify/products/', { params: { query: { limit: 1000 } } }));
      expect(err).to.include({ status: 400, title: 'Bad Request', type: 'https://shopify-integration.dev/problems/validation-error' });
      expect(err.errors).to.deep.include({ location: 'query', name: 'limit', message: 'must be at most 250' });
    });

    it('when the key is unknown, then a 401 problem is thrown', async () => {
      const err = await rejection(sdkClient(t, coverage, 'sk_not-a-key').GET('/api/shopify/orders/'));
      expect(err).to.include({ status: 401, title: 'Unauthorized' });
    });
  });

  describe('Contract coverage', () => {
    it('when the suite has run, then every operation of the contract was called through the SDK', function () {
      expect(coverage.operationIds()).to.have.length.greaterThan(20);
      expect(coverage.missing(), 'operations never called through the SDK: add a case to test/integration/sdk.test.ts').to.deep.equal([]);
      if (coverage.notImplemented.size > 0 && this.test) this.test.title += ` (not implemented yet: ${[...coverage.notImplemented].join(', ')})`;
    });
  });
});
