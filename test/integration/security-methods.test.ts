import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { expect } from 'chai';
import express from 'express';
import { pinoHttp } from 'pino-http';
import type { OpenAPIV3 } from 'express-openapi-validator/dist/framework/types.js';
import { loadContract } from '../../src/http/contract.js';
import { errorHandler, notFoundHandler } from '../../src/http/problem.js';
import { healthRoutes } from '../../src/http/routes/health.js';
import { recordRoutes } from '../../src/http/routes/records.js';
import { apiRoutes } from '../../src/main/routes.js';
import { webhookKeys } from '../../src/webhooks/stream.js';
import { ADMIN_KEY, startTestContext, type TestContext } from '../support/context.js';
import { problemValidator } from '../support/fuzz-client.js';
import { call, expectProblem, type ApiResponse } from '../support/http.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
const contract = loadContract();

type Operation = OpenAPIV3.OperationObject;
const operationOf = (path: string, method: string): Operation | undefined => (contract.paths[path] as Record<string, Operation | undefined>)[method.toLowerCase()];
const documented = (path: string) => METHODS.filter((m) => operationOf(path, m));
/** Which key an operation takes: none (`security: []`), the operator key or a tenant key. */
function schemeOf(op: Operation): 'public' | 'admin' | 'tenant' {
  const security = op.security ?? contract.security ?? [];
  if (security.length === 0) return 'public';
  return security.some((s) => 'AdminKey' in s) ? 'admin' : 'tenant';
}
/** A request path for a contract path: every path parameter an existing-looking id. */
const concrete = (path: string) => path.replace(/\{[^}]+\}/g, '1');

