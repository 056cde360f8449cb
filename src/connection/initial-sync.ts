import type { ServiceContext } from '../context.js';
import type { Integration } from '../store/schema.js';
import { cancelIntegrationSyncs, enqueueSyncs, type SyncAccepted } from '../sync/enqueue.js';

/** Queues a full sync of every resource for a freshly connected store (one job per resource). */
export function queueInitialSync(ctx: ServiceContext, integration: Integration): Promise<SyncAccepted> {
  return enqueueSyncs(ctx, integration, { mode: 'full', trigger: 'connect' });
}

/**
 * Removes the queued syncs of one installation (disconnect, or a connect that began another one); a
 * running one stops at its next page, when it finds the store disconnected or another installation.
 */
export async function stopIntegrationSyncs(ctx: ServiceContext, integration: Pick<Integration, 'id' | 'installation'>): Promise<void> {
  await cancelIntegrationSyncs(ctx, integration.id, integration.installation);
}
