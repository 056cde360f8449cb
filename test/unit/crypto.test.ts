import { createCipheriv, randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { createSecretBox, keyId } from '../../src/platform/crypto.js';
import { openAccessToken, sealAccessToken, sealWebhookSecret } from '../../src/store/integration-secrets.js';

const KEY = randomBytes(32);
const OLD_KEY = randomBytes(32);

/** A v1 envelope as earlier versions wrote it (no associated data). */
function legacyEnvelope(key: Buffer, plaintext: string, tagLength = 16): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: tagLength });
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', keyId(key), iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ciphertext.toString('base64url')].join(':');
}

describe('secrets at rest (AES-256-GCM)', () => {
  const box = createSecretBox(KEY, [OLD_KEY]);

  it('when a secret is encrypted, then it decrypts only with the same binding', () => {
    const envelope = box.encrypt('shpat_secret', 'row-a');
    expect(envelope).to.match(/^v2:/);
    expect(envelope).not.to.include('shpat_secret');
    expect(box.decrypt(envelope, 'row-a')).to.equal('shpat_secret');
    expect(() => box.decrypt(envelope, 'row-b')).to.throw();
  });

  it("when a tenant's token ciphertext is copied into another tenant's row or column, then it does not decrypt", () => {
    const a = { tenant_id: 'acme', shop_domain: 'acme.myshopify.com' };
    const sealed = sealAccessToken(box, a, 'shpat_acme');
    expect(openAccessToken(box, { ...a, access_token_encrypted: sealed })).to.equal('shpat_acme');
    expect(() => openAccessToken(box, { tenant_id: 'ACME', shop_domain: a.shop_domain, access_token_encrypted: sealed })).to.throw();
    expect(() => openAccessToken(box, { tenant_id: 'evil', shop_domain: 'evil.myshopify.com', access_token_encrypted: sealed })).to.throw();
    // The webhook secret column's ciphertext is no access token, even for the same owner.
    expect(() => openAccessToken(box, { ...a, access_token_encrypted: sealWebhookSecret(box, a, 'whsec') })).to.throw();
  });

  it('when the tag is shorter than 16 bytes, then the envelope is refused even though GCM could check it', () => {
    const short = legacyEnvelope(KEY, 'shpat_short', 4);
    expect(() => box.decrypt(short, 'any')).to.throw(/malformed/);
  });

  it('when the ciphertext or tag was altered, then decryption fails', () => {
    const [v, id, iv, tag, ct] = box.encrypt('shpat_secret', 'row').split(':') as [string, string, string, string, string];
    const flipped = Buffer.from(ct, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(() => box.decrypt([v, id, iv, tag, flipped.toString('base64url')].join(':'), 'row')).to.throw();
    const badTag = Buffer.from(tag, 'base64url');
    badTag[15] = badTag[15]! ^ 1;
    expect(() => box.decrypt([v, id, iv, badTag.toString('base64url'), ct].join(':'), 'row')).to.throw();
  });

  it('when a row holds a v1 envelope of a previous key, then it is still read', () => {
    expect(box.decrypt(legacyEnvelope(OLD_KEY, 'shpat_legacy'), 'row')).to.equal('shpat_legacy');
  });

  it("when no configured key has the envelope's key id, then it says so", () => {
    const other = createSecretBox(randomBytes(32));
    expect(() => box.decrypt(other.encrypt('x', 'row'), 'row')).to.throw(/no configured encryption key/);
  });
});
