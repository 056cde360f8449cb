import { Router } from 'express';
import { connectStore } from '../../connection/connect.js';
import { disconnectStore } from '../../connection/disconnect.js';
import { normalizeShopDomain } from '../../connection/shop-domain.js';
import { tenantStatus } from '../../connection/status.js';
import type { ServiceContext } from '../../context.js';
import type { components } from '../../generated/api.js';
import { tenantOf } from '../auth.js';

type Schemas = components['schemas'];

/** Connect (pasted Admin API token), status, disconnect: the tenant's own store. */
export function connectionRoutes(ctx: ServiceContext): Router {
  const router = Router();

  router.post('/api/shopify/connect/', async (req, res) => {
    const body = req.body as Schemas['ConnectRequest'];
    const result = await connectStore(ctx, {
      tenantId: tenantOf(req),
      shopDomain: normalizeShopDomain(body.shop_domain, { location: 'body', name: 'shop_domain' }),
      accessToken: body.access_token,
      webhookSecret: body.webhook_secret,
      installMethod: 'token',
    });
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
