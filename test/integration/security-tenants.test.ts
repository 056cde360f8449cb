import { expect } from 'chai';
import { sql } from 'kysely';
import { startMockShopify, type MockShopify } from '../../scripts/mock-shopify/index.js';
import { RESOURCE_NAMES, RESOURCES, type ResourceName } from '../../src/resources/index.js';
import { createSyncLog } from '../../src/store/sync-logs.js';
import { ADMIN_KEY, startTestContext, type TestContext } from '../support/context.js';
import { call, expectProblem } from '../support/http.js';
import { recordIdOf as idOf, walkList } from '../support/pages.js';
import { customer, inventoryLevel, location as locationRecord, order, product, seedIntegration, seedRecords } from '../support/seed.js';

const APP_SECRET = 'test-app-secret';
/** Tenant ids that a case-insensitive comparison would call one and the same. */
const TENANTS = ['acme', 'ACME', 'Acme'] as const;
type TenantId = (typeof TENANTS)[number];
const SHOPS: Record<TenantId, string> = { acme: 'case-lower.myshopify.com', ACME: 'case-upper.myshopify.com', Acme: 'case-mixed.myshopify.com' };

interface Tenant {
  key: string;
  ids: Record<ResourceName, number[]>;
  runIds: number[];
  email: string;
}

async function seedTenant(t: TestContext, tenantId: TenantId, location: number): Promise<Tenant> {
  const owner = await seedIntegration(t.ctx, tenantId, SHOPS[tenantId]);
  const email = `buyer@${SHOPS[tenantId]}`;
  const products = Array.from({ length: 3 }, () => product({ vendor: `Vendor-${tenantId}` }));
  const orders = Array.from({ length: 3 }, () => order({ email }));
  const customers = [customer({ email }), customer()];
  const levels = Array.from({ length: 3 }, () => inventoryLevel({ location_id: location }));
  await seedRecords(t.ctx, owner, 'products', products);
  await seedRecords(t.ctx, owner, 'orders', orders);
  await seedRecords(t.ctx, owner, 'customers', customers);
  await seedRecords(t.ctx, owner, 'inventory', levels);
  const locations = [locationRecord(), locationRecord()];
  await seedRecords(t.ctx, owner, 'locations', locations);
  const runIds: number[] = [];
  for (const resource of RESOURCE_NAMES) {
    runIds.push(
      await createSyncLog(t.ctx.db, {
        tenant_id: tenantId,
        integration_id: owner.integrationId,
        resource,
        trigger: 'manual',
        mode: 'full',
        status: 'succeeded',
        job_id: null,
        finished_at: new Date(),
      }),
    );
  }
  return {
    key: await t.keyFor(tenantId),
    ids: {
      products: products.map((p) => p.id),
      orders: orders.map((o) => o.id),
      customers: customers.map((c) => c.id),
      inventory: levels.map((l) => l.inventory_item_id as number),
      locations: locations.map((l) => l.id),
    },
    runIds,
    email,
  };
}

const walk = (t: TestContext, key: string, path: string) => walkList(t.url, key, path);
const sorted = (ids: number[]) => [...new Set(ids)].sort((x, y) => x - y);

