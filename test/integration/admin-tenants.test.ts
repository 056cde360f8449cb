import { expect } from 'chai';
import { deactivateIntegration } from '../../src/store/integrations.js';
import { ADMIN_KEY, startTestContext, type TestContext } from '../support/context.js';
import { call, expectProblem, type ApiResponse } from '../support/http.js';
import { seedIntegration } from '../support/seed.js';

describe('admin: integrations and API keys', () => {
  let t: TestContext;
  const created: string[] = [];

  before(async () => {
    t = await startTestContext();
  });
  after(async () => t?.close());

  describe('authentication', () => {
    for (const [method, path] of [
      ['GET', '/api/admin/integrations/'],
      ['GET', '/api/admin/api-keys/'],
      ['POST', '/api/admin/api-keys/'],
      ['DELETE', '/api/admin/api-keys/1/'],
    ] as const) {
      it(`when a tenant key is used on ${method} ${path}, then 401`, async () => {
        const key = await t.keyFor('tenant-nosy');
        expectProblem(await call(t.url, method, path, { key, ...(method === 'POST' ? { body: { tenant_id: 'tenant-nosy' } } : {}) }), 401);
      });
    }
    it('when no key or a wrong operator key is sent, then 401', async () => {
      expectProblem(await call(t.url, 'GET', '/api/admin/integrations/'), 401);
      expectProblem(await call(t.url, 'GET', '/api/admin/integrations/', { key: `${ADMIN_KEY}x` }), 401);
    });
  });

  describe('API keys', () => {
    it('when the operator creates a key, then it is shown once, works on tenant routes, and is listed without its value', async () => {
      const res = await call(t.url, 'POST', '/api/admin/api-keys/', { key: ADMIN_KEY, body: { tenant_id: 'tenant-new', name: 'production' } });
      expect(res.status, res.text).to.equal(201);
      expect(res.body).to.include({ tenant_id: 'tenant-new', name: 'production', revoked_at: null, last_used_at: null });
      expect(res.body.key).to.match(/^sk_/);
      expect(res.body.key.startsWith(res.body.key_prefix)).to.equal(true);
      created.push(res.body.key);

      const own = await call(t.url, 'GET', '/api/shopify/products/', { key: res.body.key });
      expect(own.status, own.text).to.equal(200);

      const list = await call(t.url, 'GET', '/api/admin/api-keys/?tenant_id=tenant-new', { key: ADMIN_KEY });
      expect(list.status, list.text).to.equal(200);
      expect(list.body.data).to.have.length(1);
      expect(list.body.data[0]).to.include({ id: res.body.id, name: 'production' });
      expect(list.body.data[0]).not.to.have.property('key');
      expect(list.text).not.to.include(res.body.key);
      const row = await t.ctx.db.selectFrom('api_keys').selectAll().where('id', '=', res.body.id).executeTakeFirstOrThrow();
      for (const [column, value] of Object.entries(row)) expect(String(value), column).not.to.include(res.body.key);
    });

    it('when no name is given, then the key is called "default"; a bad tenant id is 400', async () => {
      const res = await call(t.url, 'POST', '/api/admin/api-keys/', { key: ADMIN_KEY, body: { tenant_id: 'tenant-new' } });
      expect(res.status, res.text).to.equal(201);
      expect(res.body.name).to.equal('default');
      created.push(res.body.key);
      expectProblem(await call(t.url, 'POST', '/api/admin/api-keys/', { key: ADMIN_KEY, body: { tenant_id: 'bad tenant!' } }), 400);
    });

    it('when listing with a small limit, then next_cursor walks every key once', async () => {
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const res: ApiResponse = await call(t.url, 'GET', `/api/admin/api-keys/?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: ADMIN_KEY });
        expect(res.status, res.text).to.equal(200);
        seen.push(...res.body.data.map((k: { id: number }) => k.id));
        cursor = res.body.next_cursor;
      } while (cursor);
      const all = await t.ctx.db.selectFrom('api_keys').select('id').orderBy('id').execute();
      expect(seen).to.deep.equal(all.map((k) => k.id));
    });

    it('when a key is revoked, then it gets 401 on tenant routes, and revoking again answers the same', async () => {
      const made = await call(t.url, 'POST', '/api/admin/api-keys/', { key: ADMIN_KEY, body: { tenant_id: 'tenant-gone' } });
      created.push(made.body.key);
      expect((await call(t.url, 'GET', '/api/shopify/products/', { key: made.body.key })).status).to.equal(200);

      const revoked = await call(t.url, 'DELETE', `/api/admin/api-keys/${made.body.id}/`, { key: ADMIN_KEY });
      expect(revoked.status, revoked.text).to.equal(200);
      expect(revoked.body.revoked_at).to.be.a('string');
      expectProblem(await call(t.url, 'GET', '/api/shopify/products/', { key: made.body.key }), 401);

      const again = await call(t.url, 'DELETE', `/api/admin/api-keys/${made.body.id}`, { key: ADMIN_KEY });
      expect(again.status, again.text).to.equal(200);
      expect(again.body.revoked_at).to.equal(revoked.body.revoked_at);
    });

    it('when the key does not exist, then 404', async () => {
      expectProblem(await call(t.url, 'DELETE', '/api/admin/api-keys/999999/', { key: ADMIN_KEY }), 404);
    });
  });

  describe('GET /api/admin/integrations/', () => {
    before(async () => {
      const a = await seedIntegration(t.ctx, 'tenant-i1');
      await seedIntegration(t.ctx, 'tenant-i2');
      const c = await seedIntegration(t.ctx, 'tenant-i3');
      await deactivateIntegration(t.ctx.db, c.integrationId);
      await t.ctx.db
        .insertInto('shopify_sync_logs')
        .values({
          tenant_id: 'tenant-i1',
          integration_id: a.integrationId,
          resource: 'orders',
          trigger: 'scheduled',
          mode: 'incremental',
          status: 'succeeded',
          job_id: null,
          started_at: new Date('2026-02-01T00:00:00Z'),
          finished_at: new Date('2026-02-01T00:00:02Z'),
          records_fetched: 7,
          records_written: 5,
          error: null,
        })
        .execute();
    });

    it('when listing with a small limit, then every integration comes once with its health and latest syncs', async () => {
      const entries: any[] = [];
      let cursor: string | null = null;
      do {
        const res: ApiResponse = await call(t.url, 'GET', `/api/admin/integrations/?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key: ADMIN_KEY });
        expect(res.status, res.text).to.equal(200);
        expect(res.body.data.length).to.be.at.most(2);
        entries.push(...res.body.data);
        cursor = res.body.next_cursor;
      } while (cursor);
      expect(entries.map((e) => e.tenant_id)).to.deep.equal(['tenant-i1', 'tenant-i2', 'tenant-i3']);
      const first = entries[0];
      expect(first.integration).to.include({ shop_domain: 'tenant-i1-shop.myshopify.com', is_active: true, is_connected: true, error_count: 0 });
      expect(first.integration.resources.orders).to.include({ status: 'succeeded', records_fetched: 7, records_written: 5 });
      expect(first.integration.resources.products.status).to.equal(null);
      expect(entries[2].integration).to.include({ is_active: false, is_connected: false });
      expect(JSON.stringify(entries)).not.to.include('shpat_seeded');
    });

    it('when filtering by is_active, then only those come back', async () => {
      const inactive = await call(t.url, 'GET', '/api/admin/integrations/?is_active=false', { key: ADMIN_KEY });
      expect(inactive.body.data.map((e: { tenant_id: string }) => e.tenant_id)).to.deep.equal(['tenant-i3']);
      const active = await call(t.url, 'GET', '/api/admin/integrations/?is_active=true', { key: ADMIN_KEY });
      expect(active.body.data.map((e: { tenant_id: string }) => e.tenant_id)).to.deep.equal(['tenant-i1', 'tenant-i2']);
    });

    it('when the cursor is not one we issued, then 400', async () => {
      expectProblem(await call(t.url, 'GET', '/api/admin/integrations/?cursor=bm9wZQ', { key: ADMIN_KEY }), 400);
    });
  });

  describe('secrets', () => {
    it('when all of the above ran, then no created key is in the logs', () => {
      const logs = t.logs.text();
      expect(created).to.have.length(3);
      for (const key of created) expect(logs).not.to.include(key);
    });
  });
});
