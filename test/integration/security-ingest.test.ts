import { createHash } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import { defaultToken, startMockShopify, type MockShopify } from '../../scripts/mock-shopify/index.js';
import { createContext, closeContext } from '../../src/main/context.js';
import { redisKeys } from '../../src/platform/redis.js';
import { trimExpiredDeadLetters } from '../../src/maintenance/retention.js';
import { seedIntegration } from '../support/seed.js';
import { announceShopConnected } from '../../src/platform/shop-events.js';
import { webhookKeys } from '../../src/webhooks/stream.js';
import { ADMIN_KEY, startTestContext, type TestContext } from '../support/context.js';
import { call, expectProblem, type ApiResponse } from '../support/http.js';
import { connectShop, drained, runConsumers, sendWebhook, streamLength, waitFor, type RawWebhook } from '../support/webhooks.js';

const APP_SECRET = 'test-app-secret';

/** Sends `count` deliveries built by `make`, `concurrency` at a time; returns the statuses. */
async function sendMany(url: string, count: number, make: (i: number) => RawWebhook, concurrency = 50): Promise<number[]> {
  const statuses: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        statuses[i] = (await sendWebhook(url, make(i))).status;
      }
    }),
  );
  return statuses;
}

/** SELECTs run so far on the context's only pooled connection (DATABASE_POOL_SIZE=1): MariaDB's own counter. */
async function selectsSoFar(t: TestContext): Promise<number> {
  const { rows } = await sql<{ Value: string }>`SHOW SESSION STATUS LIKE 'Com_select'`.execute(t.ctx.db);
  return Number(rows[0]?.Value);
}

const countBy = (values: number[]) => values.reduce<Record<number, number>>((acc, v) => ({ ...acc, [v]: (acc[v] ?? 0) + 1 }), {});

