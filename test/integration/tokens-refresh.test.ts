import { expect } from 'chai';
import { clientForIntegration } from '../../src/connection/shopify.js';
import { migrateNonExpiringTokens } from '../../src/connection/token-migration.js';
import { serviceEnv } from '../support/fault-processes.js';
import { call } from '../support/http.js';
import { startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import { blockFor, expectStoredPairIsShopifys, HOOKS, installThroughOAuth, startRenewalChild, storedPair, type RenewalChild } from '../support/tokens.js';

/** The mock's default app credentials, and the public base the install links use. */
const APP = { SHOPIFY_API_KEY: 'mock-api-key', SHOPIFY_API_SECRET: 'mock-api-secret', SHOPIFY_WEBHOOK_BASE_URL: HOOKS };
const renewals = (t: SyncTestContext) => t.mock.tokens.stats.refresh_token;

describe('expiring OAuth tokens: install, refresh, one renewal across processes', function () {
  this.timeout(90_000);

  describe('an install and a long sync (access tokens of 1 s)', () => {
    let t: SyncTestContext;
    const SHOP = 'long-sync.myshopify.com';
    before(async () => {
      t = await startSyncTestContext(
        { shops: [{ domain: SHOP, accessToken: [], products: 120, orders: 20, customers: 20, locations: 1 }], rateLimit: { enabled: false }, tokenLifetimes: { accessSeconds: 1 } },
        { ...APP, SHOPIFY_TOKEN_REFRESH_MARGIN_SECONDS: '0.3', SYNC_PAGE_SIZE: '5', SHOPIFY_MAX_REQUESTS_PER_SECOND: '1000', SHOPIFY_BUCKET_SIZE: '1000' },
      );
    });
    after(async () => t?.close());

    it('when a store is installed through OAuth, then it holds an expiring pair, both tokens encrypted in one row, and its status says so', async () => {
      const { key, integration } = await installThroughOAuth(t, 'tenant-long', SHOP);
      expect(integration.install_method).to.equal('oauth');
      expect(integration.access_token_expires_at!.getTime() - Date.now()).to.be.within(0, 1000);
      expect(integration.refresh_token_expires_at!.getTime() - Date.now()).to.be.within(7_776_000_000 - 60_000, 7_776_000_000);
      expect(integration.refresh_token_encrypted).to.match(/^v2:/);
      await expectStoredPairIsShopifys(t, t.mock, integration.id, SHOP);
      expect(t.mock.tokens.stats.authorization_code).to.equal(1);

      const status = await call(t.url, 'GET', '/api/shopify/status/', { key });
      expect(status.body.install_method).to.equal('oauth');
      expect(status.body.token).to.deep.include({ expires: true, reauthorization_required: false, reauthorization_required_at: null, install_url: null });
      expect(Date.parse(status.body.token.refresh_token_expires_at)).to.equal(integration.refresh_token_expires_at!.getTime());
    });

    it('when a sync spans more than three access-token lifetimes, then every run succeeds and the tokens are renewed on the way', async () => {
      const integration = (await storedPair(t, (await t.ctx.db.selectFrom('shopify_integrations').select('id').executeTakeFirstOrThrow()).id)).row;
      const shop = t.mock.shop(SHOP);
      shop.setFaults({ latencyMs: 40 });
      shop.resetStats();
      // The initial sync queued by the install runs now.
      const started = Date.now();
      await t.startWorker();
      const runs = await t.waitForRuns(integration.id, 4, 60_000);
      const elapsedMs = Date.now() - started;
      expect(elapsedMs, 'the sync outlived three token lifetimes').to.be.greaterThan(3000);
      expect(runs.map((r) => [r.resource, r.status, r.error])).to.deep.equal(runs.map((r) => [r.resource, 'succeeded', null]));
      expect(renewals(t)).to.be.at.least(3);
      expect(t.mock.tokens.stats.refused).to.equal(0);
      await expectStoredPairIsShopifys(t, t.mock, integration.id, SHOP);
      const row = (await storedPair(t, integration.id)).row;
      expect(row.error_count).to.equal(0);
      expect(row.token_revoked_at).to.equal(null);
      console.log(`      (sync of ${elapsedMs} ms: ${renewals(t)} refreshes, ${shop.stats.requests} requests, ${shop.stats.unauthorized} answered 401 and retried with the renewed token)`);
    });
  });

  describe('renewals from several processes', () => {
    let t: SyncTestContext;
    const SHOP = 'crowd.myshopify.com';
    let integrationId: number;
    const children: RenewalChild[] = [];
    before(async () => {
      t = await startSyncTestContext(
        { shops: [{ domain: SHOP, accessToken: [], products: 2, orders: 1, customers: 1 }], rateLimit: { enabled: false }, tokenLifetimes: { accessSeconds: 2 } },
        {
          ...APP,
          SHOPIFY_TOKEN_REFRESH_MARGIN_SECONDS: '0.5',
          SHOPIFY_TOKEN_REFRESH_LOCK_MS: '1500',
          SHOPIFY_MAX_REQUESTS_PER_SECOND: '1000',
          SHOPIFY_BUCKET_SIZE: '1000',
        },
      );
      integrationId = (await installThroughOAuth(t, 'tenant-crowd', SHOP)).integration.id;
    });
    after(async () => {
      for (const c of children) c.child.kill('SIGKILL');
      t.mock.tokens.onGranted = undefined;
      await t?.close();
    });
    const childEnv = () => serviceEnv(t, { ...APP, INTEGRATION_ID: String(integrationId), SHOPIFY_TOKEN_REFRESH_MARGIN_SECONDS: '0.5', SHOPIFY_TOKEN_REFRESH_LOCK_MS: '1500', LOG_LEVEL: 'warn' });

    it("when ten processes find the access token expired at once, then Shopify sees one refresh, every call succeeds and the stored pair is Shopify's", async () => {
      const crowd = Array.from({ length: 10 }, () => startRenewalChild(childEnv()));
      children.push(...crowd);
      await Promise.all(crowd.map((c) => c.ready));
      const before = renewals(t);
      await new Promise((resolve) => setTimeout(resolve, 2100)); // the token expires (and the margin has long passed)
      for (const c of crowd) c.go();
      const results = await Promise.all(crowd.map((c) => c.result));
      expect(results).to.deep.equal(Array(10).fill({ ok: true }));
      expect(renewals(t) - before).to.equal(1);
      await expectStoredPairIsShopifys(t, t.mock, integrationId, SHOP);
    });

    it("when the renewing worker is killed between Shopify's answer and the write, then the next renewal uses the same refresh token and the store keeps working", async () => {
      const held = await storedPair(t, integrationId);
      const victim = startRenewalChild(childEnv());
      children.push(victim);
      await victim.ready;
      await new Promise((resolve) => setTimeout(resolve, 2100));
      t.mock.tokens.onGranted = (kind) => {
        if (kind !== 'refresh_token') return;
        t.mock.tokens.onGranted = undefined;
        victim.child.kill('SIGKILL');
        blockFor(300); // the answer goes out only once the process is gone
      };
      const before = renewals(t);
      victim.go();
      expect((await victim.result).ok).to.equal(false);
      expect(renewals(t) - before).to.equal(1);
      // Shopify rotated the pair, we never stored it: the row still holds the previous one.
      const after = await storedPair(t, integrationId);
      expect(after.refresh).to.equal(held.refresh);
      expect(t.mock.tokens.currentPair(SHOP)!.refresh).not.to.equal(held.refresh);

      // Any process now: the lock of the dead one expires, the same refresh token is accepted (its replacement was never used).
      const integration = after.row;
      const shop = await clientForIntegration(t.ctx, integration).testConnection();
      expect(shop.myshopify_domain).to.equal(SHOP);
      expect(renewals(t) - before).to.equal(2);
      expect(t.mock.tokens.stats.refused).to.equal(0);
      await expectStoredPairIsShopifys(t, t.mock, integrationId, SHOP);
    });

    it('when Shopify loses the answer of a refresh (503 after rotating), then the same refresh token is sent again and the new pair is stored', async () => {
      await new Promise((resolve) => setTimeout(resolve, 2100));
      const held = await storedPair(t, integrationId);
      t.mock.tokens.faults.loseNextAnswers = 1;
      const before = renewals(t);
      await clientForIntegration(t.ctx, held.row).testConnection();
      expect(renewals(t) - before).to.equal(2);
      expect(t.mock.tokens.stats.lost).to.be.at.least(1);
      await expectStoredPairIsShopifys(t, t.mock, integrationId, SHOP);
      const metrics = await t.ctx.metrics.registry.metrics();
      expect(metrics).to.match(/shopify_token_renewals_total\{kind="refresh_token",outcome="lost_answer_retried"\} 1/);
      expect(metrics).to.match(/shopify_token_renewals_total\{kind="refresh_token",outcome="renewed"\} \d/);
    });
  });

  describe('a 401 before the stored expiry', () => {
    let t: SyncTestContext;
    const SHOP = 'early-401.myshopify.com';
    before(async () => {
      t = await startSyncTestContext(
        { shops: [{ domain: SHOP, accessToken: [], products: 2 }], rateLimit: { enabled: false } },
        { ...APP, SHOPIFY_MAX_REQUESTS_PER_SECOND: '1000', SHOPIFY_BUCKET_SIZE: '1000' },
      );
    });
    after(async () => t?.close());

    it('when Shopify refuses an access token the row still thinks valid, then it is refreshed once and the call retried with the new one', async () => {
      const { integration } = await installThroughOAuth(t, 'tenant-early', SHOP);
      const shop = t.mock.shop(SHOP);
      shop.revokeToken((await storedPair(t, integration.id)).access);
      shop.resetStats();
      await clientForIntegration(t.ctx, integration).testConnection();
      expect(shop.stats.unauthorized).to.equal(1);
      expect(renewals(t)).to.equal(1);
      await expectStoredPairIsShopifys(t, t.mock, integration.id, SHOP);
      expect((await storedPair(t, integration.id)).row.token_revoked_at).to.equal(null);
    });
  });

  describe('tokens that never expire: pasted tokens, and installs with SHOPIFY_EXPIRING_TOKENS=false', () => {
    let t: SyncTestContext;
    const PASTED = 'pasted.myshopify.com';
    const CUSTOM = 'custom-dist.myshopify.com';
    before(async () => {
      t = await startSyncTestContext(
        {
          shops: [
            { domain: PASTED, products: 2 },
            { domain: CUSTOM, accessToken: [], products: 2 },
          ],
          rateLimit: { enabled: false },
        },
        {
          ...APP,
          SHOPIFY_EXPIRING_TOKENS: 'false',
          SHOPIFY_MAX_REQUESTS_PER_SECOND: '1000',
          SHOPIFY_BUCKET_SIZE: '1000',
        },
      );
    });
    after(async () => t?.close());

    it('when a token is pasted, then it is kept as it is: install method token, never expiring, never renewed', async () => {
      const key = await t.keyFor('tenant-pasted');
      const res = await call(t.url, 'POST', '/api/shopify/connect/', { key, body: { shop_domain: PASTED, access_token: t.mock.shop(PASTED).accessToken } });
      expect(res.status, res.text).to.equal(201);
      expect(res.body.integration.install_method).to.equal('token');
      expect(res.body.integration.token).to.deep.equal({
        expires: false,
        access_token_expires_at: null,
        refresh_token_expires_at: null,
        reauthorization_required: false,
        reauthorization_required_at: null,
        install_url: null,
      });
    });

    it('when expiring tokens are turned off, then an OAuth install keeps a non-expiring token and nothing migrates it', async () => {
      const { key, integration } = await installThroughOAuth(t, 'tenant-custom', CUSTOM);
      expect(integration.access_token_expires_at).to.equal(null);
      expect(integration.refresh_token_encrypted).to.equal(null);
      expect((await call(t.url, 'GET', '/api/shopify/status/', { key })).body.token.expires).to.equal(false);
      expect(await migrateNonExpiringTokens(t.ctx)).to.deep.include({ migrated: 0, remaining: 1 });
      expect(t.mock.tokens.stats.token_exchange + t.mock.tokens.stats.refresh_token).to.equal(0);
    });
  });

  describe('a refresh token that expired', () => {
    let t: SyncTestContext;
    const SHOP = 'lapsed.myshopify.com';
    before(async () => {
      t = await startSyncTestContext(
        { shops: [{ domain: SHOP, accessToken: [], products: 2, orders: 1, customers: 1 }], rateLimit: { enabled: false } },
        { ...APP, SHOPIFY_MAX_REQUESTS_PER_SECOND: '1000', SHOPIFY_BUCKET_SIZE: '1000' },
      );
    });
    after(async () => t?.close());

    it('when Shopify refuses the refresh token, then the store needs reauthorization: status says so with the install URL, syncs pause, and no refresh is tried again', async () => {
      const { key, integration } = await installThroughOAuth(t, 'tenant-lapsed', SHOP);
      await t.startWorker();
      await t.waitForRuns(integration.id, 4, 30_000);
      // 91 days later at Shopify: the access token and the 90-day refresh token both expired.
      t.mock.clock.advance(91 * 86_400_000);
      await t.ctx.db
        .updateTable('shopify_integrations')
        .set({ access_token_expires_at: new Date(Date.now() - 1000) })
        .where('id', '=', integration.id)
        .execute();
      const sync = await call(t.url, 'POST', '/api/shopify/sync/', { key, body: { resources: ['products'] } });
      expect(sync.status, sync.text).to.equal(202);
      const runs = await t.waitForRuns(integration.id, 5, 30_000);
      expect(runs.at(-1)!.status).to.equal('failed');
      expect(runs.at(-1)!.error).to.match(/authorize the app again/);
      expect(t.mock.tokens.stats.refresh_token).to.equal(0);
      expect(t.mock.tokens.stats.refused).to.equal(1);

      const status = await call(t.url, 'GET', '/api/shopify/status/', { key });
      expect(status.body.is_connected).to.equal(false);
      expect(status.body.token.reauthorization_required).to.equal(true);
      expect(status.body.token.install_url).to.equal(`${HOOKS}/api/shopify/oauth/initiate/?shop=${SHOP}&redirect=true`);

      // Paused: a trigger is accepted but its run is skipped, without asking Shopify for anything.
      await call(t.url, 'POST', '/api/shopify/sync/', { key, body: { resources: ['orders'] } });
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(t.mock.tokens.stats.refused).to.equal(1);
      expect((await storedPair(t, integration.id)).row.reauthorization_required_at).to.be.an.instanceOf(Date);

      // The merchant authorizes again: a fresh pair, connected, nothing required any more.
      t.mock.clock.resume();
      await installThroughOAuth(t, 'tenant-lapsed', SHOP).catch(() => undefined);
      const again = await call(t.url, 'GET', '/api/shopify/status/', { key });
      expect(again.body.is_connected).to.equal(true);
      expect(again.body.token.reauthorization_required).to.equal(false);
      await expectStoredPairIsShopifys(t, t.mock, integration.id, SHOP);
    });
  });
});
