import type { Database } from '../../src/store/schema.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { sql } from 'kysely';
import { createDb, dropDatabase, ensureDatabase } from '../../src/platform/db.js';
import { RESOURCES } from '../../src/resources/index.js';
import { revokeApiKey } from '../../src/store/api-keys.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import { markRecordsDeleted } from '../../src/store/records.js';
import { startTestContext, TEST_DATABASE_SERVER, uniqueName, type TestContext } from '../support/context.js';
import { call, expectProblem, type ApiResponse } from '../support/http.js';
import { inventoryLevel, newId, product, seedIntegration, seedRecords } from '../support/seed.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

const run = promisify(execFile);

describe('migrations', () => {
  it('when applied to an empty database twice, then every table exists and the second run changes nothing', async () => {
    const url = `${TEST_DATABASE_SERVER}/${uniqueName('shopint_migrate')}`;
    await ensureDatabase(url);
    const db = createDb<Database>(url, 1);
    try {
      const first = await migrateToLatest(db);
      expect(first.results?.every((r) => r.status === 'Success')).to.equal(true);
      const second = await migrateToLatest(db);
      expect(second.results).to.deep.equal([]);
      const tables = await sql<{ name: string }>`SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()`.execute(db);
      expect(tables.rows.map((r) => r.name)).to.include.members([
        'api_keys',
        'shopify_integrations',
        'shopify_products',
        'shopify_product_variants',
        'shopify_orders',
        'shopify_order_line_items',
        'shopify_customers',
        'shopify_inventory_levels',
        'shopify_sync_state',
        'shopify_sync_logs',
        'shopify_webhook_events',
      ]);
    } finally {
      await db.destroy();
      await dropDatabase(url);
    }
  });
});

describe('foundation', () => {
  let t: TestContext;
  before(async () => {
    t = await startTestContext();
  });
  after(async () => t?.close());

  it('when a key is revoked, then it gets 401 from then on', async () => {
    const key = await t.keyFor('tenant-revoked');
    expect((await call(t.url, 'GET', '/api/shopify/orders/', { key })).status).to.equal(200);
    const row = await t.ctx.db.selectFrom('api_keys').selectAll().where('tenant_id', '=', 'tenant-revoked').executeTakeFirstOrThrow();
    expect(row.key_hash).to.have.length(64).and.not.equal(key);
    await revokeApiKey(t.ctx.db, row.id);
    expectProblem(await call(t.url, 'GET', '/api/shopify/orders/', { key }), 401);
  });

  it('when the CLI creates a key, then it prints it alone on the last line and it works', async () => {
    const { stdout } = await run('npx', ['tsx', 'src/main/cli.ts', 'api-key', 'create', '--tenant', 'cli-tenant', '--name', 'ci'], {
      env: { ...process.env, DATABASE_URL: t.databaseUrl },
    });
    const key = stdout.trim().split('\n').pop() as string;
    expect(key).to.match(/^sk_[A-Za-z0-9_-]{40,}$/);
    const stored = await t.ctx.db.selectFrom('api_keys').select('key_hash').where('tenant_id', '=', 'cli-tenant').execute();
    expect(JSON.stringify(stored)).not.to.include(key);
    expect((await call(t.url, 'GET', '/api/shopify/products/', { key })).status).to.equal(200);
  });

  it('when 1,000 rows are walked by cursor while rows are inserted, then each original row comes exactly once', async () => {
    const owner = await seedIntegration(t.ctx, 'tenant-walk');
    const key = await t.keyFor('tenant-walk');
    const originals = Array.from({ length: 1000 }, () => product({ variants: [] }));
    for (let i = 0; i < originals.length; i += 250) await seedRecords(t.ctx, owner, 'products', originals.slice(i, i + 250));
    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `&cursor=${cursor}` : '';
      const res = await call(t.url, 'GET', `/api/shopify/products/?limit=37${query}`, { key });
      expect(res.status, res.text).to.equal(200);
      seen.push(...res.body.data.map((p: { id: number }) => p.id));
      cursor = res.body.next_cursor;
      // Inserts land before and after the cursor position while the walk goes on.
      await seedRecords(t.ctx, owner, 'products', [product({ id: newId(), variants: [] }), product({ id: 1_000_000 + pages, variants: [] })]);
      pages += 1;
    } while (cursor);
    const originalIds = originals.map((p) => p.id);
    expect(new Set(seen).size).to.equal(seen.length, 'no duplicates');
    expect(seen.filter((id) => originalIds.includes(id))).to.have.length(1000);
    expect([...seen].sort((a, b) => a - b)).to.deep.equal(seen, 'in id order');
  });

  it('when inventory levels (a two-column key) are walked by cursor, then each comes exactly once in key order', async () => {
    const owner = await seedIntegration(t.ctx, 'tenant-walk-inventory');
    const key = await t.keyFor('tenant-walk-inventory');
    const items = [newId(), newId(), newId(), newId()];
    const locations = [5_000_000_000_101, 5_000_000_000_102, 5_000_000_000_103];
    await seedRecords(
      t.ctx,
      owner,
      'inventory',
      items.flatMap((item) => locations.map((location) => inventoryLevel({ inventory_item_id: item, location_id: location }))),
    );
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: ApiResponse = await call(t.url, 'GET', `/api/shopify/inventory/?limit=5${cursor ? `&cursor=${cursor}` : ''}`, { key });
      expect(res.status, res.text).to.equal(200);
      seen.push(...res.body.data.map((l: { inventory_item_id: number; location_id: number }) => `${l.inventory_item_id}/${l.location_id}`));
      cursor = res.body.next_cursor;
    } while (cursor);
    expect(seen).to.deep.equal(items.flatMap((item) => locations.map((location) => `${item}/${location}`)));
  });

  it('when an older version arrives after a newer one, then the newer data stays (order-free upsert)', async () => {
    const owner = await seedIntegration(t.ctx, 'tenant-order');
    const id = newId();
    const newer = product({ id, title: 'New title', updated_at: '2024-05-01T10:00:00Z', variants: [{ id: newId(), price: '2.00', updated_at: '2024-05-01T10:00:00Z' }] });
    const older = product({
      id,
      title: 'Old title',
      updated_at: '2024-04-01T10:00:00Z',
      variants: [
        { id: newId(), price: '1.00' },
        { id: newId(), price: '1.50' },
      ],
    });
    expect(await seedRecords(t.ctx, owner, 'products', [newer])).to.deep.equal({ written: 1, skipped: 0 });
    expect(await seedRecords(t.ctx, owner, 'products', [older])).to.deep.equal({ written: 0, skipped: 1 });
    const key = await t.keyFor('tenant-order');
    const res = await call(t.url, 'GET', `/api/shopify/products/${id}/`, { key });
    expect(res.body.title).to.equal('New title');
    expect(res.body.variants.map((v: { price: string }) => v.price)).to.deep.equal(['2.00']);

    // A delete that arrives before the create leaves a tombstone the late create cannot revive.
    const lateId = newId();
    await markRecordsDeleted(t.ctx.db, RESOURCES.products, owner, [[lateId]], new Date('2024-06-01T00:00:00Z'));
    await seedRecords(t.ctx, owner, 'products', [product({ id: lateId, updated_at: '2024-05-30T00:00:00Z' })]);
    expectProblem(await call(t.url, 'GET', `/api/shopify/products/${lateId}/`, { key }), 404);
  });
});

