import type { SecretBox } from '../platform/crypto.js';
import type { Db, Integration } from './schema.js';

/** Whose secret it is: a ciphertext only decrypts for the tenant and shop it was saved for. */
export type SecretOwner = Pick<Integration, 'tenant_id' | 'shop_domain'>;

const boundTo = (column: string, owner: SecretOwner) => `shopify_integrations.${column}\n${owner.tenant_id}\n${owner.shop_domain}`;

export function sealAccessToken(secrets: SecretBox, owner: SecretOwner, token: string): string {
  return secrets.encrypt(token, boundTo('access_token', owner));
}

export function openAccessToken(secrets: SecretBox, integration: SecretOwner & Pick<Integration, 'access_token_encrypted'>): string {
  return secrets.decrypt(integration.access_token_encrypted, boundTo('access_token', integration));
}

export function sealWebhookSecret(secrets: SecretBox, owner: SecretOwner, secret: string): string {
  return secrets.encrypt(secret, boundTo('webhook_secret', owner));
}

export function openWebhookSecret(secrets: SecretBox, integration: SecretOwner & { webhook_secret_encrypted: string }): string {
  return secrets.decrypt(integration.webhook_secret_encrypted, boundTo('webhook_secret', integration));
}

export function sealRefreshToken(secrets: SecretBox, owner: SecretOwner, token: string): string {
  return secrets.encrypt(token, boundTo('refresh_token', owner));
}

export function openRefreshToken(secrets: SecretBox, integration: SecretOwner & { refresh_token_encrypted: string }): string {
  return secrets.decrypt(integration.refresh_token_encrypted, boundTo('refresh_token', integration));
}

export function sealClientSecret(secrets: SecretBox, owner: SecretOwner, secret: string): string {
  return secrets.encrypt(secret, boundTo('client_secret', owner));
}

export function openClientSecret(secrets: SecretBox, integration: SecretOwner & { client_secret_encrypted: string }): string {
  return secrets.decrypt(integration.client_secret_encrypted, boundTo('client_secret', integration));
}

/** Seals an optional secret column (NULL stays NULL). */
const sealOptional = (value: string | null, seal: (v: string) => string) => (value === null ? null : seal(value));

export interface ResealResult {
  resealed: number;
  /** Rows whose secrets no configured key opens (named by id; their stores must be reconnected). */
  unreadable: number[];
}

/**
 * Encrypts every stored token (access and refresh), webhook secret and client secret again with the current key and its row binding (v2):
 * after a key rotation, and to move rows written before secrets were bound to their rows. A row changed
 * meanwhile (a reconnect) is left as the reconnect wrote it.
 */
export async function resealIntegrationSecrets(db: Db, secrets: SecretBox, batchSize = 200): Promise<ResealResult> {
  const result: ResealResult = { resealed: 0, unreadable: [] };
  let afterId = 0;
  for (;;) {
    const rows = await db
      .selectFrom('shopify_integrations')
      .select(['id', 'tenant_id', 'shop_domain', 'access_token_encrypted', 'webhook_secret_encrypted', 'refresh_token_encrypted', 'client_secret_encrypted'])
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(batchSize)
      .execute();
    if (rows.length === 0) return result;
    afterId = rows[rows.length - 1]!.id;
    for (const row of rows) {
      let token: string;
      let webhookSecret: string | null;
      let refreshToken: string | null;
      let clientSecret: string | null;
      try {
        token = openAccessToken(secrets, row);
        webhookSecret = row.webhook_secret_encrypted ? openWebhookSecret(secrets, { ...row, webhook_secret_encrypted: row.webhook_secret_encrypted }) : null;
        refreshToken = row.refresh_token_encrypted ? openRefreshToken(secrets, { ...row, refresh_token_encrypted: row.refresh_token_encrypted }) : null;
        clientSecret = row.client_secret_encrypted ? openClientSecret(secrets, { ...row, client_secret_encrypted: row.client_secret_encrypted }) : null;
      } catch {
        result.unreadable.push(row.id);
        continue;
      }
      const updated = await db
        .updateTable('shopify_integrations')
        .set({
          access_token_encrypted: sealAccessToken(secrets, row, token),
          webhook_secret_encrypted: sealOptional(webhookSecret, (v) => sealWebhookSecret(secrets, row, v)),
          refresh_token_encrypted: sealOptional(refreshToken, (v) => sealRefreshToken(secrets, row, v)),
          client_secret_encrypted: sealOptional(clientSecret, (v) => sealClientSecret(secrets, row, v)),
          encryption_key_id: secrets.currentKeyId,
        })
        .where('id', '=', row.id)
        // A refresh meanwhile wrote a new pair: left as it wrote it.
        .where('access_token_encrypted', '=', row.access_token_encrypted)
        .executeTakeFirst();
      result.resealed += Number(updated.numUpdatedRows);
    }
  }
}
