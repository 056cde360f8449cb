import type { ServiceContext } from '../context.js';
import { AppError, UnprocessableError } from '../errors.js';
import { shopifyClientObserver } from '../platform/metrics.js';
import { createShopifyClient, type ShopifyClient } from '../shopify/admin-client.js';
import { ShopifyApiError, ShopifyNotFoundError, ShopifyRetriableError, ShopifyUnauthorizedError } from '../shopify/errors.js';
import { integrationTokenSource } from '../store/integration-tokens.js';
import type { Integration } from '../store/schema.js';

/** A Shopify client for a store and token (the token stays inside the client's request headers). */
export function shopifyClient(ctx: ServiceContext, shopDomain: string, accessToken: string, apiVersion?: string): ShopifyClient {
  return createShopifyClient(
    { redis: ctx.redis, keys: ctx.keys, logger: ctx.logger, config: ctx.config.shopify, observer: shopifyClientObserver(ctx.metrics) },
    { shopDomain, accessToken, ...(apiVersion ? { apiVersion } : {}) },
  );
}

/**
 * A client for testing a token not verified yet (a pasted one): its calls take nothing from the shop's
 * shared rate-limit bucket, nor move it from the token's `X-Shopify-Shop-Api-Call-Limit`. That bucket
 * is our app's at Shopify; a bogus token (401) or another app's token never spends it, so counting
 * them would let anyone starve the shop's syncs with bogus connects.
 */
export function unverifiedTokenClient(ctx: ServiceContext, shopDomain: string, accessToken: string): ShopifyClient {
  return createShopifyClient(
    { redis: ctx.redis, keys: ctx.keys, logger: ctx.logger, config: ctx.config.shopify, observer: shopifyClientObserver(ctx.metrics), rateLimit: false },
    { shopDomain, accessToken },
  );
}

/** The client of a saved integration (its token decrypted in memory only, renewed when it expires). */
export function clientForIntegration(ctx: ServiceContext, integration: Integration): ShopifyClient {
  return createShopifyClient(
    { redis: ctx.redis, keys: ctx.keys, logger: ctx.logger, config: ctx.config.shopify, observer: shopifyClientObserver(ctx.metrics) },
    { shopDomain: integration.shop_domain, apiVersion: integration.api_version, tokens: integrationTokenSource(ctx, integration) },
  );
}

/** Shopify's own words for a failure (its `errors` body), short enough for a problem detail. */
export function shopifyReason(err: ShopifyApiError): string {
  const errors = err.shopifyErrors;
  const text = errors === undefined || errors === null ? '' : typeof errors === 'string' ? errors : JSON.stringify(errors);
  return text.length > 300 ? `${text.slice(0, 300)}…` : text || `HTTP ${err.upstreamStatus}`;
}

/**
 * What our API answers when Shopify refused or failed a connect step: a refusal (401, 403, 404, other
 * 4xx) is the caller's to fix → 422 with Shopify's reason; no answer, 5xx or 429 after the retries →
 * 502. Other errors (our MySQL, Redis) pass through unchanged.
 */
export function connectFailure(err: unknown, shop: string, step: string): unknown {
  if (!(err instanceof ShopifyApiError)) return err;
  if (err instanceof ShopifyRetriableError) {
    return new AppError(`Shopify did not answer ${step} for ${shop} (${err.upstreamStatus ? `HTTP ${err.upstreamStatus}` : 'no response'}); try again later`, {
      status: 502,
      code: 'shopify-unavailable',
      retriable: true,
      cause: err,
    });
  }
  if (err instanceof ShopifyUnauthorizedError) return new UnprocessableError(`Shopify refused the access token for ${shop}: ${shopifyReason(err)}`, { code: 'shopify-token-refused', cause: err });
  if (err instanceof ShopifyNotFoundError) return new UnprocessableError(`Shopify does not know the shop ${shop}: ${shopifyReason(err)}`, { code: 'shopify-shop-not-found', cause: err });
  return new UnprocessableError(`Shopify refused ${step} for ${shop} (HTTP ${err.upstreamStatus}): ${shopifyReason(err)}`, { code: 'shopify-refused', cause: err });
}
