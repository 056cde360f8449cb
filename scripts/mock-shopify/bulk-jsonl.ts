import { open, type FileHandle } from 'node:fs/promises';
import type { ConnectionPlan } from './bulk-query.js';

/**
 * The JSONL of a bulk query, written to disk as the operation runs: one object per line, nested
 * connection nodes on lines of their own with `__parentId`. With `groupObjects` a node's children follow
 * it at once; without, Shopify only promises they come after their parent, so the writer delays each
 * child by a seeded random number of lines (and a few far beyond), which readers must cope with.
 */
export interface MockBulkInterleave {
  /** A child line comes up to this many lines later than in grouped order (0: grouped order). */
  window: number;
  /** Share (0–1) of child lines pushed `farLines` further still. */
  farShare: number;
  farLines: number;
}

type Json = Record<string, unknown>;

interface Pending {
  due: number;
  seq: number;
  text: string;
}

/** A binary min-heap on (due, seq): lines come out in due order, ties in the order they were made. */
class LineHeap {
  private readonly items: Pending[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Pending | undefined {
    return this.items[0];
  }
  private less(a: Pending, b: Pending): boolean {
    return a.due < b.due || (a.due === b.due && a.seq < b.seq);
  }
  push(item: Pending): void {
    const h = this.items;
    h.push(item);
    let i = h.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(h[i] as Pending, h[parent] as Pending)) break;
      [h[i], h[parent]] = [h[parent] as Pending, h[i] as Pending];
      i = parent;
    }
  }
  pop(): Pending | undefined {
    const h = this.items;
    const top = h[0];
    const last = h.pop();
    if (h.length > 0 && last) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.less(h[l] as Pending, h[m] as Pending)) m = l;
        if (r < h.length && this.less(h[r] as Pending, h[m] as Pending)) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m] as Pending, h[i] as Pending];
        i = m;
      }
    }
    return top;
  }
}

const FLUSH_BYTES = 1 << 20;

export class JsonlWriter {
  /** Objects (lines) made so far, written or waiting in the delay buffer. */
  objects = 0;
  roots = 0;
  /** Bytes on disk. */
  bytes = 0;
  private readonly heap = new LineHeap();
  private position = 0;
  private seq = 0;
  private buffer: string[] = [];
  private bufferBytes = 0;
  private file: FileHandle | undefined;

  constructor(
    readonly path: string,
    private readonly grouped: boolean,
    private readonly interleave: MockBulkInterleave,
    private readonly random: () => number,
  ) {}

  /** A top-level node as the rewritten query returned it; its nested connections become child lines. */
  async addRoot(node: Json, children: ConnectionPlan[]): Promise<void> {
    this.roots++;
    const due = this.position;
    this.emit(node, children, due);
    this.position++;
    while ((this.heap.peek()?.due ?? Infinity) < this.position) this.take(this.heap.pop() as Pending);
    if (this.bufferBytes >= FLUSH_BYTES) await this.flush();
  }

  /** Writes every delayed line (in due order) and closes the file; returns its size. */
  async finish(): Promise<number> {
    while (this.heap.size > 0) this.take(this.heap.pop() as Pending);
    await this.flush();
    await this.file?.close();
    this.file = undefined;
    return this.bytes;
  }

  /** Closes the file without writing what is still delayed (the operation is given up). */
  async abandon(): Promise<void> {
    await this.file?.close().catch(() => undefined);
    this.file = undefined;
  }

  private emit(node: Json, plans: ConnectionPlan[], due: number, parentId?: string): void {
    const groups = plans.map((plan) => ({ plan, nodes: detach(node, plan.path) }));
    if (parentId !== undefined) node.__parentId = parentId;
    this.objects++;
    this.heap.push({ due, seq: this.seq++, text: JSON.stringify(node) });
    for (const { plan, nodes } of groups) {
      for (const child of nodes) {
        this.position++;
        this.emit(child, plan.children, this.childDue(due), String(node.id));
      }
    }
  }

  /** Grouped: the next line. Interleaved: after the parent by a random number of lines. */
  private childDue(parentDue: number): number {
    const next = Math.max(this.position, parentDue + 1);
    if (this.grouped) return next;
    const { window, farShare, farLines } = this.interleave;
    let delay = window > 0 ? Math.floor(this.random() * (window + 1)) : 0;
    if (farShare > 0 && this.random() < farShare) delay += farLines;
    return next + delay;
  }

  private take(line: Pending): void {
    this.buffer.push(line.text, '\n');
    this.bufferBytes += line.text.length + 1;
  }

  private async flush(): Promise<void> {
    if (this.buffer.length === 0) return;
    const data = Buffer.from(this.buffer.join(''), 'utf8');
    this.buffer = [];
    this.bufferBytes = 0;
    this.file ??= await open(this.path, 'w');
    await this.file.write(data);
    this.bytes += data.length;
  }
}

/** Takes a nested connection's nodes out of the object they hang from (the parent line does not show them). */
function detach(node: Json, path: string[]): Json[] {
  let holder: Json | null | undefined = node;
  for (const key of path.slice(0, -1)) holder = holder?.[key] as Json | null | undefined;
  const key = path[path.length - 1] as string;
  if (!holder || typeof holder !== 'object') return [];
  const connection = holder[key] as { nodes?: Json[] } | null | undefined;
  delete holder[key];
  return connection?.nodes ?? [];
}
