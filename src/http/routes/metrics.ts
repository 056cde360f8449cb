import { Router } from 'express';
import type { ServiceContext } from '../../context.js';
import { errorMessage } from '../../errors.js';
import { withTimeout } from '../../platform/timeout.js';
import { unsequencedBacklog } from '../../store/change-feed-lag.js';
import { deliveryBacklog } from '../../store/webhook-deliveries.js';
import { endpointStates } from '../../store/webhook-endpoints.js';
import { webhookStats } from '../../webhooks/stats.js';
import { webhookKeys } from '../../webhooks/stream.js';
import { requireOperatorKey } from '../operator-auth.js';

/** A scrape must answer even while Redis hangs: the stream gauges then keep their last values. */
const STATS_TIMEOUT_MS = 1000;

/**
 * Sets the webhook stream gauges from Redis (XLEN, XINFO). The stream is shared, so every process
 * reports the same values: aggregate with max(), not sum().
 */
async function refreshStreamGauges(ctx: ServiceContext): Promise<void> {
  try {
    const stats = await withTimeout(webhookStats(ctx.redis, webhookKeys(ctx)), STATS_TIMEOUT_MS);
    const gauge = ctx.metrics.webhookStream;
    gauge.set({ state: 'length' }, stats.stream_length);
    gauge.set({ state: 'pending' }, stats.pending);
    // Acknowledged entries are deleted (XDEL), which makes Redis report lag as unknown (null); the
    // stream then holds only the backlog, so length − pending is exactly what no consumer has read yet.
    gauge.set({ state: 'lag' }, stats.lag ?? Math.max(0, stats.stream_length - stats.pending));
    gauge.set({ state: 'dead_letters' }, stats.dead_letters);
  } catch (err) {
    ctx.logger.warn({ err: errorMessage(err) }, 'metrics: could not read the webhook stream state');
  }
}

/**
 * Sets the change feed and outbound webhook gauges from MySQL: the sequencer's backlog, deliveries
 * pending and dead, endpoints by state. Shared by every process, like the stream gauges: max(), not sum().
 */
async function refreshFeedGauges(ctx: ServiceContext): Promise<void> {
  try {
    const [unsequenced, deliveries, endpoints] = await withTimeout(Promise.all([unsequencedBacklog(ctx.db), deliveryBacklog(ctx.db), endpointStates(ctx.db)]), STATS_TIMEOUT_MS);
    const m = ctx.metrics;
    m.changeEventsUnsequenced.set(unsequenced.count);
    m.changeEventsUnsequencedAge.set(unsequenced.oldestOccurredAt === null ? 0 : Math.max(0, (Date.now() - unsequenced.oldestOccurredAt.getTime()) / 1000));
    for (const [state, n] of Object.entries(deliveries)) m.outboundDeliveries.set({ state }, n);
    for (const [state, n] of Object.entries(endpoints)) m.outboundEndpoints.set({ state }, n);
  } catch (err) {
    ctx.logger.warn({ err: errorMessage(err) }, 'metrics: could not read the change feed and outbound webhook state');
  }
}

/**
 * `GET /metrics` in Prometheus' text format, behind the operator key (Bearer, or Basic password). It is
 * not part of the REST contract (not JSON, not for integrators): mounted before the validator.
 */
export function metricsRoutes(ctx: ServiceContext): Router {
  const router = Router();
  router.get('/metrics', requireOperatorKey(ctx), async (_req, res) => {
    await Promise.all([refreshStreamGauges(ctx), refreshFeedGauges(ctx)]);
    const body = await ctx.metrics.registry.metrics();
    res.setHeader('Cache-Control', 'no-store');
    res.type(ctx.metrics.registry.contentType).send(body);
  });
  return router;
}
