import { writeFileSync } from 'node:fs';
import http from 'node:http';
import { expect } from 'chai';
import { startMockShopify, type MockShopify } from '../../scripts/mock-shopify/index.js';
import { RESOURCE_NAMES } from '../../src/resources/index.js';
import { createApiKey, revokeApiKey } from '../../src/store/api-keys.js';
import { sequenceChangeEvents } from '../../src/store/change-events.js';
import { putMapping } from '../../src/store/mappings.js';
import { createSyncLog } from '../../src/store/sync-logs.js';
import { createEndpoint, type WebhookEndpoint } from '../../src/store/webhook-endpoints.js';
import { webhookKeys } from '../../src/webhooks/stream.js';
import { ADMIN_KEY, startTestContext, type TestContext } from '../support/context.js';
import { fuzz, judge, problemValidator, send, type FuzzVerdict } from '../support/fuzz-client.js';
import { changedTables, databaseFingerprint } from '../support/fuzz-db.js';
import { generateRequests, loadContract, operationsOf, type FuzzFixture } from '../support/fuzz-requests.js';
import { customer, inventoryLevel, order, product, seedIntegration, seedRecords } from '../support/seed.js';

const APP_SECRET = 'test-app-secret';
const SHOP = 'fuzz-a.myshopify.com';

/** The first few failures, readable: which operation, what varied, what came back. */
function report(verdicts: FuzzVerdict[]): string[] {
  return verdicts
    .filter((v) => v.problems.length > 0)
    .slice(0, 25)
    .map((v) => `${v.request.op} [${v.request.label.slice(0, 90)}] ${v.request.method} ${v.request.path.slice(0, 120)} → ${v.response?.status ?? 'no answer'}: ${v.problems.join('; ')}`);
}

/** FUZZ_DUMP=<file> writes every failing request there (the assertion shows the first 25). */
function dumpFailures(verdicts: FuzzVerdict[]): void {
  if (!process.env.FUZZ_DUMP) return;
  const lines = verdicts
    .filter((v) => v.problems.length > 0)
    .map((v) => `${v.request.op} [${v.request.label}] ${v.request.method} ${v.request.path.slice(0, 150)} -> ${v.response?.status}: ${v.problems.join('; ')}`);
  writeFileSync(process.env.FUZZ_DUMP, lines.join('\n'));
}

