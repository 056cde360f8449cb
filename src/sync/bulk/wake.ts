import type { ServiceContext } from '../../context.js';
import { errorMessage } from '../../errors.js';
import { RESOURCE_NAMES, type ResourceName } from '../../resources/index.js';
import { findIntegrationById } from '../../store/integrations.js';
import { resourcesWaitingForOperation } from '../../store/sync-state.js';
import { integrationJobKey } from '../enqueue.js';
import { syncJobId, syncQueue } from '../queue.js';

/**
 * `bulk_operations/finish` arrived: the sync jobs waiting (delayed) for that operation run now instead
 * of at their next look. A job not found or not delayed (running, or woken already) is left alone.
 */
export async function wakeBulkSyncs(ctx: ServiceContext, finished: { integrationId: number; operation: string }[]): Promise<number> {
  let woken = 0;
  for (const { integrationId, operation } of finished) {
    const integration = await findIntegrationById(ctx.db, integrationId);
    if (!integration) continue;
    const resources = (await resourcesWaitingForOperation(ctx.db, integrationId, operation)).filter((r): r is ResourceName => (RESOURCE_NAMES as readonly string[]).includes(r));
    for (const resource of resources) {
      const job = await syncQueue(ctx).getJob(syncJobId(integrationJobKey(ctx, integrationId, integration.installation), resource));
      if (!job) continue;
      try {
        if (await job.isDelayed()) {
          await job.promote();
          woken++;
        }
      } catch (error) {
        // It left the delayed set meanwhile (its delay ended): nothing to do.
        ctx.logger.debug({ err: errorMessage(error), jobId: job.id }, 'bulk sync job not woken');
      }
    }
  }
  return woken;
}
