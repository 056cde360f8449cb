import { spawn } from 'node:child_process';
import path from 'node:path';
import { expect } from 'chai';
import { defaultToken } from '../../scripts/mock-shopify/index.js';
import { migrateNonExpiringTokens } from '../../src/connection/token-migration.js';
import { sealAccessToken } from '../../src/store/integration-secrets.js';
import { serviceEnv } from '../support/fault-processes.js';
import { startSyncTestContext, type SyncTestContext } from '../support/sync.js';
import { blockFor, storedPair } from '../support/tokens.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const STORES = 1000;
const APP = { SHOPIFY_API_KEY: 'mock-api-key', SHOPIFY_API_SECRET: 'mock-api-secret' };
const shopName = (i: number) => `legacy-${String(i).padStart(4, '0')}.myshopify.com`;

/** `npm run cli -- tokens migrate` in its own process: its output and exit. */
function runCli(env: Record<string, string>, args: string[], onStart?: (kill: () => void) => void) {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main/cli.ts', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
  onStart?.(() => child.kill('SIGKILL'));
  return new Promise<{ code: number | string; output: string }>((resolve) => child.once('exit', (code, signal) => resolve({ code: code ?? signal ?? 'unknown', output })));
}

describe('migration of non-expiring OAuth tokens (Shopify invalidates them on 2027-01-01)', function () {
  this.timeout(180_000);
  let t: SyncTestContext;
  const ids: number[] = [];

  before(async () => {
    t = await startSyncTestContext(
      {
        shops: Array.from({ length: STORES }, (_, i) => ({ domain: shopName(i), products: 1, orders: 1, customers: 1, locations: 1 })),
        rateLimit: { enabled: false },
      },
      { ...APP, LOG_LEVEL: 'info' },
    );
    // Stores installed through OAuth before expiring tokens: each holds its shop's non-expiring token.
    for (let i = 0; i < STORES; i++) {
      const shop = shopName(i);
      ids.push(
        (
          await t.connect(`tenant-legacy-${i}`, shop, {
            install_method: 'oauth',
            access_token_encrypted: sealAccessToken(t.ctx.secrets, { tenant_id: `tenant-legacy-${i}`, shop_domain: shop }, defaultToken(shop)),
          })
        ).id,
      );
    }
  });
  after(async () => {
    t.mock.tokens.onGranted = undefined;
    await t?.close();
  });

  const env = () => serviceEnv(t, { ...APP, LOG_LEVEL: 'warn' });

  it('when --dry-run, then it counts the stores to migrate and changes nothing', async () => {
    const { code, output } = await runCli(env(), ['tokens', 'migrate', '--dry-run']);
    expect(code, output).to.equal(0);
    expect(output).to.include(`${STORES} store(s) hold a non-expiring OAuth token and would be migrated.`);
    expect(t.mock.tokens.stats.token_exchange).to.equal(0);
  });

  it(`when ${STORES} stores are migrated and the migration is killed in the middle, then none is revoked without its replacement recoverable, and a second run ends with every store on an expiring pair Shopify holds`, async () => {
    let killCli: () => void = () => undefined;
    t.mock.tokens.onGranted = (kind) => {
      if (kind !== 'token_exchange' || t.mock.tokens.stats.token_exchange < STORES * 0.4) return;
      t.mock.tokens.onGranted = undefined;
      killCli();
      blockFor(300); // the exchanges in flight are answered only once the process is gone
    };
    const killed = await runCli(env(), ['tokens', 'migrate'], (kill) => (killCli = kill));
    expect(killed.code).to.equal('SIGKILL');
    const exchangedBeforeKill = t.mock.tokens.stats.token_exchange;
    expect(exchangedBeforeKill).to.be.within(STORES * 0.4, STORES - 1);

    // After the kill: each store holds an expiring pair, or its original token — still valid, or exchanged
    // by Shopify with the answer lost (then a retry with it within seven days answers the same pair).
    let migrated = 0;
    let answerLost = 0;
    for (const [i, id] of ids.entries()) {
      const stored = await storedPair(t, id);
      const shop = t.mock.shop(shopName(i));
      if (stored.row.access_token_expires_at !== null) {
        migrated++;
        expect(shop.acceptsToken(stored.access)).to.equal(true);
      } else if (!shop.acceptsToken(stored.access)) {
        answerLost++;
        expect(t.mock.tokens.exchangedFor(stored.access), `${shopName(i)} lost its token`).to.not.equal(undefined);
      }
    }
    expect(migrated + answerLost).to.equal(exchangedBeforeKill);
    expect(answerLost).to.be.within(1, 8);

    const { code, output } = await runCli(env(), ['tokens', 'migrate']);
    expect(code, output).to.equal(0);
    expect(output).to.include(`Migrated ${STORES - migrated} of ${STORES - migrated} store(s) to expiring tokens; 0 refused by Shopify, 0 failed (run again), 0 left.`);
    for (const [i, id] of ids.entries()) {
      const stored = await storedPair(t, id);
      expect(stored.row.access_token_expires_at, shopName(i)).to.be.an.instanceOf(Date);
      expect(stored.row.refresh_token_expires_at).to.be.an.instanceOf(Date);
      expect(t.mock.tokens.currentPair(shopName(i))).to.deep.equal({ access: stored.access, refresh: stored.refresh });
    }
    // Each store exchanged once, plus one retry with the original for each lost answer (the same pair).
    expect(t.mock.tokens.stats.token_exchange).to.equal(STORES + answerLost);
    console.log(`      (${exchangedBeforeKill} exchanged before the kill, ${answerLost} of them with the answer lost and recovered by the second run)`);
  });

  it('when everything is migrated, then another run finds nothing to do', async () => {
    const result = await migrateNonExpiringTokens(t.ctx);
    expect(result).to.deep.include({ candidates: 0, migrated: 0, remaining: 0 });
    expect(await t.ctx.metrics.registry.getSingleMetricAsString('shopify_tokens_non_expiring')).to.match(/shopify_tokens_non_expiring 0/);
  });
});
