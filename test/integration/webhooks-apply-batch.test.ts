import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { sql } from 'kysely';
import { loadConfig } from '../../src/config.js';
import { createSecretBox } from '../../src/platform/crypto.js';
import { createDb, dropDatabase, ensureDatabase } from '../../src/platform/db.js';
import { createLogger } from '../../src/platform/logger.js';
import { createMetrics } from '../../src/platform/metrics.js';
import { sealAccessToken } from '../../src/store/integration-secrets.js';
import { createIntegration, updateIntegration } from '../../src/store/integrations.js';
import { migrateToLatest } from '../../src/store/migrate.js';
import type { Database } from '../../src/store/schema.js';
import { applyBatch, type ApplyBatchContext, type BatchEntry } from '../../src/webhooks/apply-batch.js';
import { encodeEnvelope } from '../../src/webhooks/stream.js';
import { captureLogs } from '../support/logs.js';
import { newId, product } from '../support/seed.js';
import { TEST_DATABASE_SERVER, uniqueName } from '../support/context.js';

const MAX_DELIVERIES = 3;

/**
 * The webhook use case on its own: MariaDB only, no Redis anywhere (the context has no client), entries
 * built as the stream would hand them over. The consumer carries the outcome out on the stream.
 */
describe('applyBatch (the webhook use case, without Redis)', function () {
  this.timeout(20_000);
  const databaseUrl = `${TEST_DATABASE_SERVER}/${uniqueName('shopint_test')}`;
  const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: databaseUrl, WEBHOOK_MAX_DELIVERIES: String(MAX_DELIVERIES) });
  const secrets = createSecretBox(config.encryption.key);
  const db = createDb<Database>(databaseUrl, 4);
  const logs = captureLogs();
  let ctx: ApplyBatchContext;
  let owner: { integrationId: number; tenantId: string; shop: string };

  async function connect(tenantId: string) {
    const shop = `${tenantId}.myshopify.com`;
    const integration = await createIntegration(db, {
      tenant_id: tenantId,
      shop_domain: shop,
      access_token_encrypted: sealAccessToken(secrets, { tenant_id: tenantId, shop_domain: shop }, 'shpat_seeded'),
      encryption_key_id: secrets.currentKeyId,
      api_version: config.shopify.apiVersion,
      shop_currency: 'USD',
    });
    return { integrationId: integration.id, tenantId, shop };
  }

  let nextEntry = 1;
  /** A stream entry of `topic` for `to`, as ingest wrote it. */
  function entry(topic: string, payload: unknown, opts: { to?: typeof owner; eventId?: string; deliveries?: number } = {}): BatchEntry {
    const to = opts.to ?? owner;
    const fields = encodeEnvelope({
      topic,
      shop: to.shop,
      integrationId: to.integrationId,
      tenantId: to.tenantId,
      webhookId: null,
      eventId: opts.eventId ?? randomUUID(),
      triggeredAt: new Date(),
      apiVersion: '2026-10',
      receivedAt: new Date(),
      body: JSON.stringify(payload),
    }) as Record<string, string>;
    return { id: `${Date.now()}-${nextEntry++}`, fields, deliveries: opts.deliveries ?? 1 };
  }

  const productIds = async (tenantId = owner.tenantId) => (await db.selectFrom('shopify_products').select('id').where('tenant_id', '=', tenantId).execute()).map((r) => Number(r.id));
  const countApplied = async (result: string) => (await ctx.metrics.webhooksApplied.get()).values.filter((v) => v.labels.result === result).reduce((sum, v) => sum + v.value, 0);
  const recorded = async (eventId: string) => (await db.selectFrom('shopify_webhook_events').select('event_id').where('event_id', '=', eventId).executeTakeFirst()) !== undefined;

  before(async () => {
    await ensureDatabase(databaseUrl);
    await migrateToLatest(db);
    ctx = { db, config, logger: createLogger({ level: 'debug' }, logs.stream), metrics: createMetrics(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)), stopping: () => false };
    owner = await connect('apply-batch');
  });
  after(async () => {
    await db.destroy();
    await dropDatabase(databaseUrl);
  });

  it('when a batch holds new events, a redelivered one, an unreadable entry and a deleted one, then each gets its fate and the new ones are applied once', async () => {
    const first = product();
    const second = product();
    const original = entry('products/create', first);
    await applyBatch(ctx, [original]);
    // Shopify retried it: a new stream entry carrying the same event id.
    const redelivered = { ...original, id: `${Date.now()}-${nextEntry++}` };
    const unreadable = { id: `${Date.now()}-${nextEntry++}`, fields: { topic: 'products/create', body: '{}' }, deliveries: 1 };
    const deleted = { id: `${Date.now()}-${nextEntry++}`, fields: null, deliveries: 1 };
    const fresh = entry('products/create', second);
    const duplicatesBefore = await countApplied('duplicate');

    const outcome = await applyBatch(ctx, [redelivered, unreadable, deleted, fresh]);

    expect(outcome.ack).to.have.members([redelivered.id, deleted.id, fresh.id]);
    expect(outcome.deadLetter.map((d) => d.id)).to.deep.equal([unreadable.id]);
    expect(outcome.deadLetter[0]?.error).to.equal('stream entry has no integration_id');
    expect(outcome.retry).to.deep.equal([]);
    expect(await productIds()).to.include.members([first.id, second.id]);
    expect(await countApplied('duplicate')).to.equal(duplicatesBefore + 1);
    expect(await countApplied('applied')).to.be.at.least(2);
  });

  it('when a bulk operation finish arrives, then it is acknowledged with the operation to wake; one naming no operation is dead-lettered', async () => {
    const finished = entry('bulk_operations/finish', { admin_graphql_api_id: 'gid://shopify/BulkOperation/77', status: 'completed', error_code: null, type: 'query' });
    const unnamed = entry('bulk_operations/finish', { status: 'completed' });
    const outcome = await applyBatch(ctx, [finished, unnamed]);
    expect(outcome.ack).to.deep.equal([finished.id]);
    expect(outcome.bulkFinished).to.deep.equal([{ integrationId: owner.integrationId, operation: 'gid://shopify/BulkOperation/77' }]);
    expect(outcome.deadLetter.map((d) => d.id)).to.deep.equal([unnamed.id]);
  });

  it('when an event cannot be mapped, then it is dead-lettered before MySQL and the rest of its batch is applied', async () => {
    const good = product();
    const unmappable = entry('products/update', { title: 'no id' });
    const applied = entry('products/update', good);
    const outcome = await applyBatch(ctx, [unmappable, applied]);
    expect(outcome.deadLetter.map((d) => d.id)).to.deep.equal([unmappable.id]);
    expect(outcome.deadLetter[0]?.fields).to.deep.equal(unmappable.fields);
    expect(outcome.ack).to.deep.equal([applied.id]);
    expect(await productIds()).to.include(good.id);
  });

  it("when an entry's integration no longer holds its shop, then it is acknowledged and nothing is written", async () => {
    const released = await connect('apply-batch-released');
    // The shop moved on (to another tenant): what was queued for this integration is of an earlier installation.
    await updateIntegration(db, released.integrationId, { shop_released_at: new Date() });
    const late = product();
    const stale = entry('products/create', late, { to: released });
    const outcome = await applyBatch(ctx, [stale]);
    expect(outcome).to.deep.include({ ack: [stale.id], deadLetter: [], retry: [] });
    expect(await productIds(released.tenantId)).to.deep.equal([]);
    expect(await recorded(stale.fields?.event_id as string)).to.equal(false);
  });

  it(`when entries were delivered more than ${MAX_DELIVERIES} times, then an applied one is acknowledged and the other is dead-lettered without being tried`, async () => {
    const applied = entry('products/create', product());
    await applyBatch(ctx, [applied]);
    const never = product();
    const suspects = [{ ...applied, deliveries: MAX_DELIVERIES + 1 }, entry('products/create', never, { deliveries: MAX_DELIVERIES + 1 })];
    const outcome = await applyBatch(ctx, suspects);
    expect(outcome.ack).to.deep.equal([applied.id]);
    expect(outcome.deadLetter.map((d) => [d.id, d.deliveries])).to.deep.equal([[suspects[1]!.id, MAX_DELIVERIES + 1]]);
    expect(outcome.deadLetter[0]?.error).to.match(/delivered 4 times/);
    expect(await productIds()).not.to.include(never.id);
  });

  it('when MySQL rejects one event of a batch, then the others are applied one by one and it waits for another delivery, or is dead-lettered at the last one', async () => {
    await sql`CREATE TRIGGER apply_batch_guard BEFORE INSERT ON shopify_products FOR EACH ROW
      BEGIN IF NEW.title = 'Refused product' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'refused product'; END IF; END`.execute(db);
    try {
      const goods = [product(), product()];
      const refused = product({ title: 'Refused product' });
      const bad = entry('products/create', refused);
      const batch = [entry('products/create', goods[0]), bad, entry('products/create', goods[1])];
      const outcome = await applyBatch(ctx, batch);
      expect(outcome.ack).to.have.members([batch[0]!.id, batch[2]!.id]);
      expect(outcome.retry).to.deep.equal([bad.id]);
      expect(outcome.deadLetter).to.deep.equal([]);
      expect(await productIds()).to.include.members(goods.map((g) => g.id));

      const last = await applyBatch(ctx, [{ ...bad, deliveries: MAX_DELIVERIES }]);
      expect(last.deadLetter.map((d) => d.id)).to.deep.equal([bad.id]);
      expect(last.deadLetter[0]?.error).to.match(/products\/create: .*refused product/);
      expect(await productIds()).not.to.include(refused.id);
    } finally {
      await sql`DROP TRIGGER IF EXISTS apply_batch_guard`.execute(db);
    }
  });

  it('when a customer is redacted, then the outcome names the redaction so the stream can erase it too, and a redelivery names it again', async () => {
    const customerId = newId();
    const redact = entry('customers/redact', { shop_domain: owner.shop, customer: { id: customerId, email: 'gone@example.com' }, orders_to_redact: [] });
    const outcome = await applyBatch(ctx, [redact]);
    expect(outcome.ack).to.deep.equal([redact.id]);
    expect(outcome.redactions.map((e) => e.topic)).to.deep.equal(['customers/redact']);
    const again = await applyBatch(ctx, [{ ...redact, id: `${Date.now()}-${nextEntry++}` }]);
    expect(again.redactions).to.have.length(1);
  });

  it('when MySQL is unreachable and the caller stops, then the whole batch is left pending: nothing acknowledged or dead-lettered', async () => {
    const unreachable = createDb<Database>('mysql://root@127.0.0.1:1/nowhere', 1);
    let waits = 0;
    try {
      const stoppingCtx: ApplyBatchContext = { ...ctx, db: unreachable, sleep: async () => void waits++, stopping: () => waits >= 2 };
      const batch = [entry('products/create', product()), entry('products/create', product())];
      const outcome = await applyBatch(stoppingCtx, batch);
      expect(outcome).to.deep.equal({ ack: [], deadLetter: [], retry: batch.map((e) => e.id), redactions: [], bulkFinished: [] });
      expect(waits, 'held and retried before the stop').to.equal(2);
    } finally {
      await unreachable.destroy();
    }
  });
});
