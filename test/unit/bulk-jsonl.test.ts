import { expect } from 'chai';
import { BulkFileError } from '../../src/sync/bulk/errors.js';
import { jsonlBatches, jsonlRecords, type JsonlBatchOptions, type JsonlOptions, type JsonlRecord } from '../../src/sync/bulk/jsonl.js';
import { AppError } from '../../src/errors.js';

/** The given pieces as an async byte stream. */
async function* stream(pieces: Uint8Array[]): AsyncGenerator<Uint8Array> {
  for (const piece of pieces) yield piece;
}

/** `file` cut at the given byte positions. */
function cut(file: Buffer, at: number[]): Buffer[] {
  const pieces: Buffer[] = [];
  let from = 0;
  for (const pos of at) {
    pieces.push(file.subarray(from, pos));
    from = pos;
  }
  pieces.push(file.subarray(from));
  return pieces;
}

function inChunksOf(file: Buffer, size: number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let i = 0; i < file.length; i += size) pieces.push(file.subarray(i, i + size));
  return pieces;
}

async function records(pieces: Uint8Array[], opts?: JsonlOptions): Promise<JsonlRecord[]> {
  const out: JsonlRecord[] = [];
  for await (const record of jsonlRecords(stream(pieces), opts)) out.push(record);
  return out;
}

async function batches(pieces: Uint8Array[], opts?: JsonlBatchOptions): Promise<JsonlRecord[][]> {
  const out: JsonlRecord[][] = [];
  for await (const batch of jsonlBatches(stream(pieces), opts)) out.push(batch);
  return out;
}

