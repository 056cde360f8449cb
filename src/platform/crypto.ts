import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * AES-256-GCM envelope for secrets at rest: `v2:<keyId>:<iv>:<tag>:<ciphertext>` (base64url parts).
 * The key id lets old rows be read after the key is rotated (old keys stay configured as previous keys).
 * v2 binds each ciphertext to where it belongs (associated data, e.g. the table, column and row owner),
 * so a ciphertext copied into another row or column does not decrypt. v1 envelopes (no associated data)
 * are still read, and are written again as v2 whenever the secret is saved.
 */
export function keyId(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** GCM's full tag; a shorter one would be accepted by Node and weaken forgery resistance. */
const TAG_BYTES = 16;
const IV_BYTES = 12;

export function createSecretBox(currentKey: Buffer, previousKeys: Buffer[] = []) {
  const keys = new Map<string, Buffer>([currentKey, ...previousKeys].map((k) => [keyId(k), k]));
  const currentId = keyId(currentKey);
  return {
    currentKeyId: currentId,
    /** Encrypts `plaintext` bound to `boundTo` (the same value must be given to decrypt). */
    encrypt(plaintext: string, boundTo: string): string {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', currentKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(Buffer.from(boundTo, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return ['v2', currentId, iv.toString('base64url'), tag.toString('base64url'), ciphertext.toString('base64url')].join(':');
    },
    decrypt(envelope: string, boundTo: string): string {
      const [version, id, iv, tag, ciphertext] = envelope.split(':');
      if ((version !== 'v1' && version !== 'v2') || !id || !iv || !tag || ciphertext === undefined) throw new Error('not an encrypted secret');
      const key = keys.get(id);
      if (!key) throw new Error(`no configured encryption key has id ${id}`);
      const tagBytes = Buffer.from(tag, 'base64url');
      const ivBytes = Buffer.from(iv, 'base64url');
      if (tagBytes.length !== TAG_BYTES || ivBytes.length !== IV_BYTES) throw new Error('the encrypted secret is malformed');
      const decipher = createDecipheriv('aes-256-gcm', key, ivBytes, { authTagLength: TAG_BYTES });
      if (version === 'v2') decipher.setAAD(Buffer.from(boundTo, 'utf8'));
      decipher.setAuthTag(tagBytes);
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    },
  };
}
export type SecretBox = ReturnType<typeof createSecretBox>;

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function hmacSha256(secret: string, data: string | Buffer, encoding: 'hex' | 'base64'): string {
  return createHmac('sha256', secret).update(data).digest(encoding);
}

/** Constant-time comparison of two strings (false on different lengths, without early exit on content). */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  if (left.length !== right.length) {
    timingSafeEqual(left, left);
    return false;
  }
  return timingSafeEqual(left, right);
}

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}
