import type { ServiceContext } from '../context.js';
import { AppError, DependencyUnavailableError } from '../errors.js';
import { openClientSecret, openWebhookSecret } from '../store/integration-secrets.js';
import { findIntegrationByShop, isConnected } from '../store/integrations.js';

/** What ingest needs to know about a shop: whose it is, whether it is connected, and which secret signs its webhooks. */
export interface ShopWebhookTarget {
  integrationId: number;
  tenantId: string;
  /** The store's own webhook secret (custom app), its own app's client secret (client-credentials connect), or our app's client secret. */
  secret: string;
  /** Active with a token Shopify has not revoked: only then are its record webhooks queued (apply checks again). */
  connected: boolean;
}

interface Cached {
  target: ShopWebhookTarget;
  loadedAt: number;
}

/**
 * In-process cache of shop → integration, so a webhook costs one HMAC and one XADD rather than a
 * MySQL round trip too. A cached entry whose secret no longer verifies is reloaded, at most once a
 * second, in case the secret was rotated.
 *
 * Unknown shops are remembered too, for WEBHOOK_UNKNOWN_SHOP_CACHE_MS in a bounded map of their own (a
 * flood of invented shops cannot push known ones out), and concurrent lookups of one shop share one
 * query: a flood for an unknown shop costs one SELECT per TTL. A connect anywhere is announced on
 * `shopEvents` and drops the shop from both maps, so a store connected a moment ago is found at once (a
 * disconnect is announced too; a process that missed it queues a little longer, and apply drops those).
 */
export function createShopLookup(ctx: Pick<ServiceContext, 'db' | 'secrets' | 'config' | 'logger'> & Partial<Pick<ServiceContext, 'shopEvents'>>, ttlMs = 30_000, maxEntries = 10_000) {
  const cache = new Map<string, Cached>();
  /** Unknown shop → when the miss expires. */
  const missing = new Map<string, number>();
  const inFlight = new Map<string, Promise<ShopWebhookTarget | undefined>>();
  const missTtlMs = ctx.config.webhooks.unknownShopCacheMs;
  /** Bumped by every invalidation: a load that started before it must not cache what it read. */
  let generation = 0;

  function rememberMissing(shop: string): void {
    if (missTtlMs === 0) return;
    missing.delete(shop);
    if (missing.size >= maxEntries) missing.delete(missing.keys().next().value as string);
    missing.set(shop, Date.now() + missTtlMs);
  }

  function invalidate(shop: string): void {
    generation++;
    cache.delete(shop);
    missing.delete(shop);
    inFlight.delete(shop);
  }

  async function load(shop: string): Promise<ShopWebhookTarget | undefined> {
    const startedAt = generation;
    let integration;
    try {
      integration = await findIntegrationByShop(ctx.db, shop);
    } catch (err) {
      throw new DependencyUnavailableError('MySQL', err);
    }
    if (!integration) {
      cache.delete(shop);
      if (generation === startedAt) rememberMissing(shop);
      return undefined;
    }
    missing.delete(shop);
    // A custom app's own secret, else (client-credentials connect) the merchant app's client secret, else our app's.
    let secret = ctx.config.shopify.apiSecret;
    if (integration.webhook_secret_encrypted || integration.client_secret_encrypted) {
      try {
        secret = integration.webhook_secret_encrypted
          ? openWebhookSecret(ctx.secrets, { ...integration, webhook_secret_encrypted: integration.webhook_secret_encrypted })
          : openClientSecret(ctx.secrets, { ...integration, client_secret_encrypted: integration.client_secret_encrypted as string });
      } catch (err) {
        ctx.logger.error({ err: (err as Error).message, integrationId: integration.id }, 'cannot decrypt the webhook secret of an integration');
        throw new AppError('The webhook secret of this shop cannot be read', { status: 500 });
      }
    }
    const target = { integrationId: integration.id, tenantId: integration.tenant_id, secret, connected: isConnected(integration) };
    if (generation !== startedAt) return target;
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(shop, { target, loadedAt: Date.now() });
    return target;
  }

  function loadOnce(shop: string): Promise<ShopWebhookTarget | undefined> {
    const running = inFlight.get(shop);
    if (running) return running;
    const loading = load(shop).finally(() => {
      if (inFlight.get(shop) === loading) inFlight.delete(shop);
    });
    inFlight.set(shop, loading);
    return loading;
  }

  const stopListening = ctx.shopEvents?.onConnected(invalidate);

  return {
    async get(shop: string): Promise<ShopWebhookTarget | undefined> {
      const hit = cache.get(shop);
      if (hit && Date.now() - hit.loadedAt < ttlMs) return hit.target;
      const missUntil = missing.get(shop);
      if (missUntil !== undefined && Date.now() < missUntil) return undefined;
      return loadOnce(shop);
    },
    /** Forgets what is cached about a shop (it was connected, reconnected or moved to another tenant). */
    invalidate,
    /** Stops following connects (the lookup is dropped). */
    stop(): void {
      stopListening?.();
    },
    /** Reloads a shop whose cached secret did not verify; undefined when nothing changed or it is gone. */
    async refreshAfterMismatch(shop: string): Promise<ShopWebhookTarget | undefined> {
      const hit = cache.get(shop);
      if (hit && Date.now() - hit.loadedAt < 1000) return undefined;
      const fresh = await loadOnce(shop);
      return fresh && fresh.secret !== hit?.target.secret ? fresh : undefined;
    },
  };
}
export type ShopLookup = ReturnType<typeof createShopLookup>;
