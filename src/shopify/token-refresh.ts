import { AppError } from '../errors.js';
import { sleep as realSleep, type RetryPolicy } from '../platform/retry-policies.js';
import type { AccessTokenSource } from './admin-client.js';
import { ShopifyRetriableError } from './errors.js';
import type { TokenLock } from './token-lock.js';
import { TokenGrantRefusedError, type TokenGrant } from './token-grants.js';

/**
 * Keeps a store's access token valid for every call made with it: refreshed ahead of expiry (a
 * margin) and once after a 401, one renewal per store at a time across processes (`TokenLock`). Whoever
 * waits for the lock re-reads the stored pair and uses it when it changed (the fencing check), instead
 * of renewing again. A renewal whose answer was lost (5xx, no answer) is retried with the same refresh
 * token (Shopify keeps it usable until its replacement is used); a refused refresh token or an expired
 * one marks the store `reauthorization_required` once, and is never tried again.
 *
 * It knows neither MySQL nor Redis: `TokenStore` reads and writes the pair, `TokenLock` orders renewals.
 */
export interface StoredTokens {
  accessToken: string;
  /** Null: never expires (nothing to renew). */
  accessTokenExpiresAt: Date | null;
  refreshToken: string | null;
  refreshTokenExpiresAt: Date | null;
  /**
   * How a new token is got: the refresh token, the client-credentials grant, the exchange of a
   * non-expiring OAuth token for an expiring pair (only when asked, or after a 401: a migration whose
   * answer was lost left the revoked original stored, and its exchange answers the same pair), or not at all.
   */
  renewal: 'refresh_token' | 'client_credentials' | 'exchange' | 'none';
  /** Opaque: changes with every write of the pair (fences writes and tells waiters a renewal happened). */
  version: string;
  reauthorizationRequired: boolean;
}

export interface TokenStore {
  load(): Promise<StoredTokens | undefined>;
  /** Writes the whole pair in one statement if the stored version is still `version`; false when it moved on. */
  save(grant: TokenGrant, version: string): Promise<boolean>;
  /** Shopify refused the renewal (or the refresh token expired): the merchant must authorize again. */
  requireReauthorization(version: string, reason: string): Promise<void>;
}

export interface TokenRenewer {
  refresh(refreshToken: string): Promise<TokenGrant>;
  clientCredentials(): Promise<TokenGrant>;
  exchange(nonExpiringToken: string): Promise<TokenGrant>;
}

export interface TokenRefreshObserver {
  renewal?(kind: string, outcome: 'renewed' | 'rejected' | 'failed' | 'lost_answer_retried'): void;
  /** Another process was renewing: this one waited `ms` and used what it stored (or renewed itself). */
  lockWait?(ms: number, outcome: 'reused' | 'renewed'): void;
}

