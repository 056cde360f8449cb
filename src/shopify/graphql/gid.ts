/** `gid://shopify/Product/123` → 123 (`?inventory_item_id=…` and other suffixes ignored); null stays null. */
export function idFromGid(gid: unknown): number | null {
  if (gid === null || gid === undefined) return null;
  const m = /^gid:\/\/shopify\/[A-Za-z]+\/(\d+)/.exec(String(gid));
  if (!m) throw new Error(`"${String(gid)}" is not a Shopify gid`);
  const n = Number(m[1]);
  if (!Number.isSafeInteger(n)) throw new Error(`gid ${String(gid)} exceeds 2^53 and cannot be kept exactly`);
  return n;
}
