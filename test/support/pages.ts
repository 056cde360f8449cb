import { expect } from 'chai';
import type { ResourceName } from '../../src/resources/index.js';
import { call, type ApiResponse } from './http.js';

/** Every page of a list with `key` (limit 2, so cursors are exercised), as raw records. */
export async function walkList(url: string, key: string, path: string): Promise<Record<string, any>[]> {
  const out: Record<string, any>[] = [];
  let cursor: string | null = null;
  do {
    const sep = path.includes('?') ? '&' : '?';
    const res: ApiResponse = await call(url, 'GET', `${path}${sep}limit=2${cursor ? `&cursor=${cursor}` : ''}`, { key });
    expect(res.status, res.text).to.equal(200);
    out.push(...res.body.data);
    cursor = res.body.next_cursor;
  } while (cursor);
  return out;
}

/** The id a record of `resource` is known by in lists (inventory levels: their inventory item). */
export const recordIdOf = (resource: ResourceName, r: Record<string, any>) => (resource === 'inventory' ? r.inventory_item_id : r.id) as number;
