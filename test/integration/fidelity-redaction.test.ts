import { expect } from 'chai';
import type { MockWebhookEvent } from '../../scripts/mock-shopify/index.js';
import { runSync } from '../../src/sync/run-sync.js';
import type { Integration } from '../../src/store/schema.js';
import { call } from '../support/http.js';
import { startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import { deliverInOrder } from '../support/webhook-scenario.js';
import { drained, runConsumers, tenantRows, WEBHOOK_PATH } from '../support/webhooks.js';

const SHOP = 'redacted.myshopify.com';
const TENANT = 't-redacted';
const PURGED_SHOP = 'purged.myshopify.com';
const PURGED_TENANT = 't-purged';
const SECRET = 'test-app-secret';

const person = { first_name: 'Redacta', last_name: 'Privatova', email: 'redacta.privatova@example.com', phone: '+15550009876' };
const NEEDLES = [person.email, person.first_name, person.last_name, person.phone, 'allergic to nuts'];

describe('copy fidelity: redactions are permanent', function () {
  this.timeout(60_000);
  let t: SyncTestContext;
  let integration: Integration;
  let stopConsumers: () => Promise<void>;
  const shop = () => t.mock.shop(SHOP);

  before(async () => {
    t = await startSyncTestContext(
      {
        apiSecret: SECRET,
        shops: [
          { domain: SHOP, products: 2, customers: 3, orders: 3, locations: 1 },
          { domain: PURGED_SHOP, products: 2, customers: 1, orders: 1, locations: 1 },
        ],
      },
      { SHOPIFY_API_SECRET: SECRET },
    );
    integration = await t.connect(TENANT, SHOP);
    await t.connect(PURGED_TENANT, PURGED_SHOP);
    stopConsumers = await runConsumers(t);
  });
  after(async () => {
    await stopConsumers?.();
    await t?.close();
  });

  async function deliver(domain: string, ...events: MockWebhookEvent[]) {
    await deliverInOrder(t.mock.shop(domain), `${t.url}${WEBHOOK_PATH}`, events);
    await drained(t.ctx);
  }
  /** The person's data wherever it could be stored: every customer, order and line item row of the tenant. */
  async function personalDataLeft(): Promise<string[]> {
    const rows = [];
    for (const table of ['shopify_customers', 'shopify_orders', 'shopify_order_line_items']) rows.push(...(await tenantRows(t.ctx, table, TENANT)));
    const text = JSON.stringify(rows).toLowerCase();
    return NEEDLES.filter((needle) => text.includes(needle.toLowerCase()));
  }
  const read = async (path: string) => call(t.url, 'GET', path, { key: await t.keyFor(TENANT) });

  it('when customers/redact is followed by a retried customers/update triggered before it, and by a sync page with the old data, then the customer stays redacted', async () => {
    const created = shop().createCustomer({ ...person, tags: 'vip, allergic to nuts' });
    const id = created.payload.id;
    const update = shop().updateCustomer(id, { note: 'allergic to nuts' });
    await deliver(SHOP, created);
    expect(await personalDataLeft(), 'before the redaction').to.have.length.greaterThan(0);

    await deliver(SHOP, shop().complianceEvent('customers/redact', { customerId: id }));
    expect(await personalDataLeft(), 'after the redaction').to.deep.equal([]);

    await deliver(SHOP, update); // Shopify retries for hours: this one was triggered before the redact
    expect(await personalDataLeft(), 'after the retried update').to.deep.equal([]);
    const res = await read(`/api/shopify/customers/${id}/`);
    expect(res.status, res.text).to.equal(200);
    expect(res.body).to.include({ email: null, first_name: null, last_name: null, phone: null, tags: null });

    // The mock still serves the old data: a page fetched before the redaction reached Shopify's copy.
    const result = await runSync(t.ctx, { integrationId: integration.id, resource: 'customers', mode: 'full', trigger: 'manual', jobId: null });
    expect(result.status).to.equal('succeeded');
    expect(await personalDataLeft(), 'after a sync page with the old data').to.deep.equal([]);
    expect((await read(`/api/shopify/customers/${id}/`)).body.orders_count, 'non-personal fields still sync').to.be.a('number');
  });

  it('when an order named in orders_to_redact arrives after the redaction, then it is stored scrubbed, its business data kept', async () => {
    const customer = shop().createCustomer({ ...person, email: 'second.privatova@example.com' });
    const customerId = customer.payload.id;
    await deliver(SHOP, customer);
    const address = { first_name: person.first_name, last_name: person.last_name, address1: '1 Secret Lane', phone: person.phone, city: 'Paris', zip: '75001', country: 'FR' };
    const order = shop().createOrder({ email: person.email, contact_email: person.email, customer: { id: customerId, ...person }, billing_address: address, shipping_address: address } as never);
    const redact = shop().complianceEvent('customers/redact', { customerId });
    expect((redact.payload as { orders_to_redact: number[] }).orders_to_redact).to.include(order.payload.id);

    await deliver(SHOP, redact);
    await deliver(SHOP, order); // the backlog: created before the redaction, applied after it
    expect(await personalDataLeft()).to.deep.equal([]);
    const res = await read(`/api/shopify/orders/${order.payload.id}/`);
    expect(res.status, res.text).to.equal(200);
    expect(res.body.email).to.equal(null);
    expect(res.body.total_price).to.equal(order.payload.total_price);
    expect(res.body.line_items).to.have.length(order.payload.line_items.length);
  });

  it('when shop/redact has purged a shop, then a late webhook triggered before it writes nothing back', async () => {
    const purged = t.mock.shop(PURGED_SHOP);
    const created = purged.createProduct();
    const late = purged.updateProduct(created.payload.id, { title: 'Written after the purge?' });
    await deliver(PURGED_SHOP, created);
    expect(await tenantRows(t.ctx, 'shopify_products', PURGED_TENANT)).to.have.length(1);

    await deliver(PURGED_SHOP, purged.complianceEvent('shop/redact'));
    await deliver(PURGED_SHOP, late);
    for (const table of ['shopify_products', 'shopify_product_variants']) expect(await tenantRows(t.ctx, table, PURGED_TENANT), table).to.deep.equal([]);
  });
});