export interface TokenRefreshOptions {
  store: TokenStore;
  lock: TokenLock;
  renewer: TokenRenewer;
  /** The pair as last read (saves a query when the caller holds the row). */
  initial?: StoredTokens;
  /** Renew this long before the access token expires. */
  marginMs: number;
  /** Retries of one renewal whose answer was lost, and the waits between them (`tokenRefresh`). */
  retry: RetryPolicy;
  /** How often a waiter looks again; how long it waits for a holder before it tries the lock itself. */
  pollMs?: number;
  observer?: TokenRefreshObserver;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** The store must be authorized again (OAuth install) or connected with new credentials: never retried. */
export class ReauthorizationRequiredError extends AppError {
  constructor(message = 'Shopify refused to renew the access token: the merchant must authorize the app again') {
    super(message, { status: 409, code: 'reauthorization-required', retriable: false });
  }
}

/** The store's row is gone or its token was replaced by a disconnect: nothing to renew. */
export class TokenUnavailableError extends AppError {
  constructor() {
    super('The integration has no token any more (disconnected or removed)', { status: 409, code: 'integration-disconnected', retriable: false });
  }
}

export type RefreshingTokenSource = AccessTokenSource & { tokens(): Promise<StoredTokens>; renewNow(): Promise<StoredTokens> };

export function createRefreshingTokenSource(opts: TokenRefreshOptions): RefreshingTokenSource {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? realSleep;
  const pollMs = opts.pollMs ?? 100;
  let pair: StoredTokens | undefined = opts.initial;

  const expiresSoon = (p: StoredTokens) => p.renewal !== 'none' && p.renewal !== 'exchange' && p.accessTokenExpiresAt !== null && p.accessTokenExpiresAt.getTime() - opts.marginMs <= now();

  async function loaded(): Promise<StoredTokens> {
    const stored = await opts.store.load();
    if (!stored) throw new TokenUnavailableError();
    return stored;
  }

  /**
   * Renews the pair Shopify holds as `seen` (unless a renewal already replaced it): under the lock, the
   * stored pair is read again first. `force`: renew even a token not near its expiry (it got a 401).
   */
  async function renew(seen: StoredTokens, force: boolean): Promise<StoredTokens> {
    const waitStarted = now();
    let waited = false;
    for (;;) {
      const owner = await opts.lock.tryAcquire();
      if (owner === undefined) {
        waited = true;
        await sleep(pollMs);
        const stored = await loaded();
        if (stored.version !== seen.version || stored.reauthorizationRequired) {
          opts.observer?.lockWait?.(now() - waitStarted, 'reused');
          return stored;
        }
        continue;
      }
      try {
        const stored = await loaded();
        if (stored.version !== seen.version || stored.reauthorizationRequired || (!force && !expiresSoon(stored))) {
          if (waited) opts.observer?.lockWait?.(now() - waitStarted, 'reused');
          return stored;
        }
        if (waited) opts.observer?.lockWait?.(now() - waitStarted, 'renewed');
        return await renewHeld(stored);
      } finally {
        await opts.lock.release(owner).catch(() => undefined);
      }
    }
  }

  async function renewHeld(stored: StoredTokens): Promise<StoredTokens> {
    const kind = stored.renewal;
    if (kind === 'none') return stored;
    if (kind === 'refresh_token' && (!stored.refreshToken || (stored.refreshTokenExpiresAt && stored.refreshTokenExpiresAt.getTime() <= now()))) {
      await opts.store.requireReauthorization(stored.version, 'The refresh token expired: the merchant must authorize the app again');
      opts.observer?.renewal?.(kind, 'rejected');
      throw new ReauthorizationRequiredError('The refresh token expired: the merchant must authorize the app again');
    }
    let grant: TokenGrant | undefined;
    for (let retry = 0; grant === undefined; retry++) {
      try {
        grant =
          kind === 'refresh_token'
            ? await opts.renewer.refresh(stored.refreshToken as string)
            : kind === 'exchange'
              ? await opts.renewer.exchange(stored.accessToken)
              : await opts.renewer.clientCredentials();
      } catch (error) {
        if (error instanceof TokenGrantRefusedError && kind === 'exchange') {
          // Not exchangeable (revoked, uninstalled): the token stays as it is, and a 401 with it stands.
          opts.observer?.renewal?.(kind, 'rejected');
          opts.log?.warn({ reason: error.reason, kind }, 'Shopify refused to exchange the non-expiring token');
          throw error;
        }
        if (error instanceof TokenGrantRefusedError) {
          const why = `Shopify refused to renew the access token (${error.reason}): the merchant must authorize the app again`;
          await opts.store.requireReauthorization(stored.version, why);
          opts.observer?.renewal?.(kind, 'rejected');
          opts.log?.warn({ reason: error.reason, kind }, 'token renewal refused: reauthorization required');
          throw new ReauthorizationRequiredError(why);
        }
        // The answer was lost (or Shopify failed): the same refresh token again, it stays usable until a replacement is used.
        if (!(error instanceof ShopifyRetriableError) || retry >= opts.retry.maxRetries) {
          opts.observer?.renewal?.(kind, 'failed');
          throw error;
        }
        opts.observer?.renewal?.(kind, 'lost_answer_retried');
        await sleep(opts.retry.delayMs(retry));
      }
    }
    if (!(await opts.store.save(grant, stored.version))) {
      // A connect or another renewal wrote a pair meanwhile (the lock expired under us): that one stands.
      opts.observer?.renewal?.(kind, 'failed');
      return loaded();
    }
    opts.observer?.renewal?.(kind, 'renewed');
    opts.log?.info({ kind, accessTokenExpiresAt: grant.expiresAt?.toISOString() ?? null }, 'access token renewed');
    return loaded();
  }

  async function currentPair(): Promise<StoredTokens> {
    pair ??= await loaded();
    if (pair.reauthorizationRequired) throw new ReauthorizationRequiredError();
    if (expiresSoon(pair)) pair = await renew(pair, false);
    if (pair.reauthorizationRequired) throw new ReauthorizationRequiredError();
    return pair;
  }

  return {
    async current() {
      return (await currentPair()).accessToken;
    },
    async afterUnauthorized(rejected) {
      const known = pair ?? (await loaded());
      if (known.accessToken !== rejected) return known.accessToken;
      const stored = await loaded();
      if (stored.version !== known.version) {
        pair = stored;
        return stored.reauthorizationRequired ? undefined : stored.accessToken;
      }
      if (stored.renewal === 'none' || stored.reauthorizationRequired) return undefined;
      try {
        pair = await renew(stored, true);
      } catch (error) {
        if (error instanceof TokenGrantRefusedError) return undefined;
        throw error;
      }
      return pair.reauthorizationRequired || pair.accessToken === rejected ? undefined : pair.accessToken;
    },
    tokens: currentPair,
    /** Renews now, whatever the expiry (a migration's exchange); one renewal per store at a time still. */
    async renewNow() {
      pair = await renew(await loaded(), true);
      return pair;
    },
  };
}
