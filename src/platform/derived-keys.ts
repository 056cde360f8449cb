import { hkdfSync } from 'node:crypto';

/**
 * Keys for one purpose each (signing install cookies, opaque job ids), derived from the token
 * encryption key with HKDF-SHA256, so no new secret has to be configured and none is reused as is.
 */
export type KeyPurpose = 'oauth-install-cookie' | 'sync-job-id';

export function deriveKey(masterKey: Buffer, purpose: KeyPurpose): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `shopint:${purpose}`, 32));
}
