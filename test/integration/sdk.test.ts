import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { startMockShopify, type MockShopify } from '../../scripts/mock-shopify/index.js';
import { ApiProblemError, createClient, verifyWebhook, type ShopifyIntegrationClient } from '../../sdk/typescript/src/index.js';
import { startSequencer } from '../../src/events/sequencer.js';
import { startOutboundWorker } from '../../src/outbound/worker.js';
import { signWebhookBody } from '../../src/shopify/hmac.js';
import { createApiKey } from '../../src/store/api-keys.js';
import { appendChangeEvents } from '../../src/store/change-events.js';
import { ADMIN_KEY, startTestContext, type TestContext } from '../support/context.js';
import { RESOURCE_NAMES } from '../../src/resources/index.js';
import { customer, inventoryLevel, location, order, product, seedIntegration, seedRecords } from '../support/seed.js';
import { OperationCoverage, sdkClient, unlessNotImplemented } from '../support/sdk.js';
import { eventually } from '../support/sync.js';

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
      // Outbound webhooks go to a receiver on this machine, fast.
      OUTBOUND_ALLOW_PRIVATE_TARGETS: 'true',
      OUTBOUND_POLL_MS: '20',
      OUTBOUND_REQUEUE_MS: '300',
      EVENTS_SEQUENCE_INTERVAL_MS: '20',
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

  describe('Change feed', () => {
    it("when the tenant reads its feed, then the seeded records' creation comes in order, filtered by type, and the cursor resumes after it", async function () {
      const client = await clientOf('sdk-reader');
      const { data } = await run(this, () => client.GET('/api/events/', { params: { query: { types: 'product.created', limit: 3 } } }));
      expect(data.data).to.have.length(3);
      expect(data.has_more).to.equal(true);
      for (const event of data.data) expect(event).to.include({ type: 'product.created', resource: 'products' });
      const { data: rest } = await client.GET('/api/events/', { params: { query: { after: data.next_cursor, types: 'product.created,order.created', limit: 100 } } });
      expect(rest.data.filter((e) => e.type === 'product.created')).to.have.length(2);
      expect(rest.data.filter((e) => e.type === 'order.created')).to.have.length(3);
      expect(rest.has_more).to.equal(false);
      const ids = [...data.data, ...rest.data].map((e) => e.id);
      expect(new Set(ids).size).to.equal(ids.length);
    });

    it('when the cursor is not one the feed issued, then a 400 problem names it', async () => {
      const client = await clientOf('sdk-reader');
      const err = await rejection(client.GET('/api/events/', { params: { query: { after: 'not-a-cursor' } } }));
      expect(err.status).to.equal(400);
      expect(err.errors.map((e) => e.name)).to.include('after');
    });
  });

  describe('Mappings', () => {
    const expression = '{ "name": title, "skus": variants.sku }';

    it('when the tenant saves a mapping, then it is created (201), and saving it again replaces it (200)', async function () {
      const client = await clientOf('sdk-reader');
      const { data, response } = await run(this, () => client.PUT('/api/mappings/{resource}/', { params: { path: { resource: 'products' } }, body: { expression: 'title' } }));
      expect(response.status).to.equal(201);
      expect(data).to.include({ resource: 'products', expression: 'title' });
      const { response: replaced } = await client.PUT('/api/mappings/{resource}/', { params: { path: { resource: 'products' } }, body: { expression } });
      expect(replaced.status).to.equal(200);
    });

    it("when an expression does not compile, then a 422 problem names JSONata's error and nothing is saved", async () => {
      const client = await clientOf('sdk-reader');
      const err = await rejection(client.PUT('/api/mappings/{resource}/', { params: { path: { resource: 'orders' } }, body: { expression: '{ "a": ' } }));
      expect(err.status).to.equal(422);
      expect(err.errors.map((e) => e.name)).to.deep.equal(['expression']);
    });

    it('when the tenant reads its mapping and lists them, then the saved one is there', async function () {
      const client = await clientOf('sdk-reader');
      const { data } = await run(this, () => client.GET('/api/mappings/{resource}/', { params: { path: { resource: 'products' } } }));
      expect(data).to.include({ resource: 'products', expression });
      const { data: list } = await run(this, () => client.GET('/api/mappings/'));
      expect(list.data.map((m) => m.resource)).to.deep.equal(['products']);
    });

    it('when the tenant previews an expression on its records, then each record comes with its result', async function () {
      const client = await clientOf('sdk-reader');
      const { data } = await run(this, () => client.POST('/api/mappings/{resource}/preview/', { params: { path: { resource: 'products' } }, body: { expression: 'title', limit: 2 } }));
      expect(data.data).to.have.length(2);
      for (const record of data.data) expect(record.mapped).to.equal(`Product ${record.id}`);
    });

    it('when records are read with view=mapped, then they come through the saved mapping', async () => {
      const client = await clientOf('sdk-reader');
      const { data } = await client.GET('/api/shopify/products/', { params: { query: { view: 'mapped', limit: 1 } } });
      expect(data.data[0]!.mapped).to.have.keys('name', 'skus');
    });

    it('when the tenant deletes the mapping, then it is gone (404), and deleting it again succeeds too', async function () {
      const client = await clientOf('sdk-reader');
      const { response } = await run(this, () => client.DELETE('/api/mappings/{resource}/', { params: { path: { resource: 'products' } } }));
      expect(response.status).to.equal(204);
      expect((await rejection(client.GET('/api/mappings/{resource}/', { params: { path: { resource: 'products' } } }))).status).to.equal(404);
      expect((await client.DELETE('/api/mappings/{resource}/', { params: { path: { resource: 'products' } } })).response.status).to.equal(204);
    });
  });

  describe('Outbound webhooks', () => {
    const TENANT = 'sdk-outbound';
    /** What the receiver got; `/ok` answers 204, `/gone` 410 (no retry helps: dead at once). */
    const received: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];
    let receiver: Server;
    let base: string;
    let stopSequencer: () => Promise<void>;
    let stopWorker: () => Promise<void>;
    let client: ShopifyIntegrationClient;
    let endpoint: { id: number; secret: string };
    let gone: { id: number; secret: string };
    const publish = (title: string) =>
      appendChangeEvents(t.ctx.db, [{ tenantId: TENANT, integrationId: null, type: 'product.updated', resource: 'products', recordKey: '1', shopifyUpdatedAt: new Date(), data: { id: 1, title } }]);
    const at = (path: string) => received.filter((r) => r.path === path);

    before(async () => {
      receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += String(chunk)));
        req.on('end', () => {
          received.push({ path: req.url ?? '/', headers: req.headers, body });
          res.writeHead(req.url === '/ok' ? 204 : 410).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;
      stopSequencer = startSequencer(t.ctx);
      stopWorker = await startOutboundWorker(t.ctx);
      client = await clientOf(TENANT);
    });
    after(async () => {
      await stopWorker?.();
      await stopSequencer?.();
      receiver?.closeAllConnections();
      await new Promise((resolve) => receiver?.close(resolve));
    });

    it('when the tenant creates an endpoint, then its secret is shown once and a change is delivered signed, verified by verifyWebhook', async function () {
      const { data, response } = await run(this, () =>
        client.POST('/api/webhook-endpoints/', { body: { url: `${base}/ok`, description: 'ERP', event_types: ['product.updated'], use_mapping: false, enabled: true } }),
      );
      expect(response.status).to.equal(201);
      expect(data).to.include({ url: `${base}/ok`, description: 'ERP', enabled: true, use_mapping: false });
      expect(data.secret).to.match(/^whsec_/);
      endpoint = data;
      await publish('first');
      await eventually(() => at('/ok').length === 1, 10_000, 'the delivery');
      const event = verifyWebhook(at('/ok')[0]!.body, at('/ok')[0]!.headers, endpoint.secret);
      expect(event).to.include({ type: 'product.updated', resource: 'products', record_id: '1' });
      expect(event.data).to.deep.equal({ id: 1, title: 'first' });
    });

    it('when the tenant lists and reads its endpoints, then they show without a secret', async function () {
      const ids: number[] = [];
      await run(this, async () => {
        for await (const e of client.paginate('/api/webhook-endpoints/', { params: { query: { limit: 1 } } })) {
          expect(e).not.to.have.property('secret');
          ids.push(e.id);
        }
      });
      expect(ids).to.deep.equal([endpoint.id]);
      const { data } = await run(this, () => client.GET('/api/webhook-endpoints/{id}/', { params: { path: { id: endpoint.id } } }));
      expect(data).to.include({ id: endpoint.id, failing_since: null, previous_secret_expires_at: null });
      expect(data).not.to.have.property('secret');
    });

    it('when the tenant reads the attempts, then the delivery shows with the receiver’s status', async function () {
      await eventually(async () => (await client.GET('/api/webhook-endpoints/{id}/attempts/', { params: { path: { id: endpoint.id } } })).data.data.length === 1, 5000, 'the attempt recorded');
      const { data } = await run(this, () => client.GET('/api/webhook-endpoints/{id}/attempts/', { params: { path: { id: endpoint.id } } }));
      expect(data.data[0]).to.include({ attempt: 1, ok: true, status_code: 204, error: null });
      expect(data.next_cursor).to.equal(null);
    });

    it('when the tenant rotates the secret with an overlap, then the next delivery verifies with the new secret and with the previous one', async function () {
      const { data } = await run(this, () => client.POST('/api/webhook-endpoints/{id}/rotate-secret/', { params: { path: { id: endpoint.id } }, body: { overlap_hours: 1 } }));
      expect(data.secret)
        .to.match(/^whsec_/)
        .and.not.equal(endpoint.secret);
      expect(Date.parse(data.previous_secret_expires_at!)).to.be.greaterThan(Date.now());
      await publish('after rotation');
      await eventually(() => at('/ok').length === 2, 10_000, 'the delivery after rotation');
      const message = at('/ok')[1]!;
      expect(verifyWebhook(message.body, message.headers, data.secret).data).to.deep.equal({ id: 1, title: 'after rotation' });
      expect(verifyWebhook(message.body, message.headers, endpoint.secret).data).to.deep.equal({ id: 1, title: 'after rotation' });
      endpoint = data;
    });

    it('when a receiver answers 410, then the delivery is a dead letter, listed, and a replay sends it again', async function () {
      const { data: created } = await client.POST('/api/webhook-endpoints/', { body: { url: `${base}/gone`, event_types: ['product.updated'], use_mapping: false, enabled: true } });
      gone = created;
      await publish('to a receiver that is gone');
      const deadLetters = async () => (await client.GET('/api/webhook-endpoints/{id}/dead-letters/', { params: { path: { id: gone.id } } })).data.data;
      await eventually(async () => (await deadLetters()).length === 1, 10_000, 'the dead letter');
      const { data } = await run(this, () => client.GET('/api/webhook-endpoints/{id}/dead-letters/', { params: { path: { id: gone.id } } }));
      expect(data.data[0]).to.include({ event_type: 'product.updated', resource: 'products', record_id: '1', attempts: 1 });
      expect(data.data[0]!.last_error).to.include('410');

      const { data: replayed } = await run(this, () =>
        client.POST('/api/webhook-endpoints/{id}/dead-letters/replay/', { params: { path: { id: gone.id } }, body: { ids: [data.data[0]!.id], all: false } }),
      );
      expect(replayed.requeued).to.equal(1);
      await eventually(() => at('/gone').length === 2, 10_000, 'the replayed delivery');
      await eventually(async () => (await deadLetters()).length === 1, 10_000, 'dead again');
    });

    it('when the tenant disables an endpoint, then it shows disabled and gets nothing more', async function () {
      const { data } = await run(this, () => client.PATCH('/api/webhook-endpoints/{id}/', { params: { path: { id: gone.id } }, body: { enabled: false, description: 'paused' } }));
      expect(data).to.include({ id: gone.id, enabled: false, description: 'paused' });
      await publish('while disabled');
      await eventually(() => at('/ok').length === 3, 10_000, 'the enabled endpoint’s delivery');
      expect(at('/gone')).to.have.length(2);
    });

    it('when the tenant deletes an endpoint, then it is gone (404)', async function () {
      const { response } = await run(this, () => client.DELETE('/api/webhook-endpoints/{id}/', { params: { path: { id: gone.id } } }));
      expect(response.status).to.equal(204);
      const err = await rejection(client.GET('/api/webhook-endpoints/{id}/', { params: { path: { id: gone.id } } }));
      expect(err.status).to.equal(404);
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

    it('when a required body field is missing or off its pattern, then a 400 problem names each in plain words', async () => {
      const client = await clientOf('sdk-outbound');
      const body = { description: 'no url', event_types: ['Not A Type'] } as never;
      const err = await rejection(client.POST('/api/webhook-endpoints/', { body }));
      expect(err.status).to.equal(400);
      expect(err.errors).to.deep.include.members([
        { location: 'body', name: 'url', message: 'is required' },
        { location: 'body', name: 'event_types.0', message: 'is not in the expected format' },
      ]);
      expect(err.detail).to.equal('The body field url is required; the body field event_types.0 is not in the expected format');
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
