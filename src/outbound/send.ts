import http from 'node:http';
import https from 'node:https';
import { Webhook } from 'standardwebhooks';
import type { EndpointConnections } from './connections.js';
import { checkTarget, pinnedLookup, TargetRefusedError, type CheckedTarget } from './ssrf.js';

// Callers that save a URL check it with the same guard the sender applies.
export { assertPublicTarget } from './ssrf.js';

/**
 * Sends one message to a tenant's endpoint, signed per Standard Webhooks (https://www.standardwebhooks.com):
 * `webhook-id`, `webhook-timestamp` (seconds) and `webhook-signature` (one `v1,<base64>` per secret, so the
 * new and the previous secret both sign while a rotation overlaps). Never follows redirects, connects only
 * to the addresses it checked, stops at one deadline and reads a bounded answer. Network trouble becomes
 * a failed result, never an exception.
 */

export interface OutboundMessage {
  url: string;
  /** `whsec_<base64>` secrets; each one signs. */
  secrets: string[];
  /** The same for every attempt of one delivery, so receivers can drop duplicates. */
  messageId: string;
  timestamp: Date;
  body: string;
}

export interface SendOptions {
  /** One deadline for DNS, connect, TLS, headers and body. */
  timeoutMs: number;
  /** Bytes of the answer read at most; then the connection is closed. */
  maxResponseBytes: number;
  /** Local runs and tests: any http(s) URL, no address checks. */
  allowPrivateTargets: boolean;
  /** Kept-alive connections to reuse; without them, a fresh connection per message. */
  connections?: EndpointConnections;
}

export interface SendResult {
  ok: boolean;
  statusCode?: number;
  error?: string;
  /** The first 512 bytes of the answer, as text. */
  responseExcerpt?: string;
  durationMs: number;
  /** Whether another attempt may succeed (false when ok: there is nothing to retry). */
  retryable: boolean;
}

const USER_AGENT = 'shopify-integration-service-webhooks/1.0 (Standard Webhooks)';
const EXCERPT_BYTES = 512;

type Outcome = Omit<SendResult, 'durationMs'>;

export async function sendSignedMessage(message: OutboundMessage, options: SendOptions): Promise<SendResult> {
  const started = performance.now();
  const headers = signedHeaders(message);
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(), options.timeoutMs);
  try {
    const outcome = await attempt(message, headers, options, deadline.signal);
    return { ...outcome, durationMs: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}

/** The Standard Webhooks headers plus the transport ones. Throws on a missing or malformed secret (a caller's bug). */
export function signedHeaders(message: OutboundMessage): Record<string, string> {
  if (message.secrets.length === 0) throw new TypeError('sendSignedMessage needs at least one secret');
  const signatures = message.secrets.map((secret) => {
    if (!secret.startsWith('whsec_')) throw new TypeError('webhook secrets must look like whsec_<base64>');
    return new Webhook(secret).sign(message.messageId, message.timestamp, message.body);
  });
  return {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(message.body)),
    'user-agent': USER_AGENT,
    'webhook-id': message.messageId,
    'webhook-timestamp': String(Math.floor(message.timestamp.getTime() / 1000)),
    'webhook-signature': signatures.join(' '),
  };
}

async function attempt(message: OutboundMessage, headers: Record<string, string>, options: SendOptions, signal: AbortSignal): Promise<Outcome> {
  let target: CheckedTarget;
  try {
    target = await untilAborted(checkTarget(message.url, options.allowPrivateTargets), signal);
  } catch (err) {
    if (signal.aborted) return { ok: false, error: `timed out after ${options.timeoutMs} ms resolving the host`, retryable: true };
    if (err instanceof TargetRefusedError) return { ok: false, error: err.message, retryable: err.reason === 'unresolvable' };
    throw err;
  }
  return post(target, headers, message.body, options, signal);
}

/** Settles as `promise` does, or rejects when `signal` aborts first (DNS lookups cannot be cancelled). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** Errors of a kept-alive connection the receiver closed while it was idle: the message never reached it. */
const STALE_CONNECTION = new Set(['ECONNRESET', 'EPIPE']);

