import { sql, type Transaction } from 'kysely';
import { appendIntegrationEvent, inTransaction } from './change-events.js';
import { pageOf, type Page } from './page.js';
import { purgeTenantRecords } from './records.js';
import type { Database, Db } from './schema.js';
import type { Integration, IntegrationUpdate, NewIntegration, SyncLog } from './schema.js';

/** The row holding a shop (a row another tenant's shop moved away from no longer holds it). */
const holderOf = (db: Db, shopDomain: string) => db.selectFrom('shopify_integrations').selectAll().where('shop_domain', '=', shopDomain.toLowerCase()).where('shop_released_at', 'is', null);

export async function createIntegration(db: Db, values: NewIntegration): Promise<Integration> {
  const result = await db.insertInto('shopify_integrations').values(values).executeTakeFirstOrThrow();
  return db.selectFrom('shopify_integrations').selectAll().where('id', '=', Number(result.insertId)).executeTakeFirstOrThrow();
}

export async function updateIntegration(db: Db, id: number, values: IntegrationUpdate): Promise<void> {
  await db.updateTable('shopify_integrations').set(values).where('id', '=', id).execute();
}

export function findIntegrationByTenant(db: Db, tenantId: string): Promise<Integration | undefined> {
  return db.selectFrom('shopify_integrations').selectAll().where('tenant_id', '=', tenantId).executeTakeFirst();
}

/** The integration holding the shop (not the rows of tenants it moved away from). */
export function findIntegrationByShop(db: Db, shopDomain: string): Promise<Integration | undefined> {
  return holderOf(db, shopDomain).executeTakeFirst();
}

export function findIntegrationById(db: Db, id: number): Promise<Integration | undefined> {
  return db.selectFrom('shopify_integrations').selectAll().where('id', '=', id).executeTakeFirst();
}

export function listActiveIntegrations(db: Db): Promise<Integration[]> {
  return db.selectFrom('shopify_integrations').selectAll().where('is_active', '=', 1).where('token_revoked_at', 'is', null).orderBy('id').execute();
}

/** Connected: active, and Shopify has not answered 401 to its token since it was saved. */
export function isConnected(integration: Pick<Integration, 'is_active' | 'token_revoked_at'>): boolean {
  return integration.is_active === 1 && integration.token_revoked_at === null;
}

export async function markSuccess(db: Db, id: number, at = new Date()): Promise<void> {
  await db.updateTable('shopify_integrations').set({ error_count: 0, last_sync_at: at }).where('id', '=', id).execute();
}

export async function markError(db: Db, id: number, message: string, at = new Date()): Promise<void> {
  await db
    .updateTable('shopify_integrations')
    .set({ error_count: sql<number>`error_count + 1`, last_error_at: at, last_error_message: message.slice(0, 1000) })
    .where('id', '=', id)
    .execute();
}

/**
 * Shopify answered 401 to the token saved at `tokenSavedAt` (a run's `installed_at`), or uninstalled
 * the app at `tokenSavedAt` (its Triggered-At): the token is revoked, unless a connect saved another one
 * since, which belongs to a later installation and stays. Returns whether the row changed.
 */
export async function markTokenRevoked(db: Db | Transaction<Database>, id: number, tokenSavedAt: Date, at = new Date(), cause: 'unauthorized' | 'uninstalled' = 'unauthorized'): Promise<boolean> {
  return inTransaction(db, async (trx) => {
    const result = await trx
      .updateTable('shopify_integrations')
      .set({ token_revoked_at: at })
      .where('id', '=', id)
      .where('token_revoked_at', 'is', null)
      .where('installed_at', '<=', tokenSavedAt)
      .executeTakeFirst();
    const changed = Number(result.numUpdatedRows) > 0;
    if (changed) {
      if (cause === 'uninstalled') await appendIntegrationEvent(trx, id, 'integration.disconnected', { reason: 'uninstalled' });
      else await appendIntegrationEvent(trx, id, 'integration.reauthorization_required', { reason: 'Shopify refused the access token' });
    }
    return changed;
  });
}

// ---------- expiring tokens (see migration 0011) ----------

/** The columns of a token pair, sealed: always written together, in one statement. */
export type TokenPairColumns = Pick<NewIntegration, 'access_token_encrypted' | 'access_token_expires_at' | 'refresh_token_encrypted' | 'refresh_token_expires_at'>;

