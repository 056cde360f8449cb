import type { ServiceContext } from '../context.js';
import { errorMessage } from '../errors.js';
import { finishAttempt, findAttemptSubject, nextOfRecord, type AttemptOutcome, type AttemptRecord, type AttemptSubject } from '../store/webhook-deliveries.js';
import { disableFailingEndpoint, markEndpointFailing, markEndpointHealthy, signingSecrets, type WebhookEndpoint } from '../store/webhook-endpoints.js';
import { tryEnqueueDeliveries, type DeliveryJobData } from './jobs.js';
import { changeEventBody } from '../events/event-body.js';
import type { ChangeEvent } from '../store/change-events.js';
import { deliveryMessageId, type MapRecord } from './payload.js';
import { retryDelayMs } from './retry-schedule.js';
import type { EndpointConnections } from './connections.js';
import { sendSignedMessage } from './send.js';

/** Why a job made no attempt, or what its attempt came to. */
export type AttemptResult = 'stale' | 'endpoint-disabled' | 'waiting' | 'delivered' | 'retrying' | 'dead';

export interface DeliverDeps {
  /** The tenant's mapping of a record (use_mapping endpoints). */
  mapRecord: MapRecord;
  /** Kept-alive connections to the endpoints (the worker's); without them, a connection per attempt. */
  connections?: EndpointConnections;
  random?: () => number;
}

/**
 * One attempt of one delivery, as its job asks: skipped unless the delivery is still at that attempt,
 * its endpoint enabled and no earlier delivery of its record pending; then sent, and recorded with its
 * outcome. The job's lock in Redis is the attempt's claim: a job whose worker died is found stalled and
 * run again, and if two workers ever send the same attempt (a job lost and queued again while it ran),
 * the receiver sees its `webhook-id` twice and only one outcome is written. A finished delivery
 * (delivered or dead) lets the next one of its record run.
 */
export async function runDeliveryAttempt(ctx: ServiceContext, job: DeliveryJobData, deps: DeliverDeps): Promise<AttemptResult> {
  const subject = await findAttemptSubject(ctx.db, job.deliveryId);
  if (!subject) return 'stale';
  const { delivery, endpoint, event } = subject;
  if (delivery.status !== 'pending' || Number(delivery.attempts) !== job.attempt - 1) return 'stale';
  if (endpoint.enabled !== 1) return 'endpoint-disabled';
  if (delivery.waits) return 'waiting';
  const now = new Date();
  let done: AttemptDone;
  try {
    done = await sendAttempt(ctx, delivery, endpoint, event, job.attempt, now, deps);
  } catch (error) {
    // The service failed (MySQL, the mapper pool, a secret it cannot open), not the receiver: recorded
    // as this attempt's error and retried on the schedule, without counting against the endpoint.
    const lastError = `The message could not be prepared: ${errorMessage(error)}`;
    ctx.logger.warn({ deliveryId: delivery.id, endpointId: endpoint.id, err: errorMessage(error) }, 'outbound delivery attempt failed before sending');
    const record: AttemptRecord = { attemptedAt: now, durationMs: Date.now() - now.getTime(), ok: false, statusCode: null, error: lastError, responseExcerpt: null };
    done = { record, outcome: retryOrDead(ctx, job.attempt, true, lastError, deps), sent: false };
  }
  return finish(ctx, delivery, endpoint, job.attempt, done);
}

/** What an attempt came to: its record (null when no attempt could be made), the delivery's outcome, and whether a request went out. */
interface AttemptDone {
  record: AttemptRecord | null;
  outcome: AttemptOutcome;
  sent: boolean;
}

/** The attempt: the event (and its mapping) into a signed message, and sent. */
async function sendAttempt(
  ctx: ServiceContext,
  delivery: AttemptSubject['delivery'],
  endpoint: WebhookEndpoint,
  event: ChangeEvent | undefined,
  attempt: number,
  now: Date,
  deps: DeliverDeps,
): Promise<AttemptDone> {
  if (!event) return { record: null, outcome: { status: 'dead', nextAttemptAt: null, lastError: 'The event is no longer retained' }, sent: false };
  let mapped: { mapped: unknown } | undefined;
  if (endpoint.use_mapping === 1 && event.resource !== null) {
    const outcome = await deps.mapRecord(endpoint.tenant_id, event.resource, event.data);
    if (outcome?.error) {
      // The same record maps the same way next time: no retry helps, and the stream goes on.
      const lastError = `Mapping failed: ${outcome.error.title}: ${outcome.error.detail}`;
      const record: AttemptRecord = { attemptedAt: now, durationMs: 0, ok: false, statusCode: null, error: lastError, responseExcerpt: null };
      return { record, outcome: { status: 'dead', nextAttemptAt: null, lastError }, sent: false };
    }
    if (outcome) mapped = { mapped: outcome.mapped };
  }

  const sent = await sendSignedMessage(
    { url: endpoint.url, secrets: signingSecrets(ctx.secrets, endpoint, now), messageId: deliveryMessageId(delivery.id), timestamp: now, body: JSON.stringify(changeEventBody(event, mapped)) },
    {
      timeoutMs: ctx.config.outbound.timeoutMs,
      maxResponseBytes: ctx.config.outbound.maxResponseBytes,
      allowPrivateTargets: ctx.config.outbound.allowPrivateTargets,
      ...(deps.connections ? { connections: deps.connections } : {}),
    },
  );
  const record: AttemptRecord = {
    attemptedAt: now,
    durationMs: sent.durationMs,
    ok: sent.ok,
    statusCode: sent.statusCode ?? null,
    error: sent.ok ? null : (sent.error ?? 'failed'),
    responseExcerpt: sent.responseExcerpt ?? null,
  };
  const outcome: AttemptOutcome = sent.ok ? { status: 'delivered', nextAttemptAt: null, lastError: null } : retryOrDead(ctx, attempt, sent.retryable, record.error, deps);
  if (sent.ok) ctx.metrics.outboundLatency.observe((Date.now() - event.occurredAt.getTime()) / 1000);
  return { record, outcome, sent: true };
}

