import type { ServiceContext } from '../context.js';
import { createWorker } from '../platform/queues.js';
import { createEndpointConnections } from './connections.js';
import { runDeliveryAttempt, type AttemptResult, type DeliverDeps } from './deliver.js';
import { startDispatcher } from './dispatcher.js';
import type { DeliveryJobData } from './jobs.js';
import { tenantMapping } from './payload.js';

/** How soon a delivery job whose worker vanished is found and run again. */
const STALLED_AFTER_MS = 5000;

/**
 * Outbound webhooks in the worker process: the dispatcher and re-queue pass (dispatcher.ts) and the
 * delivery jobs, OUTBOUND_CONCURRENCY at a time in this process. Returns a stop function that lets
 * running attempts finish (an attempt cut short is run again once BullMQ finds its job stalled).
 */
export async function startOutboundWorker(ctx: ServiceContext, given: DeliverDeps = defaultDeps(ctx)): Promise<() => Promise<void>> {
  const connections = given.connections ?? createEndpointConnections({ maxSocketsPerOrigin: ctx.config.outbound.concurrency });
  const deps: DeliverDeps = { ...given, connections };
  const worker = createWorker<DeliveryJobData, AttemptResult>(ctx.config, ctx.logger, 'outbound', (job) => runDeliveryAttempt(ctx, job.data, deps), {
    concurrency: ctx.config.outbound.concurrency,
    // A job left active by a killed worker or a cut Redis connection blocks its record's later changes
    // until BullMQ finds it stalled: short locks (renewed while an attempt runs) and checks find it soon.
    lockDuration: STALLED_AFTER_MS,
    stalledInterval: STALLED_AFTER_MS,
  });
  await worker.waitUntilReady();
  const stopDispatcher = startDispatcher(ctx);
  return async () => {
    await Promise.allSettled([stopDispatcher(), worker.close()]);
    if (!given.connections) connections.close();
  };
}

/**
 * Tenants' mappings through the context's evaluator pool (every process context has one). A context built
 * without it still delivers; only an endpoint using mappings fails its attempt (retried on the schedule).
 */
function defaultDeps(ctx: ServiceContext): DeliverDeps {
  if (ctx.mapper) return { mapRecord: tenantMapping(ctx.mapper, ctx.db) };
  return { mapRecord: () => Promise.reject(new Error('this process has no mapper pool (ctx.mapper): endpoints using mappings cannot be served')) };
}
