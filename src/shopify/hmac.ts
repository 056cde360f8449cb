import { createHmac, timingSafeEqual } from 'node:crypto';

/** `X-Shopify-Hmac-Sha256` of a webhook body: base64 HMAC-SHA256 of the raw bytes with the app (or store) secret. */
export function signWebhookBody(rawBody: Buffer | string, secret: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('base64');
}

/**
 * Whether `headerValue` is the HMAC of `rawBody` under any of `secrets` (the app's client secret, a
 * store's custom-app secret, a previous secret during rotation). Constant-time per comparison; every
 * secret is tried so the time does not tell which one matched. Empty secrets are ignored.
 */
export function verifyWebhookHmac(rawBody: Buffer, headerValue: string | undefined, secrets: string[]): boolean {
  if (!headerValue) return false;
  const given = Buffer.from(headerValue.trim(), 'base64');
  if (given.length !== 32) return false;
  let ok = false;
  for (const secret of secrets) {
    if (!secret) continue;
    const expected = createHmac('sha256', secret).update(rawBody).digest();
    if (timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}
