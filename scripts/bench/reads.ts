import { CompiledQuery, Kysely, MysqlDialect } from 'kysely';
import { createConnection, createPool as createCallbackPool } from 'mysql2';
import type { Connection } from 'mysql2/promise';
import { decodeCursor, encodeCursor } from '../../src/http/cursor.js';
import { poolOptionsFromUrl } from '../../src/platform/db.js';
import { RESOURCES, type ResourceName } from '../../src/resources/index.js';
import { createApiKey, findActiveApiKey } from '../../src/store/api-keys.js';
import { listRecords } from '../../src/store/record-reads.js';
import type { Database } from '../../src/store/schema.js';
import { childScript, startChild, type BenchChild } from './lib/child.js';
import { runLoad } from './lib/http-load.js';
import { BENCH_REDIS_URL, createBenchEnv, seedIntegration, type BenchEnv } from './lib/infra.js';
import { busiest, cpuWindow, describeCpu, servicePids } from './lib/procfs.js';
import { describeProfile, profileWindow } from './lib/profile.js';
import { measured, percentile, type Measured } from './lib/stats.js';
import type { Benchmark, BenchOptions, CpuShares, Figure } from './lib/types.js';
import { ratioOf } from './lib/types.js';

const TENANT = 'bench-reads';
const LIMIT = 50;
const LOCATIONS = 4;
const DEEP_PAGE = 10_000;
const CHUNK = 100_000;

/**
 * List endpoints over 1,000,000 rows per table (QUICK: 100,000): the first page and a page 10,000 deep
 * (keyset cursor), through the real API (autocannon, one connection) against the same SQL statements the
 * endpoint runs, sent through mysql2 directly with a timer. Products (one key column, variants as
 * children) and inventory levels (two key columns) cover both keyset shapes of the registry.
 */
