import { expect } from 'chai';
import { createServer, get as httpGet, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startMockShopify, type MockShop, type MockShopify } from '../../scripts/mock-shopify/index.js';
import { BULK_EXPORT_QUERIES } from '../../src/shopify/graphql/documents/bulk.js';
import { verifyWebhookHmac } from '../../src/shopify/hmac.js';

const SHOP = 'bulk.myshopify.com';
const OLD = 'bulk-old.myshopify.com';
const NARROW = 'bulk-narrow.myshopify.com';
const FINISHED = ['COMPLETED', 'FAILED', 'CANCELED', 'EXPIRED'];
const DAY = 86_400_000;

const PRODUCTS_QUERY = '{ products { edges { node { id title variants { edges { node { id sku } } } } } } }';
const OPERATION_FIELDS = 'id status errorCode objectCount rootObjectCount fileSize url partialDataUrl createdAt completedAt query type';

interface Operation {
  id: string;
  status: string;
  errorCode: string | null;
  objectCount: string;
  rootObjectCount: string;
  fileSize: string | null;
  url: string | null;
  partialDataUrl: string | null;
  createdAt: string;
  completedAt: string | null;
  type: string;
}
type Line = Record<string, unknown> & { id: string; __parentId?: string };

/**
 * Bulk query operations of the mock Shopify, driven over HTTP as a client drives Shopify's: the
 * mutation, the status over time, the JSONL (interleaved or grouped), limits per API version, faults
 * with partial data, expiry, resumable downloads, cancellation and the signed finish webhook.
 */
