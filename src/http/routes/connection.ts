import { Router } from 'express';
import { takeConnectAttempt } from '../../connection/connect-rate.js';
import { connectWithClientCredentials } from '../../connection/client-credentials.js';
import { connectStore } from '../../connection/connect.js';
import { disconnectStore } from '../../connection/disconnect.js';
import { normalizeShopDomain } from '../../connection/shop-domain.js';
import { tenantStatus } from '../../connection/status.js';
import type { ServiceContext } from '../../context.js';
import { ValidationError } from '../../errors.js';
import type { components } from '../../generated/api.js';
import { tenantOf } from '../auth.js';

type Schemas = components['schemas'];

/**
 * The token travels in the X-Shopify-Access-Token header: one that cannot (CR/LF, NUL, non-ASCII) was
 * never issued by Shopify. Refused here as a bad field, instead of failing the request to Shopify and
 * being reported as Shopify unavailable (502, "try again later").
 */
function headerSafeToken(token: string): string {
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new ValidationError('access_token must be printable ASCII, as Shopify issues it', [{ location: 'body', name: 'access_token', message: 'must be printable ASCII without spaces' }]);
  }
  return token;
}

/** Connect (pasted Admin API token), status, disconnect: the tenant's own store. */
export function connectionRoutes(ctx: ServiceContext): Router {
  const router = Router();

  router.post('/api/shopify/connect/', async (req, res) => {
    const body = req.body as Schemas['ConnectRequest'];
    const tenantId = tenantOf(req);
    const shopDomain = normalizeShopDomain(body.shop_domain, { location: 'body', name: 'shop_domain' });
    if (body.client_id !== undefined && body.client_secret !== undefined) {
      await takeConnectAttempt(ctx, tenantId);
      const result = await connectWithClientCredentials(ctx, { tenantId, shopDomain, clientId: body.client_id, clientSecret: body.client_secret });
      res.status(201).json(result satisfies Schemas['ConnectResult']);
      return;
    }
    const accessToken = headerSafeToken(body.access_token ?? '');
    await takeConnectAttempt(ctx, tenantId);
    const result = await connectStore(ctx, { tenantId, shopDomain, accessToken, webhookSecret: body.webhook_secret, installMethod: 'token' });
    res.status(201).json(result satisfies Schemas['ConnectResult']);
  });

  router.get('/api/shopify/status/', async (req, res) => {
    res.json((await tenantStatus(ctx, tenantOf(req))) satisfies Schemas['IntegrationStatus']);
  });

  router.delete('/api/shopify/connect/', async (req, res) => {
    const result = await disconnectStore(ctx, tenantOf(req), { purge: String(req.query.purge) === 'true' });
    res.json(result satisfies Schemas['DisconnectResult']);
  });

  return router;
}
