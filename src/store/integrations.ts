import { sql } from 'kysely';
import type { Db } from '../platform/db.js';
import type { Integration, IntegrationUpdate, NewIntegration } from './schema.js';

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

export function findIntegrationByShop(db: Db, shopDomain: string): Promise<Integration | undefined> {
  return db.selectFrom('shopify_integrations').selectAll().where('shop_domain', '=', shopDomain.toLowerCase()).executeTakeFirst();
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

/** Shopify answered 401: the token was revoked (or the app uninstalled). */
export async function markTokenRevoked(db: Db, id: number, at = new Date()): Promise<void> {
  await db.updateTable('shopify_integrations').set({ token_revoked_at: at }).where('id', '=', id).where('token_revoked_at', 'is', null).execute();
}
