import type { ServiceContext } from '../context.js';
import { AppError, DependencyUnavailableError } from '../errors.js';
import { openWebhookSecret } from '../store/integration-secrets.js';
import { findIntegrationByShop } from '../store/integrations.js';

/** What ingest needs to know about a shop: whose it is, and which secret signs its webhooks. */
export interface ShopWebhookTarget {
  integrationId: number;
  tenantId: string;
  /** The store's own webhook secret (custom app), or the app's client secret. */
  secret: string;
}

interface Cached {
  target: ShopWebhookTarget;
  loadedAt: number;
}

/**
 * In-process cache of shop → integration, so a webhook costs one HMAC and one XADD rather than a
 * MySQL round trip too. Only found shops are cached (a shop connected a moment ago is found at once);
 * a cached entry whose secret no longer verifies is reloaded, at most once a second, in case the
 * secret was rotated.
 */
export function createShopLookup(ctx: Pick<ServiceContext, 'db' | 'secrets' | 'config' | 'logger'>, ttlMs = 30_000, maxEntries = 10_000) {
  const cache = new Map<string, Cached>();

  async function load(shop: string): Promise<ShopWebhookTarget | undefined> {
    let integration;
    try {
      integration = await findIntegrationByShop(ctx.db, shop);
    } catch (err) {
      throw new DependencyUnavailableError('MySQL', err);
    }
    if (!integration) {
      cache.delete(shop);
      return undefined;
    }
    let secret = ctx.config.shopify.apiSecret;
    if (integration.webhook_secret_encrypted) {
      try {
        secret = openWebhookSecret(ctx.secrets, { ...integration, webhook_secret_encrypted: integration.webhook_secret_encrypted });
      } catch (err) {
        ctx.logger.error({ err: (err as Error).message, integrationId: integration.id }, 'cannot decrypt the webhook secret of an integration');
        throw new AppError('The webhook secret of this shop cannot be read', { status: 500 });
      }
    }
    const target = { integrationId: integration.id, tenantId: integration.tenant_id, secret };
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(shop, { target, loadedAt: Date.now() });
    return target;
  }

  return {
    async get(shop: string): Promise<ShopWebhookTarget | undefined> {
      const hit = cache.get(shop);
      if (hit && Date.now() - hit.loadedAt < ttlMs) return hit.target;
      return load(shop);
    },
    /** Reloads a shop whose cached secret did not verify; undefined when nothing changed or it is gone. */
    async refreshAfterMismatch(shop: string): Promise<ShopWebhookTarget | undefined> {
      const hit = cache.get(shop);
      if (hit && Date.now() - hit.loadedAt < 1000) return undefined;
      const fresh = await load(shop);
      return fresh && fresh.secret !== hit?.target.secret ? fresh : undefined;
    },
  };
}
export type ShopLookup = ReturnType<typeof createShopLookup>;