/** Per-minute quotas count in whole minutes: start a quota test well inside one. */
async function awayFromMinuteEnd(): Promise<void> {
  const left = 60_000 - (Date.now() % 60_000);
  if (left < 5000) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

describe('security: webhook ingest under floods (unknown shops, forged and over-quota deliveries)', () => {
  describe('unknown shops and failing sources', () => {
    let t: TestContext;
    let mock: MockShopify;
    before(async () => {
      mock = await startMockShopify({ apiSecret: APP_SECRET, shops: [{ domain: 'late-connect.myshopify.com' }], rateLimit: { enabled: false } });
      t = await startTestContext({
        SHOPIFY_API_SECRET: APP_SECRET,
        SHOPIFY_API_KEY: mock.apiKey,
        SHOPIFY_API_BASE_URL: mock.baseUrlTemplate,
        SHOPIFY_MAX_REQUESTS_PER_SECOND: '1000',
        SHOPIFY_BUCKET_SIZE: '1000',
        DATABASE_POOL_SIZE: '1',
        // Long enough that only an invalidation explains a connect being seen.
        WEBHOOK_UNKNOWN_SHOP_CACHE_MS: '600000',
        WEBHOOK_SOURCE_MAX_AUTH_FAILURES_PER_MINUTE: '20',
      });
      await connectShop(t.ctx, 'reader', 'reader.myshopify.com');
    });
    after(async () => {
      await t?.close();
      await mock?.close();
    });

    it("when 2,000 deliveries for an unknown shop arrive, then they cost at most a handful of SELECTs and another tenant's read still answers", async () => {
      const key = await t.keyFor('reader');
      // What one read costs once warm (its key is then cached), to tell the flood's SELECTs from the reads'.
      const readOnce = async () => {
        const before = await selectsSoFar(t);
        const res = await call(t.url, 'GET', '/api/shopify/customers/', { key });
        expect(res.status, res.text).to.equal(200);
        return (await selectsSoFar(t)) - before;
      };
      await readOnce();
      const readSelects = await readOnce();

      const start = await selectsSoFar(t);
      const reads: number[] = [];
      let flooding = true;
      const reader = (async () => {
        while (flooding) {
          const began = performance.now();
          const res = await call(t.url, 'GET', '/api/shopify/customers/', { key });
          expect(res.status, res.text).to.equal(200);
          reads.push(performance.now() - began);
        }
      })();
      // Signed with the app secret (as Shopify signs for a shop that uninstalled): 404, never charged to the source.
      const statuses = await sendMany(t.url, 2000, () => ({ topic: 'products/update', shop: 'nobody-here.myshopify.com', secret: APP_SECRET, body: '{"id":1}' }));
      flooding = false;
      await reader;
      const floodSelects = (await selectsSoFar(t)) - start - reads.length * readSelects;

      expect(countBy(statuses)).to.deep.equal({ 404: 2000 });
      expect(floodSelects, 'SELECTs caused by the flood').to.be.at.most(2);
      expect(reads.length, 'reads answered meanwhile').to.be.greaterThan(0);
      const median = [...reads].sort((a, b) => a - b)[Math.floor(reads.length / 2)] ?? 0;
      console.log(
        `      2,000 unknown-shop deliveries: ${floodSelects} SELECT(s); ${reads.length} reads of another tenant meanwhile, median ${Math.round(median)} ms, slowest ${Math.round(Math.max(...reads))} ms`,
      );
    });

    it('when an unknown shop is connected through the API, then its webhooks are accepted at once (the cached miss is dropped)', async () => {
      const shop = 'late-connect.myshopify.com';
      const delivery = () => sendWebhook(t.url, { topic: 'customers/update', shop, secret: APP_SECRET, body: '{"id":7,"updated_at":"2024-01-01T00:00:00Z"}' });
      expectProblem(await delivery(), 404);
      const connected = await call(t.url, 'POST', '/api/shopify/connect/', { key: await t.keyFor('late'), body: { shop_domain: shop, access_token: defaultToken(shop) } });
      expect(connected.status, connected.text).to.be.oneOf([200, 201]);
      const res = await delivery();
      expect(res.status, res.text).to.equal(200);
      expect(res.body.status).to.equal('queued');
    });

    it('when another process announces a connect, then this process drops its cached miss too (Redis pub/sub)', async () => {
      const shop = 'other-process.myshopify.com';
      const delivery = () => sendWebhook(t.url, { topic: 'customers/update', shop, secret: APP_SECRET, body: '{"id":8,"updated_at":"2024-01-01T00:00:00Z"}' });
      expectProblem(await delivery(), 404);
      await seedIntegration(t.ctx, 'other-process', shop);
      expectProblem(await delivery(), 404); // still the cached miss: nobody announced the connect
      const otherProcess = await createContext(t.config, t.ctx.logger);
      try {
        await announceShopConnected(otherProcess, shop);
      } finally {
        await closeContext(otherProcess);
      }
      const res = await waitFor(
        'the connect to reach the API process',
        async () => {
          const r = await delivery();
          return r.status === 200 ? r : undefined;
        },
        2000,
      );
      expect(res.body.status).to.equal('queued');
    });

    it('when one address keeps sending forged deliveries, then past its budget it gets 429 with Retry-After before any lookup, and other addresses are still heard', async () => {
      const attacker = { 'x-forwarded-for': '203.0.113.7' };
      const start = await selectsSoFar(t);
      // Each for another invented shop, so without the limit every one would cost a SELECT.
      const statuses = await sendMany(t.url, 200, (i) => ({ topic: 'products/update', shop: `forged-${i}.myshopify.com`, secret: 'not-the-app-secret', body: '{"id":1}', headers: attacker }), 1);
      const selects = (await selectsSoFar(t)) - start;
      expect(countBy(statuses)).to.deep.equal({ 401: 20, 429: 180 });
      expect(selects, 'SELECTs: only the deliveries before the limit').to.be.at.most(20);

      const refused = await sendWebhook(t.url, { topic: 'customers/update', shop: 'reader.myshopify.com', secret: APP_SECRET, body: '{"id":9}', headers: attacker });
      expectProblem(refused, 429);
      expect(Number(refused.headers.get('retry-after'))).to.be.within(1, 60);

      const other = await sendWebhook(t.url, { topic: 'customers/update', shop: 'reader.myshopify.com', secret: APP_SECRET, body: '{"id":9}', headers: { 'x-forwarded-for': '198.51.100.20' } });
      expect(other.status, other.text).to.equal(200);
    });
  });

  describe('per-shop quotas and bounded Redis state', () => {
    let t: TestContext;
    let stopConsumers: (() => Promise<void>) | undefined;
    before(async () => {
      t = await startTestContext({
        SHOPIFY_API_SECRET: APP_SECRET,
        WEBHOOK_SHOP_MAX_PER_MINUTE: '40',
        WEBHOOK_SHOP_MAX_BYTES_PER_MINUTE: String(48 * 1024 * 1024),
        SHOPIFY_WEBHOOK_TOPICS: 'products/update,customers/update,orders/create,customers/redact,shop/redact',
      });
      for (const name of ['quota', 'bytes', 'neighbour', 'flood', 'topics', 'redact']) await connectShop(t.ctx, `t-${name}`, `${name}.myshopify.com`);
    });
    after(async () => {
      await stopConsumers?.();
      await t?.close();
    });

    it('when a tenant signs 20 unmappable 2 MB bodies, then the dead letters keep 64 KB of each (size and SHA-256 of the original), a few MB in all, and they cannot be replayed', async () => {
      const stop = await runConsumers(t);
      const keys = webhookKeys(t.ctx);
      const bodies = Array.from({ length: 20 }, (_, i) => JSON.stringify({ id: 5000 + i, updated_at: 'not a date', padding: 'x'.repeat(2_000_000) }));
      const statuses = await sendMany(t.url, 20, (i) => ({ topic: 'customers/update', shop: 'flood.myshopify.com', secret: APP_SECRET, body: bodies[i]! }), 4);
      expect(countBy(statuses)).to.deep.equal({ 200: 20 });
      await drained(t.ctx);
      await stop();
      const memory = Number(await t.ctx.redis.memoryUsage(keys.deadLetters));
      console.log(`      dead letters of 20 unmappable 2 MB bodies: ${(memory / 1024 / 1024).toFixed(2)} MB in Redis (the bodies: ${((20 * bodies[0]!.length) / 1024 / 1024).toFixed(1)} MB)`);
      expect(Number(await t.ctx.redis.xLen(keys.deadLetters))).to.equal(20);
      expect(memory, 'MEMORY USAGE of the dead-letter stream (was ~52 MB)').to.be.below(2 * 1024 * 1024);

      const list = await call(t.url, 'GET', '/api/admin/webhooks/dead-letters/?limit=250', { key: ADMIN_KEY });
      expect(list.status, list.text).to.equal(200);
      const letters = list.body.data.filter((d: { shop_domain: string }) => d.shop_domain === 'flood.myshopify.com');
      expect(letters).to.have.length(20);
      const sums = new Set(bodies.map((b) => createHash('sha256').update(b).digest('hex')));
      for (const letter of letters) {
        expect(letter).to.include({ body_truncated: true, body_bytes: Buffer.byteLength(bodies[0]!) });
        expect(sums.has(letter.body_sha256), 'sha256 of an original body').to.equal(true);
      }
      const [stored] = (await t.ctx.redis.xRange(keys.deadLetters, letters[0].id, letters[0].id)) ?? [];
      expect(Buffer.byteLength(stored!.message.body!)).to.be.at.most(64 * 1024);

      const replay = await call(t.url, 'POST', '/api/admin/webhooks/dead-letters/replay/', { key: ADMIN_KEY, body: { ids: letters.map((l: { id: string }) => l.id) } });
      expect(replay.status, replay.text).to.equal(200);
      expect(replay.body.replayed).to.equal(0);
      expect(replay.body.not_replayable).to.have.members(letters.map((l: { id: string }) => l.id));
      expect(Number(await t.ctx.redis.xLen(keys.deadLetters))).to.equal(list.body.data.length);
    });

    it('when a shop sends more deliveries in a minute than WEBHOOK_SHOP_MAX_PER_MINUTE, then the rest get 429 with Retry-After, nothing more is stored, and other shops are still accepted', async () => {
      await awayFromMinuteEnd();
      const before = await streamLength(t.ctx);
      const statuses = await sendMany(t.url, 50, (i) => ({ topic: 'customers/update', shop: 'quota.myshopify.com', secret: APP_SECRET, body: JSON.stringify({ id: i + 1 }) }), 5);
      expect(countBy(statuses)).to.deep.equal({ 200: 40, 429: 10 });
      expect(await streamLength(t.ctx)).to.equal(before + 40);
      const refused = await sendWebhook(t.url, { topic: 'customers/update', shop: 'quota.myshopify.com', secret: APP_SECRET, body: '{"id":99}' });
      expectProblem(refused, 429);
      const retryAfter = Number(refused.headers.get('retry-after'));
      expect(retryAfter).to.be.within(1, 60);
      expect(retryAfter, 'the seconds left in the minute').to.be.closeTo(Math.ceil((60_000 - (Date.now() % 60_000)) / 1000), 1);
      const neighbour = await sendWebhook(t.url, { topic: 'customers/update', shop: 'neighbour.myshopify.com', secret: APP_SECRET, body: '{"id":1}' });
      expect(neighbour.status, neighbour.text).to.equal(200);
    });

    it('when a shop sends more bytes in a minute than WEBHOOK_SHOP_MAX_BYTES_PER_MINUTE, then it gets 429 once over', async () => {
      await awayFromMinuteEnd();
      const body = JSON.stringify({ id: 1, padding: 'x'.repeat(2_000_000) });
      const fits = Math.floor((48 * 1024 * 1024) / Buffer.byteLength(body));
      const statuses: number[] = [];
      for (let i = 0; i < fits + 3; i++) statuses.push((await sendWebhook(t.url, { topic: 'customers/update', shop: 'bytes.myshopify.com', secret: APP_SECRET, body })).status);
      expect(statuses).to.deep.equal([...Array(fits).fill(200), 429, 429, 429]);
    });

    it('when dead letters are older than WEBHOOK_DEAD_LETTER_RETENTION_DAYS, then the retention pass trims them and keeps the recent ones', async () => {
      const keys = webhookKeys(t.ctx);
      const recent = Number(await t.ctx.redis.xLen(keys.deadLetters));
      expect(recent).to.be.greaterThan(0);
      // Dead letters of 8 days ago (ids carry their time) in another deployment's keys, since ids only grow.
      const olderKeys = redisKeys(`${t.config.redisKeyPrefix}:older`);
      const old = webhookKeys({ keys: olderKeys });
      const eightDaysAgo = Date.now() - 8 * 86_400_000;
      for (let i = 0; i < 3; i++) await t.ctx.redis.xAdd(old.deadLetters, `${eightDaysAgo + i}-0`, { topic: 'customers/update', body: '{}' });
      await t.ctx.redis.xAdd(old.deadLetters, '*', { topic: 'customers/update', body: '{}' });
      expect(await trimExpiredDeadLetters({ ...t.ctx, keys: olderKeys })).to.equal(3);
      expect(Number(await t.ctx.redis.xLen(old.deadLetters))).to.equal(1);
      expect(await trimExpiredDeadLetters(t.ctx), 'recent ones stay').to.equal(0);
      expect(Number(await t.ctx.redis.xLen(keys.deadLetters))).to.equal(recent);
    });

    it('when deliveries name topics the service does not take, then the ignored-topics hash only has fixed labels', async () => {
      const ignored = webhookKeys(t.ctx).ignored;
      const statuses = await sendMany(t.url, 100, (i) => ({ topic: i % 10 === 0 ? 'products/create' : `invented/topic-${i}`, shop: 'topics.myshopify.com', secret: APP_SECRET, body: '{}' }), 10);
      expect(countBy(statuses)).to.deep.equal({ 200: 100 });
      expect(await t.ctx.redis.hGetAll(ignored)).to.deep.equal({ other: '90', 'products/create': '10' });
      const stats = await call(t.url, 'GET', '/api/admin/webhooks/stats/', { key: ADMIN_KEY });
      expect(stats.body.ignored).to.equal(100);
    });

    describe('redactions reach the dead letters and the backlog', () => {
      const shop = 'redact.myshopify.com';
      const deadLettersOf = async (shopDomain: string) => {
        const entries = (await t.ctx.redis.xRange(webhookKeys(t.ctx).deadLetters, '-', '+')) ?? [];
        return entries.filter((e) => e.message.shop === shopDomain);
      };
      const poison = (body: Record<string, unknown>, topic = 'customers/update'): RawWebhook => ({ topic, shop, secret: APP_SECRET, body: JSON.stringify({ updated_at: 'not a date', ...body }) });

      it("when customers/redact is applied, then the shop's dead letters naming the customer (id or email) are deleted, and the others stay", async () => {
        stopConsumers ??= await runConsumers(t);
        const sent: ApiResponse[] = [];
        sent.push(await sendWebhook(t.url, poison({ id: 4242, email: 'jane@example.com' })));
        sent.push(await sendWebhook(t.url, poison({ id: 'x', customer: { id: 4242 } }, 'orders/create')));
        sent.push(await sendWebhook(t.url, poison({ id: 777, note: 'ask JANE@example.com' })));
        sent.push(await sendWebhook(t.url, poison({ id: 5353, email: 'other@example.com', ref: 42420 })));
        for (const res of sent) expect(res.status, res.text).to.equal(200);
        await drained(t.ctx);
        expect(await deadLettersOf(shop)).to.have.length(4);

        const redact = await sendWebhook(t.url, {
          topic: 'customers/redact',
          shop,
          secret: APP_SECRET,
          body: JSON.stringify({ shop_domain: shop, customer: { id: 4242, email: 'jane@example.com' }, orders_to_redact: [] }),
        });
        expect(redact.status, redact.text).to.equal(200);
        await drained(t.ctx);
        const left = await waitFor(
          'the redaction to reach the dead letters',
          async () => {
            const letters = await deadLettersOf(shop);
            return letters.length === 1 ? letters : undefined;
          },
          5000,
        );
        expect(JSON.parse(left[0]!.message.body!)).to.include({ id: 5353 });
      });

      it("when shop/redact is applied, then every dead letter of the integration is deleted; other shops' stay", async () => {
        stopConsumers ??= await runConsumers(t);
        expect((await sendWebhook(t.url, poison({ id: 6001 }))).status).to.equal(200);
        await drained(t.ctx);
        const elsewhere = (await deadLettersOf('flood.myshopify.com')).length;
        expect(elsewhere).to.be.greaterThan(0);
        const redact = await sendWebhook(t.url, { topic: 'shop/redact', shop, secret: APP_SECRET, body: JSON.stringify({ shop_domain: shop, shop_id: 1 }) });
        expect(redact.status, redact.text).to.equal(200);
        await drained(t.ctx);
        await waitFor("the shop's dead letters to go", async () => (await deadLettersOf(shop)).length === 0, 5000);
        expect(await deadLettersOf('flood.myshopify.com')).to.have.length(elsewhere);
      });

      it("when a tenant purges its store, then its entries still waiting in the stream and its dead letters are dropped, and other tenants' backlog stays", async () => {
        await stopConsumers?.();
        stopConsumers = undefined;
        await t.ctx.db.updateTable('shopify_integrations').set({ token_revoked_at: new Date() }).where('tenant_id', '=', 't-topics').execute();
        const keys = webhookKeys(t.ctx);
        for (let i = 0; i < 5; i++)
          expect((await sendWebhook(t.url, { topic: 'customers/update', shop: 'topics.myshopify.com', secret: APP_SECRET, body: JSON.stringify({ id: 100 + i }) })).status).to.equal(200);
        for (let i = 0; i < 3; i++) expect((await sendWebhook(t.url, { topic: 'customers/update', shop, secret: APP_SECRET, body: JSON.stringify({ id: 200 + i }) })).status).to.equal(200);
        await t.ctx.redis.xAdd(keys.deadLetters, '*', {
          topic: 'customers/update',
          shop: 'topics.myshopify.com',
          integration_id: String((await t.ctx.db.selectFrom('shopify_integrations').select('id').where('tenant_id', '=', 't-topics').executeTakeFirstOrThrow()).id),
          body: '{"id":1}',
        });

        const purge = await call(t.url, 'DELETE', '/api/shopify/connect/?purge=true', { key: await t.keyFor('t-topics') });
        expect(purge.status, purge.text).to.equal(200);
        const left = (await t.ctx.redis.xRange(keys.stream, '-', '+')) ?? [];
        expect(
          left.filter((e) => e.message.shop === 'topics.myshopify.com'),
          'backlog of the purged store',
        ).to.have.length(0);
        expect(left, 'backlog of the others').to.have.length(3);
        expect(await deadLettersOf('topics.myshopify.com'), 'dead letters of the purged store').to.have.length(0);
      });
    });
  });
});
