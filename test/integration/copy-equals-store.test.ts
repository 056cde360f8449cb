import { expect } from 'chai';
import { RESOURCE_NAMES } from '../../src/resources/index.js';
import { runSync } from '../../src/sync/run-sync.js';
import { copyDifferences, CopyDiffersError, expectCopyEqualsStore } from '../support/copy-equals-store.js';
import { startSyncTestContext, type SyncTestContext } from '../support/sync.js';

const SHOP = 'copy-check.myshopify.com';

describe('copy equals store (the whole API against the mock shop)', function () {
  this.timeout(60_000);
  let t: SyncTestContext;
  let key: string;

  before(async () => {
    t = await startSyncTestContext({ shops: [{ domain: SHOP, products: 30, orders: 40, customers: 15, locations: 2 }] });
    const integration = await t.connect('tenant-copy', SHOP);
    key = await t.keyFor('tenant-copy');
    // A deleted record at the shop before the first sync must never appear live.
    const shop = t.mock.shop(SHOP);
    shop.deleteCustomer(shop.catalog.customers.entries[3]!.id);
    for (const resource of RESOURCE_NAMES) {
      const result = await runSync(t.ctx, { integrationId: integration.id, resource, mode: 'full', trigger: 'manual', jobId: null });
      expect(result.status, `${resource} sync`).to.equal('succeeded');
    }
  });
  after(async () => t?.close());

  it('when a small shop is fully synced, then every record the API serves equals the shop, field by field', async () => {
    await expectCopyEqualsStore(t, key, t.mock.shop(SHOP));
  });

  it('when a record changes at the shop and is not synced, then the comparison fails naming that record and field', async () => {
    const shop = t.mock.shop(SHOP);
    const product = shop.catalog.products.entries[5]!;
    shop.updateProduct(product.id, { title: 'Renamed at Shopify' });

    const differences = await copyDifferences(t, key, shop);
    const keys = differences.map((d) => `${d.resource} ${d.key}`);
    expect(keys).to.include(`products ${product.id}`);
    expect(differences.find((d) => d.key === String(product.id))!.problem).to.match(/title: copy ".*" ≠ store "Renamed at Shopify"/);

    let failure: unknown;
    try {
      await expectCopyEqualsStore(t, key, shop);
    } catch (err) {
      failure = err;
    }
    expect(failure).to.be.instanceOf(CopyDiffersError);
    expect((failure as Error).message)
      .to.contain(`products ${product.id}: `)
      .and.to.contain('Renamed at Shopify');
  });

  it('when a product is deleted at the shop and not synced, then the comparison names it and its inventory levels', async () => {
    const shop = t.mock.shop(SHOP);
    const product = shop.catalog.products.entries[7]!;
    const items = shop.catalog.product(product.id)!.variants.map((v) => v.inventory_item_id);
    shop.deleteProduct(product.id);

    const differences = await copyDifferences(t, key, shop);
    expect(differences).to.deep.include({ resource: 'products', key: String(product.id), problem: 'live in the copy, deleted at Shopify' });
    for (const item of items) {
      expect(differences.filter((d) => d.resource === 'inventory' && d.key.startsWith(`${item}:`)).map((d) => d.problem)).to.deep.equal(Array(2).fill('live in the copy, deleted at Shopify'));
    }
  });
});