/** What a reader must produce, computed the slow obvious way: split the bytes at every newline. */
function expected(file: Buffer, startOffset = 0, startLine = 1): JsonlRecord[] {
  const out: JsonlRecord[] = [];
  let from = 0;
  let line = startLine;
  while (from < file.length) {
    const nl = file.indexOf(0x0a, from);
    const end = nl === -1 ? file.length : nl + 1;
    const text = file.toString('utf8', from, end).trim();
    if (text) out.push({ value: JSON.parse(text) as Record<string, unknown>, line, endOffset: startOffset + end });
    line++;
    from = end;
  }
  return out;
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const product = (n: number) => ({ id: `gid://shopify/Product/${n}`, title: `Café ☕ n°${n} 🧁`, tags: ['a', 'b'], seo: { title: null } });
const variant = (n: number, p: number) => ({ id: `gid://shopify/ProductVariant/${n}`, price: '9.99', __parentId: `gid://shopify/Product/${p}` });

/** A small bulk file with multi-byte characters, nested children and a last line without newline. */
const SMALL = Buffer.from([product(1), variant(11, 1), variant(12, 1), product(2), variant(21, 2)].map((v) => JSON.stringify(v)).join('\n'), 'utf8');

describe('bulk JSONL reader', () => {
  it('when the file is cut at every byte position, then records and offsets are always the same', async () => {
    const want = expected(SMALL);
    expect(want).to.have.length(5);
    expect(want.at(-1)!.endOffset).to.equal(SMALL.length);
    for (let i = 0; i <= SMALL.length; i++) {
      expect(await records(cut(SMALL, [i])), `cut at ${i}`).to.deep.equal(want);
    }
  });

  it('when the file arrives one byte at a time or in three uneven pieces, then the records are the same', async () => {
    const want = expected(SMALL);
    expect(await records(inChunksOf(SMALL, 1))).to.deep.equal(want);
    for (let i = 0; i < SMALL.length; i += 7) {
      for (let j = i; j <= SMALL.length; j += 13) expect(await records(cut(SMALL, [i, j])), `cut at ${i}, ${j}`).to.deep.equal(want);
    }
  });

  it('when chunks are plain Uint8Array views into a larger buffer, then they are read without copies going wrong', async () => {
    const backing = new Uint8Array(SMALL.length + 20);
    backing.set(SMALL, 10);
    const view = new Uint8Array(backing.buffer, 10, SMALL.length);
    expect(await records([view.subarray(0, 50), view.subarray(50)])).to.deep.equal(expected(SMALL));
  });

  it('when lines end with CRLF, then offsets count both bytes and the values are intact', async () => {
    const file = Buffer.from('{"a":1}\r\n{"b":"x\\r"}\r\n{"c":3}\r\n');
    const got = await records(cut(file, [8]));
    expect(got).to.deep.equal([
      { value: { a: 1 }, line: 1, endOffset: 9 },
      { value: { b: 'x\r' }, line: 2, endOffset: 22 },
      { value: { c: 3 }, line: 3, endOffset: 31 },
    ]);
  });

  it('when there are blank and whitespace-only lines, then they are skipped but keep counting', async () => {
    const file = Buffer.from('\n{"a":1}\n\n  \t\n\r\n  {"b":2}  \n\n');
    expect(await records([file])).to.deep.equal([
      { value: { a: 1 }, line: 2, endOffset: 9 },
      { value: { b: 2 }, line: 6, endOffset: 28 },
    ]);
    expect(await records([Buffer.alloc(0), Buffer.from('\n\n')])).to.deep.equal([]);
    expect(await records([])).to.deep.equal([]);
  });

  it('when the file starts with a byte-order mark, then the first line is still read', async () => {
    expect(await records([Buffer.from('\uFEFF{"a":1}\n', 'utf8')])).to.deep.equal([{ value: { a: 1 }, line: 1, endOffset: 11 }]);
  });

  it('when a 5 MB line arrives in 64 KiB chunks between two small ones, then it is read whole', async () => {
    const big = { id: 'gid://shopify/Product/9', descriptionHtml: 'é'.repeat(2_500_000) };
    const file = Buffer.from(`{"a":1}\n${JSON.stringify(big)}\n{"b":2}\n`);
    expect(file.length).to.be.greaterThan(5_000_000);
    const got = await records(inChunksOf(file, 64 * 1024));
    expect(got).to.have.length(3);
    expect(got[1]!.value).to.deep.equal(big);
    expect(got[1]!.endOffset).to.equal(file.length - '{"b":2}\n'.length);
    expect(got[2]!.endOffset).to.equal(file.length);
  });

  it('when a line grows past maxLineBytes, then BulkFileError names it', async () => {
    const file = Buffer.from(`{"a":1}\n{"long":"${'x'.repeat(1000)}"}\n`);
    const err = await caught(records(inChunksOf(file, 100), { maxLineBytes: 500 }));
    expect(err).to.be.instanceOf(BulkFileError);
    expect((err as BulkFileError).line).to.equal(2);
    expect((err as BulkFileError).message)
      .to.contain('line 2')
      .and.contain('longer than 500 bytes');
    // The same when the line's last piece, the one holding its newline, is what passes the limit.
    const ending = await caught(records(cut(file, [8 + 400]), { maxLineBytes: 500 }));
    expect((ending as BulkFileError).line).to.equal(2);
    expect((ending as BulkFileError).excerpt).to.match(/^\{"long":"x+…$/);
  });

  it('when a line is malformed, then BulkFileError names the line with an excerpt, after the records before it', async () => {
    const file = Buffer.from('{"a":1}\n{"b":2}\n\n{"c": tru\n{"d":4}\n');
    for (let i = 0; i <= file.length; i++) {
      const got: JsonlRecord[] = [];
      const err = await caught(
        (async () => {
          for await (const record of jsonlRecords(stream(cut(file, [i])))) got.push(record);
        })(),
      );
      expect(err, `cut at ${i}`).to.be.instanceOf(BulkFileError);
      const bulk = err as BulkFileError;
      expect(bulk).to.be.instanceOf(AppError);
      expect(bulk.retriable).to.equal(false);
      expect(bulk.line).to.equal(4);
      expect(bulk.excerpt).to.equal('{"c": tru');
      expect(bulk.message).to.match(/line 4 is not valid JSON .*: \{"c": tru$/);
      expect(got.map((r) => r.line)).to.deep.equal([1, 2]);
    }
  });

  it('when a line is valid JSON but not an object, then BulkFileError says what it is', async () => {
    for (const [line, kind] of [
      ['[1,2]', 'an array'],
      ['42', 'a number'],
      ['"s"', 'a string'],
      ['null', 'null'],
    ] as const) {
      const err = await caught(records([Buffer.from(`{"a":1}\n${line}\n`)]));
      expect(err).to.be.instanceOf(BulkFileError);
      expect((err as BulkFileError).message).to.equal(`Bulk file line 2 is ${kind}, not a JSON object: ${line}`);
    }
  });

  it('when a malformed line is very long, then the excerpt is short', async () => {
    const err = await caught(records([Buffer.from(`{"a":"${'y'.repeat(10_000)}`)]));
    expect((err as BulkFileError).excerpt.length).to.be.at.most(121);
    expect((err as BulkFileError).message.length).to.be.lessThan(400);
  });

  it('when reading resumes at a saved endOffset, then the rest of the file is read with the same lines and offsets', async () => {
    const file = Buffer.from(`${SMALL.toString()}\n\r\n{"z":1}\r\n`);
    const all = await records([file]);
    for (const saved of all.slice(0, -1)) {
      const rest = await records(cut(file.subarray(saved.endOffset), [3]), { startOffset: saved.endOffset, startLine: saved.line + 1 });
      expect(rest).to.deep.equal(all.filter((r) => r.line > saved.line));
      expect(rest).to.deep.equal(expected(file.subarray(saved.endOffset), saved.endOffset, saved.line + 1));
    }
  });

  it('when the consumer stops early, then the chunk source is closed', async () => {
    let closed = false;
    async function* source(): AsyncGenerator<Uint8Array> {
      try {
        for (;;) yield Buffer.from('{"a":1}\n{"a":2}\n');
      } finally {
        closed = true;
      }
    }
    for await (const record of jsonlRecords(source())) if (record.line === 3) break;
    expect(closed).to.equal(true);
  });

  describe('batches', () => {
    const many = Buffer.from(Array.from({ length: 100 }, (_, i) => JSON.stringify(i % 4 === 0 ? product(i) : variant(i, i - (i % 4)))).join('\n') + '\n');

    it('when read in batches, then the concatenation equals the records one by one, whatever the chunking', async () => {
      const want = await records([many]);
      for (const size of [1, 7, 64, 4096, many.length]) {
        for (const opts of [{}, { maxRecords: 1 }, { maxRecords: 7 }, { maxBytes: 1 }, { maxBytes: 300 }, { maxRecords: 3, maxBytes: 200 }]) {
          const got = await batches(inChunksOf(many, size), opts);
          expect(got.flat(), `chunks of ${size}, ${JSON.stringify(opts)}`).to.deep.equal(want);
          expect(got.every((b) => b.length > 0)).to.equal(true);
        }
      }
    });

    it('when maxRecords is set, then batches hold exactly that many except the last', async () => {
      const got = await batches(inChunksOf(many, 1000), { maxRecords: 30 });
      expect(got.map((b) => b.length)).to.deep.equal([30, 30, 30, 10]);
    });

    it('when maxBytes is set, then a batch stops at the first line reaching it', async () => {
      const got = await batches(inChunksOf(many, 333), { maxBytes: 1000, maxRecords: 1000 });
      let start = 0;
      for (const batch of got) {
        const bytes = batch.at(-1)!.endOffset - start;
        const withoutLast = (batch.at(-2)?.endOffset ?? start) - start;
        expect(withoutLast).to.be.lessThan(1000);
        if (batch !== got.at(-1)) expect(bytes).to.be.at.least(1000);
        start = batch.at(-1)!.endOffset;
      }
      expect(start).to.equal(many.length);
    });

    it('when a line is malformed, then the records before it arrive in a batch and then the error', async () => {
      const got: JsonlRecord[][] = [];
      const err = await caught(
        (async () => {
          for await (const batch of jsonlBatches(stream([Buffer.from('{"a":1}\n{"b":2}\n{"c":3}\nnope\n{"d":4}')]), { maxRecords: 2 })) got.push(batch);
        })(),
      );
      expect((err as BulkFileError).line).to.equal(4);
      expect(got.map((b) => b.map((r) => r.line))).to.deep.equal([[1, 2], [3]]);
    });

    it('when the last line without newline is malformed, then the batch before it still arrives', async () => {
      const got: JsonlRecord[][] = [];
      const err = await caught(
        (async () => {
          for await (const batch of jsonlBatches(stream([Buffer.from('{"a":1}\n{"b":'), Buffer.from('2')]))) got.push(batch);
        })(),
      );
      expect((err as BulkFileError).line).to.equal(2);
      expect(got.map((b) => b.map((r) => r.line))).to.deep.equal([[1]]);
    });
  });
});
