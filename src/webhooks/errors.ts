import { AppError } from '../errors.js';

/**
 * A stream entry that can never succeed as it is (unreadable, unmappable, a topic without a handler):
 * it is dead-lettered at once rather than retried. It never reaches the API (a webhook was already
 * acknowledged to Shopify when it is found).
 */
export class PoisonError extends AppError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { status: 422, code: 'poison-webhook', retriable: false, cause: opts.cause });
  }
}
