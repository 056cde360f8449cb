import type { ServiceContext } from '../context.js';
import { NotFoundError } from '../errors.js';
import type { components } from '../generated/api.js';
import { RESOURCE_NAMES } from '../resources/index.js';
import { findIntegrationByTenant, isConnected, latestSyncLogs } from '../store/integrations.js';
import type { Integration, SyncLog } from '../store/schema.js';

type Schemas = components['schemas'];
export type IntegrationStatus = Schemas['IntegrationStatus'];
type ResourceSyncStatus = Schemas['ResourceSyncStatus'];

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function resourceStatus(log: SyncLog | undefined): ResourceSyncStatus {
  if (!log) return { status: null, mode: null, trigger: null, started_at: null, finished_at: null, records_fetched: 0, records_written: 0, error: null };
  return {
    status: log.status as ResourceSyncStatus['status'],
    mode: log.mode as ResourceSyncStatus['mode'],
    trigger: log.trigger as ResourceSyncStatus['trigger'],
    started_at: iso(log.started_at),
    finished_at: iso(log.finished_at),
    records_fetched: log.records_fetched,
    records_written: log.records_written,
    error: log.error,
  };
}

const INSTALL_METHODS: IntegrationStatus['install_method'][] = ['token', 'oauth', 'client_credentials'];
const installMethodOf = (integration: Integration) => INSTALL_METHODS.find((m) => m === integration.install_method) ?? 'token';

/**
 * The token's lifetime and whether the merchant must authorize again (then, for OAuth installs, where
 * the install starts again: the tenant's initiate link, which answers the page to send the merchant to).
 */
function tokenStatus(integration: Integration, publicBaseUrl: string): Schemas['TokenStatus'] {
  const reauthorization = integration.reauthorization_required_at !== null && integration.is_active === 1;
  const installUrl =
    reauthorization && integration.install_method === 'oauth' ? `${publicBaseUrl}/api/shopify/oauth/initiate/?shop=${encodeURIComponent(integration.shop_domain)}&redirect=true` : null;
  return {
    expires: integration.access_token_expires_at !== null,
    access_token_expires_at: iso(integration.access_token_expires_at),
    refresh_token_expires_at: iso(integration.refresh_token_expires_at),
    reauthorization_required: reauthorization,
    reauthorization_required_at: reauthorization ? iso(integration.reauthorization_required_at) : null,
    install_url: installUrl,
  };
}

/** The contract's view of an integration (never its token or secret) with the latest sync of each resource. */
export function toIntegrationStatus(integration: Integration, logs: Map<string, SyncLog> = new Map(), publicBaseUrl = ''): IntegrationStatus {
  return {
    shop_domain: integration.shop_domain,
    shop_name: integration.shop_name,
    shop_plan: integration.shop_plan,
    shop_currency: integration.shop_currency,
    install_method: installMethodOf(integration),
    token: tokenStatus(integration, publicBaseUrl),
    is_active: integration.is_active === 1,
    is_connected: isConnected(integration),
    scopes: integration.scopes
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    api_version: integration.api_version,
    // The row is kept (and updated) across reconnects, so this is when the store was first connected.
    connected_at: integration.created_at.toISOString(),
    last_sync_at: iso(integration.last_sync_at),
    last_error_at: iso(integration.last_error_at),
    last_error_message: integration.last_error_message,
    error_count: integration.error_count,
    connected_elsewhere_at: iso(integration.shop_released_at),
    resources: Object.fromEntries(RESOURCE_NAMES.map((r) => [r, resourceStatus(logs.get(r))])) as IntegrationStatus['resources'],
  };
}

/** Statuses of several integrations with one sync-log query (admin list). */
export async function integrationStatuses(ctx: Pick<ServiceContext, 'db' | 'config'>, integrations: Integration[]): Promise<IntegrationStatus[]> {
  const logs = await latestSyncLogs(
    ctx.db,
    integrations.map((i) => i.id),
  );
  return integrations.map((i) => toIntegrationStatus(i, logs.get(i.id), ctx.config.shopify.webhookBaseUrl));
}

export async function integrationStatus(ctx: Pick<ServiceContext, 'db' | 'config'>, integration: Integration): Promise<IntegrationStatus> {
  const [status] = await integrationStatuses(ctx, [integration]);
  return status as IntegrationStatus;
}

/** `GET /api/shopify/status/`: 404 when the tenant never connected a store. */
export async function tenantStatus(ctx: Pick<ServiceContext, 'db' | 'config'>, tenantId: string): Promise<IntegrationStatus> {
  const integration = await findIntegrationByTenant(ctx.db, tenantId);
  if (!integration) throw new NotFoundError('No Shopify store is connected for this tenant: POST /api/shopify/connect/ or start the OAuth install');
  return integrationStatus(ctx, integration);
}
