import type { Request, RequestHandler } from 'express';
import type { ServiceContext } from '../context.js';
import { ForbiddenError, UnauthorizedError } from '../errors.js';
import { safeEqual } from '../platform/crypto.js';

/**
 * The key an operator sent: `Authorization: Bearer <key>` (Prometheus, curl), or HTTP Basic with any user
 * name and the key as password, which is what a browser can send for the queue dashboard.
 */
function presentedKey(req: Request): string | undefined {
  const header = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header);
  if (!basic?.[1]) return undefined;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : decoded.slice(colon + 1);
}

/**
 * Guards operator pages that live outside the contract (/metrics, /admin/queues) with ADMIN_API_KEY, as
 * the contract's AdminKey scheme guards /api/admin/. Without ADMIN_API_KEY they are off (403). `challenge`
 * is what a 401 asks for: `Basic` makes a browser show its login prompt.
 */
export function requireOperatorKey(ctx: Pick<ServiceContext, 'config'>, challenge: 'Bearer' | 'Basic' = 'Bearer'): RequestHandler {
  return (req, res, next) => {
    const expected = ctx.config.adminApiKey;
    if (!expected) {
      next(new ForbiddenError('Operator routes are disabled: ADMIN_API_KEY is not set'));
      return;
    }
    const key = presentedKey(req);
    if (key !== undefined && safeEqual(key, expected)) {
      next();
      return;
    }
    res.setHeader('WWW-Authenticate', `${challenge} realm="operator", charset="UTF-8"`);
    next(new UnauthorizedError(key === undefined ? 'Send the operator key as "Authorization: Bearer <key>" (or as the HTTP Basic password)' : 'The operator key is wrong'));
  };
}