/** Rows of each record table stored for exactly this tenant id. */
async function storedCounts(t: TestContext, tenantId: string): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const resource of Object.values(RESOURCES)) {
    for (const table of [resource.table, ...(resource.child ? [resource.child.table] : [])]) {
      const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql.table(table)} WHERE tenant_id = ${tenantId}`.execute(t.ctx.db);
      counts[table] = Number(rows[0]?.n);
    }
  }
  return counts;
}

describe('security: tenant ids that differ only by letter case are different tenants', () => {
  let t: TestContext;
  let mock: MockShopify;
  const tenants = {} as Record<TenantId, Tenant>;

  before(async () => {
    mock = await startMockShopify({ apiSecret: APP_SECRET, shops: Object.values(SHOPS).map((domain) => ({ domain })), rateLimit: { enabled: false } });
    t = await startTestContext({ SHOPIFY_API_BASE_URL: mock.baseUrlTemplate, SHOPIFY_API_SECRET: APP_SECRET, SHOPIFY_MAX_RETRY_ATTEMPTS: '0' });
    let location = 5_300_000_000_001;
    for (const id of TENANTS) tenants[id] = await seedTenant(t, id, location++);
  });
  after(async () => {
    await t?.close();
    await mock?.close();
  });

  it('when every table is migrated, then each tenant_id column and the key hash compare byte for byte', async () => {
    const { rows } = await sql<{ table: string; column: string; collation: string }>`
      SELECT TABLE_NAME AS \`table\`, COLUMN_NAME AS \`column\`, COLLATION_NAME AS collation FROM information_schema.COLUMNS
      WHERE TABLE_SCHEMA = DATABASE() AND (COLUMN_NAME = 'tenant_id' OR (TABLE_NAME = 'api_keys' AND COLUMN_NAME = 'key_hash'))`.execute(t.ctx.db);
    expect(rows.length).to.be.greaterThan(10);
    for (const r of rows) expect(r.collation, `${r.table}.${r.column}`).to.equal('utf8mb4_bin');
  });

  it("when each key lists and retrieves records, then it sees exactly its own tenant's, never those of an id differing by case", async () => {
    for (const id of TENANTS) {
      const mine = tenants[id];
      for (const resource of RESOURCE_NAMES) {
        const seen = (await walk(t, mine.key, `/api/shopify/${resource}/?include_deleted=true`)).map((r) => idOf(resource, r));
        expect(sorted(seen), `${resource} of ${id}`).to.deep.equal(sorted(mine.ids[resource]));
        for (const other of TENANTS.filter((o) => o !== id)) {
          const theirs = tenants[other].ids[resource][0] as number;
          expectProblem(await call(t.url, 'GET', `/api/shopify/${resource}/${theirs}/`, { key: mine.key }), 404);
        }
      }
      const byEmail = await call(t.url, 'GET', `/api/shopify/orders/?email=${encodeURIComponent(tenants.acme.email)}`, { key: mine.key });
      expect(byEmail.body.data.length, `orders of acme's buyer seen by ${id}`).to.equal(id === 'acme' ? 3 : 0);
    }
  });

  it('when each key reads its status and sync logs, then it sees its own store and runs only', async () => {
    for (const id of TENANTS) {
      const status = await call(t.url, 'GET', '/api/shopify/status/', { key: tenants[id].key });
      expect(status.status, status.text).to.equal(200);
      expect(status.body.shop_domain).to.equal(SHOPS[id]);
      const runs = (await walk(t, tenants[id].key, '/api/shopify/sync-logs/')).map((r) => r.id as number);
      expect(sorted(runs), `runs of ${id}`).to.deep.equal(sorted(tenants[id].runIds));
    }
  });

  it("when the operator lists keys by tenant_id=acme, then only acme's keys come back, not ACME's or Acme's", async () => {
    for (const id of TENANTS) {
      const res = await call(t.url, 'GET', `/api/admin/api-keys/?tenant_id=${id}`, { key: ADMIN_KEY });
      expect(res.status, res.text).to.equal(200);
      expect(
        res.body.data.map((k: { tenant_id: string }) => k.tenant_id),
        id,
      ).to.deep.equal([id]);
    }
  });

  it("when ACME disconnects with purge, then acme's and Acme's stores and records stay whole", async () => {
    const before = { acme: await storedCounts(t, 'acme'), Acme: await storedCounts(t, 'Acme') };
    const listed = await walk(t, tenants.acme.key, '/api/shopify/products/');
    expect(
      Object.values(before.acme).every((n) => n > 0),
      JSON.stringify(before.acme),
    ).to.equal(true);

    const res = await call(t.url, 'DELETE', '/api/shopify/connect/?purge=true', { key: tenants.ACME.key });
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ shop_domain: SHOPS.ACME, purged: true });

    expect(Object.values(await storedCounts(t, 'ACME')).every((n) => n === 0)).to.equal(true);
    expect(await storedCounts(t, 'acme')).to.deep.equal(before.acme);
    expect(await storedCounts(t, 'Acme')).to.deep.equal(before.Acme);
    expect(await walk(t, tenants.acme.key, '/api/shopify/products/')).to.deep.equal(listed);
    for (const id of ['acme', 'Acme'] as const) {
      expect((await call(t.url, 'GET', '/api/shopify/status/', { key: tenants[id].key })).body).to.include({ shop_domain: SHOPS[id], is_active: true });
    }
    expect(await walk(t, tenants.ACME.key, '/api/shopify/products/')).to.deep.equal([]);
  });
});
