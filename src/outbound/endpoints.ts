import { randomBytes } from 'node:crypto';
import type { ServiceContext } from '../context.js';
import { ClientError } from '../errors.js';
import { replayDeadLetters } from '../store/webhook-deliveries.js';
import { requeueLost } from './dispatcher.js';
import { assertPublicTarget } from './ssrf.js';

/** What tenants' endpoints need beyond their rows: secrets, URL checks, getting deliveries moving again. */

/** A Standard Webhooks secret: `whsec_` and 32 random bytes in base64. */
export const newEndpointSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/**
 * Refuses (422, naming `url`) a URL the service must not send to: not https (unless private targets are
 * allowed), credentials in it, or a host on a loopback, private or link-local address.
 */
export async function checkEndpointUrl(ctx: Pick<ServiceContext, 'config'>, url: string): Promise<void> {
  try {
    await assertPublicTarget(url, ctx.config.outbound.allowPrivateTargets);
  } catch (error) {
    if (!(error instanceof ClientError)) throw error;
    throw new ClientError(error.message, { status: 422, code: 'webhook-url-refused', errors: [{ location: 'body', name: 'url', message: error.message }] });
  }
}

/** Queues the endpoint's deliveries that may run now (after it was enabled again, or dead letters were replayed). */
export async function resumeEndpoint(ctx: ServiceContext, endpointId: number): Promise<void> {
  try {
    await requeueLost(ctx, 0, endpointId);
  } catch (error) {
    // MySQL stays the truth: the worker's re-queue pass finds them.
    ctx.logger.warn({ endpointId, err: error instanceof Error ? error.message : String(error) }, 'could not queue the deliveries of a resumed endpoint');
  }
}

/** Makes dead letters pending again with a fresh schedule and queues those that may run; returns how many. */
export async function replayEndpointDeadLetters(ctx: ServiceContext, endpointId: number, ids: number[] | 'all'): Promise<number> {
  const requeued = await replayDeadLetters(ctx.db, endpointId, ids);
  if (requeued > 0) await resumeEndpoint(ctx, endpointId);
  return requeued;
}
