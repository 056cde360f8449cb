import { ShopifyClientError } from './errors.js';

/** A store's `*.myshopify.com` name: the only hosts a request carrying one of its tokens may go to. */
const SHOP_DOMAIN = /^[a-zA-Z0-9][a-zA-Z0-9-]*\.myshopify\.com$/;

export function isValidShopDomain(shop: unknown): shop is string {
  return typeof shop === 'string' && shop.length <= 255 && SHOP_DOMAIN.test(shop);
}

/** Refuses anything but a shop name before a request to it is built (no request leaves for another host). */
export function requireShopDomain(shop: string): void {
  if (!isValidShopDomain(shop)) throw new ShopifyClientError(`"${shop}" is not a valid *.myshopify.com domain`, { upstreamStatus: 0 });
}

/** The origin for a shop from the `{shop}` template (`https://{shop}` in production). */
export function shopOrigin(apiBaseUrl: string, shop: string): string {
  return apiBaseUrl.replace('{shop}', shop).replace(/\/+$/, '');
}