export const readsBenchmark: Benchmark = {
  id: 'reads',
  title: 'List endpoints',
  async run(opts: BenchOptions) {
    const rows = opts.quick ? 100_000 : 1_000_000;
    const seconds = opts.quick ? 0.5 : 2;
    const reps = opts.quick ? 1 : 3;
    const deepPage = Math.min(DEEP_PAGE, Math.floor(rows / LIMIT / 2));
    const bench = await createBenchEnv('reads');
    let api: BenchChild<{ port: number }> | undefined;
    try {
      const integration = await seedIntegration(bench.ctx, TENANT, 'bench-reads.myshopify.com');
      const apiStarting = startChild<{ port: number }>('api', childScript('api-server'), { env: bench.env });
      const seedStarted = performance.now();
      await seed(bench, integration.id, rows, opts);
      const seedSeconds = (performance.now() - seedStarted) / 1000;
      api = await apiStarting;
      const key = (await createApiKey(bench.ctx.db, TENANT, 'bench')).key;
      const sizes = await tableSizes(bench);

      const figures: Figure[] = [];
      const limits: string[] = [];
      const findings: string[] = [];
      const pids = { ...servicePids(new URL(BENCH_REDIS_URL).port || '6379'), runner: process.pid, api: api.pid };
      const sql = await createConnection(poolOptionsFromUrl(bench.databaseUrl, 1)).promise();
      await sql.query("SET time_zone = '+00:00'");
      try {
        const firstPageStatements = new Map<string, CompiledQuery[]>();
        for (const name of ['products', 'inventory'] as const) {
          const cases = { first: undefined, deep: deepCursor(name, deepPage) };
          const measuredCases: Record<'first' | 'deep', { http: { p50: Measured; p99: Measured }; sql: { p50: Measured; p99: Measured }; statements: CompiledQuery[]; cpu?: CpuShares }> = {} as never;
          for (const [label, cursor] of Object.entries(cases) as ['first' | 'deep', string | undefined][]) {
            const statements = await captureStatements(bench, name, cursor);
            const url = `http://127.0.0.1:${api.ready.port}/api/shopify/${name}/?limit=${LIMIT}${cursor ? `&cursor=${cursor}` : ''}`;
            const headers = { authorization: `Bearer ${key}` };
            const warmUp = opts.quick ? 0.15 : 0.3;
            await runLoad({ url, headers, connections: 1, duration: warmUp });
            await timeStatements(sql, statements, warmUp);
            const http: { p50: number; p99: number }[] = [];
            const direct: { p50: number; p99: number }[] = [];
            let cpu: CpuShares | undefined;
            for (let rep = 0; rep < reps; rep++) {
              const window = cpuWindow(pids);
              const r = await runLoad({ url, headers, connections: 1, duration: seconds });
              cpu = window();
              if (r.non2xx + r.errors > 0) throw new Error(`GET ${name} answered ${JSON.stringify(r.statusCodes)} (${r.errors} errors)`);
              http.push(r);
              direct.push(await timeStatements(sql, statements, seconds));
            }
            measuredCases[label] = {
              http: { p50: measured(http.map((h) => h.p50)), p99: measured(http.map((h) => h.p99)) },
              sql: { p50: measured(direct.map((h) => h.p50)), p99: measured(direct.map((h) => h.p99)) },
              statements,
              ...(cpu ? { cpu } : {}),
            };
          }
          firstPageStatements.set(name, measuredCases.first.statements);
          const path = `GET /api/shopify/${name}/`;
          const depthText = `page ${deepPage.toLocaleString('en-US')} (after row ${((deepPage - 1) * LIMIT).toLocaleString('en-US')})`;
          for (const [label, text] of [
            ['first', 'first page'],
            ['deep', depthText],
          ] as const) {
            const c = measuredCases[label];
            figures.push({
              name: `${path} ${text}, p50`,
              unit: 'ms',
              better: 'lower',
              value: c.http.p50,
              baseline: { name: 'same SQL via mysql2', value: c.sql.p50 },
              ratio: ratioOf(c.http.p50, c.sql.p50),
              target: { text: '≤ 5 ms', met: c.http.p50.median <= 5 },
            });
            figures.push({
              name: `${path} ${text}, p99`,
              unit: 'ms',
              better: 'lower',
              value: c.http.p99,
              baseline: { name: 'same SQL via mysql2', value: c.sql.p99 },
              ratio: ratioOf(c.http.p99, c.sql.p99),
            });
          }
          const depthCost = measuredRatio(measuredCases.deep.http.p50, measuredCases.first.http.p50);
          const depthCostSql = measuredRatio(measuredCases.deep.sql.p50, measuredCases.first.sql.p50);
          figures.push({
            name: `${path} deep page ÷ first page (p50)`,
            unit: '×',
            better: 'lower',
            value: depthCost,
            baseline: { name: 'same ratio for the SQL alone', value: depthCostSql },
            target: { text: '≤ 1.2', met: depthCost.median <= 1.2 },
          });

          const plans: { label: string; plan: string; read: number }[] = [];
          for (const label of ['first', 'deep'] as const) {
            const statement = measuredCases[label].statements[0] as CompiledQuery;
            plans.push({ label, plan: await explain(sql, statement), read: await rowsRead(sql, statement) });
          }
          const cpu = measuredCases.first.cpu;
          limits.push(
            `${name}: ${plans.map((p) => `${p.label} page — plan ${p.plan}, ${p.read.toLocaleString('en-US')} index entries read`).join('; ')}.` +
              (cpu ? ` CPU during the first-page runs (one request at a time, so latency-bound): ${describeCpu(cpu)}; busiest ${busiest(cpu).join(' at ')} %.` : ''),
          );
          const [first, deep] = plans as [(typeof plans)[number], (typeof plans)[number]];
          if (deep.read > 2 * Math.max(first.read, LIMIT + 1)) {
            // The keyset condition (afterKey in src/store/records.ts) is not served as an index range here.
            findings.push(
              `${name}: the deep page reads ${deep.read.toLocaleString('en-US')} index entries to return ${LIMIT + 1} rows (plan ${deep.plan}), so a page costs time in proportion to its depth: this server does not use the keyset condition built by afterKey (src/store/records.ts) as an index range.`,
            );
          } else if (depthCost.median > 1.2) {
            limits.push(
              `${name}: the deep page reads as many index entries as the first (${deep.read} vs ${first.read}) with the same kind of plan, so its higher latency in this run is not the query's: the rest of the request or other work on the machine.`,
            );
          }
        }
        const auth = await timeStatements(sql, await captureAuthStatements(bench, key), seconds);
        limits.push(
          `Every request also checks its API key in MySQL (a SELECT by key hash; the UPDATE of last_used_at is sent at most once a minute per key): p50 ${auth.p50.toFixed(2)} ms, p99 ${auth.p99.toFixed(2)} ms through mysql2. The SQL baseline has neither that nor HTTP, middleware, the contract validator and JSON.`,
        );
        const firstProducts = figures.find((f) => f.name.includes('products/ first page, p50'));
        const columns = opts.quick ? undefined : await selectedColumnsFinding(sql, firstPageStatements.get('products') ?? [], seconds);
        if (columns) limits.push(columns);
        if (firstProducts && firstProducts.target && !firstProducts.target.met) {
          opts.log('p50 above target: profiling the API process on the products first page');
          const url = `http://127.0.0.1:${api.ready.port}/api/shopify/products/?limit=${LIMIT}`;
          const summary = await profileWindow(api, () => runLoad({ url, headers: { authorization: `Bearer ${key}` }, connections: 1, duration: seconds * 1.5 }));
          const sqlP50 = firstProducts.baseline?.value.median ?? 0;
          findings.push(
            `products first page: p50 ${firstProducts.value.median.toFixed(2)} ms = page SQL ${sqlP50.toFixed(2)} ms + API key SQL ${auth.p50.toFixed(2)} ms + ${(firstProducts.value.median - sqlP50 - auth.p50).toFixed(2)} ms in the API process and on the wire.`,
          );
          findings.push(...describeProfile(summary, 'API process on the products first page:'));
        }
      } finally {
        await sql.end();
      }
      return {
        setup: [
          `${rows.toLocaleString('en-US')} products (one variant each, so ${rows.toLocaleString('en-US')} variant rows) and ${rows.toLocaleString('en-US')} inventory levels (${(rows / LOCATIONS).toLocaleString('en-US')} items × ${LOCATIONS} locations) for one tenant, seeded in ${Math.round(seedSeconds)} s with multi-row \`INSERT … SELECT\` statements of ${CHUNK.toLocaleString('en-US')} rows generated in the server (client-built VALUES lists measured 3× slower here); average row length ${sizes}.`,
          `Real API process (NODE_ENV=production): autocannon with one connection, ${reps} run(s) of ${seconds} s per page; baseline: the statements the endpoint sends (captured from Kysely for the same page), run one after another over one mysql2 connection for the same time.`,
          `\`limit=${LIMIT}\`; the deep page is ${deepPage.toLocaleString('en-US')} pages in, through the opaque keyset cursor the API issues.`,
        ],
        figures,
        limits,
        findings,
      };
    } finally {
      await api?.stop();
      await bench.cleanup();
    }
  },
};

