import { BulkFileError } from './errors.js';

/**
 * Streaming reader of a bulk operation's JSONL file: one JSON object per line, children of a
 * connection on their own lines carrying `__parentId`. Files reach many GB, so lines are cut out of
 * the incoming byte chunks (`indexOf` of the newline on Buffers, each line decoded on its own) and only
 * a line that spans chunks is ever copied; memory stays bounded by the chunk size plus the longest line.
 */

export interface JsonlRecord {
  value: Record<string, unknown>;
  /** 1-based line number in the file (blank lines count). */
  line: number;
  /**
   * Byte offset in the file just after this line's newline (or the file's end for a last line without
   * one). Reading may resume there: pass it as `startOffset` (and `line + 1` as `startLine`).
   */
  endOffset: number;
}

export interface JsonlOptions {
  /** File offset of the first byte of `chunks` (a resumed read); must be at a line boundary. Default 0. */
  startOffset?: number;
  /** Line number given to the first line of `chunks` (a saved record's `line + 1` when resuming). Default 1. */
  startLine?: number;
  /**
   * Longest line accepted, in bytes (default 64 MiB): a file without newlines would otherwise grow the
   * buffered partial line without bound.
   */
  maxLineBytes?: number;
}

export interface JsonlBatchOptions extends JsonlOptions {
  /** A batch is yielded once it holds this many records (default 500). */
  maxRecords?: number;
  /** … or once its lines add up to this many bytes (default 1 MiB). */
  maxBytes?: number;
}

const NEWLINE = 0x0a;
const OPEN_BRACE = 0x7b;
const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;
const EXCERPT_CHARS = 120;

function isJsonWhitespace(byte: number | undefined): boolean {
  return byte === 0x20 || byte === 0x09 || byte === 0x0d || byte === 0x0a;
}

function asBuffer(chunk: Uint8Array): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (!(chunk instanceof Uint8Array)) throw new TypeError('jsonl: chunks must be Uint8Array (read the stream without an encoding)');
  return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

function excerptOf(buf: Buffer, start: number, end: number): string {
  // Decoding a few bytes more than needed keeps a multi-byte character at the cut from turning into U+FFFD.
  const text = buf.toString('utf8', start, Math.min(end, start + EXCERPT_CHARS * 4)).replace(/\r$/, '');
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
}

/**
 * The line splitter and parser shared by `jsonlRecords` and `jsonlBatches`. A chunk is `feed`-ed, then
 * `drain` parses its complete lines into an array until a batch limit is reached, so the callers decide
 * how records leave (one by one or in arrays) without a second buffering layer.
 */
class JsonlParser {
  /** File offset of the first byte of the line being assembled (or the next line). */
  offset: number;
  private line: number;
  private readonly maxLineBytes: number;
  /** Copies of the pieces of a line that started in an earlier chunk. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private chunk: Buffer | undefined;
  private pos = 0;

  constructor(opts: JsonlOptions) {
    this.offset = opts.startOffset ?? 0;
    this.line = opts.startLine ?? 1;
    this.maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    if (!Number.isSafeInteger(this.offset) || this.offset < 0) throw new RangeError(`jsonl: startOffset must be a non-negative integer, got ${opts.startOffset}`);
    if (!Number.isSafeInteger(this.line) || this.line < 1) throw new RangeError(`jsonl: startLine must be a positive integer, got ${opts.startLine}`);
  }

  feed(chunk: Uint8Array): void {
    this.chunk = asBuffer(chunk);
    this.pos = 0;
  }

  /**
   * Parses the fed chunk's complete lines into `out` until `out` holds `maxRecords` records or the
   * offset passes `stopAtOffset`. Returns true once the chunk is used up (its tail kept as a partial line).
   */
  drain(out: JsonlRecord[], maxRecords: number, stopAtOffset: number): boolean {
    const chunk = this.chunk;
    if (chunk === undefined) return true;
    let pos = this.pos;
    if (this.pendingBytes > 0) {
      const nl = chunk.indexOf(NEWLINE, pos);
      if (nl === -1) {
        this.keep(chunk, pos, chunk.length);
        this.chunk = undefined;
        return true;
      }
      const length = this.pendingBytes + nl - pos;
      if (length > this.maxLineBytes) throw this.tooLong();
      this.pending.push(chunk.subarray(pos, nl));
      const joined = Buffer.concat(this.pending, length);
      this.pending = [];
      this.pendingBytes = 0;
      pos = nl + 1;
      this.pos = pos;
      this.parseLine(joined, 0, joined.length, 1, out);
    }
    while (out.length < maxRecords && this.offset < stopAtOffset) {
      const nl = chunk.indexOf(NEWLINE, pos);
      if (nl === -1) break;
      this.parseLine(chunk, pos, nl, 1, out);
      pos = nl + 1;
    }
    this.pos = pos;
    if (pos < chunk.length && out.length < maxRecords && this.offset < stopAtOffset) {
      this.keep(chunk, pos, chunk.length);
      this.chunk = undefined;
      return true;
    }
    if (pos >= chunk.length) {
      this.chunk = undefined;
      return true;
    }
    return false;
  }

  /** The end of the input: a last line without a newline is still a line. */
  finish(out: JsonlRecord[]): void {
    if (this.chunk !== undefined) throw new Error('jsonl: finish() before the last chunk was drained');
    if (this.pendingBytes === 0) return;
    const joined = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    this.parseLine(joined, 0, joined.length, 0, out);
  }

