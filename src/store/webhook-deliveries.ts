import { sql, type ExpressionBuilder, type Selectable } from 'kysely';
import { pageOf, type Page } from './page.js';
import { parseJsonColumn, type Database, type Db, type WebhookDeliveriesTable, type WebhookDeliveryAttemptsTable } from './schema.js';
import { eventTypesOf } from './webhook-endpoints.js';

/**
 * Outbound webhook deliveries: one per endpoint and event, `pending` until `delivered` or `dead`. A
 * delivery's `attempts` is also its fence: an attempt is claimed by raising it from n - 1 to n, so two
 * workers never send the same attempt, and an attempt's outcome is written only while it is still n.
 */
export type WebhookDelivery = Selectable<WebhookDeliveriesTable>;
export type WebhookDeliveryAttempt = Selectable<WebhookDeliveryAttemptsTable>;
export type DeliveryStatus = 'pending' | 'delivered' | 'dead';

/** What a queued job needs to know: which delivery, which attempt, when it is due. */
export interface RunnableDelivery {
  id: number;
  attempts: number;
  next_attempt_at: Date | null;
}

type DeliveryAlias = ExpressionBuilder<Database & { d: WebhookDeliveriesTable }, 'd'>;

/** No earlier delivery of the same record is still pending (deliveries naming no record never wait). */
const isHeadOfItsRecord = (eb: DeliveryAlias) =>
  eb.not(
    eb.exists(
      eb
        .selectFrom('webhook_deliveries as p')
        .select(sql`1`.as('one'))
        .whereRef('p.endpoint_id', '=', 'd.endpoint_id')
        .whereRef('p.ordering_key', '=', 'd.ordering_key')
        .where('p.status', '=', 'pending')
        .whereRef('p.event_position', '<', 'd.event_position'),
    ),
  );

export interface DispatchedBatch {
  /** The new deliveries that may run now (the first pending one of their record, or naming none). */
  runnable: RunnableDelivery[];
  /** The endpoint has followed the feed up to the position asked for. */
  caughtUp: boolean;
}

/**
 * Moves the next events of an endpoint's tenant (of its types, after its `last_position`, up to
 * `upTo`) into deliveries and advances `last_position`, in one transaction holding the endpoint's row:
 * processes dispatching at once take turns, and a crash leaves the position where its deliveries are.
 * The endpoint's own `endpoint.disabled` events are never delivered to it.
 */
export async function dispatchEndpointBatch(db: Db, endpointId: number, upTo: number, batchSize: number, now = new Date()): Promise<DispatchedBatch> {
  const inserted = await db.transaction().execute(async (trx) => {
    const endpoint = await trx.selectFrom('webhook_endpoints').select(['tenant_id', 'enabled', 'event_types', 'last_position']).where('id', '=', endpointId).forUpdate().executeTakeFirst();
    if (!endpoint || endpoint.enabled !== 1 || Number(endpoint.last_position) >= upTo) return null;
    const types = eventTypesOf(endpoint);
    if (types !== null && types.length === 0) return null;
    let q = trx
      .selectFrom('change_events')
      .select(['id', 'position', 'type', 'resource', 'record_key', 'data'])
      .where('tenant_id', '=', endpoint.tenant_id)
      .where('position', '>', Number(endpoint.last_position))
      .where('position', '<=', upTo);
    if (types !== null) q = q.where('type', 'in', types);
    const events = await q.orderBy('position', 'asc').limit(batchSize).execute();
    const full = events.length === batchSize;
    const reached = full ? Number(events[events.length - 1]!.position) : upTo;
    const deliverable = events.filter((e) => !(e.type === 'endpoint.disabled' && parseJsonColumn<{ endpoint_id?: unknown }>(e.data)?.endpoint_id === endpointId));
    if (deliverable.length > 0) {
      await trx
        .insertInto('webhook_deliveries')
        .ignore()
        .values(
          deliverable.map((e) => ({
            endpoint_id: endpointId,
            tenant_id: endpoint.tenant_id,
            event_id: Number(e.id),
            event_position: Number(e.position),
            event_type: e.type,
            ordering_key: e.resource !== null && e.record_key !== null ? `${e.resource}:${e.record_key}` : null,
            next_attempt_at: now,
            last_error: null,
          })),
        )
        .execute();
    }
    await trx.updateTable('webhook_endpoints').set({ last_position: reached }).where('id', '=', endpointId).execute();
    return { eventIds: deliverable.map((e) => Number(e.id)), caughtUp: !full };
  });
  if (inserted === null) return { runnable: [], caughtUp: true };
  if (inserted.eventIds.length === 0) return { runnable: [], caughtUp: inserted.caughtUp };
  const runnable = await db
    .selectFrom('webhook_deliveries as d')
    .select(['d.id', 'd.attempts', 'd.next_attempt_at'])
    .where('d.endpoint_id', '=', endpointId)
    .where('d.event_id', 'in', inserted.eventIds)
    .where('d.status', '=', 'pending')
    .where(isHeadOfItsRecord)
    .orderBy('d.event_position')
    .execute();
  return { runnable, caughtUp: inserted.caughtUp };
}