describe('security: every method on every route of the contract', function () {
  this.timeout(60_000);
  let t: TestContext;
  let tenantKey: string;
  const validateProblem = problemValidator();
  const keyFor = (scheme: 'public' | 'admin' | 'tenant') => (scheme === 'admin' ? ADMIN_KEY : scheme === 'tenant' ? tenantKey : undefined);

  before(async () => {
    t = await startTestContext();
    // Two keys for acme: a list of them is much longer than an empty one, as in the review's enumeration.
    tenantKey = await t.keyFor('acme');
    await t.keyFor('acme');
    // A dead letter with a body, so an unbounded read would have something to read.
    await t.ctx.redis.xAdd(webhookKeys(t.ctx).deadLetters, '*', { topic: 'products/update', shop: 'methods.myshopify.com', body: JSON.stringify({ pad: 'p'.repeat(10_000) }) });
  });
  after(async () => t?.close());

  function expectMethodNotAllowed(res: ApiResponse, method: string, path: string): void {
    const what = `${method} ${path}`;
    expect(res.status, `${what}: ${res.text.slice(0, 200)}`).to.equal(405);
    const allow = (res.headers.get('allow') ?? '').split(/,\s*/).filter(Boolean);
    expect(allow, `${what}: Allow`).to.have.members(documented(path));
    if (method === 'HEAD') {
      expect(res.text, `${what}: a HEAD answer has no body`).to.equal('');
      return;
    }
    expect(res.headers.get('content-type'), what).to.match(/^application\/problem\+json/);
    expect(validateProblem(res.body), `${what}: a contract Problem`).to.equal(null);
    expect(res.body.status).to.equal(405);
  }

  it('when each of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS is sent to every path of the contract, then undocumented methods are 405 with Allow and documented ones without credentials are 401 or their public answer, never a protected 2xx', async () => {
    const paths = Object.keys(contract.paths);
    expect(paths.length).to.be.at.least(20);
    let tried = 0;
    for (const path of paths) {
      const target = concrete(path);
      for (const method of METHODS) {
        tried += 1;
        const op = operationOf(path, method);
        const anonymous = await call(t.url, method, target);
        if (!op) {
          expectMethodNotAllowed(anonymous, method, path);
          // Not even the right key turns an undocumented method into an answer.
          const scheme = schemeOf(operationOf(path, documented(path)[0]!)!);
          expectMethodNotAllowed(await call(t.url, method, target, { key: keyFor(scheme) ?? 'sk_unknown' }), method, path);
          continue;
        }
        const scheme = schemeOf(op);
        if (scheme !== 'public') {
          expectProblem(anonymous, 401);
          expect(validateProblem(anonymous.body), `${method} ${path}`).to.equal(null);
        } else if (path === '/healthz' || path === '/readyz') {
          expect(anonymous.status, `${method} ${path}`).to.equal(200);
        } else {
          // Webhooks without a signature, the OAuth callback without Shopify's parameters.
          expect(anonymous.status, `${method} ${path}: ${anonymous.text}`).to.be.within(400, 499);
          expect(validateProblem(anonymous.body), `${method} ${path}`).to.equal(null);
        }
      }
    }
    expect(tried).to.equal(paths.length * METHODS.length);
  });

  it("when HEAD is sent to a GET route, even with the right key, then it is 405 and its Content-Length is not the GET body's", async () => {
    for (const path of Object.keys(contract.paths).filter((p) => operationOf(p, 'GET'))) {
      const key = keyFor(schemeOf(operationOf(path, 'GET')!));
      const get = await call(t.url, 'GET', concrete(path), { key });
      const head = await call(t.url, 'HEAD', concrete(path), { key });
      expectMethodNotAllowed(head, 'HEAD', path);
      expect(head.headers.get('content-length'), path).not.to.equal(String(Buffer.byteLength(get.text)));
    }
  });

  it('when the trailing slash is dropped, a path is written in capitals or the webhook alias is used, then undocumented methods are still 405', async () => {
    for (const [method, path, contractPath] of [
      ['HEAD', '/api/admin/api-keys', '/api/admin/api-keys/'],
      ['HEAD', '/API/ADMIN/API-KEYS/', '/api/admin/api-keys/'],
      ['HEAD', '/api/admin/webhooks/dead-letters//', '/api/admin/webhooks/dead-letters/'],
      ['GET', '/api/shopify/webhook', '/api/shopify/webhook/'],
      ['HEAD', '/api/shopify/webhook/', '/api/shopify/webhook/'],
      ['PUT', '/api/integrations/shopify/webhook', '/api/integrations/shopify/webhook/'],
      ['OPTIONS', '/api/integrations/shopify/webhook/', '/api/integrations/shopify/webhook/'],
      ['POST', '/healthz/', '/healthz'],
      ['HEAD', '/readyz', '/readyz'],
    ] as const) {
      expectMethodNotAllowed(await call(t.url, method, path), method, contractPath);
    }
  });

  it('when a path the contract does not know is tried with any method, then it is 404', async () => {
    for (const method of METHODS) {
      const res = await call(t.url, method, '/api/admin/nothing-here/');
      expect(res.status, method).to.equal(404);
      if (method !== 'HEAD') expectProblem(res, 404);
    }
  });

  describe('the reproductions of the security review', () => {
    it("when HEAD /api/admin/api-keys/ is sent without a key, then it is 405 (it used to answer 200 with the key list's length)", async () => {
      const res = await call(t.url, 'HEAD', '/api/admin/api-keys/');
      expectMethodNotAllowed(res, 'HEAD', '/api/admin/api-keys/');
    });

    it('when HEAD /api/admin/api-keys/?tenant_id=acme is compared with another tenant id, then both answers are the same (no enumeration by length)', async () => {
      const known = await call(t.url, 'HEAD', '/api/admin/api-keys/?tenant_id=acme');
      const unknown = await call(t.url, 'HEAD', '/api/admin/api-keys/?tenant_id=nobody');
      expect(known.status).to.equal(unknown.status);
      expect(known.headers.get('content-length')).to.equal(unknown.headers.get('content-length'));
    });

    it('when HEAD …/dead-letters/?limit=abc is sent, then it is not a 500', async () => {
      const res = await call(t.url, 'HEAD', '/api/admin/webhooks/dead-letters/?limit=abc');
      expect(res.status).to.be.within(400, 499);
    });

    it('when …/dead-letters/?limit=100000000 is asked for, then it is 400 naming limit (HEAD: 405, reading nothing)', async () => {
      const res = await call(t.url, 'GET', '/api/admin/webhooks/dead-letters/?limit=100000000', { key: ADMIN_KEY });
      expectProblem(res, 400);
      expect(res.body.errors.map((e: { name: string }) => e.name)).to.deep.equal(['limit']);
      expect((await call(t.url, 'HEAD', '/api/admin/webhooks/dead-letters/?limit=100000000')).status).to.equal(405);
    });
  });

  describe('request bodies', () => {
    it('when a body comes without Authorization, then it is 401 before any parsing (a 2 MB body is not 413); with a key, a JSON body over 64 KB is 413', async () => {
      const big = JSON.stringify({ shop_domain: 'x.myshopify.com', access_token: 'a'.repeat(2 * 1024 * 1024) });
      for (const path of ['/api/shopify/connect/', '/api/admin/api-keys/', '/api/admin/webhooks/dead-letters/replay/']) {
        expectProblem(await call(t.url, 'POST', path, { rawBody: big, headers: { 'content-type': 'application/json' } }), 401);
        expectProblem(await call(t.url, 'POST', path, { rawBody: '{', headers: { 'content-type': 'application/json', authorization: 'Basic eDp5' } }), 401);
      }
      const justOver = JSON.stringify({ shop_domain: 'x.myshopify.com', access_token: 'a'.repeat(64 * 1024) });
      expectProblem(await call(t.url, 'POST', '/api/shopify/connect/', { key: tenantKey, rawBody: justOver, headers: { 'content-type': 'application/json' } }), 413);
      // The largest body the contract needs (1,000 stream ids of the longest kind, 20 digits each side) still fits.
      const longest = (i: number) => String(10_000_000_000_000_000_000n + BigInt(i));
      const ids = Array.from({ length: 1000 }, (_, i) => `${longest(i)}-${longest(i)}`);
      const replay = await call(t.url, 'POST', '/api/admin/webhooks/dead-letters/replay/', { key: ADMIN_KEY, body: { ids } });
      expect(replay.status, replay.text).to.equal(200);
    });
  });
});

