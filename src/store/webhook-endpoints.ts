import { sql, type Selectable } from 'kysely';
import type { SecretBox } from '../platform/crypto.js';
import { appendChangeEvents } from './change-events.js';
import { pageOf, type Page } from './page.js';
import { parseJsonColumn, type Db, type WebhookEndpointsTable } from './schema.js';

/** Tenants' outbound webhook endpoints: always read and written under their tenant. */
export type WebhookEndpoint = Selectable<WebhookEndpointsTable>;

/** Whose secret it is: a ciphertext only opens for the tenant and endpoint it was sealed for. */
type SecretOwner = Pick<WebhookEndpoint, 'tenant_id' | 'id'>;
type SecretColumn = 'secret' | 'previous_secret';
const boundTo = (column: SecretColumn, owner: SecretOwner) => `webhook_endpoints.${column}\n${owner.tenant_id}\n${owner.id}`;

export const sealEndpointSecret = (secrets: SecretBox, owner: SecretOwner, column: SecretColumn, secret: string) => secrets.encrypt(secret, boundTo(column, owner));

/** The secrets that sign now: the current one, and the previous one until its overlap expires. */
export function signingSecrets(secrets: SecretBox, endpoint: WebhookEndpoint, now = new Date()): string[] {
  const current = secrets.decrypt(endpoint.secret_encrypted, boundTo('secret', endpoint));
  const previousValid = endpoint.previous_secret_encrypted !== null && endpoint.previous_secret_expires_at !== null && endpoint.previous_secret_expires_at > now;
  return previousValid ? [current, secrets.decrypt(endpoint.previous_secret_encrypted!, boundTo('previous_secret', endpoint))] : [current];
}

/** The endpoint's event types; null means every type. */
export function eventTypesOf(endpoint: Pick<WebhookEndpoint, 'event_types'>): string[] | null {
  return endpoint.event_types === null ? null : parseJsonColumn<string[] | null>(endpoint.event_types);
}

export interface EndpointFields {
  url: string;
  description: string | null;
  eventTypes: string[] | null;
  useMapping: boolean;
  enabled: boolean;
}

export const countEndpoints = async (db: Db, tenantId: string): Promise<number> =>
  Number(
    (
      await db
        .selectFrom('webhook_endpoints')
        .select((eb) => eb.fn.countAll().as('n'))
        .where('tenant_id', '=', tenantId)
        .executeTakeFirst()
    )?.n ?? 0,
  );

/**
 * Creates an endpoint at the feed's current end (it gets no history) with its secret sealed to its own
 * row, which needs the row's id: inserted, then sealed, in one transaction.
 */
export async function createEndpoint(db: Db, secrets: SecretBox, tenantId: string, fields: EndpointFields, secret: string): Promise<WebhookEndpoint> {
  return db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('webhook_endpoints')
      .values({
        tenant_id: tenantId,
        url: fields.url,
        description: fields.description,
        event_types: fields.eventTypes === null ? null : JSON.stringify(fields.eventTypes),
        use_mapping: fields.useMapping ? 1 : 0,
        enabled: fields.enabled ? 1 : 0,
        disabled_reason: null,
        secret_encrypted: '',
        previous_secret_encrypted: null,
        previous_secret_expires_at: null,
        last_position: sql<number>`(SELECT last_position FROM change_event_sequence WHERE id = 1)`,
        failing_since: null,
      })
      .executeTakeFirstOrThrow();
    const id = Number(inserted.insertId);
    await trx
      .updateTable('webhook_endpoints')
      .set({ secret_encrypted: sealEndpointSecret(secrets, { tenant_id: tenantId, id }, 'secret', secret) })
      .where('id', '=', id)
      .execute();
    return trx.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  });
}

export async function findEndpoint(db: Db, tenantId: string, id: number): Promise<WebhookEndpoint | undefined> {
  return db.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
}

