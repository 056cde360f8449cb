/**
 * An id-ordered, append-only list of entries with deletion flags and cursor scans in both directions:
 * the mock's list endpoints are built on it. Records are generated on demand from their entry (seeded,
 * deterministic), so a 100,000-record catalog costs little memory; a record that is changed is
 * "pinned" (kept as an object, its JSON cached) from then on.
 */
export class Entry<T> {
  deleted = false;
  /** The record, once changed (or created by a mutation). */
  pinned: T | undefined;
  /** JSON of a pinned record, cached until it changes. */
  json: Buffer | undefined = undefined;

  constructor(
    readonly id: number,
    /** Position in the collection = the index the record is generated from. */
    readonly index: number,
    public createdMs: number,
    public updatedMs: number,
    /** Small per-kind facts used by filters without generating the record (orders: 1 = closed, 2 = cancelled). */
    public tag: number,
    pinned: T | undefined,
    private readonly generate: (entry: Entry<T>) => T,
  ) {
    this.pinned = pinned;
  }

  /** The record as it is now (generated on demand unless pinned). */
  get record(): T {
    return this.pinned ?? this.generate(this);
  }
}

export interface ScanResult<T> {
  items: T[];
  /** Another match exists beyond the last item in the scan direction. */
  more: boolean;
}

/**
 * Collects up to `limit` values from positions `start, start+dir, …` for which `at(p)` is defined;
 * `more` tells whether one more exists (it scans one past the page, never the whole list).
 */
export function scan<V>(length: number, start: number, dir: 1 | -1, limit: number, at: (p: number) => V | undefined): ScanResult<V> {
  const items: V[] = [];
  for (let p = start; p >= 0 && p < length; p += dir) {
    const v = at(p);
    if (v === undefined) continue;
    if (items.length === limit) return { items, more: true };
    items.push(v);
  }
  return { items, more: false };
}

export class Collection<T extends { id: number }> {
  readonly entries: Entry<T>[] = [];
  private readonly byId = new Map<number, Entry<T>>();
  private live = 0;

  constructor(private readonly generate: (entry: Entry<T>) => T) {}

  add(id: number, createdMs: number, updatedMs: number, opts: { pinned?: T; tag?: number } = {}): Entry<T> {
    const last = this.entries[this.entries.length - 1];
    if (last && last.id >= id) throw new Error(`ids must grow: ${id} after ${last.id}`);
    const entry = new Entry<T>(id, this.entries.length, createdMs, updatedMs, opts.tag ?? 0, opts.pinned, this.generate);
    this.entries.push(entry);
    this.byId.set(id, entry);
    this.live++;
    return entry;
  }

  /** A live (not deleted) entry by id. */
  get(id: number): Entry<T> | undefined {
    const e = this.byId.get(id);
    return e && !e.deleted ? e : undefined;
  }

  get size(): number {
    return this.live;
  }

  record(entry: Entry<T>): T {
    return entry.pinned ?? this.generate(entry);
  }

  /** The record as a kept object, ready to be changed; its cached JSON is dropped. */
  pin(entry: Entry<T>): T {
    entry.pinned ??= this.generate(entry);
    entry.json = undefined;
    return entry.pinned;
  }

  /** Marks a pinned record changed: its cached JSON is dropped. */
  touch(entry: Entry<T>, updatedMs?: number): void {
    if (updatedMs !== undefined) entry.updatedMs = updatedMs;
    entry.json = undefined;
  }

  remove(entry: Entry<T>): void {
    if (entry.deleted) return;
    entry.deleted = true;
    entry.json = undefined;
    this.live--;
  }

  json(entry: Entry<T>): Buffer {
    if (entry.pinned) return (entry.json ??= Buffer.from(JSON.stringify(entry.pinned)));
    return Buffer.from(JSON.stringify(this.generate(entry)));
  }

  /** First position whose id is > `id` (binary search; ids are sorted). */
  positionAfter(id: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.entries[mid] as Entry<T>).id <= id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** A page of live entries matching `filter`, after (`dir` 1) or before (`dir` -1) the cursor id. */
  page(filter: (e: Entry<T>) => boolean, limit: number, cursor?: { dir: 1 | -1; id: number }): ScanResult<Entry<T>> {
    const at = (p: number) => {
      const e = this.entries[p] as Entry<T>;
      return !e.deleted && filter(e) ? e : undefined;
    };
    if (!cursor || cursor.dir === 1) {
      const start = cursor ? this.positionAfter(cursor.id) : 0;
      return scan(this.entries.length, start, 1, limit, at);
    }
    const start = this.positionAfter(cursor.id - 1) - 1;
    const back = scan(this.entries.length, start, -1, limit, at);
    return { items: back.items.reverse(), more: back.more };
  }

  count(filter: (e: Entry<T>) => boolean): number {
    let n = 0;
    for (const e of this.entries) if (!e.deleted && filter(e)) n++;
    return n;
  }
}
