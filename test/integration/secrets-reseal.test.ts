import { createCipheriv, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { createSecretBox, keyId } from '../../src/platform/crypto.js';
import { openAccessToken, openWebhookSecret, resealIntegrationSecrets } from '../../src/store/integration-secrets.js';
import { updateIntegration } from '../../src/store/integrations.js';
import { startTestContext, type TestContext } from '../support/context.js';
import { seedIntegration } from '../support/seed.js';

/** A v1 envelope (no row binding), as rows written before secrets were bound to their rows hold. */
function legacyEnvelope(key: Buffer, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', keyId(key), iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join(':');
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
});