  private keep(chunk: Buffer, start: number, end: number): void {
    if (start === end) return;
    if (this.pendingBytes + end - start > this.maxLineBytes) throw this.tooLong(chunk.subarray(start, end));
    this.pendingBytes += end - start;
    // A copy: the source may reuse its buffers, and a view would keep a whole network buffer alive.
    this.pending.push(Buffer.from(chunk.subarray(start, end)));
  }

  private tooLong(piece?: Buffer): BulkFileError {
    const head = this.pending[0] ?? piece ?? Buffer.alloc(0);
    return new BulkFileError(`Bulk file line ${this.line} is longer than ${this.maxLineBytes} bytes`, {
      line: this.line,
      excerpt: excerptOf(head, 0, head.length),
    });
  }

  /** Parses the line `buf[start, end)` (without its newline; `newlineBytes` is 1, or 0 for an unterminated last line). */
  private parseLine(buf: Buffer, start: number, end: number, newlineBytes: number, out: JsonlRecord[]): void {
    const line = this.line++;
    const endOffset = this.offset + (end - start) + newlineBytes;
    this.offset = endOffset;
    let from = start;
    if (buf[from] !== OPEN_BRACE) {
      // Rare path: leading whitespace, a blank line (`\r` of CRLF included), a byte-order mark, or junk.
      while (from < end && isJsonWhitespace(buf[from])) from++;
      if (from === end) return;
      if (line === 1 && buf[from] === 0xef && buf[from + 1] === 0xbb && buf[from + 2] === 0xbf) from += 3;
    }
    let value: unknown;
    try {
      // A trailing `\r` needs no stripping: JSON.parse accepts it as whitespace.
      value = JSON.parse(buf.toString('utf8', from, end));
    } catch (err) {
      throw new BulkFileError(`Bulk file line ${line} is not valid JSON (${(err as Error).message}): ${excerptOf(buf, from, end)}`, {
        line,
        excerpt: excerptOf(buf, from, end),
        cause: err,
      });
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      const kind = value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`;
      throw new BulkFileError(`Bulk file line ${line} is ${kind}, not a JSON object: ${excerptOf(buf, from, end)}`, {
        line,
        excerpt: excerptOf(buf, from, end),
      });
    }
    out.push({ value: value as Record<string, unknown>, line, endOffset });
  }
}

/**
 * The records of a JSONL byte stream, one at a time. Blank lines are skipped (and counted); CRLF line
 * ends are accepted. A line that is not a JSON object throws `BulkFileError` after every record before
 * it was yielded. Breaking out of the loop returns (closes) `chunks`.
 *
 * Each record costs one async-generator step; `jsonlBatches` is the cheaper way to read large files.
 */
export async function* jsonlRecords(chunks: AsyncIterable<Uint8Array>, opts: JsonlOptions = {}): AsyncGenerator<JsonlRecord> {
  const parser = new JsonlParser(opts);
  let out: JsonlRecord[] = [];
  for await (const chunk of chunks) {
    parser.feed(chunk);
    try {
      parser.drain(out, Infinity, Infinity);
    } catch (err) {
      // Everything before the bad line still reaches the caller, so the work done on it is kept.
      for (const record of out) yield record;
      throw err;
    }
    const ready = out;
    out = [];
    for (const record of ready) yield record;
  }
  try {
    parser.finish(out);
  } finally {
    for (const record of out) yield record;
  }
}

/**
 * The records of a JSONL byte stream in arrays of at most `maxRecords` records whose lines add up to
 * about `maxBytes` (a batch stops at the first line reaching it): one async step per batch instead of
 * per record, and a natural unit for one database transaction. The last record's `endOffset` is where
 * to resume once the batch is applied. Errors as `jsonlRecords` (records before a bad line arrive in a
 * batch first).
 */
export async function* jsonlBatches(chunks: AsyncIterable<Uint8Array>, opts: JsonlBatchOptions = {}): AsyncGenerator<JsonlRecord[]> {
  const maxRecords = opts.maxRecords ?? 500;
  const maxBytes = opts.maxBytes ?? 1024 * 1024;
  if (!(maxRecords >= 1)) throw new RangeError(`jsonl: maxRecords must be at least 1, got ${maxRecords}`);
  if (!(maxBytes >= 1)) throw new RangeError(`jsonl: maxBytes must be at least 1, got ${maxBytes}`);
  const parser = new JsonlParser(opts);
  let batch: JsonlRecord[] = [];
  let batchStart = parser.offset;
  for await (const chunk of chunks) {
    parser.feed(chunk);
    let used = false;
    while (!used) {
      try {
        used = parser.drain(batch, maxRecords, batchStart + maxBytes);
      } catch (err) {
        if (batch.length > 0) yield batch;
        throw err;
      }
      if (batch.length >= maxRecords || parser.offset - batchStart >= maxBytes) {
        // Blank lines alone may pass maxBytes: an empty batch is not worth a step.
        if (batch.length > 0) yield batch;
        batch = [];
        batchStart = parser.offset;
      }
    }
  }
  try {
    parser.finish(batch);
  } finally {
    if (batch.length > 0) yield batch;
  }
}
