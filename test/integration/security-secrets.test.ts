import { expect } from 'chai';
import { openAccessToken, openClientSecret, openRefreshToken, openWebhookSecret } from '../../src/store/integration-secrets.js';
import { sql } from 'kysely';
import { clientForIntegration } from '../../src/connection/shopify.js';
import { startMockShopify, type MockShopify, type MockWebhookEvent } from '../../scripts/mock-shopify/index.js';
import { sha256Hex } from '../../src/platform/crypto.js';
import { signWebhookBody } from '../../src/shopify/hmac.js';
import { startSyncWorker } from '../../src/sync/worker.js';
import { startWebhookConsumers } from '../../src/webhooks/consumer.js';
import { ADMIN_KEY, deleteKeys, startTestContext, type TestContext } from '../support/context.js';
import { attemptDelivery } from '../support/fault-sender.js';
import { call, type ApiResponse } from '../support/http.js';
import { OAuthBrowser } from '../support/oauth-browser.js';
import { drained, waitFor } from '../support/webhooks.js';
import { bullPrefix } from '../../src/platform/queues.js';

const APP_KEY = 'sec-app-key-3f9a';
const APP_SECRET = 'sec-app-secret-5c1d8e77a2';
const ENCRYPTION_KEY_HEX = 'a3'.repeat(16) + '5f'.repeat(16);
const TOKEN_SHOP = 'sec-token.myshopify.com';
const OAUTH_SHOP = 'sec-oauth.myshopify.com';
const PASTED_TOKEN = 'shpat_pasted0f3c9b2e71d44a8e9c0b1a2f3e4d5c6';
const STORE_SECRET = 'custom-app-secret-7e2b94c1d0';
const CC_SHOP = 'sec-own-app.myshopify.com';
const OWN_APP = { clientId: 'sec-own-app-client-5b7e', clientSecret: 'sec-own-app-secret-c4f18a2e93', shops: [CC_SHOP] };

/** Every value of a Redis key, whatever its type, as text (key names included). */
async function redisDump(t: TestContext): Promise<string> {
  const out: string[] = [];
  for (const pattern of [`${t.config.redisKeyPrefix}*`, `${bullPrefix(t.config.redisKeyPrefix)}*`]) {
    for await (const batch of t.ctx.redis.scanIterator({ MATCH: pattern, COUNT: 500 })) {
      for (const key of (Array.isArray(batch) ? batch : [batch]) as string[]) {
        out.push(key);
        const type = await t.ctx.redis.type(key);
        if (type === 'string') out.push(String(await t.ctx.redis.get(key)));
        else if (type === 'hash') out.push(JSON.stringify(await t.ctx.redis.hGetAll(key)));
        else if (type === 'list') out.push(JSON.stringify(await t.ctx.redis.lRange(key, 0, -1)));
        else if (type === 'set') out.push(JSON.stringify(await t.ctx.redis.sMembers(key)));
        else if (type === 'zset') out.push(JSON.stringify(await t.ctx.redis.zRange(key, 0, -1)));
        else if (type === 'stream') out.push(JSON.stringify(await t.ctx.redis.xRange(key, '-', '+')));
        else out.push(`(${type})`);
      }
    }
  }
  return out.join('\n');
}

/** Every text-like column of every table, row by row, as text. */
async function mysqlDump(t: TestContext): Promise<{ text: string; columns: number; rows: number }> {
  const { rows: columns } = await sql<{ t: string; c: string }>`
    SELECT TABLE_NAME AS t, COLUMN_NAME AS c FROM information_schema.COLUMNS
    WHERE TABLE_SCHEMA = DATABASE() AND DATA_TYPE IN ('char', 'varchar', 'tinytext', 'text', 'mediumtext', 'longtext', 'json', 'enum', 'set', 'binary', 'varbinary', 'blob', 'mediumblob', 'longblob')`.execute(
    t.ctx.db,
  );
  const out: string[] = [];
  let rows = 0;
  for (const { t: table, c: column } of columns) {
    const { rows: values } = await sql<{ v: unknown }>`SELECT ${sql.ref(column)} AS v FROM ${sql.table(table)}`.execute(t.ctx.db);
    rows += values.length;
    for (const { v } of values) if (v !== null) out.push(Buffer.isBuffer(v) ? v.toString('utf8') : typeof v === 'string' ? v : JSON.stringify(v));
  }
  return { text: out.join('\n'), columns: columns.length, rows };
}

function found(haystack: string, secrets: Record<string, string>): string[] {
  return Object.entries(secrets)
    .filter(([, value]) => haystack.includes(value))
    .map(([name]) => name);
}

