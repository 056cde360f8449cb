/**
 * One page of a keyset list: its rows, and where the next page starts (the position a cursor encodes),
 * or null when this page is the last.
 */
export interface Page<T, K> {
  rows: T[];
  next: K | null;
}

/**
 * The page of `fetched`, read with a limit of `limit + 1`: the extra row only tells that another page
 * follows, which then starts after the page's last row (`keyOf`).
 */
export function pageOf<T, K>(fetched: T[], limit: number, keyOf: (last: T) => K): Page<T, K> {
  const rows = fetched.slice(0, limit);
  const last = rows[rows.length - 1];
  return { rows, next: fetched.length > limit && last !== undefined ? keyOf(last) : null };
}
