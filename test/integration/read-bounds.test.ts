import { expect } from 'chai';
import { sql } from 'kysely';
import { createConnection, type Connection } from 'mysql2/promise';
import { poolOptionsFromUrl } from '../../src/platform/db.js';
import type { Owner } from '../../src/store/records.js';
import { startTestContext, type TestContext } from '../support/context.js';
import { call, expectProblem, type ApiResponse } from '../support/http.js';
import { customer, product, seedIntegration, seedRecords } from '../support/seed.js';

/** Rows of the slow read: deleted products, which a list without include_deleted walks past one by one. */
const DELETED_ROWS = 50_000;

/** Inserts `count` deleted products for the owner in one statement (ids from 1; runs on MySQL 8 and MariaDB). */
async function seedDeletedProducts(t: TestContext, owner: Owner, count: number): Promise<void> {
  const digits = sql.raw(
    '(SELECT 0 AS d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)',
  );
  await sql`
    INSERT INTO shopify_products (tenant_id, id, integration_id, title, updated_at, deleted_at, raw)
    SELECT ${owner.tenantId}, n + 1, ${owner.integrationId}, CONCAT('Gone ', n), '2024-01-01', '2024-01-02', '{}'
    FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d + 10000 * f.d + 100000 * g.d AS n
          FROM ${digits} a, ${digits} b, ${digits} c, ${digits} e, ${digits} f, ${digits} g) numbers
    WHERE n < ${count}`.execute(t.ctx.db);
}

describe('reads are bounded: statement time and concurrent reads per tenant', () => {
  describe('with a statement time bound far below what a read of many rows takes', () => {
    let t: TestContext;
    let slowKey: string;
    let otherKey: string;
    let productId: number;

    before(async function () {
      this.timeout(120_000);
      // Shopify is not needed: the disconnect's webhook clean-up fails at once (nothing listens) and is skipped.
      t = await startTestContext({ API_READ_STATEMENT_TIMEOUT_MS: '5', SHOPIFY_API_BASE_URL: 'http://127.0.0.1:9', SHOPIFY_MAX_RETRY_ATTEMPTS: '0' });
      const slow = await seedIntegration(t.ctx, 'many-deleted');
      await seedDeletedProducts(t, slow, DELETED_ROWS);
      const live = product();
      productId = live.id;
      await seedRecords(t.ctx, slow, 'products', [live]);
      const other = await seedIntegration(t.ctx, 'few-records');
      await seedRecords(t.ctx, other, 'customers', [customer(), customer()]);
      slowKey = await t.keyFor('many-deleted');
      otherKey = await t.keyFor('few-records');
    });
    after(async () => {
      await t?.close();
    });

    it('when a list has to walk past many deleted rows, then MySQL stops it: 503 problem with Retry-After, logged; the next reads work', async () => {
      const res = await call(t.url, 'GET', '/api/shopify/products/?limit=1', { key: slowKey });
      expectProblem(res, 503);
      expect(res.body.type).to.match(/read-timeout$/);
      expect(Number(res.headers.get('retry-after'))).to.be.greaterThan(0);
      expect(t.logs.text()).to.include('took longer than 5 ms');

      const one = await call(t.url, 'GET', `/api/shopify/products/${productId}/`, { key: slowKey });
      expect(one.status, one.text).to.equal(200);
      expect(one.body.id).to.equal(productId);
      const others = await call(t.url, 'GET', '/api/shopify/customers/', { key: otherKey });
      expect(others.status, others.text).to.equal(200);
      expect(others.body.data).to.have.length(2);
    });

    it('when the same rows are purged, then the purge is not cut by the read bound', async () => {
      const res = await call(t.url, 'DELETE', '/api/shopify/connect/?purge=true', { key: slowKey });
      expect(res.status, res.text).to.equal(200);
      const { rows } = await sql<{ n: number }>`SELECT COUNT(*) AS n FROM shopify_products WHERE tenant_id = 'many-deleted'`.execute(t.ctx.db);
      expect(Number(rows[0]?.n)).to.equal(0);
    });
  });

  describe('with one read at a time per tenant', () => {
    let t: TestContext;
    let holder: Connection;
    let keyA: string;
    let keyB: string;

    before(async () => {
      t = await startTestContext({ API_MAX_CONCURRENT_READS_PER_TENANT: '1' });
      for (const tenant of ['reader-a', 'reader-b']) {
        const owner = await seedIntegration(t.ctx, tenant);
        await seedRecords(t.ctx, owner, 'products', [product()]);
        await seedRecords(t.ctx, owner, 'customers', [customer()]);
      }
      keyA = await t.keyFor('reader-a');
      keyB = await t.keyFor('reader-b');
      holder = await createConnection(poolOptionsFromUrl(t.databaseUrl));
    });
    after(async () => {
      await holder?.end();
      await t?.close();
    });

    /** Waits until a statement reading the table waits for the lock held by `holder`. */
    async function readWaiting(table: string): Promise<void> {
      for (let i = 0; i < 200; i++) {
        const [rows] = await holder.query('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE DB = DATABASE() AND INFO LIKE ? AND STATE LIKE ?', [`%\`${table}\`%`, '%lock%']);
        if (Number((rows as { n: number }[])[0]?.n) > 0) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`no read of ${table} is waiting`);
    }

    it("when a read of tenant A is held, then A's second read gets 429 with Retry-After while B reads; once released, A reads again", async () => {
      await holder.query('LOCK TABLES shopify_products WRITE');
      let held: Promise<ApiResponse>;
      try {
        held = call(t.url, 'GET', '/api/shopify/products/', { key: keyA });
        await readWaiting('shopify_products');

        const second = await call(t.url, 'GET', '/api/shopify/customers/', { key: keyA });
        expectProblem(second, 429);
        expect(Number(second.headers.get('retry-after'))).to.be.greaterThan(0);
        const other = await call(t.url, 'GET', '/api/shopify/customers/', { key: keyB });
        expect(other.status, other.text).to.equal(200);
        expect(other.body.data).to.have.length(1);
      } finally {
        await holder.query('UNLOCK TABLES');
      }
      const first = await held;
      expect(first.status, first.text).to.equal(200);
      expect(first.body.data).to.have.length(1);
      expect((await call(t.url, 'GET', '/api/shopify/customers/', { key: keyA })).status).to.equal(200);
    });
  });
});
