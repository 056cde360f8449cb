import { expect } from 'chai';
import { RESOURCE_NAMES, type ResourceName } from '../../src/resources/index.js';
import { runSync, type SyncRequest } from '../../src/sync/run-sync.js';
import { expectReplayEqualsApi, readFeed } from '../support/change-feed.js';
import { expectCopyEqualsStore } from '../support/copy-equals-store.js';
import { startSyncTestContext, type SyncTestContext } from '../support/sync.js';

const SHOP = 'feed-bulk.myshopify.com';
const TENANT = 't-feed-bulk';

/**
 * A bulk file brings a product's variants on lines of their own, often far from it: the feed must still
 * end each record at what the API serves, and a full run over an unchanged store must announce nothing.
 */
describe('change feed under bulk full syncs', function () {
  this.timeout(90_000);
  let t: SyncTestContext;
  let integrationId: number;
  let key: string;
  const shop = () => t.mock.shop(SHOP);
  const request = (resource: ResourceName): SyncRequest => ({ integrationId, resource, mode: 'full', trigger: 'manual', jobId: null });

  async function syncAll(): Promise<void> {
    for (const resource of RESOURCE_NAMES) {
      for (let waits = 0; ; waits++) {
        expect(waits, `${resource} kept waiting`).to.be.below(400);
        const result = await runSync(t.ctx, request(resource));
        if (result.status === 'waiting') {
          await new Promise((resolve) => setTimeout(resolve, Math.min(result.retryInMs, 100)));
          continue;
        }
        expect(result.status, `${resource} sync`).to.equal('succeeded');
        break;
      }
    }
  }

  before(async () => {
    t = await startSyncTestContext({ shops: [{ domain: SHOP, products: 30, orders: 20, customers: 10, locations: 2 }] }, { SYNC_FULL_VIA_BULK: 'true' });
    integrationId = (await t.connect(TENANT, SHOP)).id;
    key = await t.keyFor(TENANT);
    shop().bulk.configure({ interleave: { window: 24, farShare: 0.2, farLines: 100 }, seed: 3 });
  });
  after(async () => t?.close());

  it('when the store is first synced by bulk export, then replaying the feed gives the API data, variants included', async () => {
    await syncAll();
    await expectCopyEqualsStore(t, key, shop());
    const { events } = await readFeed(t.url, key);
    expect(events.filter((e) => e.type === 'product.created')).to.have.length(30);
    await expectReplayEqualsApi(t.url, key, events);
  });

  it('when variants are removed, a product deleted and one added at the shop, then the next bulk run announces them and the replay still equals the API', async () => {
    const { cursor } = await readFeed(t.url, key);
    const entries = shop().catalog.products.entries;
    const trimmed = entries[2]!.id;
    const variants = shop().catalog.product(trimmed)!.variants;
    shop().updateProduct(trimmed, { variants: variants.slice(0, 1) });
    shop().deleteProduct(entries[4]!.id);
    shop().createProduct({ title: 'Arrived by bulk' });
    shop().takeEvents();
    await syncAll();
    await expectCopyEqualsStore(t, key, shop());
    const { events } = await readFeed(t.url, key, { after: cursor });
    const products = events.filter((e) => e.resource === 'products').map((e) => `${e.type} ${e.record_id}`);
    expect(products).to.include(`product.deleted ${entries[4]!.id}`);
    expect(products.filter((p) => p.startsWith('product.created'))).to.have.length(1);
    const lastOfTrimmed = events.filter((e) => e.record_id === String(trimmed)).at(-1);
    expect((lastOfTrimmed?.data.variants as unknown[]).length, 'the trimmed product ends with one variant').to.equal(1);
    await expectReplayEqualsApi(t.url, key, (await readFeed(t.url, key)).events);
  });

  it('when an unchanged store is synced again by bulk export, then no record event is added', async () => {
    const { cursor } = await readFeed(t.url, key);
    await syncAll();
    const { events } = await readFeed(t.url, key, { after: cursor });
    expect(events.filter((e) => e.resource !== null).map((e) => `${e.type} ${e.record_id}`)).to.deep.equal([]);
  });
});
