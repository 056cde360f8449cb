import { expect } from 'chai';
import { openClientSecret } from '../../src/store/integration-secrets.js';
import { attemptDelivery } from '../support/fault-sender.js';
import { call, expectProblem } from '../support/http.js';
import { startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import { HOOKS, storedPair } from '../support/tokens.js';

const OWN_SHOP = 'own-org.myshopify.com';
const FOREIGN_SHOP = 'foreign-org.myshopify.com';
const OWN_APP = { clientId: 'merchant-app-client-id-41c2', clientSecret: 'merchant-app-secret-9d0e77b1', shops: [OWN_SHOP] };

describe("client-credentials connect (the merchant's own Dev Dashboard app)", function () {
  this.timeout(60_000);
  let t: SyncTestContext;
  let key: string;

  before(async () => {
    t = await startSyncTestContext(
      {
        shops: [
          { domain: OWN_SHOP, accessToken: [], products: 6, orders: 2, customers: 2 },
          { domain: FOREIGN_SHOP, accessToken: [], products: 1 },
        ],
        rateLimit: { enabled: false },
        ownApps: [OWN_APP],
        tokenLifetimes: { clientCredentialsSeconds: 2 },
      },
      { SHOPIFY_WEBHOOK_BASE_URL: HOOKS, SHOPIFY_TOKEN_REFRESH_MARGIN_SECONDS: '0.5', SHOPIFY_MAX_REQUESTS_PER_SECOND: '1000', SHOPIFY_BUCKET_SIZE: '1000' },
    );
    key = await t.keyFor('tenant-own');
  });
  after(async () => t?.close());

  const rows = () => t.ctx.db.selectFrom('shopify_integrations').selectAll().execute();
  const connect = (body: Record<string, string>) => call(t.url, 'POST', '/api/shopify/connect/', { key, body });

  it("when the store is not of the app's organization, then 422 shopify-shop-not-permitted and nothing is saved", async () => {
    const res = await connect({ shop_domain: FOREIGN_SHOP, client_id: OWN_APP.clientId, client_secret: OWN_APP.clientSecret });
    expectProblem(res, 422);
    expect(res.body.type).to.match(/shopify-shop-not-permitted$/);
    expect(res.body.detail).to.include('shop_not_permitted');
    expect(res.text).not.to.include(OWN_APP.clientSecret);
    expect(await rows()).to.deep.equal([]);
  });

  it('when the client secret is wrong, then 422 shopify-credentials-refused and nothing is saved', async () => {
    const res = await connect({ shop_domain: OWN_SHOP, client_id: OWN_APP.clientId, client_secret: 'not-the-secret' });
    expectProblem(res, 422);
    expect(res.body.type).to.match(/shopify-credentials-refused$/);
    expect(await rows()).to.deep.equal([]);
  });

  it('when both a token and client credentials are sent, or a client id alone, then 400', async () => {
    expectProblem(await connect({ shop_domain: OWN_SHOP, access_token: 'shpat_x', client_id: OWN_APP.clientId, client_secret: OWN_APP.clientSecret }), 400);
    expectProblem(await connect({ shop_domain: OWN_SHOP, client_id: OWN_APP.clientId }), 400);
    expect(await rows()).to.deep.equal([]);
  });

  it("when the credentials are the store's own app's, then 201: a 24-hour-style token minted, the secret sealed, status says client_credentials and expiring", async () => {
    const res = await connect({ shop_domain: OWN_SHOP, client_id: OWN_APP.clientId, client_secret: OWN_APP.clientSecret });
    expect(res.status, res.text).to.equal(201);
    expect(res.text).not.to.include(OWN_APP.clientSecret);
    expect(res.body.integration.install_method).to.equal('client_credentials');
    expect(res.body.integration.token).to.deep.include({ expires: true, refresh_token_expires_at: null, reauthorization_required: false });
    const [row] = await rows();
    expect(row!.client_id).to.equal(OWN_APP.clientId);
    expect(row!.client_secret_encrypted).to.match(/^v2:/);
    expect(openClientSecret(t.ctx.secrets, { ...row!, client_secret_encrypted: row!.client_secret_encrypted! })).to.equal(OWN_APP.clientSecret);
    expect(row!.refresh_token_encrypted).to.equal(null);
    expect(t.mock.tokens.stats.client_credentials).to.equal(1);
  });

  it('when the token nears its expiry, then syncs mint a new one with the client credentials and go on', async () => {
    const integration = (await rows())[0]!;
    const first = (await storedPair(t, integration.id)).access;
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await t.startWorker();
    const runs = await t.waitForRuns(integration.id, 4, 30_000);
    expect(runs.map((r) => r.status)).to.deep.equal(runs.map(() => 'succeeded'));
    expect(t.mock.tokens.stats.client_credentials).to.be.at.least(2);
    const now = await storedPair(t, integration.id);
    expect(now.access).not.to.equal(first);
    expect(t.mock.shop(OWN_SHOP).acceptsToken(now.access)).to.equal(true);
  });

  it("when a webhook of that store is signed with the app's client secret, then it is accepted; signed with our app secret, then 401", async () => {
    const event = t.mock.shop(OWN_SHOP).createProduct();
    expect(await attemptDelivery(`${t.url}/api/shopify/webhook/`, event, OWN_SHOP, OWN_APP.clientSecret, 'cc-1')).to.equal(200);
    expect(await attemptDelivery(`${t.url}/api/shopify/webhook/`, event, OWN_SHOP, t.config.shopify.apiSecret, 'cc-2')).to.equal(401);
  });
});
