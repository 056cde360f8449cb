/**
 * One error hierarchy for the whole service. Each subclass answers the question a caller
 * has to ask: can trying again help? HTTP handlers map `status` to problem+json.
 */
export class AppError extends Error {
  /** HTTP status this error maps to when it reaches the API boundary. */
  readonly status: number;
  /** Whether repeating the same operation later may succeed. */
  readonly retriable: boolean;
  /** Short, stable problem type slug (becomes `type` in problem+json). */
  readonly code: string;

  constructor(message: string, opts: { status?: number; retriable?: boolean; code?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.status = opts.status ?? 500;
    this.retriable = opts.retriable ?? false;
    this.code = opts.code ?? 'internal-error';
  }
}

/** Something outside our control failed in a way that may pass: retry with backoff. */
export class RetriableError extends AppError {
  constructor(message: string, opts: { status?: number; code?: string; cause?: unknown } = {}) {
    super(message, { status: opts.status ?? 503, code: opts.code ?? 'service-unavailable', cause: opts.cause, retriable: true });
  }
}

/** A dependency (MySQL, Redis) is unreachable right now. */
export class DependencyUnavailableError extends RetriableError {
  constructor(dependency: string, cause?: unknown) {
    super(`${dependency} is unavailable`, { status: 503, code: 'dependency-unavailable', cause });
  }
}

/** Too many requests for now (a rate or quota): the same request succeeds after `retryAfterSeconds`. */
export class ThrottledError extends RetriableError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(message, { status: 429, code: 'rate-limited' });
    this.retryAfterSeconds = Math.max(1, Math.ceil(retryAfterSeconds));
  }
}

/** The request itself is wrong; repeating it unchanged cannot help. */
export class ClientError extends AppError {
  readonly errors?: { location: string; name: string; message: string }[];
  constructor(message: string, opts: { status?: number; code?: string; cause?: unknown; errors?: { location: string; name: string; message: string }[] } = {}) {
    super(message, { status: opts.status ?? 400, code: opts.code ?? 'bad-request', cause: opts.cause, retriable: false });
    if (opts.errors) this.errors = opts.errors;
  }
}

export class ValidationError extends ClientError {
  constructor(message: string, errors?: { location: string; name: string; message: string }[]) {
    super(message, { status: 400, code: 'validation-error', ...(errors ? { errors } : {}) });
  }
}

export class UnauthorizedError extends ClientError {
  constructor(message = 'A valid API key is required') {
    super(message, { status: 401, code: 'unauthorized' });
  }
}

export class ForbiddenError extends ClientError {
  constructor(message = 'This key may not use this operation') {
    super(message, { status: 403, code: 'forbidden' });
  }
}

export class NotFoundError extends ClientError {
  constructor(message = 'Not found') {
    super(message, { status: 404, code: 'not-found' });
  }
}

export class ConflictError extends ClientError {
  constructor(message: string) {
    super(message, { status: 409, code: 'conflict' });
  }
}

/** What was asked for existed once and is kept no longer (a feed cursor older than the retention). */
export class GoneError extends ClientError {
  constructor(message: string) {
    super(message, { status: 410, code: 'gone' });
  }
}

export class UnprocessableError extends ClientError {
  constructor(message: string, opts: { code?: string; cause?: unknown } = {}) {
    super(message, { status: 422, code: opts.code ?? 'unprocessable', cause: opts.cause });
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
