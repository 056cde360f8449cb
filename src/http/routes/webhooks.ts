import { Router } from 'express';
import type { ServiceContext } from '../../context.js';

/** Webhook ingest reads its own raw body (for the HMAC), so it is mounted before the JSON parser. */
export function webhookRoutes(_ctx: ServiceContext): Router {
  return Router();
}
