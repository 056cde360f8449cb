import type { Request, RequestHandler } from 'express';
import type { ServiceContext } from '../context.js';
import { DependencyUnavailableError, ForbiddenError, UnauthorizedError } from '../errors.js';
import { safeEqual } from '../platform/crypto.js';
import { findActiveApiKey, touchApiKey } from '../store/api-keys.js';

export interface TenantAuth {
  kind: 'tenant';
  tenantId: string;
  apiKeyId: number;
}
export interface AdminAuth {
  kind: 'admin';
}

declare module 'express-serve-static-core' {
  interface Request {
    auth?: TenantAuth | AdminAuth;
    /** Set when authentication could not run (the validator turns any handler failure into a 500). */
    dependencyError?: DependencyUnavailableError;
  }
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

function bearer(req: Request): string {
  const match = BEARER.exec(req.headers.authorization ?? '');
  if (!match?.[1]) throw new UnauthorizedError('Send the API key as "Authorization: Bearer <key>"');
  return match[1];
}

/** Whether the request carries a bearer token at all (not whether it is a valid one). */
export function hasBearerToken(req: Request): boolean {
  return BEARER.test(req.headers.authorization ?? '');
}

/** The operator key check: the contract's AdminKey scheme and the admin router's own wall both run it. */
export function authenticateOperator(config: Pick<ServiceContext['config'], 'adminApiKey'>, req: Request): AdminAuth {
  const key = bearer(req);
  if (!config.adminApiKey) throw new ForbiddenError('Operator routes are disabled: ADMIN_API_KEY is not set');
  if (!safeEqual(key, config.adminApiKey)) throw new UnauthorizedError('The operator key is wrong');
  req.auth = { kind: 'admin' };
  return req.auth;
}

/**
 * A second wall behind the contract validator for operator routes: should a request ever reach them
 * without the validator's security check (an undocumented method, a path the contract misses), the
 * operator key is still required.
 */
export function requireOperator(ctx: Pick<ServiceContext, 'config'>): RequestHandler {
  return (req, _res, next) => {
    try {
      authenticateOperator(ctx.config, req);
      next();
    } catch (err) {
      next(err);
    }
  };
}

/**
 * Security handlers for the contract's schemes, run by express-openapi-validator for the operations
 * that declare them — so which routes need which key is stated once, in openapi/.
 */
export function securityHandlers(ctx: Pick<ServiceContext, 'db' | 'config' | 'logger'>) {
  return {
    async ApiKey(req: Request): Promise<boolean> {
      const key = bearer(req);
      if (ctx.config.adminApiKey && safeEqual(key, ctx.config.adminApiKey)) {
        throw new ForbiddenError('The operator key is for /api/admin/ routes; use a tenant API key here');
      }
      let record;
      try {
        record = await findActiveApiKey(ctx.db, key);
      } catch (err) {
        req.dependencyError = new DependencyUnavailableError('MySQL', err);
        throw req.dependencyError;
      }
      if (!record) throw new UnauthorizedError('The API key is unknown or revoked');
      req.auth = { kind: 'tenant', tenantId: record.tenant_id, apiKeyId: record.id };
      // The row just read says when the key was last recorded: skip the UPDATE round trip within the minute.
      if (!record.last_used_at || Date.now() - record.last_used_at.getTime() > 60_000) {
        touchApiKey(ctx.db, record.id).catch((err) => ctx.logger.warn({ err }, 'could not record API key use'));
      }
      return true;
    },
    async AdminKey(req: Request): Promise<boolean> {
      authenticateOperator(ctx.config, req);
      return true;
    },
  };
}

/** The tenant of the request; routes behind `ApiKey` always have one. */
export function tenantOf(req: Request): string {
  if (req.auth?.kind !== 'tenant') throw new UnauthorizedError();
  return req.auth.tenantId;
}
