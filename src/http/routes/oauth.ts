import { Router, type CookieOptions, type Request } from 'express';
import { CONFIRM_COOKIE, cookieValue, INSTALL_COOKIE, OAUTH_COOKIE_PATH } from '../../connection/install-cookies.js';
import { callbackParams, completeOAuth, confirmInstall, initiateOAuth, oauthCookiesSecure, showConfirmation } from '../../connection/oauth-flow.js';
import type { ServiceContext } from '../../context.js';
import type { components } from '../../generated/api.js';
import { tenantOf } from '../auth.js';

type Schemas = components['schemas'];

/**
 * Shopify's OAuth install: initiate (tenant key), then in the merchant's browser the confirmation page
 * and its form (begin), and the callback Shopify redirects to (public).
 */
export function oauthRoutes(ctx: ServiceContext): Router {
  const router = Router();
  const cookie = (sameSite: 'strict' | 'lax', maxAgeSeconds?: number): CookieOptions => ({
    httpOnly: true,
    sameSite,
    secure: oauthCookiesSecure(ctx),
    path: OAUTH_COOKIE_PATH,
    ...(maxAgeSeconds !== undefined ? { maxAge: maxAgeSeconds * 1000 } : {}),
  });
  const cookieOf = (req: Request, name: string) => cookieValue(req.headers.cookie, name);

  router.get('/api/shopify/oauth/initiate/', async (req, res) => {
    const result = await initiateOAuth(ctx, tenantOf(req), req.query.shop);
    if (String(req.query.redirect) === 'true') {
      res.status(302).location(result.authorize_url).end();
      return;
    }
    res.json(result satisfies Schemas['OAuthInitiateResult']);
  });

  router.get('/api/shopify/oauth/begin/', async (req, res) => {
    const page = await showConfirmation(ctx, String(req.query.state));
    res.cookie(CONFIRM_COOKIE, page.confirmCookie.value, cookie('strict', page.confirmCookie.maxAgeSeconds));
    res.setHeader('Content-Security-Policy', page.csp);
    res.setHeader('X-Frame-Options', 'DENY');
    res.setHeader('Cache-Control', 'no-store');
    res.status(200).type('html').send(page.html);
  });

  router.post('/api/shopify/oauth/begin/', async (req, res) => {
    const form = req.body as { state: string; nonce: string };
    const confirmed = await confirmInstall(ctx, form, cookieOf(req, CONFIRM_COOKIE));
    res.clearCookie(CONFIRM_COOKIE, cookie('strict'));
    res.cookie(INSTALL_COOKIE, confirmed.installCookie.value, cookie('lax', confirmed.installCookie.maxAgeSeconds));
    res.setHeader('Cache-Control', 'no-store');
    res.status(303).location(confirmed.authorizeUrl).end();
  });

  router.get('/api/shopify/oauth/callback/', async (req, res) => {
    const q = req.originalUrl.indexOf('?');
    const result = await completeOAuth(ctx, callbackParams(q === -1 ? '' : req.originalUrl.slice(q + 1)), cookieOf(req, INSTALL_COOKIE));
    res.clearCookie(INSTALL_COOKIE, cookie('lax'));
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