describe('bad input: requests derived from the contract', function () {
  this.timeout(120_000);
  let t: TestContext;
  let mock: MockShopify;
  let fixture: FuzzFixture;
  /** The tenant's webhook endpoint, as seeded: put back after a DELETE removed it, so later requests find it. */
  let endpoint: WebhookEndpoint;

  before(async () => {
    // Connect attempts reach a mock Shopify that knows none of the fuzzer's tokens (never the internet).
    mock = await startMockShopify({ apiSecret: APP_SECRET, shops: [{ domain: SHOP }] });
    // The fuzzer sends 20 requests of one tenant at once: the per-tenant read cap (tested in read-bounds) sits above that.
    t = await startTestContext({
      SHOPIFY_API_BASE_URL: mock.baseUrlTemplate,
      SHOPIFY_API_SECRET: APP_SECRET,
      SHOPIFY_MAX_RETRY_ATTEMPTS: '0',
      SHOPIFY_MAX_REQUESTS_PER_SECOND: '10000',
      SHOPIFY_BUCKET_SIZE: '100000',
      API_MAX_CONCURRENT_READS_PER_TENANT: '64',
    });
    const owner = await seedIntegration(t.ctx, 'fuzz-a', SHOP);
    const buyer = 6_100_000_000_001;
    const products = Array.from({ length: 12 }, () => product());
    const orders = Array.from({ length: 12 }, () => order({ customer: { id: buyer, email: 'buyer@example.com' } }));
    const levels = Array.from({ length: 8 }, () => inventoryLevel({ location_id: 5_100_000_000_001 }));
    await seedRecords(t.ctx, owner, 'products', products);
    await seedRecords(t.ctx, owner, 'orders', orders);
    await seedRecords(t.ctx, owner, 'customers', [customer({ id: buyer }), ...Array.from({ length: 8 }, () => customer())]);
    await seedRecords(t.ctx, owner, 'inventory', levels);
    for (const resource of ['products', 'orders', 'customers']) {
      await createSyncLog(t.ctx.db, {
        tenant_id: 'fuzz-a',
        integration_id: owner.integrationId,
        resource,
        trigger: 'manual',
        mode: 'full',
        status: 'succeeded',
        job_id: null,
        finished_at: new Date(),
      });
    }
    // A mapping of every resource, so `view=mapped` and previews of the saved mapping succeed (DELETEs run last).
    for (const resource of RESOURCE_NAMES) await putMapping(t.ctx.db, 'fuzz-a', resource, 'id');
    const revoked = await createApiKey(t.ctx.db, 'fuzz-a', 'revoked');
    await revokeApiKey(t.ctx.db, revoked.record.id);
    const victim = await createApiKey(t.ctx.db, 'fuzz-victim', 'to be revoked');
    endpoint = await createEndpoint(
      t.ctx.db,
      t.ctx.secrets,
      'fuzz-a',
      { url: 'https://93.184.215.14/fuzz', description: null, eventTypes: null, useMapping: false, enabled: true },
      'whsec_ZnV6ei1maXh0dXJlLXNlY3JldC0wMTIzNDU2Nzg5YWJj',
    );
    // The seeded records' events get their feed positions now: a feed read does it otherwise, which is a write.
    await sequenceChangeEvents(t.ctx.db);
    fixture = {
      tenantKey: await t.keyFor('fuzz-a'),
      otherTenantKey: await t.keyFor('fuzz-b'),
      revokedKey: revoked.key,
      adminKey: ADMIN_KEY,
      shop: SHOP,
      appSecret: APP_SECRET,
      ids: {
        product: products[0]!.id,
        order: orders[0]!.id,
        customer: buyer,
        inventoryItem: levels[0]!.inventory_item_id as number,
        location: 5_100_000_000_001,
        integration: owner.integrationId,
        victimApiKey: victim.record.id,
        customerOfOrders: buyer,
        webhookEndpoint: endpoint.id,
      },
    };
  });
  after(async () => {
    await t?.close();
    await mock?.close();
  });

  /**
   * A tenant may have 20 endpoints, and a deleted one answers 404 from then on: after a successful create
   * the new endpoint is deleted, and after a successful delete the seeded one is put back, so every later
   * request meets the same state. True when it changed something.
   */
  async function undoWebhookEndpointChanges(op: string, response: { status: number; text: string } | undefined): Promise<boolean> {
    if (op === 'createWebhookEndpoint' && response?.status === 201) {
      await t.ctx.db
        .deleteFrom('webhook_endpoints')
        .where('id', '=', (JSON.parse(response.text) as { id: number }).id)
        .execute();
      return true;
    }
    if (op === 'deleteWebhookEndpoint' && response?.status === 204) {
      await t.ctx.db
        .insertInto('webhook_endpoints')
        .values({ ...endpoint, event_types: null })
        .execute();
      return true;
    }
    return false;
  }

  it('when ≥ 5,000 valid, boundary, invalid and hostile requests hit every operation, then no 5xx, every 4xx is a contract Problem, and rejected requests change nothing', async () => {
    const requests = generateRequests(fixture, { randomCombinations: 50, seed: 2026 });
    const bulk = requests.filter((r) => !r.mutating);
    const oneByOne = requests.filter((r) => r.mutating).sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
    expect(requests.length).to.be.at.least(5000);
    const operations = new Set(requests.map((r) => r.op));
    expect(operations.size, 'every operation of the contract').to.equal(operationsOf(loadContract()).length);

    // 1. Everything that cannot change MySQL when it succeeds: 20 at a time, one fingerprint around all.
    const stream = webhookKeys(t.ctx).stream;
    const streamBefore = Number(await t.ctx.redis.xLen(stream));
    const before = await databaseFingerprint(t.ctx);
    const started = performance.now();
    const verdicts = await fuzz(t.url, bulk, { concurrency: 20 });
    const bulkMs = performance.now() - started;
    dumpFailures(verdicts);
    expect(report(verdicts), 'requests answered against the contract').to.deep.equal([]);
    expect(changedTables(before, await databaseFingerprint(t.ctx)), 'tables changed by the requests').to.deep.equal([]);
    // Nothing lands in the webhook stream but what was answered "queued".
    const queued = verdicts.filter((v) => v.response?.status === 200 && /"queued"/.test(v.response.text)).length;
    expect(Number(await t.ctx.redis.xLen(stream)) - streamBefore, 'stream entries added').to.equal(queued);

    // 2. Requests that may write (sync triggers, key creation and revocation, disconnect): one at a time,
    //    and each rejected one must leave every table as it found it.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const validate = problemValidator();
    let fingerprint = await databaseFingerprint(t.ctx);
    try {
      for (const request of oneByOne) {
        const verdict: FuzzVerdict = { request, problems: [] };
        try {
          verdict.response = await send(t.url, agent, request);
          verdict.problems.push(...judge(request, verdict.response, validate));
        } catch (error) {
          verdict.problems.push(`no answer: ${(error as Error).message}`);
        }
        const next = await databaseFingerprint(t.ctx);
        if ((verdict.response?.status ?? 0) >= 400 && changedTables(fingerprint, next).length > 0) verdict.problems.push(`rejected, yet changed ${changedTables(fingerprint, next).join(', ')}`);
        fingerprint = (await undoWebhookEndpointChanges(request.op, verdict.response)) ? await databaseFingerprint(t.ctx) : next;
        verdicts.push(verdict);
      }
    } finally {
      agent.destroy();
    }

    expect(report(verdicts), 'requests answered against the contract').to.deep.equal([]);
    const byClass: Record<string, number> = {};
    for (const v of verdicts) byClass[`${String(v.response?.status ?? 0)[0]}xx`] = (byClass[`${String(v.response?.status ?? 0)[0]}xx`] ?? 0) + 1;
    expect(byClass['5xx'] ?? 0).to.equal(0);
    console.log(
      `      fuzzed ${verdicts.length} requests over ${operations.size} operations (${bulk.length} at concurrency 20 in ${Math.round(bulkMs)} ms, ${oneByOne.length} writes one by one): ${JSON.stringify(byClass)}`,
    );
  });

  it('when the fuzzer ran, then no secret it used reached the logs', () => {
    const logs = t.logs.text();
    for (const secret of [fixture.tenantKey, fixture.otherTenantKey, fixture.revokedKey, fixture.adminKey, APP_SECRET]) expect(logs).not.to.include(secret);
  });
});