/**
 * Stores a renewed (or migrated) pair in one UPDATE, fenced: only while the row still holds the token
 * `expectedAccessToken` (sealed) that was renewed; a connect or another renewal since wins. Returns
 * whether it was written.
 */
export async function saveTokenPair(db: Db, id: number, pair: TokenPairColumns, expectedAccessToken: string): Promise<boolean> {
  const result = await db
    .updateTable('shopify_integrations')
    .set({ ...pair, reauthorization_required_at: null })
    .where('id', '=', id)
    .where('access_token_encrypted', '=', expectedAccessToken)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

/**
 * Shopify refused to renew the token held as `expectedAccessToken` (or its refresh token expired): the
 * store is not connected until the merchant authorizes again (its syncs pause: the scheduler and runs
 * skip it). A token saved since (a reconnect) is left alone.
 */
export async function markReauthorizationRequired(db: Db, id: number, expectedAccessToken: string, reason: string, at = new Date()): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const result = await trx
      .updateTable('shopify_integrations')
      .set({
        reauthorization_required_at: at,
        token_revoked_at: sql<Date>`COALESCE(token_revoked_at, ${at})`,
        error_count: sql<number>`error_count + 1`,
        last_error_at: at,
        last_error_message: reason.slice(0, 1000),
      })
      .where('id', '=', id)
      .where('access_token_encrypted', '=', expectedAccessToken)
      .where('reauthorization_required_at', 'is', null)
      .executeTakeFirst();
    const changed = Number(result.numUpdatedRows) > 0;
    if (changed) await appendIntegrationEvent(trx, id, 'integration.reauthorization_required', { reason: reason.slice(0, 1000) });
    return changed;
  });
}

/** OAuth installs whose token never expires (to migrate before 2027-01-01), a keyset page by id. */
export function listNonExpiringOAuthIntegrations(db: Db, opts: { afterId: number; limit: number }): Promise<Integration[]> {
  return db
    .selectFrom('shopify_integrations')
    .selectAll()
    .where('install_method', '=', 'oauth')
    .where('access_token_expires_at', 'is', null)
    .where('is_active', '=', 1)
    .where('token_revoked_at', 'is', null)
    .where('id', '>', opts.afterId)
    .orderBy('id')
    .limit(opts.limit)
    .execute();
}

/** How many connected OAuth installs still hold a non-expiring token, and the earliest refresh-token expiry. */
export async function tokenHealth(db: Db): Promise<{ nonExpiringOAuth: number; earliestRefreshExpiry: Date | null; reauthorizationRequired: number }> {
  const row = await db
    .selectFrom('shopify_integrations')
    .select((eb) => [
      eb.fn.sum<number>(sql`install_method = 'oauth' AND access_token_expires_at IS NULL AND is_active = 1 AND token_revoked_at IS NULL`).as('non_expiring'),
      eb.fn.min<Date | null>(sql`CASE WHEN is_active = 1 AND token_revoked_at IS NULL THEN refresh_token_expires_at END`).as('earliest'),
      eb.fn.sum<number>(sql`is_active = 1 AND reauthorization_required_at IS NOT NULL`).as('reauth'),
    ])
    .executeTakeFirstOrThrow();
  return { nonExpiringOAuth: Number(row.non_expiring ?? 0), earliestRefreshExpiry: row.earliest ? new Date(row.earliest) : null, reauthorizationRequired: Number(row.reauth ?? 0) };
}

// ---------- installations ----------

/** What writers check of an integration, read under a lock in their own transaction. */
export type InstallationState = Pick<Integration, 'id' | 'tenant_id' | 'shop_domain' | 'installation' | 'installed_at' | 'is_active' | 'token_revoked_at' | 'shop_released_at' | 'records_purged_at'>;

/**
 * Reads the integration row locked in share mode (page writes, webhook batches: they do not block one
 * another) or for update (changes of the row, redactions), so a connect, disconnect or purge either
 * waits for the writer's commit or is seen by it. Both servers know LOCK IN SHARE MODE.
 */
export async function lockInstallation(trx: Transaction<Database>, id: number, mode: 'share' | 'update'): Promise<InstallationState | undefined> {
  const { rows } = await sql<InstallationState>`
    SELECT id, tenant_id, shop_domain, installation, installed_at, is_active, token_revoked_at, shop_released_at, records_purged_at
    FROM shopify_integrations WHERE id = ${id} ${mode === 'update' ? sql`FOR UPDATE` : sql`LOCK IN SHARE MODE`}`.execute(trx);
  const row = rows[0];
  return row ? { ...row, id: Number(row.id), installation: Number(row.installation), is_active: Number(row.is_active) } : undefined;
}

