import type { ServiceContext } from '../context.js';
import type { components } from '../generated/api.js';
import { ShopifyApiError } from '../shopify/errors.js';
import { deactivateIntegration, deleteIntegrationSyncState, findIntegrationByTenant, lockInstallation, markRecordsPurged, markTokenRevoked } from '../store/integrations.js';
import { purgeTenantRecords } from '../store/records.js';
import type { Integration } from '../store/schema.js';
import { cancelIntegrationSyncs } from '../sync/enqueue.js';
import { clientForIntegration } from './shopify.js';
import { deleteWebhooks } from './webhook-subscriptions.js';
import { DependencyUnavailableError } from '../errors.js';
import { eraseFromWebhookStreams } from '../webhooks/compliance.js';
import { webhookKeys } from '../webhooks/stream.js';
import { announceShopConnected } from '../platform/shop-events.js';

export type DisconnectResult = components['schemas']['DisconnectResult'];

/**
 * Disconnects the tenant's store: removes our webhook subscriptions at Shopify (best effort: a revoked
 * token or an unreachable shop must not keep a tenant connected), marks it inactive, stops its syncs,
 * and with `purge` deletes the synced data and sync state, for good: nothing Shopify observed before the
 * purge is written again (retried deliveries, backlog, dead-letter replays; see apply's dropReason).
 * Idempotent: an inactive integration is not contacted again; with no integration, only the purge runs.
 */
export async function disconnectStore(ctx: ServiceContext, tenantId: string, opts: { purge: boolean }): Promise<DisconnectResult> {
  const integration = await findIntegrationByTenant(ctx.db, tenantId);
  let webhooksDeleted = 0;
  if (integration) {
    // Webhooks first: an inactive integration is not contacted again, so a retry after a failure
    // below still finds the subscriptions gone. Then inactive, then cancel: the scheduler only fans
    // out to active integrations, so nothing is queued after the cancel.
    const wasActive = integration.is_active === 1;
    if (wasActive && !integration.token_revoked_at) webhooksDeleted = await removeWebhooks(ctx, integration);
    await deactivateIntegration(ctx.db, integration.id);
    // Every API process forgets the shop as connected: its deliveries are acknowledged and dropped at once.
    await announceShopConnected(ctx, integration.shop_domain);
    await cancelIntegrationSyncs(ctx, integration.id, integration.installation);
    ctx.logger.info({ tenantId, shop: integration.shop_domain, integrationId: integration.id, wasActive, webhooksDeleted, purge: opts.purge }, 'store disconnected');
  }
  if (opts.purge) {
    await ctx.db.transaction().execute(async (trx) => {
      // Exclusively: writers that checked the store connected before the deactivation commit first.
      if (integration) await lockInstallation(trx, integration.id, 'update');
      await purgeTenantRecords(trx, tenantId);
      if (integration) {
        await deleteIntegrationSyncState(trx, integration.id);
        await markRecordsPurged(trx, integration.id);
      }
    });
    // What Redis still holds of it (backlog, dead letters) goes too; Redis away → 503, and the purge is repeated.
    if (integration)
      await eraseFromWebhookStreams(ctx.redis, webhookKeys(ctx), { kind: 'integration', integrationId: integration.id }).catch((err: unknown) => {
        throw new DependencyUnavailableError('Redis', err);
      });
  }
  return { shop_domain: integration?.shop_domain ?? null, is_active: false, webhooks_deleted: webhooksDeleted, purged: opts.purge };
}

async function removeWebhooks(ctx: ServiceContext, integration: Integration): Promise<number> {
  try {
    return await deleteWebhooks(clientForIntegration(ctx, integration), ctx.config);
  } catch (err) {
    // Logged without the error object: only its message and Shopify's status, never request headers.
    const upstreamStatus = err instanceof ShopifyApiError ? err.upstreamStatus : undefined;
    ctx.logger.info({ shop: integration.shop_domain, upstreamStatus, error: (err as Error)?.message }, 'could not delete webhook subscriptions at Shopify; continuing');
    if (upstreamStatus === 401) await markTokenRevoked(ctx.db, integration.id, integration.installed_at);
    return 0;
  }
}
