import { AppError } from '../errors.js';
import { ShopifyUnauthorizedError } from '../shopify/errors.js';

/** The integration was disconnected (or its token revoked) while the sync ran: stop, never retry. */
export class IntegrationDisconnectedError extends AppError {
  constructor(message = 'The integration was disconnected during the sync') {
    super(message, { status: 409, code: 'integration-disconnected', retriable: false });
  }
}

/** The worker is shutting down: the run stopped between two pages and its job goes back to the queue. */
export class SyncInterruptedError extends AppError {
  constructor() {
    super('Interrupted: the worker stopped; the job was put back on the queue', { status: 503, code: 'sync-interrupted', retriable: true });
  }
}

/**
 * Whether another attempt of the job may succeed. Shopify 4xx (revoked token, missing scope, bad
 * request) and our own non-retriable errors cannot; 5xx/429/network failures that outlived the client's
 * own retries, MySQL or Redis trouble, and anything unexpected may.
 */
export function isRetriable(error: unknown): boolean {
  if (error instanceof ShopifyUnauthorizedError) return false;
  if (error instanceof AppError) return error.retriable;
  return true;
}
