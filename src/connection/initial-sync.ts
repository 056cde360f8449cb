import type { ServiceContext } from '../context.js';
import type { Integration } from '../store/schema.js';
import { cancelIntegrationSyncs, enqueueSyncs, type SyncAccepted } from '../sync/enqueue.js';

/** Queues a full sync of every resource for a freshly connected store (one job per resource). */
export function queueInitialSync(ctx: ServiceContext, integration: Integration): Promise<SyncAccepted> {
  return enqueueSyncs(ctx, integration, { mode: 'full', trigger: 'connect' });
}

/** Removes an integration's queued syncs (disconnect); a running one stops when it sees the store inactive. */
export async function stopIntegrationSyncs(ctx: ServiceContext, integrationId: number): Promise<void> {
  await cancelIntegrationSyncs(ctx, integrationId);
}