/**
 * Posts on a kept-alive connection when there are some; a reused one found closed by the receiver (it
 * closed it while idle, just as the message left) is tried once more on a fresh connection.
 */
async function post(target: CheckedTarget, headers: Record<string, string>, body: string, options: SendOptions, signal: AbortSignal): Promise<Outcome> {
  const agent = options.connections ? options.connections.agentFor(target.url, target.addresses) : false;
  const first = await postOn(agent, target, headers, body, options, signal);
  if (first.staleConnection && !signal.aborted) return (await postOn(false, target, headers, body, options, signal)).outcome;
  return first.outcome;
}

function postOn(
  agent: http.Agent | false,
  target: CheckedTarget,
  headers: Record<string, string>,
  body: string,
  options: SendOptions,
  signal: AbortSignal,
): Promise<{ outcome: Outcome; staleConnection: boolean }> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: Outcome, staleConnection = false) => {
      if (settled) return;
      settled = true;
      resolve({ outcome, staleConnection });
    };
    const transport = target.url.protocol === 'https:' ? https : http;
    const request = transport.request(target.url, {
      method: 'POST',
      headers,
      agent, // kept-alive connections are per origin and checked addresses (connections.ts)
      signal,
      ...(target.addresses ? { lookup: pinnedLookup(target.addresses) } : {}),
    });
    // Set once the status line is in: from then on the status decides, however the body ends.
    let answered: (() => void) | undefined;
    request.on('error', (err) => {
      if (answered) return answered();
      const stale = request.reusedSocket && STALE_CONNECTION.has((err as NodeJS.ErrnoException).code ?? '');
      finish({ ok: false, error: signal.aborted ? `timed out after ${options.timeoutMs} ms without an answer` : describeNetworkError(err), retryable: true }, stale);
    });
    request.on('response', (response) => {
      const excerpt: Buffer[] = [];
      let excerptBytes = 0;
      let received = 0;
      const done = () => finish(outcomeOf(response, Buffer.concat(excerpt).toString('utf8')));
      answered = done;
      response.on('data', (chunk: Buffer) => {
        if (excerptBytes < EXCERPT_BYTES) {
          const part = chunk.subarray(0, EXCERPT_BYTES - excerptBytes);
          excerpt.push(part);
          excerptBytes += part.length;
        }
        received += chunk.length;
        if (received >= options.maxResponseBytes) {
          done();
          response.destroy();
        }
      });
      response.on('end', done);
      response.on('close', done);
      response.on('error', done);
    });
    request.end(body);
  });
}

function outcomeOf(response: http.IncomingMessage, responseExcerpt: string): Outcome {
  const statusCode = response.statusCode ?? 0;
  const answered = { statusCode, responseExcerpt };
  if (statusCode >= 200 && statusCode < 300) return { ok: true, ...answered, retryable: false };
  if (statusCode >= 300 && statusCode < 400) {
    const location = response.headers.location ? ` to ${response.headers.location.slice(0, 200)}` : '';
    return { ok: false, ...answered, error: `redirect not followed: the receiver answered ${statusCode}${location}`, retryable: true };
  }
  if (statusCode === 410) return { ok: false, ...answered, error: 'the receiver answered 410 Gone: it asks for no more deliveries', retryable: false };
  const reason = response.statusMessage ? ` ${response.statusMessage}` : '';
  return { ok: false, ...answered, error: `the receiver answered ${statusCode}${reason}`, retryable: true };
}

const NETWORK_ERRORS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset by the receiver',
  EPIPE: 'connection closed by the receiver while sending',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed temporarily',
};

function describeNetworkError(err: Error): string {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (err.message === 'socket hang up') return 'connection closed by the receiver before it answered';
  if (code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'EPROTO') return `TLS handshake failed (${code}: ${err.message})`;
  const known = NETWORK_ERRORS[code];
  return known ? `${known} (${err.message})` : `request failed (${code || err.name}: ${err.message})`;
}
