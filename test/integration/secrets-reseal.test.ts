import { spawn } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { expect } from 'chai';
import { createSecretBox, keyId } from '../../src/platform/crypto.js';
import { openAccessToken, openWebhookSecret, resealIntegrationSecrets } from '../../src/store/integration-secrets.js';
import { updateIntegration } from '../../src/store/integrations.js';
import { findEndpointById, resealEndpointSecrets, sealEndpointSecret, signingSecrets } from '../../src/store/webhook-endpoints.js';
import { TEST_REDIS_URL, startTestContext, type TestContext } from '../support/context.js';
import { call } from '../support/http.js';
import { seedIntegration } from '../support/seed.js';

/** A v1 envelope (no row binding), as rows written before secrets were bound to their rows hold. */
function legacyEnvelope(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', keyId(key), iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join(':');
}

/** Runs `npm run cli -- <args>` against the test database, from an empty directory (no .env). */
async function runCli(t: TestContext, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'secrets-reseal-'));
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  try {
    const child = spawn(process.execPath, ['--import', tsx, path.resolve('src/main/cli.ts'), ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH, NODE_ENV: 'development', DATABASE_URL: t.databaseUrl, REDIS_URL: TEST_REDIS_URL, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += String(chunk)));
    child.stderr.on('data', (chunk: Buffer) => (stderr += String(chunk)));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    return { code, stdout, stderr };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('re-encrypting stored secrets (npm run cli -- secrets reseal)', () => {
  const oldKey = randomBytes(32);
  let t: TestContext;

  before(async () => {
    t = await startTestContext({ TOKEN_ENCRYPTION_PREVIOUS_KEYS: oldKey.toString('base64') });
  });
  after(async () => {
    await t?.close();
  });

  it('when rows hold v1 secrets of a previous key, then they are sealed again with the current key, bound to their row', async () => {
    const legacy = await seedIntegration(t.ctx, 'reseal-legacy', 'reseal-legacy.myshopify.com');
    await updateIntegration(t.ctx.db, legacy.integrationId, {
      access_token_encrypted: legacyEnvelope(oldKey, 'shpat_legacy'),
      webhook_secret_encrypted: legacyEnvelope(oldKey, 'whsec_legacy'),
      encryption_key_id: keyId(oldKey),
    });
    const lost = await seedIntegration(t.ctx, 'reseal-lost', 'reseal-lost.myshopify.com');
    await updateIntegration(t.ctx.db, lost.integrationId, { access_token_encrypted: createSecretBox(randomBytes(32)).encrypt('x', 'y') });

    const result = await resealIntegrationSecrets(t.ctx.db, t.ctx.secrets);
    expect(result.unreadable).to.deep.equal([lost.integrationId]);
    expect(result.resealed).to.equal(1);

    const row = await t.ctx.db.selectFrom('shopify_integrations').selectAll().where('id', '=', legacy.integrationId).executeTakeFirstOrThrow();
    expect(row.encryption_key_id).to.equal(t.ctx.secrets.currentKeyId);
    expect(row.access_token_encrypted).to.match(new RegExp(`^v2:${t.ctx.secrets.currentKeyId}:`));
    expect(openAccessToken(t.ctx.secrets, row)).to.equal('shpat_legacy');
    expect(openWebhookSecret(t.ctx.secrets, { ...row, webhook_secret_encrypted: row.webhook_secret_encrypted! })).to.equal('whsec_legacy');
    // Without the old key the row still opens: it no longer depends on it.
    expect(openAccessToken(createSecretBox(t.config.encryption.key), row)).to.equal('shpat_legacy');
    // Bound to its row: the same ciphertext under another tenant does not open.
    expect(() => openAccessToken(t.ctx.secrets, { ...row, tenant_id: 'someone-else' })).to.throw();
  });
  describe('outbound webhook endpoints', () => {
    const HOUR = 3_600_000;
    let key: string;
    let overlapping: number;
    let expiredPrevious: number;
    let lost: number;

    before(async () => {
      key = await t.keyFor('reseal-endpoints');
    });

    /** An endpoint created through the API whose secrets are then sealed as an older key left them. */
    async function endpointSealedWith(
      box: ReturnType<typeof createSecretBox>,
      current: string,
      previous?: { secret: string; box: ReturnType<typeof createSecretBox>; expiresAt: Date },
    ): Promise<number> {
      // A public address literal: accepted without a lookup; nothing is sent (no worker runs here).
      const created = await call(t.url, 'POST', '/api/webhook-endpoints/', { key, body: { url: 'https://93.184.215.14/hooks' } });
      expect(created.status, created.text).to.equal(201);
      const owner = { tenant_id: 'reseal-endpoints', id: created.body.id as number };
      await t.ctx.db
        .updateTable('webhook_endpoints')
        .set({
          secret_encrypted: sealEndpointSecret(box, owner, 'secret', current),
          previous_secret_encrypted: previous ? sealEndpointSecret(previous.box, owner, 'previous_secret', previous.secret) : null,
          previous_secret_expires_at: previous?.expiresAt ?? null,
        })
        .where('id', '=', owner.id)
        .execute();
      return owner.id;
    }

    it('when endpoint secrets are sealed with a previous key, then the current and still-signing previous secret are sealed again with the current key, an expired previous one dropped', async () => {
      const oldBox = createSecretBox(oldKey);
      const lostBox = createSecretBox(randomBytes(32));
      overlapping = await endpointSealedWith(oldBox, 'whsec_current_a', { secret: 'whsec_previous_a', box: oldBox, expiresAt: new Date(Date.now() + 24 * HOUR) });
      // Its previous secret no longer signs: no key needs to open it.
      expiredPrevious = await endpointSealedWith(oldBox, 'whsec_current_b', { secret: 'whsec_previous_b', box: lostBox, expiresAt: new Date(Date.now() - HOUR) });
      lost = await endpointSealedWith(lostBox, 'whsec_lost');

      expect(await resealEndpointSecrets(t.ctx.db, t.ctx.secrets)).to.deep.equal({ resealed: 2, unreadable: [lost] });

      // Only the current key is needed from now on, and each ciphertext is bound to its endpoint and column.
      const currentOnly = createSecretBox(t.config.encryption.key);
      const a = (await findEndpointById(t.ctx.db, overlapping))!;
      expect(a.secret_encrypted).to.match(new RegExp(`^v2:${t.ctx.secrets.currentKeyId}:`));
      expect(a.previous_secret_encrypted).to.match(new RegExp(`^v2:${t.ctx.secrets.currentKeyId}:`));
      expect(signingSecrets(currentOnly, a)).to.deep.equal(['whsec_current_a', 'whsec_previous_a']);
      expect(() => signingSecrets(currentOnly, { ...a, id: expiredPrevious })).to.throw();
      const b = (await findEndpointById(t.ctx.db, expiredPrevious))!;
      expect(b).to.include({ previous_secret_encrypted: null, previous_secret_expires_at: null });
      expect(signingSecrets(currentOnly, b)).to.deep.equal(['whsec_current_b']);

      // The API still shows the overlap of the one whose previous secret signs.
      const shown = await call(t.url, 'GET', `/api/webhook-endpoints/${overlapping}/`, { key });
      expect(shown.status, shown.text).to.equal(200);
      expect(shown.body.previous_secret_expires_at).to.equal(a.previous_secret_expires_at!.toISOString());
    });

    it('when the CLI runs, then it reports integrations and endpoints re-encrypted, names the unreadable ones, and exits 1', async function () {
      this.timeout(30_000);
      const { code, stdout, stderr } = await runCli(t, ['secrets', 'reseal'], { TOKEN_ENCRYPTION_PREVIOUS_KEYS: oldKey.toString('base64') });
      expect(stdout, stderr).to.include(`Re-encrypted the secrets of 1 integration(s) and 2 webhook endpoint(s) with key ${t.ctx.secrets.currentKeyId}.`);
      expect(stdout).to.match(/No configured key opens the secrets of integration\(s\) \d+: reconnect those stores\./);
      expect(stdout).to.include(`No configured key opens the signing secrets of webhook endpoint(s) ${lost}:`);
      expect(code).to.equal(1);
      expect(stdout + stderr).not.to.include('whsec_');
    });
  });
});