describe('security: no secret in logs, responses, MySQL or Redis (connect, OAuth, sync, webhooks)', function () {
  this.timeout(60_000);
  let mock: MockShopify;
  let t: TestContext;
  const responses: { what: string; res: ApiResponse }[] = [];
  const secrets: Record<string, string> = {};
  let redisWhileQueued = '';

  const record = async (what: string, pending: Promise<ApiResponse>) => {
    const res = await pending;
    responses.push({ what, res });
    return res;
  };

  before(async () => {
    mock = await startMockShopify({
      apiKey: APP_KEY,
      apiSecret: APP_SECRET,
      rateLimit: { enabled: false },
      shops: [
        { domain: TOKEN_SHOP, accessToken: PASTED_TOKEN, webhookSecret: STORE_SECRET, products: 30, orders: 20, customers: 10 },
        { domain: OAUTH_SHOP, accessToken: [], products: 20, orders: 10, customers: 10 },
        { domain: CC_SHOP, accessToken: [], products: 5, orders: 2, customers: 2 },
      ],
      ownApps: [OWN_APP],
    });
    t = await startTestContext({
      SHOPIFY_API_BASE_URL: mock.baseUrlTemplate,
      SHOPIFY_API_KEY: APP_KEY,
      SHOPIFY_API_SECRET: APP_SECRET,
      SHOPIFY_WEBHOOK_BASE_URL: 'https://hooks.example.test',
      TOKEN_ENCRYPTION_KEY: ENCRYPTION_KEY_HEX,
      SHOPIFY_SYNC_INTERVAL_PRODUCTS: '0',
      SHOPIFY_SYNC_INTERVAL_ORDERS: '0',
      SHOPIFY_SYNC_INTERVAL_CUSTOMERS: '0',
      SHOPIFY_SYNC_INTERVAL_INVENTORY: '0',
      SHOPIFY_MAX_REQUESTS_PER_SECOND: '1000',
      SHOPIFY_BUCKET_SIZE: '1000',
      SHOPIFY_RETRY_DELAY: '0.01',
      SYNC_JOB_BACKOFF_SECONDS: '0.05',
      WEBHOOK_CLAIM_IDLE_MS: '500',
    });
    Object.assign(secrets, {
      'pasted access token': PASTED_TOKEN,
      'store webhook secret': STORE_SECRET,
      'app secret': APP_SECRET,
      'operator key': ADMIN_KEY,
      'own app client secret': OWN_APP.clientSecret,
      'encryption key (hex)': ENCRYPTION_KEY_HEX,
      'encryption key (base64)': Buffer.from(ENCRYPTION_KEY_HEX, 'hex').toString('base64'),
    });

    // 1. The operator creates the tenants' API keys through the API (the only answer allowed to show a key).
    const keys: Record<string, string> = {};
    for (const tenant of ['sec-token-tenant', 'sec-oauth-tenant', 'sec-cc-tenant']) {
      const res = await record('create api key', call(t.url, 'POST', '/api/admin/api-keys/', { key: ADMIN_KEY, body: { tenant_id: tenant, name: 'scenario' } }));
      expect(res.status, res.text).to.equal(201);
      keys[tenant] = res.body.key;
      secrets[`api key of ${tenant}`] = res.body.key;
    }
    const tokenKey = keys['sec-token-tenant']!;
    const oauthKey = keys['sec-oauth-tenant']!;

    // 2. A store connected with a pasted token and its custom-app secret.
    const connected = await record(
      'connect',
      call(t.url, 'POST', '/api/shopify/connect/', { key: tokenKey, body: { shop_domain: TOKEN_SHOP, access_token: PASTED_TOKEN, webhook_secret: STORE_SECRET } }),
    );
    expect(connected.status, connected.text).to.equal(201);

    // 3. A store installed through OAuth: initiate, the merchant approves, Shopify calls back.
    const initiated = await record('oauth initiate', call(t.url, 'GET', `/api/shopify/oauth/initiate/?shop=${OAUTH_SHOP}`, { key: oauthKey }));
    secrets['oauth state'] = initiated.body.state;
    const browser = new OAuthBrowser(t.url, 'https://hooks.example.test');
    const callback = new URL(`https://shop.example${await browser.approve(initiated.body.authorize_url)}`);
    secrets['oauth code'] = callback.searchParams.get('code')!;
    for (const [name, value] of browser.cookies) secrets[`oauth cookie ${name}`] = value;
    const cookie = [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const installed = await record('oauth callback', call(t.url, 'GET', `/api/shopify/oauth/callback/${callback.search}`, { headers: { cookie } }));
    expect(installed.status, installed.text).to.equal(201);
    secrets['oauth access token'] = mock.shop(OAUTH_SHOP).accessToken;
    secrets['oauth refresh token'] = mock.tokens.currentPair(OAUTH_SHOP)!.refresh;

    // 3b. A store connected with the client credentials of the merchant's own app (a minted 24-hour token).
    const ccConnected = await record(
      'client-credentials connect',
      call(t.url, 'POST', '/api/shopify/connect/', {
        key: keys['sec-cc-tenant']!,
        body: { shop_domain: CC_SHOP, client_id: OWN_APP.clientId, client_secret: OWN_APP.clientSecret },
      }),
    );
    expect(ccConnected.status, ccConnected.text).to.equal(201);
    secrets['client-credentials access token'] = mock.shop(CC_SHOP).accessToken;
    await record(
      'client-credentials refused',
      call(t.url, 'POST', '/api/shopify/connect/', {
        key: keys['sec-cc-tenant']!,
        body: { shop_domain: OAUTH_SHOP, client_id: OWN_APP.clientId, client_secret: OWN_APP.clientSecret },
      }),
    );
    await record('oauth replay', call(t.url, 'GET', `/api/shopify/oauth/callback/${callback.search}`));

    // 4. Webhooks signed by each store (one with a wrong signature), queued before anything applies them.
    const deliveries: { shop: string; secret: string; event: MockWebhookEvent }[] = [
      ...Array.from({ length: 5 }, () => ({ shop: TOKEN_SHOP, secret: STORE_SECRET, event: mock.shop(TOKEN_SHOP).createProduct() })),
      ...Array.from({ length: 5 }, () => ({ shop: OAUTH_SHOP, secret: APP_SECRET, event: mock.shop(OAUTH_SHOP).createCustomer() })),
    ];
    for (const [i, d] of deliveries.entries()) {
      secrets[`webhook signature ${i}`] = signWebhookBody(JSON.stringify(d.event.payload), d.secret);
      expect(await attemptDelivery(`${t.url}/api/shopify/webhook/`, d.event, d.shop, d.secret, `wh-${i}`)).to.equal(200);
    }
    expect(await attemptDelivery(`${t.url}/api/shopify/webhook/`, deliveries[0]!.event, TOKEN_SHOP, 'not-the-secret', 'wh-bad')).to.equal(401);
    // Redis while webhooks and initial syncs are queued (the stream and the jobs still hold their data).
    redisWhileQueued = await redisDump(t);

    // 5. Worker: the initial syncs run, the webhooks are applied.
    const stopSync = await startSyncWorker(t.ctx);
    const stopConsumers = await startWebhookConsumers(t.ctx);
    try {
      await waitFor(
        'the initial syncs to finish',
        async () => {
          const open = await t.ctx.db.selectFrom('shopify_sync_logs').select('id').where('status', 'in', ['queued', 'running']).execute();
          const done = await t.ctx.db.selectFrom('shopify_sync_logs').select('id').where('status', '=', 'succeeded').execute();
          return open.length === 0 && done.length >= 12;
        },
        40_000,
        100,
      );
      await drained(t.ctx);
    } finally {
      await stopConsumers();
      await stopSync();
    }

    // 5b. The OAuth store's access token expires: it is refreshed (logged at debug) and the new pair stored.
    await t.ctx.db
      .updateTable('shopify_integrations')
      .set({ access_token_expires_at: new Date(Date.now() - 1000) })
      .where('shop_domain', '=', OAUTH_SHOP)
      .execute();
    const expired = await t.ctx.db.selectFrom('shopify_integrations').selectAll().where('shop_domain', '=', OAUTH_SHOP).executeTakeFirstOrThrow();
    await clientForIntegration(t.ctx, expired).testConnection();
    expect(mock.tokens.stats.refresh_token).to.equal(1);
    secrets['refreshed access token'] = mock.tokens.currentPair(OAUTH_SHOP)!.access;
    secrets['refreshed refresh token'] = mock.tokens.currentPair(OAUTH_SHOP)!.refresh;

    // 6. What tenants and the operator read afterwards; then a disconnect (it uses the token at Shopify).
    for (const [what, key, path] of [
      ['status', tokenKey, '/api/shopify/status/'],
      ['status', oauthKey, '/api/shopify/status/'],
      ['sync logs', tokenKey, '/api/shopify/sync-logs/'],
      ['products', tokenKey, '/api/shopify/products/?limit=250'],
      ['customers', oauthKey, '/api/shopify/customers/?limit=250'],
      ['admin integrations', ADMIN_KEY, '/api/admin/integrations/'],
      ['admin api keys', ADMIN_KEY, '/api/admin/api-keys/'],
      ['admin webhook stats', ADMIN_KEY, '/api/admin/webhooks/stats/'],
      ['admin dead letters', ADMIN_KEY, '/api/admin/webhooks/dead-letters/'],
    ] as const)
      await record(what, call(t.url, 'GET', path, { key }));
    await record('sync trigger', call(t.url, 'POST', '/api/shopify/sync/', { key: oauthKey, body: {} }));
    await record('disconnect', call(t.url, 'DELETE', '/api/shopify/connect/', { key: tokenKey }));
  });
  after(async () => {
    if (t) await deleteKeys(t.ctx, `${bullPrefix(t.config.redisKeyPrefix)}*`);
    await t?.close();
    await mock?.close();
  });

  it('when the whole scenario is logged at debug level, then no token, secret, key, state, code or signature is in any line', () => {
    expect(t.logs.lines.length).to.be.greaterThan(50);
    expect(t.logs.lines.some((l) => l.includes('"level":20'))).to.equal(true);
    // The scan sees what is there: shops, Shopify request lines, webhook batches (none of them secret).
    for (const seen of [TOKEN_SHOP, OAUTH_SHOP, 'shopify request', 'webhook batch applied']) expect(t.logs.text(), seen).to.include(seen);
    expect(found(t.logs.text(), secrets)).to.deep.equal([]);
  });

  it("when every answer of the scenario is read, then none carries a secret, except the key creation (once) and the state of the tenant's own initiate", () => {
    for (const { what, res } of responses) {
      const text = `${res.text}\n${JSON.stringify([...res.headers])}`;
      const allowed = what === 'create api key' ? Object.keys(secrets).filter((n) => n.startsWith('api key of')) : what === 'oauth initiate' ? ['oauth state'] : [];
      const leaked = found(text, secrets).filter((n) => !allowed.includes(n));
      expect(leaked, what).to.deep.equal([]);
    }
    const created = responses.filter((r) => r.what === 'create api key').map((r) => r.res.body.key);
    const listing = responses.find((r) => r.what === 'admin api keys')!.res;
    for (const key of created) expect(listing.text).not.to.include(key);
  });

  it('when every text column of every table is scanned, then no secret is stored in clear; API keys are stored as their SHA-256 only', async () => {
    const dump = await mysqlDump(t);
    expect(dump.columns).to.be.greaterThan(30);
    for (const seen of [TOKEN_SHOP, OAUTH_SHOP, 'v2:']) expect(dump.text, seen).to.include(seen);
    expect(found(dump.text, secrets)).to.deep.equal([]);
    const stored = await t.ctx.db.selectFrom('api_keys').select(['tenant_id', 'key_hash', 'key_prefix']).where('tenant_id', 'in', ['sec-token-tenant', 'sec-oauth-tenant']).execute();
    expect(stored).to.have.length(2);
    expect(await t.ctx.db.selectFrom('api_keys').select('id').where('tenant_id', '=', 'sec-cc-tenant').execute()).to.have.length(1);
    for (const row of stored) {
      const key = secrets[`api key of ${row.tenant_id}`]!;
      expect(row.key_hash).to.equal(sha256Hex(key));
      expect(key.startsWith(row.key_prefix) && row.key_prefix.length <= 10).to.equal(true);
    }
    // The tokens are there, encrypted: each decrypts to what Shopify issued.
    const integrations = await t.ctx.db
      .selectFrom('shopify_integrations')
      .select(['tenant_id', 'shop_domain', 'access_token_encrypted', 'webhook_secret_encrypted', 'refresh_token_encrypted', 'client_secret_encrypted'])
      .execute();
    const tokenRow = integrations.find((i) => i.shop_domain === TOKEN_SHOP)!;
    expect(openAccessToken(t.ctx.secrets, tokenRow)).to.equal(PASTED_TOKEN);
    expect(openWebhookSecret(t.ctx.secrets, { ...tokenRow, webhook_secret_encrypted: tokenRow.webhook_secret_encrypted! })).to.equal(STORE_SECRET);
    const oauthRow = integrations.find((i) => i.shop_domain === OAUTH_SHOP)!;
    expect(openAccessToken(t.ctx.secrets, oauthRow)).to.equal(secrets['refreshed access token']);
    expect(openRefreshToken(t.ctx.secrets, { ...oauthRow, refresh_token_encrypted: oauthRow.refresh_token_encrypted! })).to.equal(secrets['refreshed refresh token']);
    const ccRow = integrations.find((i) => i.shop_domain === CC_SHOP)!;
    expect(openClientSecret(t.ctx.secrets, { ...ccRow, client_secret_encrypted: ccRow.client_secret_encrypted! })).to.equal(OWN_APP.clientSecret);
  });

  it('when every key under the test prefix is read (stream entries, jobs, limiter, OAuth states), then no secret is in Redis, neither while queued nor after', async () => {
    expect(redisWhileQueued).to.include('stream'); // the webhook stream and the queued sync jobs were there
    expect(redisWhileQueued).to.include(':sync:');
    expect(found(redisWhileQueued, secrets)).to.deep.equal([]);
    expect(found(await redisDump(t), secrets)).to.deep.equal([]);
  });
});
