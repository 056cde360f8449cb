import type { ServiceContext } from '../context.js';

/** Starts the webhook stream consumers of this process. Returns a stop function. */
export async function startWebhookConsumers(_ctx: ServiceContext): Promise<() => Promise<void>> {
  return async () => {};
}