/** Whether work begun for `installation` may still write: the row holds it, connected. */
export function isCurrentInstallation(state: InstallationState | undefined, installation: number): boolean {
  return state !== undefined && state.installation === installation && state.shop_released_at === null && isConnected(state);
}

/** The copy was purged now: what Shopify observed before stays out (see migration 0010). */
export async function markRecordsPurged(db: Db, id: number, at = new Date()): Promise<void> {
  await db.updateTable('shopify_integrations').set({ records_purged_at: at }).where('id', '=', id).execute();
}

// ---------- connecting, health and listing (connection flows, admin) ----------

/** What a connect writes: everything of the row but its identity, health and timestamps. */
export type ConnectionValues = Pick<
  NewIntegration,
  | 'shop_domain'
  | 'install_method'
  | 'access_token_encrypted'
  | 'webhook_secret_encrypted'
  | 'encryption_key_id'
  | 'scopes'
  | 'api_version'
  | 'shop_name'
  | 'shop_plan'
  | 'shop_currency'
  | 'access_token_expires_at'
  | 'refresh_token_encrypted'
  | 'refresh_token_expires_at'
  | 'client_id'
  | 'client_secret_encrypted'
>;

export type SaveConnectionResult = { outcome: 'saved'; integration: Integration; previous: Integration | undefined; displaced: Integration | undefined } | { outcome: 'conflict' };

const isDuplicateKey = (err: unknown) => (err as { code?: string })?.code === 'ER_DUP_ENTRY';

/**
 * Saves the tenant's connection: updates its row (reactivated; error state, token revocation and a past
 * move cleared) or inserts one. A shop held by another tenant's active integration is a conflict. One
 * held by another tenant's disconnected integration moves here, never silently: that tenant's copied
 * records and sync state are deleted (they are no longer its to hold) and its row is kept, marked with
 * `shop_released_at`, so its status says the shop is connected elsewhere; the caller gets it back as
 * `displaced` to log. The unique keys on tenant and shop holder settle races: a duplicate key re-runs the
 * decision once.
 *
 * Every connect is `installed_at` now (an older `app/uninstalled` is stale). A row that takes another
 * shop, or a store connected again after a disconnect or revocation, starts a new `installation`: work
 * of the previous one stops writing. A row that takes another shop also loses the old shop's copy and
 * sync state in the same transaction, so no page of the old shop lands after the purge.
 */
export async function saveTenantConnection(db: Db, tenantId: string, values: ConnectionValues, now = new Date()): Promise<SaveConnectionResult> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await db.transaction().execute(async (trx) => {
        let displaced: Integration | undefined;
        const holder = await holderOf(trx, values.shop_domain).forUpdate().executeTakeFirst();
        if (holder && holder.tenant_id !== tenantId) {
          if (holder.is_active === 1) return { outcome: 'conflict' } as const;
          await purgeTenantRecords(trx, holder.tenant_id);
          await deleteIntegrationSyncState(trx, holder.id);
          await trx.updateTable('shopify_integrations').set({ shop_released_at: now, records_purged_at: now }).where('id', '=', holder.id).execute();
          displaced = holder;
        }
        const previous = await trx.selectFrom('shopify_integrations').selectAll().where('tenant_id', '=', tenantId).forUpdate().executeTakeFirst();
        const healthy = {
          is_active: 1,
          token_revoked_at: null,
          reauthorization_required_at: null,
          shop_released_at: null,
          error_count: 0,
          last_error_at: null,
          last_error_message: null,
          installed_at: now,
        };
        let id: number;
        if (previous) {
          const shopChanged = previous.shop_domain !== values.shop_domain;
          const reinstalled = shopChanged || previous.shop_released_at !== null || !isConnected(previous);
          if (shopChanged) {
            await purgeTenantRecords(trx, tenantId);
            await deleteIntegrationSyncState(trx, previous.id);
          }
          await trx
            .updateTable('shopify_integrations')
            .set({
              ...values,
              ...healthy,
              ...(reinstalled ? { installation: sql<number>`installation + 1` } : {}),
              ...(shopChanged ? { records_purged_at: now } : {}),
            })
            .where('id', '=', previous.id)
            .execute();
          id = previous.id;
        } else {
          const result = await trx
            .insertInto('shopify_integrations')
            .values({ ...values, ...healthy, tenant_id: tenantId, last_sync_at: null })
            .executeTakeFirstOrThrow();
          id = Number(result.insertId);
        }
        const integration = await trx.selectFrom('shopify_integrations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
        await appendIntegrationEvent(trx, id, 'integration.connected', { install_method: integration.install_method, installation: integration.installation });
        return { outcome: 'saved', integration, previous, displaced } as const;
      });
    } catch (err) {
      if (!isDuplicateKey(err)) throw err;
      if (attempt >= 1) return { outcome: 'conflict' };
    }
  }
}

