import { ValidationError } from '../errors.js';
import { isValidShopDomain } from '../shopify/shop-domain.js';

/**
 * A shop name as we store it: lower-case `*.myshopify.com`. Anything else (another domain, a suffix
 * trick like `a.myshopify.com.evil.com`, a URL) is refused, because the name becomes the host our
 * requests carrying the token go to.
 */
export function normalizeShopDomain(input: unknown, field: { location: 'body' | 'query'; name: string }): string {
  const shop = typeof input === 'string' ? input.trim().toLowerCase() : '';
  if (!isValidShopDomain(shop)) {
    throw new ValidationError(`"${String(input ?? '').slice(0, 100)}" is not a shop domain`, [
      { location: field.location, name: field.name, message: 'must be a *.myshopify.com domain, e.g. acme-store.myshopify.com' },
    ]);
  }
  return shop;
}