describe('readiness when MySQL is unreachable', () => {
  it("when the database connection is cut, then /readyz answers 503 problem+json naming mysql with a status only (the driver's error goes to the log at warn), and 200 once it is back", async () => {
    const server = new URL(TEST_DATABASE_SERVER);
    const proxy = await startTcpProxy({ targetHost: server.hostname, targetPort: Number(server.port || 3306) });
    // Migrate the private database directly, then run the service through the proxy.
    const name = uniqueName('shopint_ready');
    const direct = `${TEST_DATABASE_SERVER}/${name}`;
    await ensureDatabase(direct);
    const t = await startTestContext({ DATABASE_URL: `mysql://root@127.0.0.1:${proxy.port}/${name}` });
    try {
      expect((await call(t.url, 'GET', '/readyz')).status).to.equal(200);
      proxy.cut();
      const down = await call(t.url, 'GET', '/readyz');
      expectProblem(down, 503);
      expect(down.body.checks.mysql).to.deep.equal({ status: 'down' });
      expect(down.body.checks.redis.status).to.equal('up');
      expect(down.body.detail).to.equal('Not ready: mysql unreachable');
      expect(down.text, 'no driver text, host or port').not.to.match(/ECONN|PROTOCOL|timeout|no answer|127\.0\.0\.1|root|:\d{4,5}/i);
      const logged = t.logs.lines.map((line) => JSON.parse(line) as { level: number; msg: string; dependency?: string; err?: { message?: string } }).filter((l) => l.msg === 'readiness check failed');
      expect(logged.length).to.be.at.least(1);
      expect(logged[0]).to.include({ level: 40, dependency: 'mysql' });
      expect(logged[0]!.err?.message, 'the detail is in the log').to.be.a('string').and.not.equal('');
      proxy.restore();
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = (await call(t.url, 'GET', '/readyz')).status;
        if (status !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      expect(status).to.equal(200);
    } finally {
      await t.close();
      await proxy.close();
      await dropDatabase(direct);
    }
  });
});
