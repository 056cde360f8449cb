import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { loadConfig } from '../../src/config.js';
import { createShopifyClient } from '../../src/shopify/admin-client.js';
import { ShopifyRetriableError } from '../../src/shopify/errors.js';
import { startTestContext, TEST_REDIS_URL, uniqueName, type TestContext } from '../support/context.js';
import { call, expectProblem } from '../support/http.js';

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

type Parameter = { $ref?: string; name: string; in: string; example?: unknown; examples?: unknown; schema?: { $ref?: string; example?: unknown } };

describe("an integrator's first hour", () => {
  let t: TestContext;
  let key: string;
  before(async () => {
    t = await startTestContext();
    key = await t.keyFor('first-hour');
  });
  after(() => t.close());

  describe('invalid query parameters', () => {
    it('when status, limit and an unknown parameter are all wrong, then each is named in errors[] in plain words', async () => {
      const res = await call(t.url, 'GET', '/api/shopify/products/?status=bogus&limit=abc&foo=1', { key });
      expectProblem(res, 400);
      expect(res.body.errors).to.have.deep.members([
        { location: 'query', name: 'status', message: 'must be one of active, archived, draft' },
        { location: 'query', name: 'limit', message: 'must be a whole number' },
        { location: 'query', name: 'foo', message: 'is not a parameter of this operation' },
      ]);
      expect(res.body.detail).to.include('the query parameter foo is not a parameter of this operation');
      expect(res.body.detail).not.to.match(/request\/|\.query\.|<=|>=/);
    });

    it('when limit is 251 and updated_at_min is not a date, then both are named: "must be at most 250" and an ISO 8601 hint', async () => {
      const res = await call(t.url, 'GET', '/api/shopify/orders/?limit=251&updated_at_min=yesterday', { key });
      expectProblem(res, 400);
      expect(res.body.errors).to.have.deep.members([
        { location: 'query', name: 'limit', message: 'must be at most 250' },
        { location: 'query', name: 'updated_at_min', message: 'must be an ISO 8601 date and time, such as 2024-03-01T00:00:00Z' },
      ]);
      expect(res.body.detail).to.equal('The query parameter limit must be at most 250; the query parameter updated_at_min must be an ISO 8601 date and time, such as 2024-03-01T00:00:00Z');
    });

    it('when a known filter is sent empty and another is unknown, then 400 names both', async () => {
      const res = await call(t.url, 'GET', '/api/shopify/customers/?include_deleted=&colour=red', { key });
      expectProblem(res, 400);
      expect(res.body.errors).to.have.deep.members([
        { location: 'query', name: 'include_deleted', message: 'must be true or false' },
        { location: 'query', name: 'colour', message: 'is not a parameter of this operation' },
      ]);
    });

    it('when only valid parameters are sent, then the list answers 200', async () => {
      const res = await call(t.url, 'GET', '/api/shopify/products/?limit=250&status=active&include_deleted=false', { key });
      expect(res.status, res.text).to.equal(200);
    });
  });

  describe('request log lines', () => {
    it('when a request is refused, then its line carries the status and the problem, and no response headers', async () => {
      const res = await call(t.url, 'GET', '/api/shopify/products/?limit=0&first-hour-log=1', { key });
      expectProblem(res, 400);
      const line = t.logs.lines.map((l) => JSON.parse(l) as Record<string, any>).find((l) => l.msg === 'request completed' && String(l.req?.url).includes('first-hour-log'));
      expect(line, 'request line').to.exist;
      expect(line!.res).to.deep.equal({ statusCode: 400 });
      expect(line!.problem).to.deep.equal({ type: res.body.type, detail: res.body.detail });
      expect(line!.problem.detail).to.include('limit must be at least 1');
      expect(JSON.stringify(line).length).to.be.below(800);
    });
  });

  describe('connecting a store', () => {
    it('when nothing listens at the Shopify address, then connect answers 502 at once instead of retrying for half a minute', async () => {
      const port = await closedPort();
      const ctx = await startTestContext({ SHOPIFY_API_BASE_URL: `http://127.0.0.1:${port}/{shop}` });
      try {
        const tenantKey = await ctx.keyFor('nobody-home');
        const started = performance.now();
        const res = await call(ctx.url, 'POST', '/api/shopify/connect/', { key: tenantKey, body: { shop_domain: 'nobody-home.myshopify.com', access_token: 'shpat_x' } });
        const elapsedMs = performance.now() - started;
        expectProblem(res, 502);
        expect(res.body.detail).to.include('no response');
        // The default retry budget (5 retries, 1 s × 2^n) would take about 35 s.
        expect(elapsedMs).to.be.below(3000);
      } finally {
        await ctx.close();
      }
    });

    it('when a sync request meets the same refused connection, then it is still retried (an outage may pass)', async () => {
      const port = await closedPort();
      const config = loadConfig({ NODE_ENV: 'test', SHOPIFY_API_BASE_URL: `http://127.0.0.1:${port}/{shop}`, SHOPIFY_MAX_RETRY_ATTEMPTS: '2', SHOPIFY_RETRY_DELAY: '0.01' });
      const client = createShopifyClient(
        { redis: t.ctx.redis, keys: t.ctx.keys, logger: t.ctx.logger, config: config.shopify, rateLimit: false },
        { shopDomain: 'nobody-home.myshopify.com', accessToken: 'shpat_x' },
      );
      const error = await client.get('products').catch((e: unknown) => e);
      expect(error).to.be.instanceOf(ShopifyRetriableError);
      expect(client.stats).to.include({ requests: 3, retries: 2 });
    });
  });

  describe('the contract as Swagger UI shows it', () => {
    let contract: any;
    before(async () => {
      contract = (await call(t.url, 'GET', '/openapi.json')).body;
    });
    const resolve = (ref: string) =>
      ref
        .split('/')
        .slice(1)
        .reduce((node: any, part: string) => node[part], contract);

    it('when Try it out would pre-fill a query parameter, then none carries an example (defaults only)', () => {
      const prefilled: string[] = [];
      for (const [route, item] of Object.entries<any>(contract.paths)) {
        for (const [method, operation] of Object.entries<any>(item)) {
          for (const raw of (operation.parameters ?? []) as Parameter[]) {
            const parameter = raw.$ref ? (resolve(raw.$ref) as Parameter) : raw;
            if (parameter.in !== 'query') continue;
            const schema = parameter.schema?.$ref ? resolve(parameter.schema.$ref) : parameter.schema;
            if (parameter.example !== undefined || parameter.examples !== undefined || schema?.example !== undefined) prefilled.push(`${method.toUpperCase()} ${route} ${parameter.name}`);
          }
        }
      }
      expect(prefilled).to.deep.equal([]);
    });

    it('when the record lists show an example, then it hides deleted records and no two ids are equal', () => {
      for (const name of ['ProductList', 'OrderList', 'CustomerList', 'InventoryLevelList']) {
        const value = contract.components.examples[name].value as { data: Record<string, any>[] };
        for (const record of value.data) expect(record.deleted_at, name).to.equal(null);
      }
      const product = contract.components.examples.Product.value;
      const ids = [product.id, ...product.variants.flatMap((v: Record<string, number>) => [v.id, v.inventory_item_id])];
      expect(new Set(ids).size).to.equal(ids.length);
    });

    it('when an operation documents 500 and 503, then their examples are an internal error and an unavailable dependency, not a 404 body', () => {
      const example = (name: string) => contract.components.responses[name].content['application/problem+json'].example;
      expect(example('InternalError')).to.include({ status: 500, title: 'Internal Server Error' });
      expect(example('ServiceUnavailable')).to.include({ status: 503 });
      expect(example('ReadUnavailable')).to.include({ status: 503 });
    });
  });

  describe('a local run', () => {
    it('when .env sets ADMIN_API_KEY, then the API started from that directory serves /metrics with it and says operator routes are on', async function () {
      this.timeout(30_000);
      const dir = await mkdtemp(path.join(tmpdir(), 'first-hour-env-'));
      const adminKey = 'from-dotenv-admin-key-0123456789';
      await writeFile(path.join(dir, '.env'), `# as copied from .env.example\nADMIN_API_KEY=${adminKey}\nLOG_FORMAT=json\n`);
      const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
      const child = spawn(process.execPath, ['--import', tsx, path.resolve('src/main/api.ts')], {
        cwd: dir,
        env: { PATH: process.env.PATH, NODE_ENV: 'development', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: t.databaseUrl, REDIS_URL: TEST_REDIS_URL, REDIS_KEY_PREFIX: uniqueName('first-hour') },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      try {
        const lines: string[] = [];
        const url = await new Promise<string>((resolve, reject) => {
          child.stdout.on('data', (chunk: Buffer) => {
            lines.push(...String(chunk).split('\n').filter(Boolean));
            const listening = lines.map((l) => JSON.parse(l) as { url?: string }).find((l) => l.url);
            if (listening?.url) resolve(listening.url);
          });
          child.once('exit', (code) => reject(new Error(`the API exited (${code}) before listening`)));
        });
        const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
        expect(messages).to.include(`settings: environment and ${path.join(dir, '.env')}`);
        expect(messages.some((m) => m.startsWith('operator routes: on'))).to.equal(true);
        expect(messages.some((m) => m.startsWith('OAuth install: off — set SHOPIFY_API_KEY and SHOPIFY_API_SECRET'))).to.equal(true);
        const metrics = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${adminKey}` } });
        expect(metrics.status).to.equal(200);
      } finally {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
});