/** The endpoint of any tenant (the worker's view). */
export async function findEndpointById(db: Db, id: number): Promise<WebhookEndpoint | undefined> {
  return db.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function listEndpoints(db: Db, tenantId: string, opts: { limit: number; afterId?: number }): Promise<Page<WebhookEndpoint, number>> {
  let q = db
    .selectFrom('webhook_endpoints')
    .selectAll()
    .where('tenant_id', '=', tenantId)
    .orderBy('id', 'asc')
    .limit(opts.limit + 1);
  if (opts.afterId !== undefined) q = q.where('id', '>', opts.afterId);
  return pageOf(await q.execute(), opts.limit, (last) => last.id);
}

/** Changes the given fields; enabling an endpoint clears its failure (it starts afresh). */
export async function updateEndpoint(db: Db, tenantId: string, id: number, patch: Partial<EndpointFields>, now = new Date()): Promise<WebhookEndpoint | undefined> {
  await db
    .updateTable('webhook_endpoints')
    .set({
      ...(patch.url !== undefined ? { url: patch.url } : {}),
      ...(patch.description !== undefined ? { description: patch.description } : {}),
      ...(patch.eventTypes !== undefined ? { event_types: patch.eventTypes === null ? null : JSON.stringify(patch.eventTypes) } : {}),
      ...(patch.useMapping !== undefined ? { use_mapping: patch.useMapping ? 1 : 0 } : {}),
      ...(patch.enabled !== undefined ? { enabled: patch.enabled ? 1 : 0 } : {}),
      ...(patch.enabled === true ? { disabled_reason: null, failing_since: null } : {}),
      updated_at: now,
    })
    .where('tenant_id', '=', tenantId)
    .where('id', '=', id)
    .execute();
  return findEndpoint(db, tenantId, id);
}

/** Deletes the endpoint with its deliveries and their attempts; false when the tenant has no such endpoint. */
export async function deleteEndpoint(db: Db, tenantId: string, id: number): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const deleted = await trx.deleteFrom('webhook_endpoints').where('tenant_id', '=', tenantId).where('id', '=', id).executeTakeFirst();
    if (Number(deleted.numDeletedRows) === 0) return false;
    await trx.deleteFrom('webhook_delivery_attempts').where('endpoint_id', '=', id).execute();
    await trx.deleteFrom('webhook_deliveries').where('endpoint_id', '=', id).execute();
    return true;
  });
}

/**
 * A new secret signs from now on; the current one becomes the previous one and keeps signing for
 * `overlapMs` (0: it stops at once), so receivers can switch without missing a message.
 */
export async function rotateEndpointSecret(db: Db, secrets: SecretBox, tenantId: string, id: number, secret: string, overlapMs: number, now = new Date()): Promise<WebhookEndpoint | undefined> {
  return db.transaction().execute(async (trx) => {
    const endpoint = await trx.selectFrom('webhook_endpoints').selectAll().where('tenant_id', '=', tenantId).where('id', '=', id).forUpdate().executeTakeFirst();
    if (!endpoint) return undefined;
    const current = secrets.decrypt(endpoint.secret_encrypted, boundTo('secret', endpoint));
    await trx
      .updateTable('webhook_endpoints')
      .set({
        secret_encrypted: sealEndpointSecret(secrets, endpoint, 'secret', secret),
        previous_secret_encrypted: overlapMs > 0 ? sealEndpointSecret(secrets, endpoint, 'previous_secret', current) : null,
        previous_secret_expires_at: overlapMs > 0 ? new Date(now.getTime() + overlapMs) : null,
        updated_at: now,
      })
      .where('id', '=', id)
      .execute();
    return trx.selectFrom('webhook_endpoints').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  });
}

export interface EndpointBehind {
  id: number;
  tenantId: string;
  lastPosition: number;
}

/** Enabled endpoints that have not followed the feed up to `position` yet. */
export async function endpointsBehind(db: Db, position: number): Promise<EndpointBehind[]> {
  const rows = await db.selectFrom('webhook_endpoints').select(['id', 'tenant_id', 'last_position']).where('enabled', '=', 1).where('last_position', '<', position).orderBy('id').execute();
  return rows.map((r) => ({ id: Number(r.id), tenantId: r.tenant_id, lastPosition: Number(r.last_position) }));
}

/** The tenants with events in the feed's positions (after, upTo]. */
export async function tenantsWithEventsBetween(db: Db, after: number, upTo: number): Promise<Set<string>> {
  const rows = await db.selectFrom('change_events').select('tenant_id').distinct().where('position', '>', after).where('position', '<=', upTo).execute();
  return new Set(rows.map((r) => r.tenant_id));
}

/**
 * Moves endpoints to `upTo` in one statement, for endpoints whose tenant has no event in (after, upTo]:
 * every position up to `upTo` is given already, so none can appear there later. Only endpoints still
 * enabled and at or after `after` move.
 */
export async function advanceIdleEndpoints(db: Db, ids: number[], after: number, upTo: number): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('webhook_endpoints')
    .set({ last_position: upTo })
    .where('id', 'in', ids)
    .where('enabled', '=', 1)
    .where('last_position', '>=', after)
    .where('last_position', '<', upTo)
    .execute();
}

