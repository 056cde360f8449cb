import helmet from 'helmet';

/**
 * Security headers on every answer. CSP stays on (Swagger UI works under it) but must not upgrade
 * plain-HTTP asset requests to https.
 */
export function securityHeaders() {
  return helmet({ contentSecurityPolicy: { directives: { upgradeInsecureRequests: null } } });
}
