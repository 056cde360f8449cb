import { sql, type ExpressionBuilder, type Selectable } from 'kysely';
import { pageOf, type Page } from './page.js';
import { toChangeEvent, type ChangeEvent } from './change-events.js';
import { parseJsonColumn, type ChangeEventsTable, type Database, type Db, type WebhookDeliveriesTable, type WebhookDeliveryAttemptsTable, type WebhookEndpointsTable } from './schema.js';
import { eventTypesOf, type WebhookEndpoint } from './webhook-endpoints.js';

/**
 * Outbound webhook deliveries: one per endpoint and event, `pending` until `delivered` or `dead`. A
 * delivery's `attempts` is also its fence: attempt n's outcome is written (raising it from n - 1 to n)
 * only once, whatever number of workers sent that attempt.
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

/** An earlier delivery of the same record is still pending (deliveries naming no record never wait). */
const earlierOfItsRecordPending = (eb: DeliveryAlias) =>
  eb.exists(
    eb
      .selectFrom('webhook_deliveries as p')
      .select(sql`1`.as('one'))
      .whereRef('p.endpoint_id', '=', 'd.endpoint_id')
      .whereRef('p.ordering_key', '=', 'd.ordering_key')
      .where('p.status', '=', 'pending')
      .whereRef('p.event_position', '<', 'd.event_position'),
  );

const isHeadOfItsRecord = (eb: DeliveryAlias) => eb.not(earlierOfItsRecordPending(eb));

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
  return { runnable: await runnableOf(db, endpointId, inserted.eventIds), caughtUp: inserted.caughtUp };
}

/**
 * Of an endpoint's deliveries of these events (one stretch of its feed), those that may run now, in feed
 * order: pending, and the first pending of their record (or naming none). Read by key, never by scanning
 * the endpoint's pending deliveries: a backlog of them must not slow every dispatch down.
 */
async function runnableOf(db: Db, endpointId: number, eventIds: number[]): Promise<RunnableDelivery[]> {
  const rows = await db
    .selectFrom('webhook_deliveries')
    .select(['id', 'attempts', 'next_attempt_at', 'status', 'ordering_key', 'event_position'])
    .where('endpoint_id', '=', endpointId)
    .where('event_id', 'in', eventIds)
    .execute();
  const pending = rows.filter((r) => r.status === 'pending').sort((a, b) => Number(a.event_position) - Number(b.event_position));
  if (pending.length === 0) return [];
  // Deliveries of the same records before this stretch (earlier dispatches, dead letters replayed) that are still pending.
  const keys = [...new Set(pending.flatMap((r) => (r.ordering_key === null ? [] : [r.ordering_key])))];
  const waiting =
    keys.length === 0
      ? new Set<string>()
      : new Set(
          (
            await db
              .selectFrom('webhook_deliveries')
              .select('ordering_key')
              .distinct()
              .where('endpoint_id', '=', endpointId)
              .where('ordering_key', 'in', keys)
              .where('status', '=', 'pending')
              .where('event_position', '<', Number(pending[0]!.event_position))
              .execute()
          ).map((r) => r.ordering_key as string),
        );
  const runnable: RunnableDelivery[] = [];
  for (const r of pending) {
    if (r.ordering_key !== null) {
      if (waiting.has(r.ordering_key)) continue;
      waiting.add(r.ordering_key); // later ones of the record in this stretch wait for this one
    }
    runnable.push({ id: r.id, attempts: r.attempts, next_attempt_at: r.next_attempt_at });
  }
  return runnable;
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

const ENDPOINT_COLUMNS = [
  'id',
  'tenant_id',
  'url',
  'description',
  'event_types',
  'use_mapping',
  'enabled',
  'disabled_reason',
  'secret_encrypted',
  'previous_secret_encrypted',
  'previous_secret_expires_at',
  'last_position',
  'failing_since',
  'created_at',
  'updated_at',
] as const satisfies readonly (keyof WebhookEndpointsTable)[];
const EVENT_COLUMNS = [
  'id',
  'position',
  'tenant_id',
  'integration_id',
  'type',
  'resource',
  'record_key',
  'shopify_updated_at',
  'occurred_at',
  'data',
] as const satisfies readonly (keyof ChangeEventsTable)[];

/** What an attempt works on: the delivery (and whether an earlier one of its record is still pending), its endpoint, its event (gone once retention deleted it). */
export interface AttemptSubject {
  delivery: Pick<WebhookDelivery, 'id' | 'endpoint_id' | 'event_id' | 'status' | 'attempts' | 'ordering_key' | 'event_position'> & { waits: boolean };
  endpoint: WebhookEndpoint;
  event: ChangeEvent | undefined;
}

const pick = (row: Record<string, unknown>, prefix: string, columns: readonly string[]) => Object.fromEntries(columns.map((c) => [c, row[`${prefix}${c}`]]));

/** Everything an attempt needs, in one statement (every delivery runs it: round trips count). */
export async function findAttemptSubject(db: Db, deliveryId: number): Promise<AttemptSubject | undefined> {
  const row = (await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
    .leftJoin('change_events as c', 'c.id', 'd.event_id')
    .select(['d.id', 'd.endpoint_id', 'd.event_id', 'd.status', 'd.attempts', 'd.ordering_key', 'd.event_position'])
    .select((eb) => earlierOfItsRecordPending(eb).as('waits'))
    .select(ENDPOINT_COLUMNS.map((c) => sql.ref(`e.${c}`).as(`e_${c}`)))
    .select(EVENT_COLUMNS.map((c) => sql.ref(`c.${c}`).as(`c_${c}`)))
    .where('d.id', '=', deliveryId)
    .executeTakeFirst()) as (Record<string, unknown> & AttemptSubject['delivery']) | undefined;
  if (!row) return undefined;
  const { id, endpoint_id, event_id, status, attempts, ordering_key, event_position } = row;
  return {
    delivery: { id, endpoint_id, event_id, status, attempts, ordering_key, event_position, waits: Number(row.waits) === 1 },
    endpoint: pick(row, 'e_', ENDPOINT_COLUMNS) as WebhookEndpoint,
    event: row.c_id === null ? undefined : toChangeEvent(pick(row, 'c_', EVENT_COLUMNS) as Selectable<ChangeEventsTable>),
  };
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
 * Writes attempt `attempt` and its delivery's new state together, if the delivery is still pending at
 * the attempt before: its count is the fence, so of two workers that sent the same attempt (one whose
 * job was lost and queued again) only the first to finish writes. `record` null: no request was made
 * (the outcome alone is written). One transaction: one log flush per attempt.
 */
export async function finishAttempt(db: Db, delivery: Pick<WebhookDelivery, 'id' | 'endpoint_id'>, attempt: number, record: AttemptRecord | null, outcome: AttemptOutcome): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('webhook_deliveries')
      .set({ status: outcome.status, attempts: attempt, next_attempt_at: outcome.nextAttemptAt, last_error: cut(outcome.lastError, 1000), updated_at: new Date() })
      .where('id', '=', delivery.id)
      .where('status', '=', 'pending')
      .where('attempts', '=', attempt - 1)
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