/** Disconnected: the scheduler only fans out to active integrations. Returns whether it was active. */
export async function deactivateIntegration(db: Db, id: number): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const result = await trx.updateTable('shopify_integrations').set({ is_active: 0 }).where('id', '=', id).where('is_active', '=', 1).executeTakeFirst();
    const changed = Number(result.numUpdatedRows) > 0;
    if (changed) await appendIntegrationEvent(trx, id, 'integration.disconnected', { reason: 'disconnected' });
    return changed;
  });
}

/** Drops what a sync or webhook remembered about an integration's data (cursors, processed event ids). */
export async function deleteIntegrationSyncState(db: Db, integrationId: number): Promise<void> {
  await db.deleteFrom('shopify_sync_state').where('integration_id', '=', integrationId).execute();
  await db.deleteFrom('shopify_webhook_events').where('integration_id', '=', integrationId).execute();
}

/** Whether a failure means the token is no longer accepted (Shopify answered 401). */
function isRevokedToken(err: unknown): boolean {
  return (err as { upstreamStatus?: unknown })?.upstreamStatus === 401;
}

/**
 * Records a failed call for an integration's health in one statement: counts it, keeps its time and
 * message, and when Shopify answered 401 marks the token revoked (the integration is then not connected).
 */
export async function recordIntegrationError(db: Db, id: number, err: unknown, at = new Date()): Promise<void> {
  const message = (err instanceof Error ? err.message : String(err)).slice(0, 1000);
  await db
    .updateTable('shopify_integrations')
    .set({
      error_count: sql<number>`error_count + 1`,
      last_error_at: at,
      last_error_message: message,
      ...(isRevokedToken(err) ? { token_revoked_at: sql<Date>`COALESCE(token_revoked_at, ${at})` } : {}),
    })
    .where('id', '=', id)
    .execute();
}

/** A keyset page of every tenant's integrations (admin), by id. */
export async function listIntegrations(db: Db, opts: { limit: number; afterId?: number; isActive?: boolean }): Promise<Page<Integration, number>> {
  let q = db
    .selectFrom('shopify_integrations')
    .selectAll()
    .orderBy('id', 'asc')
    .limit(opts.limit + 1);
  if (opts.afterId !== undefined) q = q.where('id', '>', opts.afterId);
  if (opts.isActive !== undefined) q = q.where('is_active', '=', opts.isActive ? 1 : 0);
  return pageOf(await q.execute(), opts.limit, (last) => last.id);
}

/**
 * The latest sync log of each resource of each integration, in one query: the newest id per
 * (integration, resource) comes from the (integration_id, resource, id) index, then those rows are read.
 */
export async function latestSyncLogs(db: Db, integrationIds: number[]): Promise<Map<number, Map<string, SyncLog>>> {
  const byIntegration = new Map<number, Map<string, SyncLog>>();
  if (integrationIds.length === 0) return byIntegration;
  const rows = await db
    .selectFrom('shopify_sync_logs as l')
    .innerJoin(
      (eb) =>
        eb
          .selectFrom('shopify_sync_logs')
          .select((s) => s.fn.max('id').as('id'))
          .where('integration_id', 'in', integrationIds)
          .groupBy(['integration_id', 'resource'])
          .as('latest'),
      (join) => join.onRef('latest.id', '=', 'l.id'),
    )
    .selectAll('l')
    .execute();
  for (const row of rows) {
    const integrationId = Number(row.integration_id);
    const logs = byIntegration.get(integrationId) ?? new Map<string, SyncLog>();
    logs.set(row.resource, row);
    byIntegration.set(integrationId, logs);
  }
  return byIntegration;
}
