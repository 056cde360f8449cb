import { expect } from 'chai';
import { pruneExpired } from '../../src/maintenance/retention.js';
import { RESOURCE_NAMES } from '../../src/resources/index.js';
import { sequenceChangeEvents } from '../../src/store/change-events.js';
import type { Integration } from '../../src/store/schema.js';
import { runSync } from '../../src/sync/run-sync.js';
import { expectReplayEqualsApi as expectReplayEqualsApiOf, readFeed as readFeedOf, type FeedEvent, type FeedReadOptions } from '../support/change-feed.js';
import { call, expectProblem } from '../support/http.js';
import { startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import { buildScenario, deliverInOrder } from '../support/webhook-scenario.js';
import { drained, runConsumers, WEBHOOK_PATH } from '../support/webhooks.js';

const SHOP = 'feed.myshopify.com';
const OTHER_SHOP = 'feed-other.myshopify.com';
const TENANT = 't-feed';
const OTHER_TENANT = 't-feed-other';
const SECRET = 'test-app-secret';

describe('change feed: every effective change, in order, replayable to the API data', function () {
  this.timeout(120_000);
  let t: SyncTestContext;
  let integration: Integration;
  let key: string;
  let stopConsumers: () => Promise<void>;
  const shop = () => t.mock.shop(SHOP);

  before(async () => {
    t = await startSyncTestContext(
      {
        apiSecret: SECRET,
        shops: [
          { domain: SHOP, products: 12, customers: 5, orders: 6, locations: 2 },
          { domain: OTHER_SHOP, products: 3, customers: 1, orders: 1, locations: 1 },
        ],
      },
      { SHOPIFY_API_SECRET: SECRET },
    );
    integration = await t.connect(TENANT, SHOP);
    const other = await t.connect(OTHER_TENANT, OTHER_SHOP);
    key = await t.keyFor(TENANT);
    for (const resource of RESOURCE_NAMES) {
      expect((await runSync(t.ctx, { integrationId: integration.id, resource, mode: 'full', trigger: 'manual', jobId: null })).status).to.equal('succeeded');
      expect((await runSync(t.ctx, { integrationId: other.id, resource, mode: 'full', trigger: 'manual', jobId: null })).status).to.equal('succeeded');
    }
    stopConsumers = await runConsumers(t);
    shop().takeEvents();
  });
  after(async () => {
    await stopConsumers?.();
    await t?.close();
  });

  const readFeed = (apiKey: string, opts: FeedReadOptions = {}) => readFeedOf(t.url, apiKey, opts);
  const expectReplayEqualsApi = (events: FeedEvent[]) => expectReplayEqualsApiOf(t.url, key, events);

  it('when the store is synced, then the feed announces each record once as created, and the sync runs', async () => {
    const { events } = await readFeed(key);
    const types = new Set(events.map((e) => e.type));
    expect([...types]).to.include.members(['product.created', 'order.created', 'customer.created', 'inventory_level.updated', 'location.created', 'sync.succeeded']);
    const records = events.filter((e) => e.resource !== null);
    const keys = records.map((e) => `${e.resource}:${e.record_id}`);
    expect(new Set(keys).size, 'one event per record after a first sync').to.equal(keys.length);
    expect(records.filter((e) => e.resource === 'products')).to.have.length(12);
    await expectReplayEqualsApi(events);
  });

  it('when 200 webhooks of creates, updates and deletes are applied, then replaying the feed from its start gives exactly the API data', async () => {
    const scenario = buildScenario(shop(), 200, 5);
    await deliverInOrder(shop(), `${t.url}${WEBHOOK_PATH}`, scenario);
    await drained(t.ctx);
    const { events } = await readFeed(key);
    expect(events.some((e) => e.type === 'product.deleted')).to.equal(true);
    expect(events.some((e) => e.type === 'inventory_level.deleted')).to.equal(true);
    await expectReplayEqualsApi(events);
    // Per record, versions never go backwards along the feed.
    const last = new Map<string, number>();
    for (const e of events.filter((x) => x.updated_at !== null && x.resource !== null)) {
      const at = Date.parse(e.updated_at as string);
      const k = `${e.resource}:${e.record_id}`;
      if (!e.type.endsWith('.deleted')) expect(at, `${k} in version order`).to.be.at.least(last.get(k) ?? 0);
      last.set(k, Math.max(at, last.get(k) ?? 0));
    }
  });

  it('when the same webhooks are delivered again and an unchanged store is fully synced, then no record event is added', async () => {
    // Converged first: the webhooks alone do not bring every level of a new product (the sync does, announced).
    const fullSyncs = async () => {
      for (const resource of RESOURCE_NAMES) {
        expect((await runSync(t.ctx, { integrationId: integration.id, resource, mode: 'full', trigger: 'manual', jobId: null })).status).to.equal('succeeded');
      }
    };
    await fullSyncs();
    const { cursor } = await readFeed(key);
    const again = shop().events.slice(-40);
    await deliverInOrder(shop(), `${t.url}${WEBHOOK_PATH}`, again);
    await drained(t.ctx);
    await fullSyncs();
    const { events } = await readFeed(key, { after: cursor });
    expect(events.filter((e) => e.resource !== null).map((e) => `${e.type} ${e.record_id}`)).to.deep.equal([]);
    expect(events.map((e) => e.type)).to.deep.equal(Array(RESOURCE_NAMES.length).fill('sync.succeeded'));
  });

  it('when a record vanishes at the shop without a webhook, then the full sync sweep announces it deleted', async () => {
    const { cursor } = await readFeed(key);
    const product = shop().catalog.products.entries[0]!;
    shop().deleteProduct(product.id);
    shop().takeEvents();
    expect((await runSync(t.ctx, { integrationId: integration.id, resource: 'products', mode: 'full', trigger: 'manual', jobId: null })).status).to.equal('succeeded');
    const { events } = await readFeed(key, { after: cursor, types: 'product.deleted,inventory_level.deleted' });
    expect(events.map((e) => `${e.type} ${e.record_id}`)).to.include(`product.deleted ${product.id}`);
    await expectReplayEqualsApi((await readFeed(key)).events);
  });

  it('when a customer is redacted, then customer.redacted carries no personal data and no earlier event keeps any', async () => {
    const customer = shop().catalog.customer(shop().catalog.customers.entries[1]!.id)!;
    // The email is the customer's alone (first names repeat across the mock's customers).
    const personal = [customer.email, customer.phone].filter((v): v is string => typeof v === 'string' && v.length > 3);
    expect(personal.length).to.be.greaterThan(0);
    await deliverInOrder(shop(), `${t.url}${WEBHOOK_PATH}`, [shop().complianceEvent('customers/redact', { customerId: customer.id })]);
    await drained(t.ctx);
    const { events } = await readFeed(key);
    const redacted = events.filter((e) => e.type === 'customer.redacted');
    expect(redacted.map((e) => e.record_id)).to.deep.equal([String(customer.id)]);
    const text = JSON.stringify(events).toLowerCase();
    for (const value of personal) expect(text, `the feed keeps no ${value}`).not.to.contain(value.toLowerCase());
    await expectReplayEqualsApi(events);
  });

  it('when types filter the feed, then only those come; another tenant sees none of these events', async () => {
    const { events } = await readFeed(key, { types: 'product.updated', limit: 7 });
    expect(events.length).to.be.greaterThan(0);
    expect(new Set(events.map((e) => e.type))).to.deep.equal(new Set(['product.updated']));
    const other = await readFeed(await t.keyFor(OTHER_TENANT));
    const mine = new Set((await readFeed(key)).events.map((e) => e.id));
    expect(other.events.filter((e) => mine.has(e.id))).to.deep.equal([]);
    expect(other.events.filter((e) => e.resource === 'products')).to.have.length(3);
  });

  it('when the tenant saves a mapping for products, then product events carry `mapped` beside the unchanged `data`, and a record it fails on carries `mapping_error`', async () => {
    const expression = '{ "name": title, "sku": variants[0].sku, "price_cents": $number(variants[0].price) * 100 }';
    const saved = await call(t.url, 'PUT', '/api/mappings/products/', { key, body: { expression } });
    expect(saved.status, saved.text).to.be.oneOf([200, 201]);
    const { events } = await readFeed(key, { types: 'product.created,product.updated' });
    expect(events.length).to.be.greaterThan(0);
    for (const e of events as (FeedEvent & { mapped?: { name: unknown; price_cents: unknown } })[]) {
      expect(e.mapped, `${e.id} mapped`).to.be.an('object');
      expect(e.mapped!.name).to.equal(e.data.title);
      const variants = e.data.variants as { price: string }[];
      if (variants.length > 0) expect(e.mapped!.price_cents).to.equal(Number(variants[0]!.price) * 100);
    }
    const orders = await readFeed(key, { types: 'order.created' });
    expect(orders.events.every((e) => !('mapped' in e))).to.equal(true);
    // A mapping that fails on one record: its events say why, the others still map.
    const refused = events[0]!.record_id;
    const failing = `id = ${refused} ? $error("not this one") : { "name": title }`;
    const resaved = await call(t.url, 'PUT', '/api/mappings/products/', { key, body: { expression: failing } });
    expect(resaved.status, resaved.text).to.be.oneOf([200, 201]);
    const after = (await readFeed(key, { types: 'product.created,product.updated' })).events as (FeedEvent & { mapped?: unknown; mapping_error?: { detail: string } })[];
    for (const e of after) {
      if (e.record_id === refused) expect(e.mapping_error?.detail, e.id).to.contain('not this one');
      else expect(e.mapped, e.id).to.deep.equal({ name: e.data.title });
    }
    expect((await call(t.url, 'DELETE', '/api/mappings/products/', { key })).status).to.be.oneOf([200, 204]);
  });

  it('when retention runs, then the events older than it go from the start of the feed, and the first young one ends the stretch', async () => {
    await sequenceChangeEvents(t.ctx.db);
    const positioned = async () =>
      (await t.ctx.db.selectFrom('change_events').select(['position', 'occurred_at']).where('position', 'is not', null).orderBy('position').execute()).map((r) => Number(r.position));
    const all = await positioned();
    expect(all.length).to.be.greaterThan(8);
    const eightDaysAgo = new Date(Date.now() - 8 * 86_400_000);
    // The oldest five, and one further on that a younger event precedes: it stays until that one ages too.
    await t.ctx.db
      .updateTable('change_events')
      .set({ occurred_at: eightDaysAgo })
      .where('position', 'in', [...all.slice(0, 5), all[7]!])
      .execute();

    const removed = await pruneExpired(t.ctx, new Date());
    expect(removed.changeEvents).to.equal(5);
    expect(await positioned()).to.deep.equal(all.slice(5));
    const sequence = await t.ctx.db.selectFrom('change_event_sequence').select('pruned_through').executeTakeFirstOrThrow();
    expect(Number(sequence.pruned_through)).to.equal(all[4]);
  });

  it('when a cursor is older than the retention, then 410; a forged cursor is a 400', async () => {
    const first = await call(t.url, 'GET', '/api/events/?limit=5', { key });
    expect(first.body.data).to.have.length(5);
    expect(first.body.has_more).to.equal(true);
    const oldCursor = first.body.next_cursor as string;
    await sequenceChangeEvents(t.ctx.db);
    // Everything up to now is past a retention that ends in the future.
    await pruneExpired(t.ctx, new Date(Date.now() + 8 * 86_400_000));
    expectProblem(await call(t.url, 'GET', `/api/events/?after=${oldCursor}`, { key }), 410);
    expectProblem(await call(t.url, 'GET', '/api/events/?after=bm90LWEtY3Vyc29y', { key }), 400);
    expectProblem(await call(t.url, 'GET', '/api/events/?types[a]=1', { key }), 400);
    const fromStart = await call(t.url, 'GET', '/api/events/', { key });
    expect(fromStart.status).to.equal(200);
    expect(fromStart.body.data).to.deep.equal([]);
  });
});
