import { createRequire } from 'node:module';
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
  'accessToken',
  'access_token',
  '*.accessToken',
  '*.access_token',
  'webhookSecret',
  'webhook_secret',
  '*.webhookSecret',
  '*.webhook_secret',
  'apiKey',
  'api_key',
  '*.apiKey',
  '*.api_key',
  'client_secret',
  '*.client_secret',
];

export type LogFormat = 'auto' | 'json' | 'pretty';

/** `auto` is pretty in development on a terminal (a person reads it), JSON everywhere else (a machine does). */
export function resolveLogFormat(format: LogFormat, nodeEnv: string, isTerminal = Boolean(process.stdout.isTTY)): 'json' | 'pretty' {
  if (format !== 'auto') return format;
  return nodeEnv === 'development' && isTerminal ? 'pretty' : 'json';
}

interface RequestLine {
  msg?: string;
  req?: { id?: unknown; method?: string; url?: string };
  res?: { statusCode?: number };
  responseTime?: number;
  problem?: { detail?: string };
}

/** A request line reads `GET /api/shopify/products/?limit=2 200 4 ms`, plus the problem's reason on a refusal. */
export function prettyMessage(line: RequestLine): string {
  const { req, res } = line;
  if (req && res) return `${req.method} ${req.url} ${res.statusCode} ${line.responseTime ?? '?'} ms${line.problem?.detail ? ` — ${line.problem.detail}` : ''}`;
  if (req) return `${line.msg ?? ''} (${req.method} ${req.url}, request ${String(req.id)})`;
  return line.msg ?? '';
}

/**
 * pino-pretty as an in-process stream (no worker thread), loaded only when asked for: it is a development
 * dependency, absent from production images, where the format is JSON.
 */
function prettyStream(): DestinationStream | undefined {
  try {
    const pretty = createRequire(import.meta.url)('pino-pretty') as (opts: Record<string, unknown>) => DestinationStream;
    return pretty({
      colorize: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname,req,res,responseTime,problem',
      singleLine: true,
      sync: true,
      messageFormat: prettyMessage,
    });
  } catch {
    return undefined;
  }
}

export function createLogger(opts: { level: string; name?: string; format?: 'json' | 'pretty' }, destination?: DestinationStream): Logger {
  return pino(
    {
      level: opts.level,
      ...(opts.name ? { name: opts.name } : {}),
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination ?? (opts.format === 'pretty' ? prettyStream() : undefined),
  );
}

export type { Logger };
