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

export interface ResealResult {
  resealed: number;
  /** Rows whose secrets no configured key opens (named by id; their stores must be reconnected). */
  unreadable: number[];
}

/**
 * Encrypts every stored token and webhook secret again with the current key and its row binding (v2):
 * after a key rotation, and to move rows written before secrets were bound to their rows. A row changed
 * meanwhile (a reconnect) is left as the reconnect wrote it.
 */
export async function resealIntegrationSecrets(db: Db, secrets: SecretBox, batchSize = 200): Promise<ResealResult> {
  const result: ResealResult = { resealed: 0, unreadable: [] };
  let afterId = 0;
  for (;;) {
    const rows = await db.selectFrom('shopify_integrations')
      .select(['id', 'tenant_id', 'shop_domain', 'access_token_encrypted', 'webhook_secret_encrypted'])
      .where('id', '>', afterId).orderBy('id').limit(batchSize).execute();
    if (rows.length === 0) return result;
    afterId = rows[rows.length - 1]!.id;
    for (const row of rows) {
      let token: string;
      let webhookSecret: string | null;
      try {
        token = openAccessToken(secrets, row);
        webhookSecret = row.webhook_secret_encrypted ? openWebhookSecret(secrets, { ...row, webhook_secret_encrypted: row.webhook_secret_encrypted }) : null;
      } catch {
        result.unreadable.push(row.id);
        continue;
      }
      const updated = await db.updateTable('shopify_integrations')
        .set({
          access_token_encrypted: sealAccessToken(secrets, row, token),
          webhook_secret_encrypted: webhookSecret === null ? null : sealWebhookSecret(secrets, row, webhookSecret),
          encryption_key_id: secrets.currentKeyId,
        })
        .where('id', '=', row.id)
        .where('access_token_encrypted', '=', row.access_token_encrypted)
        .executeTakeFirst();
      result.resealed += Number(updated.numUpdatedRows);
    }
  }
}