function measuredRatio(a: Measured, b: Measured): Measured {
  const v = a.median / b.median;
  return { median: v, min: v, max: v, n: 1 };
}

/** The cursor the API would have issued at the end of page `page - 1`. */
function deepCursor(name: 'products' | 'inventory', page: number): string {
  const row = (page - 1) * LIMIT - 1;
  if (name === 'products') return encodeCursor([PRODUCT_ID0 + row]);
  return encodeCursor([ITEM_ID0 + Math.floor(row / LOCATIONS), LOCATION_ID0 + (row % LOCATIONS) + 1]);
}

const PRODUCT_ID0 = 8_000_000_000_000;
const VARIANT_ID0 = 44_000_000_000_000;
const ITEM_ID0 = 46_000_000_000_000;
const LOCATION_ID0 = 70_000_000_000;

const DIGITS =
  '(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)';
/** 0 … 99,999 offset by the first parameter, on MySQL 8 and MariaDB alike (no SEQUENCE engine, no recursion limit). */
const NUMBERS = `(SELECT ? + a.d + b.d * 10 + c.d * 100 + e.d * 1000 + f.d * 10000 AS n FROM ${DIGITS} a, ${DIGITS} b, ${DIGITS} c, ${DIGITS} e, ${DIGITS} f) s`;
const AT = "TIMESTAMP('2023-01-01 00:00:00') + INTERVAL n SECOND";