/**
 * The routers alone, without the contract gate and validator in front: what they refuse by themselves
 * should a request ever slip past the contract.
 */
describe("security: the routers' own walls (no contract validator in front)", () => {
  let t: TestContext;
  let server: Server;
  let url: string;

  before(async () => {
    t = await startTestContext();
    const app = express();
    app.use(pinoHttp({ logger: t.ctx.logger }));
    app.use(express.json());
    app.use(healthRoutes(t.ctx));
    app.use(recordRoutes(t.ctx));
    for (const router of apiRoutes(t.ctx).api ?? []) app.use(router);
    app.use(notFoundHandler);
    app.use(errorHandler(t.ctx.logger));
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise((resolve) => server?.close(resolve));
    await t?.close();
  });

  it('when every operation that needs a key is called without one (any method Express would route, HEAD included), then each is 401', async () => {
    const contract = loadContract();
    const tried: string[] = [];
    for (const [path, item] of Object.entries(contract.paths)) {
      for (const method of ['get', 'post', 'put', 'patch', 'delete'] as const) {
        const op = (item as Record<string, Operation | undefined>)[method];
        if (!op || schemeOf(op) === 'public') continue;
        for (const sent of method === 'get' ? ['GET', 'HEAD'] : [method.toUpperCase()]) {
          const res = await call(url, sent, concrete(path), sent === 'GET' || sent === 'HEAD' ? {} : { body: {} });
          expect(res.status, `${sent} ${path}: ${res.text.slice(0, 200)}`).to.equal(401);
          tried.push(`${sent} ${path}`);
        }
      }
    }
    expect(tried.length).to.be.at.least(25);
  });

  it('when the operator key is sent with bad admin parameters, then each is a 400 naming the parameter, never NaN, a 500 or an unbounded read', async () => {
    const cursorOf = (value: unknown) => Buffer.from(JSON.stringify([value])).toString('base64url');
    const cases: [string, string, string][] = [
      ['GET', '/api/admin/webhooks/dead-letters/?limit=abc', 'limit'],
      ['GET', '/api/admin/webhooks/dead-letters/?limit=100000000', 'limit'],
      ['GET', '/api/admin/webhooks/dead-letters/?limit=0', 'limit'],
      ['GET', '/api/admin/webhooks/dead-letters/?limit=1.5', 'limit'],
      ['GET', '/api/admin/webhooks/dead-letters/?limit=1&limit=2', 'limit'],
      ['GET', `/api/admin/webhooks/dead-letters/?cursor=${cursorOf('0-0 +')}`, 'cursor'],
      ['GET', '/api/admin/api-keys/?limit=Infinity', 'limit'],
      ['GET', '/api/admin/api-keys/?tenant_id=%20acme', 'tenant_id'],
      ['GET', `/api/admin/api-keys/?tenant_id=${'a'.repeat(65)}`, 'tenant_id'],
      ['GET', `/api/admin/api-keys/?cursor=${cursorOf('abc')}`, 'cursor'],
      ['GET', '/api/admin/api-keys/?cursor=not%20base64', 'cursor'],
      ['GET', '/api/admin/integrations/?is_active=maybe', 'is_active'],
      ['GET', `/api/admin/integrations/?cursor=${cursorOf(-1)}`, 'cursor'],
      ['DELETE', '/api/admin/api-keys/abc/', 'id'],
      ['DELETE', '/api/admin/api-keys/0/', 'id'],
      ['DELETE', '/api/admin/api-keys/99999999999999999999/', 'id'],
      ['POST', '/api/admin/integrations/1e3/sync/', 'id'],
    ];
    for (const [method, path, name] of cases) {
      const res = await call(url, method, path, { key: ADMIN_KEY });
      expectProblem(res, 400);
      expect(
        res.body.errors?.map((e: { name: string }) => e.name),
        `${method} ${path}`,
      ).to.deep.equal([name]);
    }
    for (const [body, name] of [
      [{ name: 'x' }, 'tenant_id'],
      [{ tenant_id: 'acme', name: '' }, 'name'],
      [{ tenant_id: ['acme'] }, 'tenant_id'],
    ] as const) {
      const res = await call(url, 'POST', '/api/admin/api-keys/', { key: ADMIN_KEY, body });
      expectProblem(res, 400);
      expect(res.body.errors.map((e: { name: string }) => e.name)).to.deep.equal([name]);
    }
    for (const [body, name] of [
      [{ ids: ['1-1', 'x'] }, 'ids'],
      [{ ids: [] }, 'ids'],
      [{ all: 'yes' }, 'all'],
    ] as const) {
      const res = await call(url, 'POST', '/api/admin/webhooks/dead-letters/replay/', { key: ADMIN_KEY, body });
      expectProblem(res, 400);
      expect(res.body.errors.map((e: { name: string }) => e.name)).to.deep.equal([name]);
    }
    const fine = await call(url, 'GET', '/api/admin/api-keys/?limit=250&tenant_id=acme', { key: ADMIN_KEY });
    expect(fine.status, fine.text).to.equal(200);
  });
});
