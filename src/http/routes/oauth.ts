import { Router } from 'express';
import { callbackParams, completeOAuth, initiateOAuth } from '../../connection/oauth-flow.js';
import type { ServiceContext } from '../../context.js';
import type { components } from '../../generated/api.js';
import { tenantOf } from '../auth.js';

type Schemas = components['schemas'];

/** Shopify's OAuth install: initiate (tenant key) and the public callback Shopify redirects to. */
export function oauthRoutes(ctx: ServiceContext): Router {
  const router = Router();

  router.get('/api/shopify/oauth/initiate/', async (req, res) => {
    const result = await initiateOAuth(ctx, tenantOf(req), req.query.shop);
    if (String(req.query.redirect) === 'true') {
      res.status(302).location(result.authorize_url).end();
      return;
    }
    res.json(result satisfies Schemas['OAuthInitiateResult']);
  });

  router.get('/api/shopify/oauth/callback/', async (req, res) => {
    const q = req.originalUrl.indexOf('?');
    const result = await completeOAuth(ctx, callbackParams(q === -1 ? '' : req.originalUrl.slice(q + 1)));
    const successUrl = ctx.config.shopify.oauthSuccessUrl;
    if (successUrl) {
      const target = new URL(successUrl);
      target.searchParams.set('shop', result.integration.shop_domain);
      res.status(302).location(target.toString()).end();
      return;
    }
    res.status(201).json(result satisfies Schemas['ConnectResult']);
  });

  return router;
}
