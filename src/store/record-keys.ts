import { sql, type RawBuilder } from 'kysely';
import type { ResourceDefinition, Row } from '../resources/index.js';

/**
 * Primary-key conditions over a registry table, in the forms MariaDB and MySQL turn into PK ranges
 * (a row-value comparison such as `(a, b) > (x, y)` is not range-scanned by MariaDB).
 */

/** The key values of rows, in the resource's key order. */
export const keysOfRows = (resource: ResourceDefinition, rows: Row[]): unknown[][] => rows.map((r) => resource.keyColumns.map((c) => r[c]));

/**
 * Matches a list of keys: `id IN (…)` for one key column; for (item, location) keys
 * `(location_id = L AND inventory_item_id IN (…)) OR …`, grouped by everything but the first column.
 */
export function keysCondition(resource: ResourceDefinition, keys: unknown[][]): RawBuilder<boolean> {
  const [first, ...rest] = resource.keyColumns as [string, ...string[]];
  const groups = new Map<string, { fixed: unknown[]; firsts: unknown[] }>();
  for (const key of keys) {
    const fixed = key.slice(1);
    const id = JSON.stringify(fixed);
    const group = groups.get(id) ?? { fixed, firsts: [] };
    group.firsts.push(key[0]);
    groups.set(id, group);
  }
  const parts = [...groups.values()].map(({ fixed, firsts }) => sql.join([...rest.map((c, i) => sql`${sql.ref(c)} = ${fixed[i]}`), sql`${sql.ref(first)} IN (${sql.join(firsts)})`], sql` AND `));
  return sql<boolean>`(${sql.join(
    parts.map((p) => sql`(${p})`),
    sql` OR `,
  )})`;
}

/** Keys after `after` in key order: `a > x OR (a = x AND b > y) …`, the keyset step of a batched walk. */
export function keysAfter(keyColumns: readonly string[], after: unknown[]): RawBuilder<boolean> {
  const branches = keyColumns.map((column, i) => sql.join([...keyColumns.slice(0, i).map((c, j) => sql`${sql.ref(c)} = ${after[j]}`), sql`${sql.ref(column)} > ${after[i]}`], sql` AND `));
  return sql<boolean>`(${sql.join(
    branches.map((b) => sql`(${b})`),
    sql` OR `,
  )})`;
}
