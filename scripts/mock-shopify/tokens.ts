import { randomBytes } from 'node:crypto';
import { HttpError } from './listing.js';
import type { MockAppContext, MockShop } from './shop.js';

/**
 * Shopify's expiring offline tokens, as the mock grants them at `POST /admin/oauth/access_token`:
 * - authorization code with `expiring=1` → an access token (1 h) and a rotating refresh token (90 days);
 * - `grant_type=refresh_token` → a new pair; one refreshable pair per app and store: the new pair
 *   retires the previous access token, while the previous refresh token stays usable until its
 *   replacement is first used (at most 30 days);
 * - token exchange of a non-expiring offline token (`expiring=1`) → a pair; the old token is revoked, and
 *   a retry with it within seven days answers the same pair;
 * - `grant_type=client_credentials` of a merchant's own app → a 24-hour token, no refresh token; only
 *   for stores of the app's organization (`shop_not_permitted` otherwise).
 * Lifetimes follow the mock's clock and can be shortened, so tests expire tokens in seconds.
 */
export interface MockTokenLifetimes {
  accessSeconds: number;
  refreshSeconds: number;
  clientCredentialsSeconds: number;
}

export const SHOPIFY_TOKEN_LIFETIMES: MockTokenLifetimes = { accessSeconds: 3600, refreshSeconds: 7_776_000, clientCredentialsSeconds: 86_399 };

/** A merchant's own Dev Dashboard app: it may mint tokens for the stores of its organization. */
export interface MockOwnApp {
  clientId: string;
  clientSecret: string;
  shops: string[];
  scope?: string;
}

export type GrantKind = 'authorization_code' | 'refresh_token' | 'token_exchange' | 'client_credentials';

export interface MockTokenFaults {
  /** The next N grants are carried out, then answered 503 (the answer is lost: what the field saw). */
  loseNextAnswers: number;
  /** The next N grant requests fail with 503 before anything happens. */
  failNext: number;
}

export interface TokenAnswer {
  access_token: string;
  scope: string;
  expires_in?: number;
  refresh_token?: string;
  refresh_token_expires_in?: number;
}

interface Pair {
  access: string;
  refresh: string;
  refreshExpiresAt: number;
  scope: string;
  /** Whether the app started using this pair (its access token or refresh token). */
  used: boolean;
}

const GRACE_MS = 30 * 86_400_000;
const EXCHANGE_RETRY_MS = 7 * 86_400_000;
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const OFFLINE_TOKEN = 'urn:shopify:params:oauth:token-type:offline-access-token';

const refused = (status: number, error: string, description: string) => new HttpError(status, { error, error_description: description });

export class MockTokenGrants {
  lifetimes: MockTokenLifetimes;
  faults: MockTokenFaults = { loseNextAnswers: 0, failNext: 0 };
  readonly stats: Record<GrantKind | 'refused' | 'lost', number> = { authorization_code: 0, refresh_token: 0, token_exchange: 0, client_credentials: 0, refused: 0, lost: 0 };
  readonly ownApps: MockOwnApp[] = [];
  /** Called once a grant is carried out, before it is answered (a test may kill the caller there). */
  onGranted: ((kind: GrantKind, shop: string) => void) | undefined;
  private readonly pairs = new Map<string, Pair>();
  /** A refresh token replaced by a pair not used yet: still accepted (until `until`). */
  private readonly previous = new Map<string, { refresh: string; until: number }>();
  /** Original non-expiring token → the pair it was exchanged for, and when. */
  private readonly exchanged = new Map<string, { shop: string; answer: TokenAnswer; at: number }>();

  constructor(
    private readonly app: MockAppContext,
    lifetimes: Partial<MockTokenLifetimes> = {},
  ) {
    this.lifetimes = { ...SHOPIFY_TOKEN_LIFETIMES, ...lifetimes };
  }

  /** The pair the shop holds for our app now (tests compare it with what the service stored). */
  currentPair(shop: string): { access: string; refresh: string } | undefined {
    const pair = this.pairs.get(shop);
    return pair ? { access: pair.access, refresh: pair.refresh } : undefined;
  }

  /** The pair a non-expiring token was exchanged for (what a retry with it answers within seven days). */
  exchangedFor(subject: string): { access: string; refresh: string } | undefined {
    const earlier = this.exchanged.get(subject);
    return earlier ? { access: earlier.answer.access_token, refresh: earlier.answer.refresh_token as string } : undefined;
  }

  /** Marks the shop's pair used when its access token is (the previous refresh token then retires). */
  noteTokenUsed(shop: MockShop, token: string): void {
    const pair = this.pairs.get(shop.domain);
    if (pair && pair.access === token && !pair.used) this.startUsing(shop.domain, pair);
  }

  grant(shop: MockShop, body: Record<string, string>, kind: GrantKind): TokenAnswer {
    if (this.faults.failNext > 0) {
      this.faults.failNext--;
      throw new HttpError(503, { errors: 'Service Unavailable' });
    }
    const answer = this.carryOut(shop, body, kind);
    this.stats[kind]++;
    this.onGranted?.(kind, shop.domain);
    if (this.faults.loseNextAnswers > 0) {
      this.faults.loseNextAnswers--;
      this.stats.lost++;
      throw new HttpError(503, { errors: 'Service Unavailable' });
    }
    return answer;
  }

