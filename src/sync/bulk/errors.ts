import { AppError, RetriableError } from '../../errors.js';

/**
 * A bulk operation's JSONL file holds a line that is not one JSON object (malformed JSON, an array, a
 * scalar) or a line longer than the parser accepts. Reading the same file again meets the same line, so
 * it is never retried; `line` (1-based) and `excerpt` say where to look. Records before that line were
 * delivered, so a caller may keep what it applied.
 */
export class BulkFileError extends AppError {
  readonly line: number;
  /** The beginning of the offending line (at most ~120 characters). */
  readonly excerpt: string;

  constructor(message: string, info: { line: number; excerpt: string; cause?: unknown }) {
    // 502: the file is the upstream's output; nothing a client of our API sent is wrong.
    super(message, { status: 502, code: 'bulk-file-invalid', retriable: false, cause: info.cause });
    this.line = info.line;
    this.excerpt = info.excerpt;
  }
}

/**
 * The signed download URL of a bulk operation's file has expired (Shopify's URLs live 7 days; the
 * storage answers 400/403 "ExpiredToken" / "Request has expired"). Downloading from this URL again can
 * never succeed, so it is not retriable as such: the caller has to start a new bulk operation and read
 * its new file from the beginning (offsets saved for the old file mean nothing for the new one).
 */
export class BulkFileExpiredError extends AppError {
  readonly upstreamStatus: number;

  constructor(message: string, info: { upstreamStatus: number; cause?: unknown }) {
    super(message, { status: 410, code: 'bulk-file-expired', retriable: false, cause: info.cause });
    this.upstreamStatus = info.upstreamStatus;
  }
}

/**
 * The storage refused the download with a 4xx other than an expiry (404 no such file, 403 bad signature,
 * 416 a start beyond the file's end …) or the file changed between two resumed requests: the same
 * request cannot succeed later.
 */
export class BulkDownloadRefusedError extends AppError {
  readonly upstreamStatus: number;

  constructor(message: string, info: { upstreamStatus: number; cause?: unknown }) {
    super(message, { status: 502, code: 'bulk-download-refused', retriable: false, cause: info.cause });
    this.upstreamStatus = info.upstreamStatus;
  }
}

/**
 * The download kept failing (5xx, dropped connections, timeouts) without receiving a byte for more
 * resumes than allowed. It may pass later: `position` is the file offset reached, from which a later
 * attempt can resume; `cause` is the last failure.
 */
export class BulkDownloadFailedError extends RetriableError {
  readonly position: number;
  readonly attempts: number;

  constructor(message: string, info: { position: number; attempts: number; cause?: unknown }) {
    super(message, { status: 502, code: 'bulk-download-failed', cause: info.cause });
    this.position = info.position;
    this.attempts = info.attempts;
  }
}