function seedStatements(integrationId: number): Record<string, string> {
  const t = `'${TENANT}'`;
  return {
    shopify_products: `INSERT INTO shopify_products (tenant_id, id, integration_id, title, handle, vendor, product_type, status, tags, created_at, updated_at, raw)
      SELECT ${t}, ${PRODUCT_ID0} + n, ${integrationId}, CONCAT('Classic Cotton T-Shirt ', n), CONCAT('classic-cotton-t-shirt-', n), CONCAT('Vendor ', n % 7), 'Apparel', 'active', 'cotton, summer, sale',
        ${AT}, ${AT},
        JSON_OBJECT('id', ${PRODUCT_ID0} + n, 'title', CONCAT('Classic Cotton T-Shirt ', n), 'handle', CONCAT('classic-cotton-t-shirt-', n), 'vendor', CONCAT('Vendor ', n % 7),
          'product_type', 'Apparel', 'status', 'active', 'tags', 'cotton, summer, sale', 'body_html', CONCAT('<p>', REPEAT('Soft, breathable cotton. ', 16), '</p>'),
          'created_at', DATE_FORMAT(${AT}, '%Y-%m-%dT%H:%i:%s-05:00'), 'updated_at', DATE_FORMAT(${AT}, '%Y-%m-%dT%H:%i:%s-05:00'))
      FROM ${NUMBERS} WHERE n < ?`,
    shopify_product_variants: `INSERT INTO shopify_product_variants (tenant_id, id, product_id, title, sku, price, compare_at_price, currency, position, inventory_item_id, inventory_quantity, created_at, updated_at)
      SELECT ${t}, ${VARIANT_ID0} + n, ${PRODUCT_ID0} + n, 'Default Title', CONCAT('SKU-', n), 19.99, NULL, 'USD', 1, ${ITEM_ID0} + n, n % 50, ${AT}, ${AT}
      FROM ${NUMBERS} WHERE n < ?`,
    shopify_inventory_levels: `INSERT INTO shopify_inventory_levels (tenant_id, inventory_item_id, location_id, integration_id, available, updated_at, raw)
      SELECT ${t}, ${ITEM_ID0} + FLOOR(n / ${LOCATIONS}), ${LOCATION_ID0} + (n % ${LOCATIONS}) + 1, ${integrationId}, n % 50, ${AT},
        JSON_OBJECT('inventory_item_id', ${ITEM_ID0} + FLOOR(n / ${LOCATIONS}), 'location_id', ${LOCATION_ID0} + (n % ${LOCATIONS}) + 1, 'available', n % 50,
          'updated_at', DATE_FORMAT(${AT}, '%Y-%m-%dT%H:%i:%s-05:00'), 'admin_graphql_api_id', CONCAT('gid://shopify/InventoryLevel/', n))
      FROM ${NUMBERS} WHERE n < ?`,
  };
}

/** Chunks of 100,000 rows per statement, two statements at a time. */
async function seed(bench: BenchEnv, integrationId: number, rows: number, opts: BenchOptions): Promise<void> {
  const pool = createCallbackPool(poolOptionsFromUrl(bench.databaseUrl, 2)).promise();
  try {
    const work = Object.entries(seedStatements(integrationId)).flatMap(([table, statement]) =>
      Array.from({ length: Math.ceil(rows / CHUNK) }, (_, i) => ({ table, statement, start: i * CHUNK, end: Math.min(rows, (i + 1) * CHUNK) })),
    );
    let done = 0;
    const worker = async () => {
      for (let item = work.shift(); item; item = work.shift()) {
        await pool.query(item.statement, [item.start, item.end]);
        done += item.end - item.start;
        if (done % 500_000 === 0) opts.log(`seeded ${done.toLocaleString('en-US')} rows`);
      }
    };
    await Promise.all([worker(), worker()]);
    for (const table of ['shopify_products', 'shopify_product_variants', 'shopify_inventory_levels']) await pool.query(`ANALYZE TABLE ${table}`);
  } finally {
    await pool.end();
  }
}

async function tableSizes(bench: BenchEnv): Promise<string> {
  const name = new URL(bench.databaseUrl).pathname.slice(1);
  const pool = createCallbackPool(poolOptionsFromUrl(bench.databaseUrl, 1)).promise();
  try {
    const [rows] = await pool.query('SELECT table_name AS t, avg_row_length AS l FROM information_schema.tables WHERE table_schema = ? AND table_name IN (?)', [
      name,
      ['shopify_products', 'shopify_product_variants', 'shopify_inventory_levels'],
    ]);
    return (rows as { t: string; l: number }[]).map((r) => `${r.t.replace('shopify_', '')} ${r.l} B`).join(', ');
  } finally {
    await pool.end();
  }
}