  private carryOut(shop: MockShop, body: Record<string, string>, kind: GrantKind): TokenAnswer {
    try {
      if (kind === 'client_credentials') return this.clientCredentials(shop, body);
      if (body.client_id !== this.app.apiKey || body.client_secret !== this.app.apiSecret) throw refused(400, 'invalid_client', 'Client credentials are invalid');
      if (kind === 'refresh_token') return this.refresh(shop, body.refresh_token ?? '');
      if (kind === 'token_exchange') return this.exchange(shop, body);
      throw new Error('authorization codes are granted by MockOAuth');
    } catch (error) {
      if (error instanceof HttpError) this.stats.refused++;
      throw error;
    }
  }

  /** A new expiring pair for the shop: it retires the previous pair's access token. */
  issuePair(shop: MockShop, scope: string, previousRefresh?: string): TokenAnswer {
    const old = this.pairs.get(shop.domain);
    if (old) shop.revokeToken(old.access);
    const now = shop.clock.now();
    const access = shop.issueToken(`shpat_${randomBytes(16).toString('hex')}`, scope, now + this.lifetimes.accessSeconds * 1000);
    const pair: Pair = { access, refresh: `shprt_${randomBytes(16).toString('hex')}`, refreshExpiresAt: now + this.lifetimes.refreshSeconds * 1000, scope, used: false };
    this.pairs.set(shop.domain, pair);
    if (previousRefresh) this.previous.set(shop.domain, { refresh: previousRefresh, until: now + GRACE_MS });
    else this.previous.delete(shop.domain);
    return { access_token: access, scope, expires_in: this.lifetimes.accessSeconds, refresh_token: pair.refresh, refresh_token_expires_in: this.lifetimes.refreshSeconds };
  }

  private startUsing(shop: string, pair: Pair): void {
    pair.used = true;
    this.previous.delete(shop);
  }

  private refresh(shop: MockShop, refreshToken: string): TokenAnswer {
    const now = shop.clock.now();
    const pair = this.pairs.get(shop.domain);
    const previous = this.previous.get(shop.domain);
    const current = pair !== undefined && pair.refresh === refreshToken && pair.refreshExpiresAt > now;
    const graced = previous !== undefined && previous.refresh === refreshToken && previous.until > now && pair !== undefined && !pair.used;
    if (!current && !graced) throw refused(401, 'invalid_request', 'This request requires an active refresh_token');
    // Using the current refresh token starts using the pair: the one before it retires.
    const stillValid = current ? pair.refresh : (previous as { refresh: string }).refresh;
    return this.issuePair(shop, pair.scope, stillValid);
  }

  private exchange(shop: MockShop, body: Record<string, string>): TokenAnswer {
    if (body.subject_token_type !== OFFLINE_TOKEN || body.requested_token_type !== OFFLINE_TOKEN || body.expiring !== '1') {
      throw refused(400, 'invalid_request', 'subject_token_type and requested_token_type must be offline-access-token, with expiring=1');
    }
    const subject = body.subject_token ?? '';
    const now = shop.clock.now();
    const earlier = this.exchanged.get(subject);
    if (earlier && earlier.shop === shop.domain && now - earlier.at < EXCHANGE_RETRY_MS) {
      // A retry with the original token: the same pair, still the current one unless it was refreshed since.
      const pair = this.pairs.get(shop.domain);
      if (pair && pair.access === earlier.answer.access_token) return earlier.answer;
      throw refused(400, 'invalid_subject_token', 'The subject token was already exchanged and its pair was replaced');
    }
    if (!shop.acceptsToken(subject) || shop.expiryOf(subject) !== undefined) throw refused(400, 'invalid_subject_token', 'The subject token is not an active non-expiring offline token of this shop');
    const answer = this.issuePair(shop, shop.scopesOf(subject).join(','));
    shop.revokeToken(subject);
    this.exchanged.set(subject, { shop: shop.domain, answer, at: now });
    return answer;
  }

  private clientCredentials(shop: MockShop, body: Record<string, string>): TokenAnswer {
    const app = this.ownApps.find((a) => a.clientId === body.client_id);
    if (!app || app.clientSecret !== body.client_secret) throw refused(400, 'invalid_client', 'Client authentication failed');
    if (!app.shops.includes(shop.domain)) throw refused(400, 'shop_not_permitted', 'The client credentials grant is not permitted for this shop');
    const scope = app.scope ?? shop.scope;
    const token = shop.issueToken(`shpat_${randomBytes(16).toString('hex')}`, scope, shop.clock.now() + this.lifetimes.clientCredentialsSeconds * 1000);
    return { access_token: token, scope, expires_in: this.lifetimes.clientCredentialsSeconds };
  }

  /** What grant a token request asks for. */
  static kindOf(body: Record<string, string>): GrantKind {
    if (body.grant_type === 'refresh_token') return 'refresh_token';
    if (body.grant_type === 'client_credentials') return 'client_credentials';
    if (body.grant_type === TOKEN_EXCHANGE) return 'token_exchange';
    return 'authorization_code';
  }
}
