import type { ServiceContext } from '../context.js';
import { AppError } from '../errors.js';
import { tokenRefresh } from '../platform/retry-policies.js';
import { createTokenLock } from '../shopify/token-lock.js';
import { requestClientCredentialsGrant, requestRefreshGrant, requestTokenExchange, type TokenEndpoint, type TokenGrant } from '../shopify/token-grants.js';
import { createRefreshingTokenSource, type StoredTokens } from '../shopify/token-refresh.js';
import { openAccessToken, openClientSecret, openRefreshToken, sealAccessToken, sealRefreshToken, type SecretOwner } from './integration-secrets.js';
import { findIntegrationById, markReauthorizationRequired, saveTokenPair, type TokenPairColumns } from './integrations.js';
import type { Integration } from './schema.js';

type TokenContext = Pick<ServiceContext, 'db' | 'redis' | 'keys' | 'secrets' | 'config' | 'metrics' | 'logger'>;

/** The pair of a row, opened (never logged; kept in memory only). */
export function storedTokensOf(ctx: Pick<ServiceContext, 'secrets' | 'config'>, integration: Integration): StoredTokens {
  // Non-expiring OAuth tokens are exchanged for expiring pairs unless expiring tokens are turned off.
  const exchangeable = ctx.config.shopify.expiringTokens;
  let accessToken: string;
  let refreshToken: string | null;
  try {
    accessToken = openAccessToken(ctx.secrets, integration);
    refreshToken = integration.refresh_token_encrypted ? openRefreshToken(ctx.secrets, { ...integration, refresh_token_encrypted: integration.refresh_token_encrypted }) : null;
  } catch (error) {
    throw new AppError('The access token cannot be decrypted with the configured keys', { code: 'token-undecryptable', retriable: false, cause: error });
  }
  const renewal =
    integration.access_token_expires_at === null
      ? integration.install_method === 'oauth' && exchangeable
        ? 'exchange'
        : 'none'
      : integration.install_method === 'client_credentials'
        ? 'client_credentials'
        : refreshToken
          ? 'refresh_token'
          : 'none';
  return {
    accessToken,
    accessTokenExpiresAt: integration.access_token_expires_at,
    refreshToken,
    refreshTokenExpiresAt: integration.refresh_token_expires_at,
    renewal,
    version: integration.access_token_encrypted,
    reauthorizationRequired: integration.reauthorization_required_at !== null,
  };
}

/** A grant sealed for its row: the four columns written together. */
export function sealedPair(ctx: Pick<ServiceContext, 'secrets'>, owner: SecretOwner, grant: TokenGrant): TokenPairColumns {
  return {
    access_token_encrypted: sealAccessToken(ctx.secrets, owner, grant.accessToken),
    access_token_expires_at: grant.expiresAt,
    refresh_token_encrypted: grant.refreshToken ? sealRefreshToken(ctx.secrets, owner, grant.refreshToken) : null,
    refresh_token_expires_at: grant.refreshToken ? grant.refreshTokenExpiresAt : null,
  };
}

/** Shopify's token endpoint for a store, with the app's credentials or (client-credentials stores) the merchant app's own. */
export function tokenEndpointFor(ctx: Pick<ServiceContext, 'config' | 'secrets'>, integration: Integration): TokenEndpoint {
  const base = { apiBaseUrl: ctx.config.shopify.apiBaseUrl, shop: integration.shop_domain, timeoutMs: ctx.config.shopify.requestTimeoutMs };
  if (integration.install_method === 'client_credentials' && integration.client_id && integration.client_secret_encrypted) {
    return { ...base, clientId: integration.client_id, clientSecret: openClientSecret(ctx.secrets, { ...integration, client_secret_encrypted: integration.client_secret_encrypted }) };
  }
  return { ...base, clientId: ctx.config.shopify.apiKey, clientSecret: ctx.config.shopify.apiSecret };
}

export const tokenLockKey = (ctx: Pick<ServiceContext, 'keys'>, integrationId: number) => ctx.keys.key('token-renewal', String(integrationId));

/**
 * The access-token source of a saved integration: every Shopify call made with it uses the current
 * token, renewed ahead of expiry and after a 401 (see `createRefreshingTokenSource`), and stored as one
 * pair in one write.
 */
export function integrationTokenSource(ctx: TokenContext, integration: Integration) {
  const shopify = ctx.config.shopify;
  const log = ctx.logger.child({ component: 'tokens', integrationId: integration.id, shop: integration.shop_domain });
  return createRefreshingTokenSource({
    initial: storedTokensOf(ctx, integration),
    marginMs: shopify.tokenRefreshMarginSeconds * 1000,
    retry: tokenRefresh(shopify),
    lock: createTokenLock(ctx.redis, tokenLockKey(ctx, integration.id), shopify.tokenRefreshLockMs),
    store: {
      async load() {
        const row = await findIntegrationById(ctx.db, integration.id);
        return row && row.installation === integration.installation && row.shop_domain === integration.shop_domain ? storedTokensOf(ctx, row) : undefined;
      },
      save: (grant, version) => saveTokenPair(ctx.db, integration.id, sealedPair(ctx, integration, grant), version),
      async requireReauthorization(version, reason) {
        if (await markReauthorizationRequired(ctx.db, integration.id, version, reason)) log.warn({ reason }, 'the merchant must authorize the app again; syncs of the store are paused');
      },
    },
    renewer: {
      refresh: (refreshToken) => requestRefreshGrant(tokenEndpointFor(ctx, integration), refreshToken),
      clientCredentials: () => requestClientCredentialsGrant(tokenEndpointFor(ctx, integration)),
      exchange: (nonExpiringToken) => requestTokenExchange(tokenEndpointFor(ctx, integration), nonExpiringToken),
    },
    observer: {
      renewal: (kind, outcome) => ctx.metrics.tokenRenewals.inc({ kind, outcome }),
      lockWait: (ms, outcome) => ctx.metrics.tokenLockWaits.observe({ outcome }, ms / 1000),
    },
    log,
  });
}
