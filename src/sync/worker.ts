import type { ServiceContext } from '../context.js';

/** Runs sync jobs (BullMQ worker) and the job schedulers. Returns a stop function. */
export async function startSyncWorker(_ctx: ServiceContext): Promise<() => Promise<void>> {
  return async () => {};
}
