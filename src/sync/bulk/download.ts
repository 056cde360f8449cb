import { setTimeout as sleep } from 'node:timers/promises';
import { bulkDownload } from '../../platform/retry-policies.js';
import { BulkDownloadFailedError, BulkDownloadRefusedError, BulkFileExpiredError } from './errors.js';

/**
 * Streams a bulk operation's file from its signed URL (Google Cloud Storage style) and survives the
 * connection being cut: it asks again with `Range: bytes=<received>-` and carries on where it stopped,
 * so a caller sees one unbroken byte stream (and can itself resume a later download at a saved offset).
 */

export interface DownloadOptions {
  /** File offset to start at (a saved `endOffset` of the JSONL reader). Default 0. */
  startAt?: number;
  /** Injected fetch (tests, proxies); the global one by default. */
  fetch?: typeof fetch;
  /** Aborting stops the download at once with the signal's reason; it is never retried. */
  signal?: AbortSignal;
  /**
   * Resumes allowed in a row without receiving a byte (default 5); the next failure gives up with
   * `BulkDownloadFailedError`. Any progress resets the count.
   */
  maxResumes?: number;
  /** Called before each resume with the file offset it resumes at and the failure that caused it. */
  onResume?: (at: number, error: unknown) => void;
  /** Delay before the `attempt`-th resume in a row (0-based). Default: exponential from 250 ms, at most 10 s, with jitter. */
  retryDelayMs?: (attempt: number) => number;
  /** Called after each chunk with the bytes received by this call so far (not counting `startAt`). */
  onBytes?: (total: number) => void;
  /**
   * A request waiting this long for its answer or its next bytes is abandoned and resumed (default
   * 60 s; 0 waits as long as the HTTP client does). Time spent by the consumer between chunks does not count.
   */
  stallTimeoutMs?: number;
}

/** What a finished download returns (the generator's return value). */
export interface DownloadStats {
  /** Bytes yielded by this call. */
  bytes: number;
  /** File offset reached: `startAt + bytes`, the file's size. */
  position: number;
  /** Resumes made. */
  resumes: number;
}

/** Bytes of an error answer read to classify it (storage error documents are a few hundred bytes). */
const ERROR_BODY_BYTES = 8 * 1024;
const EXPIRED = /expired/i;

class Retry extends Error {}

/** A transient failure of one request: worth resuming. */
function transient(message: string, cause?: unknown): Retry {
  return new Retry(message, cause === undefined ? undefined : { cause });
}

/** The URL without its query: a signed URL's query is a credential and must not reach logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

async function readErrorBody(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < ERROR_BODY_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.byteLength;
    }
  } catch {
    // The classification works on whatever arrived.
  } finally {
    await reader.cancel().catch(() => {});
  }
  return Buffer.concat(parts).toString('utf8', 0, Math.min(size, ERROR_BODY_BYTES));
}

async function discard(res: Response): Promise<void> {
  await res.body?.cancel().catch(() => {});
}

/** `bytes 100-199/1000` gives start, end and size; `bytes *` + `/1000` (a 416) only the size; a `*` size stays undefined. */
function parseContentRange(header: string | null): { start?: number; end?: number; size?: number } | undefined {
  if (!header) return undefined;
  const m = /^\s*bytes\s+(?:(\d+)-(\d+)|\*)\s*\/\s*(\d+|\*)\s*$/i.exec(header);
  if (!m) return undefined;
  const result: { start?: number; end?: number; size?: number } = {};
  if (m[1] !== undefined && m[2] !== undefined) {
    result.start = Number(m[1]);
    result.end = Number(m[2]);
  }
  if (m[3] !== undefined && m[3] !== '*') result.size = Number(m[3]);
  return result;
}

/**
 * The file's bytes from `startAt` to its end, as the network delivers them (each chunk is a view of
 * one network read, never accumulated).
 *
 * - 200, or 206 whose `Content-Range` starts at the requested offset: streamed; a 200 answering a
 *   range request is read from its start and the bytes already delivered are skipped.
 * - Connection cut, a network error, a body ending before its length, 5xx, 408 or 429: resumed with a
 *   `Range` request after `retryDelayMs`; after `maxResumes` resumes in a row without progress,
 *   `BulkDownloadFailedError` (retriable).
 * - 416 at exactly the file's end: the download is complete (a resume right after the last byte).
 * - 400/401/403 whose body says the request expired: `BulkFileExpiredError` (start a new operation).
 * - Any other 4xx, or the file changing (size or ETag) between requests: `BulkDownloadRefusedError`.
 */
