import { Webhook } from 'standardwebhooks';
import type { components } from './schema.js';

/**
 * The body of a change-event delivery: the contract's `ChangeEvent`, the same shape the change feed
 * (`GET /api/events/`) serves.
 */
export type WebhookEvent = components['schemas']['ChangeEvent'];

/** Request headers as Node (`req.headers`), Express, or the Fetch API (`request.headers`) hand them over. */
export type WebhookHeaders = Headers | Record<string, string | string[] | undefined>;

/** Thrown by {@link verifyWebhook} when a delivery is not authentic (or too old): answer 400 and ignore it. */
export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
}

const SIGNATURE_HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

/**
 * Checks a delivery's Standard Webhooks signature and answers its parsed body.
 *
 * - `body` is the request body exactly as received (the raw text: not re-serialized JSON);
 * - `secrets` is the endpoint's `whsec_…` secret, or several during a rotation (any one that signed passes);
 * - the `webhook-timestamp` must be within five minutes of now (a replayed delivery fails).
 *
 * Throws a {@link WebhookVerificationError} otherwise.
 */
export function verifyWebhook<T = WebhookEvent>(body: string, headers: WebhookHeaders, secrets: string | string[]): T {
  const keys = typeof secrets === 'string' ? [secrets] : secrets;
  if (keys.length === 0) throw new TypeError('verifyWebhook needs at least one secret');
  const signed = signatureHeaders(headers);
  let failure = 'No matching signature found';
  for (const key of keys) {
    try {
      return new Webhook(key).verify(body, signed) as T;
    } catch (err) {
      // A malformed secret is the caller's mistake, not the delivery's.
      if (!(err instanceof Error) || err.name !== 'WebhookVerificationError') throw err;
      failure = err.message;
    }
  }
  throw new WebhookVerificationError(failure);
}

function signatureHeaders(headers: WebhookHeaders): Record<string, string> {
  const read = (name: string): string | undefined => {
    if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
    const record = headers as Record<string, string | string[] | undefined>;
    const key = Object.keys(record).find((k) => k.toLowerCase() === name);
    const value = key === undefined ? undefined : record[key];
    return Array.isArray(value) ? value.join(' ') : value;
  };
  const signed: Record<string, string> = {};
  for (const name of SIGNATURE_HEADERS) {
    const value = read(name);
    if (value === undefined || value === '') throw new WebhookVerificationError(`Missing the ${name} header`);
    signed[name] = value;
  }
  return signed;
}