/** A failed delivery: the endpoint is failing since now unless it already was. */
export async function markEndpointFailing(db: Db, id: number, now = new Date()): Promise<void> {
  await db.updateTable('webhook_endpoints').set({ failing_since: now }).where('id', '=', id).where('failing_since', 'is', null).execute();
}

/** A successful delivery ends the endpoint's failure. */
export async function markEndpointHealthy(db: Db, id: number): Promise<void> {
  await db.updateTable('webhook_endpoints').set({ failing_since: null }).where('id', '=', id).where('failing_since', 'is not', null).execute();
}

/**
 * Disables an endpoint failing since before `failingBefore` and appends `endpoint.disabled` to its
 * tenant's feed, in one transaction; false when it is not (or no longer) such an endpoint, so only
 * one process announces it.
 */
export async function disableFailingEndpoint(db: Db, id: number, failingBefore: Date, reason: string, now = new Date()): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const disabled = await trx
      .updateTable('webhook_endpoints')
      .set({ enabled: 0, disabled_reason: reason, updated_at: now })
      .where('id', '=', id)
      .where('enabled', '=', 1)
      .where('failing_since', '<=', failingBefore)
      .executeTakeFirst();
    if (Number(disabled.numUpdatedRows) === 0) return false;
    const endpoint = await trx.selectFrom('webhook_endpoints').select(['tenant_id', 'url']).where('id', '=', id).executeTakeFirstOrThrow();
    await appendChangeEvents(trx, [
      { tenantId: endpoint.tenant_id, integrationId: null, type: 'endpoint.disabled', resource: null, recordKey: null, shopifyUpdatedAt: null, data: { endpoint_id: id, url: endpoint.url, reason } },
    ]);
    return true;
  });
}

/** What the endpoint gauges show: enabled endpoints (and of them, failing now) and disabled ones. */
export async function endpointStates(db: Db): Promise<{ enabled: number; failing: number; disabled: number }> {
  const row = await db
    .selectFrom('webhook_endpoints')
    .select([
      sql<string>`COALESCE(SUM(enabled = 1), 0)`.as('enabled'),
      sql<string>`COALESCE(SUM(enabled = 1 AND failing_since IS NOT NULL), 0)`.as('failing'),
      sql<string>`COALESCE(SUM(enabled = 0), 0)`.as('disabled'),
    ])
    .executeTakeFirstOrThrow();
  return { enabled: Number(row.enabled), failing: Number(row.failing), disabled: Number(row.disabled) };
}

export interface EndpointResealResult {
  resealed: number;
  /** Endpoints whose current secret no configured key opens (by id): delete and create them again. */
  unreadable: number[];
}

/**
 * Seals every endpoint's signing secret again with the current key, bound to its row (after a key
 * rotation), and its previous secret while it still signs; a previous secret past its overlap is
 * dropped rather than sealed again. An endpoint whose secret was rotated meanwhile is left as it is.
 */
export async function resealEndpointSecrets(db: Db, secrets: SecretBox, batchSize = 200, now = new Date()): Promise<EndpointResealResult> {
  const result: EndpointResealResult = { resealed: 0, unreadable: [] };
  let afterId = 0;
  for (;;) {
    const rows = await db
      .selectFrom('webhook_endpoints')
      .select(['id', 'tenant_id', 'secret_encrypted', 'previous_secret_encrypted', 'previous_secret_expires_at'])
      .where('id', '>', afterId)
      .orderBy('id')
      .limit(batchSize)
      .execute();
    if (rows.length === 0) return result;
    afterId = rows[rows.length - 1]!.id;
    for (const row of rows) {
      const keepPrevious = row.previous_secret_encrypted !== null && row.previous_secret_expires_at !== null && row.previous_secret_expires_at > now;
      let current: string;
      let previous: string | null;
      try {
        current = secrets.decrypt(row.secret_encrypted, boundTo('secret', row));
        previous = keepPrevious ? secrets.decrypt(row.previous_secret_encrypted!, boundTo('previous_secret', row)) : null;
      } catch {
        result.unreadable.push(row.id);
        continue;
      }
      const updated = await db
        .updateTable('webhook_endpoints')
        .set({
          secret_encrypted: sealEndpointSecret(secrets, row, 'secret', current),
          previous_secret_encrypted: previous === null ? null : sealEndpointSecret(secrets, row, 'previous_secret', previous),
          previous_secret_expires_at: previous === null ? null : row.previous_secret_expires_at,
        })
        .where('id', '=', row.id)
        // A rotation meanwhile wrote new secrets: left as it wrote them.
        .where('secret_encrypted', '=', row.secret_encrypted)
        .executeTakeFirst();
      result.resealed += Number(updated.numUpdatedRows);
    }
  }
}