describe('mock Shopify bulk operations', function () {
  this.timeout(30_000);
  let mock: MockShopify;
  let receiver: Server;
  let receiverUrl: string;
  const received: { headers: IncomingHttpHeaders; body: string }[] = [];

  before(async () => {
    mock = await startMockShopify({
      rateLimit: { enabled: false },
      shops: [
        { domain: SHOP, products: 40, orders: 3, customers: 2 },
        { domain: OLD, products: 3 },
        { domain: NARROW, products: 2, scope: 'read_products' },
      ],
    });
    receiver = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        received.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
  });
  after(async () => {
    await mock?.close();
    await new Promise((resolve) => receiver?.close(resolve));
  });
  beforeEach(() => {
    received.length = 0;
  });
  afterEach(async () => {
    mock.clock.resume();
    for (const s of mock.shops.values()) await s.bulk.reset();
  });

  const shop = (domain = SHOP): MockShop => mock.shop(domain);

  async function gql<T = any>(s: MockShop, version: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const res = await fetch(`${mock.url}/${s.domain}/admin/api/${version}/graphql.json`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-shopify-access-token': s.accessToken },
      body: JSON.stringify({ query, variables }),
    });
    expect(res.status).to.equal(200);
    const body = (await res.json()) as { data: T; errors?: unknown };
    expect(body.errors, JSON.stringify(body.errors)).to.equal(undefined);
    return body.data;
  }

  async function start(s: MockShop, query: string, opts: { version?: string; groupObjects?: boolean } = {}) {
    const groupArg = opts.groupObjects === undefined ? '' : `, groupObjects: ${opts.groupObjects}`;
    const data = await gql<{ bulkOperationRunQuery: { bulkOperation: Operation | null; userErrors: { field: string[] | null; message: string; code: string }[] } }>(
      s,
      opts.version ?? '2026-01',
      `mutation($q: String!) { bulkOperationRunQuery(query: $q${groupArg}) { bulkOperation { ${OPERATION_FIELDS} } userErrors { field message code } } }`,
      { q: query },
    );
    return data.bulkOperationRunQuery;
  }

  async function started(s: MockShop, query: string, opts: { version?: string; groupObjects?: boolean } = {}): Promise<Operation> {
    const payload = await start(s, query, opts);
    expect(payload.userErrors).to.deep.equal([]);
    return payload.bulkOperation as Operation;
  }

  const read = async (s: MockShop, id: string, version = '2026-01'): Promise<Operation> =>
    version >= '2026-01'
      ? (await gql<{ bulkOperation: Operation }>(s, version, `query($id: ID!) { bulkOperation(id: $id) { ${OPERATION_FIELDS} } }`, { id })).bulkOperation
      : (await gql<{ currentBulkOperation: Operation }>(s, version, `{ currentBulkOperation { ${OPERATION_FIELDS} } }`)).currentBulkOperation;

  /** Polls as a client does until the operation has finished; returns every status seen on the way. */
  async function poll(s: MockShop, id: string, version = '2026-01'): Promise<{ op: Operation; seen: Operation[] }> {
    const seen: Operation[] = [];
    for (let i = 0; i < 500; i++) {
      const op = await read(s, id, version);
      seen.push(op);
      if (FINISHED.includes(op.status)) return { op, seen };
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`bulk operation ${id} did not finish`);
  }

  async function jsonl(url: string): Promise<Line[]> {
    const res = await fetch(url);
    expect(res.status).to.equal(200);
    const text = await res.text();
    expect(text.endsWith('\n')).to.equal(true);
    return text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Line);
  }

  /** Products of the catalog in id order, each with its variants' gids. */
  function catalog(s: MockShop): { id: string; variants: string[] }[] {
    const c = s.catalog.products;
    return c.entries
      .filter((e) => !e.deleted)
      .map((e) => {
        const p = c.record(e);
        return { id: `gid://shopify/Product/${p.id}`, variants: p.variants.map((v) => `gid://shopify/ProductVariant/${v.id}`) };
      });
  }

  function expectEveryProductAndVariant(lines: Line[], products: { id: string; variants: string[] }[]): void {
    const position = new Map(lines.map((l, i) => [l.id, i]));
    expect(lines.filter((l) => !l.__parentId).map((l) => l.id)).to.deep.equal(products.map((p) => p.id));
    expect(lines.length).to.equal(products.reduce((n, p) => n + 1 + p.variants.length, 0));
    for (const p of products) {
      for (const v of p.variants) {
        const line = lines[position.get(v) as number] as Line;
        expect(line.__parentId, v).to.equal(p.id);
        expect(position.get(v)).to.be.greaterThan(position.get(p.id) as number);
      }
    }
    for (const l of lines) expect(l).to.not.have.any.keys('edges', 'pageInfo', 'variants', 'node');
  }

  /** Whether some child line is not in grouped order (right after its parent and its earlier siblings). */
  function interleaved(lines: Line[]): boolean {
    let parent: string | undefined;
    for (const l of lines) {
      if (!l.__parentId) parent = l.id;
      else if (l.__parentId !== parent) return true;
    }
    return false;
  }

  describe('exports', () => {
    it('when products with variants are exported (groupObjects false), then the JSONL has every product and variant, children after parents and interleaved', async () => {
      const s = shop();
      s.bulk.configure({ interleave: { window: 6, farShare: 0.1, farLines: 30 } });
      const created = await started(s, PRODUCTS_QUERY);
      expect(created).to.include({ status: 'CREATED', objectCount: '0', url: null, type: 'QUERY', query: PRODUCTS_QUERY });
      expect(created.id).to.match(/^gid:\/\/shopify\/BulkOperation\/\d+$/);
      const { op } = await poll(s, created.id);
      expect(op.status).to.equal('COMPLETED');
      expect(op.errorCode).to.equal(null);
      expect(op.partialDataUrl).to.equal(null);
      expect(op.url).to.match(new RegExp(`^${mock.url}/bulk-results/[\\w-]+\\.jsonl\\?expires=\\d+$`));
      const lines = await jsonl(op.url as string);
      const products = catalog(s);
      expectEveryProductAndVariant(lines, products);
      expect(interleaved(lines)).to.equal(true);
      expect(Number(op.objectCount)).to.equal(lines.length);
      expect(Number(op.rootObjectCount)).to.equal(products.length);
      const bytes = Buffer.byteLength(await (await fetch(op.url as string)).text());
      expect(Number(op.fileSize)).to.equal(bytes);
      expect(lines[0]).to.have.keys('id', 'title');
    });

    it('when the same export runs with groupObjects true, then each product is followed at once by its variants', async () => {
      const s = shop();
      s.bulk.configure({ interleave: { window: 6, farShare: 0.5, farLines: 30 } });
      const { op } = await poll(s, (await started(s, PRODUCTS_QUERY, { groupObjects: true })).id);
      const lines = await jsonl(op.url as string);
      const products = catalog(s);
      expectEveryProductAndVariant(lines, products);
      expect(interleaved(lines)).to.equal(false);
      let i = 0;
      for (const p of products) {
        expect(lines[i]?.id).to.equal(p.id);
        expect(lines.slice(i + 1, i + 1 + p.variants.length).map((l) => l.id)).to.deep.equal(p.variants);
        i += 1 + p.variants.length;
      }
    });

    it('when the interleaving seed is the same, then two runs write the same bytes', async () => {
      const s = shop();
      const first = (await poll(s, (await started(s, PRODUCTS_QUERY)).id)).op;
      const a = await (await fetch(first.url as string)).text();
      await s.bulk.reset();
      const second = (await poll(s, (await started(s, PRODUCTS_QUERY)).id)).op;
      expect(await (await fetch(second.url as string)).text()).to.equal(a);
    });

    it('when the top-level connection has sortKey and query, then the roots come as the normal endpoint lists them', async () => {
      const s = shop();
      const entries = s.catalog.products.entries.map((e) => e.updatedMs).sort((a, b) => a - b);
      const since = new Date(entries[Math.floor(entries.length / 2)] as number).toISOString();
      const connection = `products(sortKey: UPDATED_AT, reverse: true, query: "updated_at:>='${since}'")`;
      const listed = await gql<{ products: { nodes: { id: string }[] } }>(s, '2026-01', `{ ${connection.replace('products(', 'products(first: 250, ')} { nodes { id } } }`);
      const { op } = await poll(s, (await started(s, `{ ${connection} { nodes { id updatedAt } } }`)).id);
      const lines = await jsonl(op.url as string);
      expect(lines.map((l) => l.id)).to.deep.equal(listed.products.nodes.map((n) => n.id));
      expect(lines.length).to.be.within(1, 39);
    });

    it("when the service's own export queries run, then each completes with every top-level record", async () => {
      const s = shop();
      const c = s.catalog;
      const roots = { products: c.products.size, orders: c.orders.size, customers: c.customers.size, locations: c.locations.size, inventory: c.locations.size };
      for (const [name, query] of Object.entries(BULK_EXPORT_QUERIES)) {
        const { op } = await poll(s, (await started(s, query)).id);
        expect(op, name).to.include({ status: 'COMPLETED', rootObjectCount: String(roots[name as keyof typeof roots]) });
        const lines = await jsonl(op.url as string);
        const parents = new Set(lines.filter((l) => !l.__parentId).map((l) => l.id));
        for (const l of lines) if (l.__parentId) expect(parents.has(l.__parentId), name).to.equal(true);
      }
    });

    it('when nothing matches, then the operation completes with no url', async () => {
      const s = shop();
      const { op } = await poll(s, (await started(s, '{ products(query: "updated_at:<\'2000-01-01T00:00:00Z\'") { nodes { id } } }')).id);
      expect(op).to.include({ status: 'COMPLETED', url: null, objectCount: '0', fileSize: null });
    });
  });

  describe('status over time', () => {
    it('when an operation is paced, then it is CREATED, then RUNNING with a growing objectCount, then COMPLETED', async () => {
      const s = shop();
      s.bulk.configure({ createdMs: 100, rootObjectsPerSecond: 100 });
      const { op, seen } = await poll(s, (await started(s, PRODUCTS_QUERY)).id);
      expect(op.status).to.equal('COMPLETED');
      const statuses = [...new Set(seen.map((o) => o.status))];
      expect(statuses).to.deep.equal(['CREATED', 'RUNNING', 'COMPLETED']);
      const counts = seen.filter((o) => o.status === 'RUNNING').map((o) => Number(o.rootObjectCount));
      expect(counts.some((n) => n > 0 && n < 40)).to.equal(true);
      expect(counts).to.deep.equal([...counts].sort((a, b) => a - b));
      expect(Date.parse(op.completedAt as string)).to.be.at.least(Date.parse(op.createdAt));
    });

    it('when an operation is held, then it runs until released', async () => {
      const s = shop();
      s.bulk.configure({ hold: 5 });
      const id = (await started(s, PRODUCTS_QUERY)).id;
      await new Promise((r) => setTimeout(r, 150));
      const running = await read(s, id);
      expect(running).to.include({ status: 'RUNNING', rootObjectCount: '5' });
      s.bulk.release(id);
      expect((await poll(s, id)).op.status).to.equal('COMPLETED');
    });

    it('when the clock passes 10 days while an operation runs, then it is EXPIRED', async () => {
      const s = shop();
      s.bulk.configure({ hold: true });
      const id = (await started(s, PRODUCTS_QUERY)).id;
      mock.clock.advance(10 * DAY + 1000);
      const op = await read(s, id);
      expect(op).to.include({ status: 'EXPIRED', url: null, partialDataUrl: null });
      expect(s.bulk.stats.expired).to.equal(1);
    });
  });

  describe('limits', () => {
    it('when six operations start on 2026-01, then the sixth gets LIMIT_REACHED; a slot freed by a cancel takes a new one', async () => {
      const s = shop();
      s.bulk.configure({ hold: true });
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await started(s, PRODUCTS_QUERY)).id);
      const sixth = await start(s, PRODUCTS_QUERY);
      expect(sixth.bulkOperation).to.equal(null);
      expect(sixth.userErrors).to.have.length(1);
      expect(sixth.userErrors[0]).to.include({ code: 'LIMIT_REACHED' });
      expect(s.bulk.stats).to.include({ started: 5, concurrentMax: 5, rejected: 1 });
      const running = await gql<{ bulkOperations: { nodes: { id: string }[] } }>(s, '2026-01', '{ bulkOperations(first: 10, query: "status:RUNNING") { nodes { id } } }');
      expect(running.bulkOperations.nodes.map((n) => n.id)).to.deep.equal([...ids].reverse());
      const current = await gql<{ currentBulkOperation: { id: string } }>(s, '2026-01', '{ currentBulkOperation { id } }');
      expect(current.currentBulkOperation.id).to.equal(ids[4]);
      await gql(s, '2026-01', 'mutation($id: ID!) { bulkOperationCancel(id: $id) { userErrors { message } } }', { id: ids[0] });
      await s.bulk.settled(ids[0] as string);
      await started(s, PRODUCTS_QUERY);
    });

    it('when a second operation starts on 2025-10, then it gets OPERATION_IN_PROGRESS naming the running one', async () => {
      const s = shop(OLD);
      s.bulk.configure({ hold: true });
      const first = await started(s, PRODUCTS_QUERY, { version: '2025-10' });
      const second = await start(s, PRODUCTS_QUERY, { version: '2025-10' });
      expect(second.bulkOperation).to.equal(null);
      expect(second.userErrors).to.deep.equal([{ field: null, code: 'OPERATION_IN_PROGRESS', message: `A bulk query operation for this app and shop is already in progress: ${first.id}.` }]);
      s.bulk.release();
      expect((await poll(s, first.id, '2025-10')).op.status).to.equal('COMPLETED');
    });

    it('when groupObjects is left out on 2025-10, then the children are grouped (the default before 2026-01)', async () => {
      const s = shop(OLD);
      s.bulk.configure({ interleave: { window: 6, farShare: 0.5, farLines: 5 } });
      const { op } = await poll(s, (await started(s, PRODUCTS_QUERY, { version: '2025-10' })).id, '2025-10');
      const lines = await jsonl(op.url as string);
      expectEveryProductAndVariant(lines, catalog(s));
      expect(interleaved(lines)).to.equal(false);
    });
  });

  describe('invalid inner queries', () => {
    const cases: [string, string, RegExp][] = [
      ['node at the top level', '{ node(id: "gid://shopify/Product/1") { id } }', /top-level `node`/],
      [
        'connections nested three levels',
        '{ products { edges { node { id variants { edges { node { id inventoryItem { inventoryLevels { edges { node { id } } } } } } } } } } }',
        /nesting depth greater than 2/,
      ],
      [
        'six connections',
        '{ products { edges { node { id variants { nodes { id } } collections { nodes { id } } media { nodes { id } } metafields { nodes { id } } sellingPlanGroups { nodes { id } } } } } }',
        /more than 5 connections/,
      ],
      ['a field the schema does not have', '{ products { edges { node { id nope } } } }', /Cannot query field "nope"/],
      ['a syntax error', '{ products { edges { node { id } }', /Syntax Error/],
      ['no connection', '{ shop { name } }', /at least one connection/],
      ['a nested connection under a node without id', '{ products { edges { node { title variants { edges { node { id } } } } } } }', /must select the 'id' field/],
      ['two top-level fields', '{ products { nodes { id } } customers { nodes { id } } }', /exactly one top-level field/],
    ];
    for (const [what, query, message] of cases) {
      it(`when the inner query has ${what}, then userErrors say INVALID`, async () => {
        const payload = await start(shop(), query);
        expect(payload.bulkOperation).to.equal(null);
        expect(payload.userErrors).to.have.length(1);
        expect(payload.userErrors[0]).to.deep.include({ field: ['query'], code: 'INVALID' });
        expect(payload.userErrors[0]?.message).to.match(message);
      });
    }
  });

  describe('failures', () => {
    it('when a TIMEOUT is injected after 3 products, then the operation FAILED and partialDataUrl holds the first 3 with their variants', async () => {
      const s = shop();
      s.bulk.failNext({ errorCode: 'TIMEOUT', afterRootObjects: 3 });
      const { op } = await poll(s, (await started(s, PRODUCTS_QUERY)).id);
      expect(op).to.include({ status: 'FAILED', errorCode: 'TIMEOUT', url: null, fileSize: null, rootObjectCount: '3' });
      const lines = await jsonl(op.partialDataUrl as string);
      expectEveryProductAndVariant(lines, catalog(s).slice(0, 3));
    });

    it('when an INTERNAL_SERVER_ERROR comes before any object, then there is no partial data', async () => {
      const s = shop();
      s.bulk.failNext({ errorCode: 'INTERNAL_SERVER_ERROR', afterRootObjects: 0 });
      const { op } = await poll(s, (await started(s, PRODUCTS_QUERY)).id);
      expect(op).to.include({ status: 'FAILED', errorCode: 'INTERNAL_SERVER_ERROR', url: null, partialDataUrl: null });
    });

    it('when the token lacks the scope the inner query needs, then the operation fails with ACCESS_DENIED', async () => {
      const s = shop(NARROW);
      const { op } = await poll(s, (await started(s, '{ orders { edges { node { id } } } }')).id);
      expect(op).to.include({ status: 'FAILED', errorCode: 'ACCESS_DENIED', url: null });
    });
  });

  describe('downloads', () => {
    async function completed(s: MockShop): Promise<Operation> {
      return (await poll(s, (await started(s, PRODUCTS_QUERY)).id)).op;
    }

    it('when the URL is older than its lifetime on the mock clock, then the download answers 403 "Request has expired"', async () => {
      const s = shop();
      const op = await completed(s);
      expect((await fetch(op.url as string)).status).to.equal(200);
      mock.clock.advance(7 * DAY - 60_000);
      expect((await fetch(op.url as string)).status).to.equal(200);
      mock.clock.advance(2 * 60_000);
      const res = await fetch(op.url as string);
      expect(res.status).to.equal(403);
      expect(res.headers.get('content-type')).to.match(/xml/);
      expect(await res.text()).to.match(/<Code>ExpiredToken<\/Code>.*Request has expired/);
      expect(s.bulk.stats.expiredDownloads).to.equal(1);
    });

    it('when the URL lifetime is set shorter, then it expires sooner', async () => {
      const s = shop();
      s.bulk.configure({ urlLifetimeMs: 60_000 });
      const op = await completed(s);
      mock.clock.advance(61_000);
      expect((await fetch(op.url as string)).status).to.equal(403);
    });

    it('when a download is cut after N bytes, then a Range request from there gives the rest and the bytes are identical', async () => {
      const s = shop();
      const op = await completed(s);
      const whole = Buffer.from(await (await fetch(op.url as string)).arrayBuffer());
      s.bulk.cutNextDownload(700);
      const cut = await new Promise<{ bytes: Buffer; complete: boolean; length: string | undefined }>((resolve, reject) => {
        httpGet(op.url as string, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', () => undefined);
          res.on('close', () => resolve({ bytes: Buffer.concat(chunks), complete: res.complete, length: res.headers['content-length'] }));
        }).on('error', reject);
      });
      expect(cut.complete).to.equal(false);
      expect(cut.length).to.equal(String(whole.length));
      expect(cut.bytes.length).to.equal(700);
      expect(s.bulk.stats.cutDownloads).to.equal(1);
      const rest = await fetch(op.url as string, { headers: { range: `bytes=${cut.bytes.length}-` } });
      expect(rest.status).to.equal(206);
      expect(rest.headers.get('content-range')).to.equal(`bytes 700-${whole.length - 1}/${whole.length}`);
      expect(rest.headers.get('content-length')).to.equal(String(whole.length - 700));
      expect(Buffer.concat([cut.bytes, Buffer.from(await rest.arrayBuffer())]).equals(whole)).to.equal(true);

      const tail = await fetch(op.url as string, { headers: { range: 'bytes=-10' } });
      expect(tail.status).to.equal(206);
      expect(Buffer.from(await tail.arrayBuffer()).equals(whole.subarray(whole.length - 10))).to.equal(true);
      const beyond = await fetch(op.url as string, { headers: { range: `bytes=${whole.length}-` } });
      expect(beyond.status).to.equal(416);
      expect(beyond.headers.get('content-range')).to.equal(`bytes */${whole.length}`);
      await beyond.text();
    });

    it('when a URL is unknown or its shop was reset, then the download answers 404', async () => {
      const s = shop();
      const op = await completed(s);
      const path = s.bulk.get(op.id)?.filePath;
      expect(path).to.be.a('string');
      await s.bulk.reset();
      expect((await fetch(op.url as string)).status).to.equal(404);
      expect((await fetch(`${mock.url}/bulk-results/nothing.jsonl`)).status).to.equal(404);
    });
  });

  describe('cancel and the finish webhook', () => {
    async function subscribe(s: MockShop): Promise<void> {
      const data = await gql<{ webhookSubscriptionCreate: { userErrors: unknown[] } }>(
        s,
        '2026-01',
        'mutation($uri: String!) { webhookSubscriptionCreate(topic: BULK_OPERATIONS_FINISH, webhookSubscription: { uri: $uri }) { webhookSubscription { id topic } userErrors { field message } } }',
        { uri: receiverUrl },
      );
      expect(data.webhookSubscriptionCreate.userErrors).to.deep.equal([]);
    }
    async function webhook(): Promise<{ headers: IncomingHttpHeaders; body: string }> {
      for (let i = 0; i < 200 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(received).to.have.length(1);
      return received[0] as { headers: IncomingHttpHeaders; body: string };
    }

    before(async () => subscribe(shop()));

    it("when an operation completes, then bulk_operations/finish arrives signed with the app secret in Shopify's shape", async () => {
      const s = shop();
      const { op } = await poll(s, (await started(s, PRODUCTS_QUERY)).id);
      const hook = await webhook();
      expect(hook.headers['x-shopify-topic']).to.equal('bulk_operations/finish');
      expect(hook.headers['x-shopify-shop-domain']).to.equal(SHOP);
      expect(verifyWebhookHmac(Buffer.from(hook.body), hook.headers['x-shopify-hmac-sha256'] as string, [mock.apiSecret])).to.equal(true);
      const payload = JSON.parse(hook.body) as Record<string, unknown>;
      expect(Object.keys(payload)).to.deep.equal(['admin_graphql_api_id', 'completed_at', 'created_at', 'error_code', 'status', 'type']);
      expect(payload).to.include({ admin_graphql_api_id: op.id, error_code: null, status: 'completed', type: 'query' });
      expect(payload.completed_at).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/);
      expect(s.bulk.deliveries.map((d) => d.ok)).to.deep.equal([true]);
    });

    it('when an operation fails, then the webhook says failed with its error code', async () => {
      const s = shop();
      s.bulk.failNext({ errorCode: 'TIMEOUT', afterRootObjects: 1 });
      await poll(s, (await started(s, PRODUCTS_QUERY)).id);
      expect(JSON.parse((await webhook()).body)).to.include({ status: 'failed', error_code: 'timeout' });
    });

    it('when a running operation is cancelled, then it is CANCELING, then CANCELED without a url, and the webhook says canceled', async () => {
      const s = shop();
      s.bulk.configure({ hold: true, cancelMs: 50 });
      const id = (await started(s, PRODUCTS_QUERY)).id;
      const cancel = 'mutation($id: ID!) { bulkOperationCancel(id: $id) { bulkOperation { id status } userErrors { field message } } }';
      const first = await gql<{ bulkOperationCancel: { bulkOperation: { status: string }; userErrors: unknown[] } }>(s, '2026-01', cancel, { id });
      expect(first.bulkOperationCancel).to.deep.equal({ bulkOperation: { id, status: 'CANCELING' }, userErrors: [] });
      const { op } = await poll(s, id);
      expect(op).to.include({ status: 'CANCELED', url: null, partialDataUrl: null });
      expect(JSON.parse((await webhook()).body)).to.include({ admin_graphql_api_id: id, status: 'canceled', error_code: null });
      const again = await gql<{ bulkOperationCancel: { userErrors: { message: string }[] } }>(s, '2026-01', cancel, { id });
      expect(again.bulkOperationCancel.userErrors[0]?.message).to.equal('A bulk operation cannot be canceled when it is canceled');
      const missing = await gql<{ bulkOperationCancel: { bulkOperation: null; userErrors: { field: string[] }[] } }>(s, '2026-01', cancel, { id: 'gid://shopify/BulkOperation/999' });
      expect(missing.bulkOperationCancel.userErrors[0]?.field).to.deep.equal(['id']);
      expect(s.bulk.stats.canceled).to.equal(1);
    });
  });
});