export async function* downloadChunks(url: string, opts: DownloadOptions = {}): AsyncGenerator<Uint8Array, DownloadStats> {
  const fetchImpl = opts.fetch ?? fetch;
  const { signal, onResume, onBytes } = opts;
  const maxResumes = opts.maxResumes ?? bulkDownload.maxRetries;
  const retryDelayMs = opts.retryDelayMs ?? ((attempt: number) => bulkDownload.delayMs(attempt));
  const stallTimeoutMs = opts.stallTimeoutMs ?? 60_000;
  const startAt = opts.startAt ?? 0;
  if (!Number.isSafeInteger(startAt) || startAt < 0) throw new RangeError(`download: startAt must be a non-negative integer, got ${opts.startAt}`);
  const where = redactUrl(url);

  let position = startAt;
  let size: number | undefined;
  let etag: string | undefined;
  let failures = 0;
  let resumes = 0;

  const refuse = (status: number, message: string): BulkDownloadRefusedError => new BulkDownloadRefusedError(`Bulk file download ${where} refused: ${message}`, { upstreamStatus: status });

  while (true) {
    signal?.throwIfAborted();
    // One controller per request: a stall aborts this request alone, the caller's signal aborts it too.
    const request = new AbortController();
    const forwardAbort = (): void => request.abort(signal?.reason);
    signal?.addEventListener('abort', forwardAbort, { once: true });
    const guard = async <T>(pending: Promise<T>): Promise<T> => {
      if (!(stallTimeoutMs > 0)) return pending;
      const timer = setTimeout(() => request.abort(new Error(`no data for ${stallTimeoutMs} ms`)), stallTimeoutMs);
      try {
        return await pending;
      } finally {
        clearTimeout(timer);
      }
    };
    let res: Response | undefined;
    try {
      const headers: Record<string, string> = { 'accept-encoding': 'identity' };
      if (position > 0) headers.range = `bytes=${position}-`;
      try {
        res = await guard(fetchImpl(url, { headers, signal: request.signal, redirect: 'follow' }));
      } catch (err) {
        throw transient(`request failed: ${(err as Error).message}`, err);
      }
      const status = res.status;

      if (status === 416) {
        const range = parseContentRange(res.headers.get('content-range'));
        await discard(res);
        const known = range?.size ?? size;
        if (known === undefined || known === position) return { bytes: position - startAt, position, resumes };
        throw refuse(416, `range from ${position} not satisfiable (file size ${known})`);
      }
      if (status >= 400 && status < 500 && status !== 408 && status !== 429) {
        // Storage error documents may echo the signed query, whose signature is a credential.
        const body = (await guard(readErrorBody(res))).replace(/(signature=)[^&\s<"]+/gi, '$1…');
        if ((status === 400 || status === 401 || status === 403) && EXPIRED.test(body)) {
          throw new BulkFileExpiredError(`Bulk file URL ${where} has expired (${status}); start a new bulk operation`, { upstreamStatus: status });
        }
        throw refuse(status, `${status} ${body.slice(0, 300)}`.trim());
      }
      if (status !== 200 && status !== 206) {
        await discard(res);
        throw transient(`answered ${status}`);
      }

      // Where the body starts in the file, and where it should end.
      let bodyStart = 0;
      let bodyEnd: number | undefined;
      const encoded = (res.headers.get('content-encoding') ?? 'identity').toLowerCase() !== 'identity';
      const length = res.headers.get('content-length');
      if (status === 206) {
        const range = parseContentRange(res.headers.get('content-range'));
        if (range?.start === undefined || range.end === undefined) {
          await discard(res);
          throw transient(`206 without a usable Content-Range (${res.headers.get('content-range')})`);
        }
        bodyStart = range.start;
        bodyEnd = range.end + 1;
        if (range.size !== undefined) {
          if (size !== undefined && size !== range.size) {
            await discard(res);
            throw refuse(206, `the file changed during the download (size ${size}, now ${range.size})`);
          }
          size = range.size;
        }
      } else if (length !== null && !encoded) {
        bodyEnd = Number(length);
        if (size !== undefined && size !== bodyEnd) {
          await discard(res);
          throw refuse(200, `the file changed during the download (size ${size}, now ${bodyEnd})`);
        }
        size = bodyEnd;
      }
      const tag = res.headers.get('etag') ?? undefined;
      if (tag !== undefined) {
        if (etag !== undefined && tag !== etag) {
          await discard(res);
          throw refuse(status, `the file changed during the download (ETag ${etag}, now ${tag})`);
        }
        etag = tag;
      }
      if (bodyStart > position) {
        await discard(res);
        throw transient(`answered bytes from ${bodyStart}, asked from ${position}`);
      }
      if (bodyEnd !== undefined && bodyEnd <= position && bodyStart < bodyEnd) {
        // A full answer to a range request for nothing left (a server ignoring Range after the last byte).
        await discard(res);
        return { bytes: position - startAt, position, resumes };
      }
      if (!res.body) {
        if (bodyEnd === position || bodyEnd === 0) return { bytes: position - startAt, position, resumes };
        throw transient('answer without a body');
      }

      let skip = position - bodyStart;
      const reader = res.body.getReader();
      let finished = false;
      try {
        while (true) {
          let step: Awaited<ReturnType<typeof reader.read>>;
          try {
            step = await guard(reader.read());
          } catch (err) {
            throw transient(`connection lost at ${position}: ${(err as Error).message}`, err);
          }
          if (step.done) break;
          let chunk = step.value;
          if (skip > 0) {
            if (chunk.byteLength <= skip) {
              skip -= chunk.byteLength;
              continue;
            }
            chunk = chunk.subarray(skip);
            skip = 0;
          }
          if (chunk.byteLength === 0) continue;
          position += chunk.byteLength;
          failures = 0;
          onBytes?.(position - startAt);
          yield chunk;
        }
        finished = true;
      } finally {
        // Reached when done, on a failure, or when the consumer stops early: the socket must not linger.
        if (!finished) await reader.cancel().catch(() => {});
      }
      if (bodyEnd !== undefined && position < bodyEnd) throw transient(`body ended at ${position}, before ${bodyEnd}`);
      return { bytes: position - startAt, position, resumes };
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      if (!(err instanceof Retry)) throw err;
      const cause = err.cause ?? err;
      if (failures >= maxResumes) {
        throw new BulkDownloadFailedError(`Bulk file download ${where} failed at ${position} after ${failures + 1} attempts without progress: ${err.message}`, {
          position,
          attempts: failures + 1,
          cause,
        });
      }
      const delay = retryDelayMs(failures);
      failures++;
      resumes++;
      onResume?.(position, cause);
      if (delay > 0) {
        try {
          await sleep(delay, undefined, signal ? { signal } : undefined);
        } catch (sleepErr) {
          signal?.throwIfAborted();
          throw sleepErr;
        }
      }
    } finally {
      signal?.removeEventListener('abort', forwardAbort);
    }
  }
}