/** The delivery that runs next for a record of an endpoint, if one is pending. */
export async function nextOfRecord(db: Db, endpointId: number, orderingKey: string): Promise<RunnableDelivery | undefined> {
  return db
    .selectFrom('webhook_deliveries')
    .select(['id', 'attempts', 'next_attempt_at'])
    .where('endpoint_id', '=', endpointId)
    .where('ordering_key', '=', orderingKey)
    .where('status', '=', 'pending')
    .orderBy('event_position', 'asc')
    .limit(1)
    .executeTakeFirst();
}

/** Whether an earlier delivery of the same record is still pending (then this one must wait). */
export async function waitsForEarlier(db: Db, delivery: Pick<WebhookDelivery, 'endpoint_id' | 'ordering_key' | 'event_position'>): Promise<boolean> {
  if (delivery.ordering_key === null) return false;
  const earlier = await db
    .selectFrom('webhook_deliveries')
    .select('id')
    .where('endpoint_id', '=', delivery.endpoint_id)
    .where('ordering_key', '=', delivery.ordering_key)
    .where('status', '=', 'pending')
    .where('event_position', '<', delivery.event_position)
    .limit(1)
    .executeTakeFirst();
  return earlier !== undefined;
}

/**
 * Pending deliveries that may run (first of their record, endpoint enabled) and were due before
 * `dueBefore`, oldest due first: what the queue should hold. `endpointId` narrows to one endpoint.
 */
export async function runnableDue(db: Db, dueBefore: Date, limit: number, endpointId?: number): Promise<RunnableDelivery[]> {
  let q = db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
    .select(['d.id', 'd.attempts', 'd.next_attempt_at'])
    .where('e.enabled', '=', 1)
    .where('d.status', '=', 'pending')
    .where('d.next_attempt_at', '<=', dueBefore)
    .where(isHeadOfItsRecord);
  if (endpointId !== undefined) q = q.where('d.endpoint_id', '=', endpointId);
  return q.orderBy('d.next_attempt_at', 'asc').limit(limit).execute();
}

export async function findDelivery(db: Db, id: number): Promise<WebhookDelivery | undefined> {
  return db.selectFrom('webhook_deliveries').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * Claims attempt `attempt` of a pending delivery (its attempts go from attempt - 1 to attempt) and makes
 * it due again after `leaseUntil`, when a worker that died mid-attempt is taken over. False: another
 * worker has it, or it is no longer pending.
 */
export async function claimAttempt(db: Db, id: number, attempt: number, leaseUntil: Date): Promise<boolean> {
  const claimed = await db
    .updateTable('webhook_deliveries')
    .set({ attempts: attempt, next_attempt_at: leaseUntil, updated_at: new Date() })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('attempts', '=', attempt - 1)
    .executeTakeFirst();
  return Number(claimed.numUpdatedRows) === 1;
}

export interface AttemptRecord {
  attemptedAt: Date;
  durationMs: number;
  ok: boolean;
  statusCode: number | null;
  error: string | null;
  responseExcerpt: string | null;
}

export interface AttemptOutcome {
  status: DeliveryStatus;
  /** When the next attempt is due (pending only). */
  nextAttemptAt: Date | null;
  lastError: string | null;
}

const cut = (text: string | null, max: number) => (text === null ? null : text.length > max ? `${text.slice(0, max - 1)}…` : text);

/**
 * Writes an attempt and its delivery's new state together, if the attempt is still the delivery's
 * latest (a worker that lost its lease writes nothing). `record` null: no request was made (the
 * outcome alone is written).
 */
export async function finishAttempt(db: Db, delivery: Pick<WebhookDelivery, 'id' | 'endpoint_id'>, attempt: number, record: AttemptRecord | null, outcome: AttemptOutcome): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('webhook_deliveries')
      .set({ status: outcome.status, next_attempt_at: outcome.nextAttemptAt, last_error: cut(outcome.lastError, 1000), updated_at: new Date() })
      .where('id', '=', delivery.id)
      .where('status', '=', 'pending')
      .where('attempts', '=', attempt)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) return false;
    if (record) {
      await trx
        .insertInto('webhook_delivery_attempts')
        .values({
          delivery_id: delivery.id,
          endpoint_id: delivery.endpoint_id,
          attempt,
          attempted_at: record.attemptedAt,
          duration_ms: Math.max(0, Math.round(record.durationMs)),
          ok: record.ok ? 1 : 0,
          status_code: record.statusCode,
          error: cut(record.error, 1000),
          response_excerpt: cut(record.responseExcerpt, 1000),
        })
        .execute();
    }
    return true;
  });
}

