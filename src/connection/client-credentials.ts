import type { ServiceContext } from '../context.js';
import { UnprocessableError } from '../errors.js';
import { requestClientCredentialsGrant, TokenGrantRefusedError, type TokenGrant } from '../shopify/token-grants.js';
import { connectStore, type ConnectResult } from './connect.js';
import { connectFailure } from './shopify.js';

export interface ClientCredentialsConnect {
  tenantId: string;
  /** Already normalized (`normalizeShopDomain`). */
  shopDomain: string;
  clientId: string;
  clientSecret: string;
}

/**
 * Connects a store with the merchant's own Dev Dashboard app: Shopify mints a 24-hour token with the
 * client-credentials grant (only for stores of that app's organization), which is then tested and
 * saved as any connect; the credentials are kept (the secret sealed) to mint the next token before this
 * one expires, and the client secret verifies the store's webhooks. A refusal saves nothing: 422.
 */
export async function connectWithClientCredentials(ctx: ServiceContext, req: ClientCredentialsConnect): Promise<ConnectResult> {
  let grant: TokenGrant;
  try {
    grant = await requestClientCredentialsGrant({
      apiBaseUrl: ctx.config.shopify.apiBaseUrl,
      shop: req.shopDomain,
      clientId: req.clientId,
      clientSecret: req.clientSecret,
      timeoutMs: ctx.config.shopify.requestTimeoutMs,
    });
  } catch (err) {
    throw refusal(err, req.shopDomain);
  }
  return connectStore(ctx, {
    tenantId: req.tenantId,
    shopDomain: req.shopDomain,
    accessToken: grant.accessToken,
    accessTokenExpiresAt: grant.expiresAt,
    installMethod: 'client_credentials',
    clientCredentials: { clientId: req.clientId, clientSecret: req.clientSecret },
    ...(grant.scope
      ? {
          scopes: grant.scope
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        }
      : {}),
  });
}

function refusal(err: unknown, shop: string): unknown {
  if (!(err instanceof TokenGrantRefusedError)) return connectFailure(err, shop, 'the client-credentials grant');
  if (err.reason === 'shop_not_permitted') {
    return new UnprocessableError(`Shopify does not let this app mint tokens for ${shop} (shop_not_permitted): the client-credentials grant works only for stores of the app's own organization`, {
      code: 'shopify-shop-not-permitted',
      cause: err,
    });
  }
  return new UnprocessableError(`Shopify refused the client credentials for ${shop} (${err.reason}): check the app's client id and secret in the Dev Dashboard`, {
    code: 'shopify-credentials-refused',
    cause: err,
  });
}
