import { pino, type DestinationStream, type Logger } from 'pino';

/** Paths whose values must never reach a log line. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers["x-shopify-access-token"]',
  'req.headers["x-shopify-hmac-sha256"]',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  // Redirects carry OAuth state and authorize parameters.
  'res.headers.location',
  'accessToken', 'access_token', '*.accessToken', '*.access_token',
  'webhookSecret', 'webhook_secret', '*.webhookSecret', '*.webhook_secret',
  'apiKey', 'api_key', '*.apiKey', '*.api_key', 'client_secret', '*.client_secret',
];

export function createLogger(opts: { level: string; name?: string }, destination?: DestinationStream): Logger {
  return pino(
    {
      level: opts.level,
      ...(opts.name ? { name: opts.name } : {}),
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

export type { Logger };