/** The statements `listRecords` sends for this page, as compiled by Kysely (SQL text and parameters). */
function captureStatements(bench: BenchEnv, name: ResourceName, cursor: string | undefined): Promise<CompiledQuery[]> {
  const resource = RESOURCES[name];
  return capture(bench, (db) =>
    listRecords(db, resource, TENANT, { limit: LIMIT, filters: [], includeDeleted: false, ...(cursor ? { after: decodeCursor(cursor, resource.keyColumns.length) } : {}) }),
  );
}

/** The statement the API key check sends for every request (lookup by hash). */
function captureAuthStatements(bench: BenchEnv, key: string): Promise<CompiledQuery[]> {
  return capture(bench, (db) => findActiveApiKey(db, key));
}

async function capture(bench: BenchEnv, fn: (db: Kysely<Database>) => Promise<unknown>): Promise<CompiledQuery[]> {
  const captured: CompiledQuery[] = [];
  const pool = createCallbackPool(poolOptionsFromUrl(bench.databaseUrl, 1));
  pool.on('connection', (conn) => conn.query("SET time_zone = '+00:00'"));
  const db = new Kysely<Database>({
    dialect: new MysqlDialect({ pool }),
    log: (event) => {
      if (event.level === 'query') captured.push(event.query);
    },
  });
  try {
    await fn(db);
  } finally {
    await db.destroy();
  }
  return captured;
}

/** Runs the statements one after another for `seconds`; latency of each round (all statements of a page). */
async function timeStatements(conn: Connection, statements: CompiledQuery[], seconds: number): Promise<{ p50: number; p99: number }> {
  const times: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const t0 = performance.now();
    for (const s of statements) await conn.query(s.sql, s.parameters as unknown[]);
    times.push(performance.now() - t0);
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/** "type=range key=PRIMARY rows=51" from EXPLAIN (same columns on MySQL 8 and MariaDB). */
async function explain(conn: Connection, statement: CompiledQuery): Promise<string> {
  const [rows] = await conn.query(`EXPLAIN ${statement.sql}`, statement.parameters as unknown[]);
  const r = (rows as Record<string, unknown>[])[0] ?? {};
  return `type=${r.type} key=${r.key} key_len=${r.key_len} rows≈${r.rows}${r.Extra ? ` (${r.Extra})` : ''}`;
}

/** Index entries the server read to answer the statement once (Handler_read_* of this session). */
async function rowsRead(conn: Connection, statement: CompiledQuery): Promise<number> {
  const read = async () => {
    const [rows] = await conn.query("SHOW SESSION STATUS LIKE 'Handler_read%'");
    return (rows as { Variable_name: string; Value: string }[]).reduce((sum, r) => sum + Number(r.Value), 0);
  };
  const a = await read();
  const b = await read(); // what SHOW STATUS itself reads, to subtract
  await conn.query(statement.sql, statement.parameters as unknown[]);
  const c = await read();
  return c - b - (b - a);
}

/**
 * API reads select only the columns `toApi` reads (the registry's `readColumns`), not `raw`: the whole
 * Shopify JSON of every record, which mysql2 would parse into an object per row. The same statements
 * with `select *` show what that saves.
 */
async function selectedColumnsFinding(conn: Connection, statements: CompiledQuery[], seconds: number): Promise<string> {
  const everyColumn = statements.map((s) => CompiledQuery.raw(s.sql.replace(/^select .+? from /, 'select * from '), [...s.parameters]));
  const lean = await timeStatements(conn, statements, seconds);
  const all = await timeStatements(conn, everyColumn, seconds);
  return `products first page: the page's statements select the columns \`toApi\` reads (src/resources, readColumns), not \`raw\` (each record's whole Shopify JSON); through mysql2 they take p50 ${lean.p50.toFixed(2)} ms, p99 ${lean.p99.toFixed(2)} ms, against p50 ${all.p50.toFixed(2)} ms, p99 ${all.p99.toFixed(2)} ms with \`select *\` (seeded rows carry ~0.5 KB of JSON, real products ~3 KB: the saving grows with them).`;
}