/** An endpoint's attempts, newest first (keyset on the attempt id). */
export async function listAttempts(db: Db, endpointId: number, opts: { limit: number; beforeId?: number }): Promise<Page<WebhookDeliveryAttempt & { event_id: number }, number>> {
  let q = db
    .selectFrom('webhook_delivery_attempts as a')
    .innerJoin('webhook_deliveries as d', 'd.id', 'a.delivery_id')
    .selectAll('a')
    .select('d.event_id')
    .where('a.endpoint_id', '=', endpointId)
    .orderBy('a.id', 'desc')
    .limit(opts.limit + 1);
  if (opts.beforeId !== undefined) q = q.where('a.id', '<', opts.beforeId);
  return pageOf(await q.execute(), opts.limit, (last) => last.id);
}

/** An endpoint's dead deliveries, newest first (keyset on the delivery id). */
export async function listDeadLetters(db: Db, endpointId: number, opts: { limit: number; beforeId?: number }): Promise<Page<WebhookDelivery, number>> {
  let q = db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('endpoint_id', '=', endpointId)
    .where('status', '=', 'dead')
    .orderBy('id', 'desc')
    .limit(opts.limit + 1);
  if (opts.beforeId !== undefined) q = q.where('id', '<', opts.beforeId);
  return pageOf(await q.execute(), opts.limit, (last) => last.id);
}

/** Dead deliveries (these, or all of the endpoint's) are pending again with a fresh schedule; returns how many. */
export async function replayDeadLetters(db: Db, endpointId: number, ids: number[] | 'all', now = new Date()): Promise<number> {
  if (ids !== 'all' && ids.length === 0) return 0;
  let q = db.updateTable('webhook_deliveries').set({ status: 'pending', attempts: 0, next_attempt_at: now, updated_at: now }).where('endpoint_id', '=', endpointId).where('status', '=', 'dead');
  if (ids !== 'all') q = q.where('id', 'in', ids);
  return Number((await q.executeTakeFirst()).numUpdatedRows);
}

export interface FinishedDeletion {
  /** Deliveries deleted, their attempts with them. */
  deleted: number;
  /** The id to go on after, or null when no finished delivery old enough is left. */
  nextAfterId: number | null;
}

/**
 * Deletes finished deliveries (`delivered`, or `dead`: dead letters) that last changed before `before`,
 * with their attempts, looking at up to `limit` of them in id order after `afterId`. Ids follow creation
 * and a delivery finishes after it was created, so the scan ends at the first one created since `before`
 * (a finished delivery has no next attempt: the status index reads them in id order).
 */
export async function deleteFinishedDeliveriesBefore(db: Db, status: 'delivered' | 'dead', before: Date, limit: number, afterId = 0): Promise<FinishedDeletion> {
  const rows = await db
    .selectFrom('webhook_deliveries')
    .select(['id', 'created_at', 'updated_at'])
    .where('status', '=', status)
    .where('next_attempt_at', 'is', null)
    .where('id', '>', afterId)
    .orderBy('id', 'asc')
    .limit(limit)
    .execute();
  const firstYoung = rows.findIndex((r) => r.created_at >= before);
  const expired = (firstYoung === -1 ? rows : rows.slice(0, firstYoung)).filter((r) => r.updated_at < before).map((r) => Number(r.id));
  const deleted =
    expired.length === 0
      ? 0
      : await db.transaction().execute(async (trx) => {
          // Read again under lock: a dead letter replayed meanwhile is pending again and stays, attempts and all.
          const still = await trx.selectFrom('webhook_deliveries').select('id').where('id', 'in', expired).where('status', '=', status).where('updated_at', '<', before).forUpdate().execute();
          if (still.length === 0) return 0;
          const ids = still.map((r) => Number(r.id));
          await trx.deleteFrom('webhook_delivery_attempts').where('delivery_id', 'in', ids).execute();
          return Number((await trx.deleteFrom('webhook_deliveries').where('id', 'in', ids).executeTakeFirst()).numDeletedRows);
        });
  const done = firstYoung !== -1 || rows.length < limit;
  return { deleted, nextAfterId: done ? null : Number(rows[rows.length - 1]!.id) };
}

/** What the outbound gauges show: deliveries pending (and of them, due now) and dead letters, read off the status index. */
export async function deliveryBacklog(db: Db, now = new Date()): Promise<{ pending: number; due: number; dead: number }> {
  const row = await db
    .selectFrom('webhook_deliveries')
    .select([
      sql<string>`COALESCE(SUM(status = 'pending'), 0)`.as('pending'),
      sql<string>`COALESCE(SUM(status = 'pending' AND next_attempt_at <= ${now}), 0)`.as('due'),
      sql<string>`COALESCE(SUM(status = 'dead'), 0)`.as('dead'),
    ])
    .where('status', 'in', ['pending', 'dead'])
    .executeTakeFirstOrThrow();
  return { pending: Number(row.pending), due: Number(row.due), dead: Number(row.dead) };
}
