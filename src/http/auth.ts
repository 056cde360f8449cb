import type { Request } from 'express';
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

function bearer(req: Request): string {
  const header = req.headers.authorization ?? '';
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!match?.[1]) throw new UnauthorizedError('Send the API key as "Authorization: Bearer <key>"');
  return match[1];
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
      const key = bearer(req);
      if (!ctx.config.adminApiKey) throw new ForbiddenError('Operator routes are disabled: ADMIN_API_KEY is not set');
      if (!safeEqual(key, ctx.config.adminApiKey)) {
        throw new UnauthorizedError('The operator key is wrong');
      }
      req.auth = { kind: 'admin' };
      return true;
    },
  };
}

/** The tenant of the request; routes behind `ApiKey` always have one. */
export function tenantOf(req: Request): string {
  if (req.auth?.kind !== 'tenant') throw new UnauthorizedError();
  return req.auth.tenantId;
}
