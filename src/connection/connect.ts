import type { ServiceContext } from '../context.js';
import { ConflictError } from '../errors.js';
import type { components } from '../generated/api.js';
import { sealAccessToken, sealClientSecret, sealRefreshToken, sealWebhookSecret } from '../store/integration-secrets.js';
import { recordIntegrationError, saveTenantConnection } from '../store/integrations.js';
import type { Integration } from '../store/schema.js';
import { ShopifyUnauthorizedError } from '../shopify/errors.js';
import type { ShopifyClient } from '../shopify/admin-client.js';
import type { ShopifyShop } from '../shopify/types.js';
import type { Logger } from '../platform/logger.js';
import { cancelIntegrationSyncs, enqueueSyncs } from '../sync/enqueue.js';
import { clientForIntegration, connectFailure, shopifyClient, unverifiedTokenClient } from './shopify.js';
import { integrationStatus } from './status.js';
import { deleteWebhooks, registerWebhooks, type WebhookRegistration } from './webhook-subscriptions.js';
import { announceShopConnected } from '../platform/shop-events.js';

export type ConnectResult = components['schemas']['ConnectResult'];

export interface ConnectRequest {
  tenantId: string;
  /** Already normalized (`normalizeShopDomain`). */
  shopDomain: string;
  accessToken: string;
  /** A custom app's API secret, verifying this store's webhooks. */
  webhookSecret?: string | undefined;
  installMethod: 'token' | 'oauth' | 'client_credentials';
  /** Granted scopes when known (the OAuth token response says them); otherwise asked of Shopify. */
  scopes?: string[];
  /** An expiring token: when it expires, and (OAuth) the refresh token renewing it. Absent: it never expires. */
  accessTokenExpiresAt?: Date | null;
  refreshToken?: string | null;
  refreshTokenExpiresAt?: Date | null;
  /** The merchant's own app of a client-credentials connect: tokens are minted again with these. */
  clientCredentials?: { clientId: string; clientSecret: string };
}

/**
 * Connects a store: test the token at Shopify (outside the shop's shared rate-limit bucket), read its
 * scopes when the token was pasted → save it encrypted → register webhooks → queue the initial full
 * sync. Nothing is saved unless Shopify accepted the token. A shop another tenant disconnected moves
 * here (see `saveTenantConnection`), logged at warn. Each connect may start a new installation (see
 * `saveTenantConnection`): the previous one's queued syncs are dropped and its running ones stop.
 */
export async function connectStore(ctx: ServiceContext, req: ConnectRequest): Promise<ConnectResult> {
  const log = ctx.logger.child({ tenantId: req.tenantId, shop: req.shopDomain, installMethod: req.installMethod });
  const unverified = unverifiedTokenClient(ctx, req.shopDomain, req.accessToken);
  let shop: ShopifyShop;
  try {
    shop = await unverified.testConnection();
  } catch (err) {
    throw connectFailure(err, req.shopDomain, 'the connection test');
  }
  const scopes = req.scopes ?? (await grantedScopes(unverified, log));

  const owner = { tenant_id: req.tenantId, shop_domain: req.shopDomain };
  const saved = await saveTenantConnection(ctx.db, req.tenantId, {
    shop_domain: req.shopDomain,
    install_method: req.installMethod,
    // The whole pair, and every column of an earlier connect's pair, in this one write.
    access_token_encrypted: sealAccessToken(ctx.secrets, owner, req.accessToken),
    access_token_expires_at: req.accessTokenExpiresAt ?? null,
    refresh_token_encrypted: req.refreshToken ? sealRefreshToken(ctx.secrets, owner, req.refreshToken) : null,
    refresh_token_expires_at: req.refreshToken ? (req.refreshTokenExpiresAt ?? null) : null,
    client_id: req.clientCredentials?.clientId ?? null,
    client_secret_encrypted: req.clientCredentials ? sealClientSecret(ctx.secrets, owner, req.clientCredentials.clientSecret) : null,
    webhook_secret_encrypted: req.webhookSecret ? sealWebhookSecret(ctx.secrets, owner, req.webhookSecret) : null,
    encryption_key_id: ctx.secrets.currentKeyId,
    scopes: scopes.join(','),
    api_version: ctx.config.shopify.apiVersion,
    shop_name: shop.name?.slice(0, 255) ?? null,
    shop_plan: shop.plan_name?.slice(0, 100) ?? null,
    shop_currency: /^[A-Z]{3}$/.test(shop.currency ?? '') ? shop.currency : null,
  });
  if (saved.outcome === 'conflict') throw new ConflictError(`${req.shopDomain} is already connected to another tenant`);
  const { integration, previous, displaced } = saved;
  log.info({ integrationId: integration.id, reconnect: previous !== undefined, installation: integration.installation }, 'store connected');
  // The earlier installation's queued syncs go; a running one stops at its next page, finding another installation.
  if (previous && previous.installation !== integration.installation) await cancelIntegrationSyncs(ctx, previous.id, previous.installation);
  // Every API process drops what it cached about the shop (and about the tenant's previous one): its webhooks are accepted at once.
  for (const shop of new Set([integration.shop_domain, previous?.shop_domain ?? integration.shop_domain])) await announceShopConnected(ctx, shop);
  if (displaced) {
    log.warn(
      { integrationId: integration.id, previousTenantId: displaced.tenant_id, previousIntegrationId: displaced.id },
      "shop moved here from another tenant, which had disconnected it; that tenant's copy of it was deleted",
    );
  }
  // The token is verified: from here on its calls count against the shop's shared bucket.
  const client = shopifyClient(ctx, req.shopDomain, req.accessToken);

  if (previous && previous.shop_domain !== integration.shop_domain) await forgetPreviousShop(ctx, previous);

  let webhooks: WebhookRegistration;
  try {
    webhooks = await registerWebhooks(client, ctx.config, log);
  } catch (err) {
    // Only a 401 gets here: the token was revoked between the test and now.
    await recordIntegrationError(ctx.db, integration.id, err);
    throw connectFailure(err, req.shopDomain, 'webhook registration');
  }

  const initialSync = await enqueueSyncs(ctx, integration, { mode: 'full', trigger: 'connect' });
  return { integration: await integrationStatus(ctx, integration), webhooks, initial_sync: initialSync };
}

/**
 * Scopes of a pasted token, as Shopify lists them (`access_scopes.json`): the orders sweep relies on
 * `read_all_orders`. A refused token fails the connect; any other failure saves no scopes, which only
 * keeps that sweep to the last 60 days, and is logged.
 */
async function grantedScopes(client: ShopifyClient, log: Logger): Promise<string[]> {
  try {
    return await client.accessScopes();
  } catch (err) {
    if (err instanceof ShopifyUnauthorizedError) throw connectFailure(err, client.shopDomain, 'the access scopes request');
    log.warn({ error: (err as Error)?.message }, "could not read the token's access scopes; saved without scopes");
    return [];
  }
}

/**
 * The tenant moved to another shop (its copy of the old shop was purged with the save): the old shop
 * should stop sending us webhooks (best effort, with the old token).
 */
async function forgetPreviousShop(ctx: ServiceContext, previous: Integration): Promise<void> {
  if (previous.is_active !== 1 || previous.token_revoked_at) return;
  try {
    await deleteWebhooks(clientForIntegration(ctx, previous), ctx.config);
  } catch (err) {
    ctx.logger.info({ shop: previous.shop_domain, error: (err as Error)?.message }, "could not remove the previous shop's webhook subscriptions");
  }
}