/** After failed attempt `attempt`: pending until the schedule's next wait, or dead when none is left (or no retry can help). */
function retryOrDead(ctx: ServiceContext, attempt: number, retryable: boolean, lastError: string | null, deps: DeliverDeps): AttemptOutcome {
  const delay = retryable ? retryDelayMs(ctx.config.outbound.retryScheduleMs, attempt, deps.random) : null;
  return delay === null ? { status: 'dead', nextAttemptAt: null, lastError } : { status: 'pending', nextAttemptAt: new Date(Date.now() + delay), lastError };
}

/**
 * Writes the attempt and its outcome (nothing when another worker wrote this attempt's first), tells
 * the endpoint's health when a request was made (`sent`; a success writes only when the endpoint was
 * failing), and queues what runs next: this delivery's retry, or the next delivery of its record.
 */
async function finish(ctx: ServiceContext, delivery: AttemptSubject['delivery'], endpoint: WebhookEndpoint, attempt: number, { record, outcome, sent }: AttemptDone): Promise<AttemptResult> {
  if (!(await finishAttempt(ctx.db, delivery, attempt, record, outcome))) return 'stale';
  ctx.metrics.outboundAttempts.inc({ outcome: outcome.status === 'pending' ? 'failed' : outcome.status });
  if (sent && record?.ok) {
    if (endpoint.failing_since !== null) await markEndpointHealthy(ctx.db, endpoint.id);
  } else if (sent && record) await noteFailure(ctx, endpoint, record);

  if (outcome.status === 'pending') {
    await tryEnqueueDeliveries(ctx, [{ id: delivery.id, attempts: attempt, next_attempt_at: outcome.nextAttemptAt }]);
    return 'retrying';
  }
  if (outcome.status === 'dead') ctx.logger.info({ deliveryId: delivery.id, endpointId: endpoint.id, attempts: attempt, error: outcome.lastError }, 'outbound delivery dead-lettered');
  if (delivery.ordering_key !== null) {
    const next = await nextOfRecord(ctx.db, endpoint.id, delivery.ordering_key);
    if (next) await tryEnqueueDeliveries(ctx, [next]);
  }
  return outcome.status === 'delivered' ? 'delivered' : 'dead';
}

/**
 * A failed request: the endpoint is failing from now unless it already was; one failing for longer
 * than OUTBOUND_DISABLE_AFTER_HOURS is disabled (and `endpoint.disabled` appended to its tenant's feed).
 */
async function noteFailure(ctx: ServiceContext, endpoint: WebhookEndpoint, record: AttemptRecord): Promise<void> {
  const now = new Date();
  await markEndpointFailing(ctx.db, endpoint.id, now);
  const hours = ctx.config.outbound.disableAfterHours;
  if (endpoint.failing_since === null || endpoint.failing_since.getTime() > now.getTime() - hours * 3_600_000) return;
  const reason = `No delivery succeeded for ${formatHours(hours)}; last error: ${record.error ?? 'failed'}`.slice(0, 500);
  try {
    if (await disableFailingEndpoint(ctx.db, endpoint.id, new Date(now.getTime() - hours * 3_600_000), reason, now)) {
      ctx.metrics.outboundEndpointsDisabled.inc();
      ctx.logger.warn({ endpointId: endpoint.id, tenantId: endpoint.tenant_id }, 'outbound webhook endpoint disabled after failing continuously');
    }
  } catch (error) {
    ctx.logger.warn({ endpointId: endpoint.id, err: errorMessage(error) }, 'could not disable a failing webhook endpoint');
  }
}

const formatHours = (hours: number) => (hours >= 1 ? `${hours} hours` : `${Math.round(hours * 3600)} seconds`);
