import http from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { downloadChunks, type DownloadOptions, type DownloadStats } from '../../src/sync/bulk/download.js';
import { BulkDownloadFailedError, BulkDownloadRefusedError, BulkFileExpiredError } from '../../src/sync/bulk/errors.js';
import { jsonlRecords, type JsonlRecord } from '../../src/sync/bulk/jsonl.js';

/** How the file server answers one request; requests beyond the planned ones are served normally. */
interface Plan {
  /** Answer this status with `body` instead of the file. */
  status?: number;
  body?: string;
  /** Close the connection after this many bytes of the body. */
  cutAfter?: number;
  /** Answer 200 with the whole file even to a range request. */
  ignoreRange?: boolean;
  /** Leave out Content-Length (chunked transfer encoding). */
  chunked?: boolean;
  /** Send this many bytes of the body, then nothing more while keeping the connection open. */
  stallAfter?: number;
  /** Never answer at all. */
  silent?: boolean;
}

interface FileServer {
  url: string;
  plans: Plan[];
  /** The Range header of every request (undefined: none). */
  ranges: (string | undefined)[];
  close(): Promise<void>;
}

/** A tiny signed-URL storage look-alike serving `file` with Range support and scripted failures. */
async function startFileServer(file: Buffer): Promise<FileServer> {
  const plans: Plan[] = [];
  const ranges: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    const plan = plans.shift() ?? {};
    ranges.push(req.headers.range);
    if (plan.silent) return;
    if (plan.status !== undefined) {
      res.writeHead(plan.status, { 'content-type': 'application/xml; charset=UTF-8' });
      res.end(plan.body ?? '');
      return;
    }
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/jsonl', etag: '"v1"', 'accept-ranges': 'bytes' };
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    let start = 0;
    if (range && !plan.ignoreRange) {
      start = Number(range[1]);
      if (start >= file.length) {
        res.writeHead(416, { 'content-range': `bytes */${file.length}` });
        res.end();
        return;
      }
      res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${file.length - 1}/${file.length}`, ...(plan.chunked ? {} : { 'content-length': file.length - start }) });
    } else {
      res.writeHead(200, { ...headers, ...(plan.chunked ? {} : { 'content-length': file.length }) });
    }
    const body = file.subarray(start);
    if (plan.stallAfter !== undefined) {
      res.write(body.subarray(0, plan.stallAfter));
      return;
    }
    if (plan.cutAfter === undefined) {
      res.end(body);
      return;
    }
    // Once the bytes are handed to the kernel the socket is closed mid-body, as a dropped connection.
    res.write(body.subarray(0, plan.cutAfter), () => res.socket?.destroy());
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/bulk/operation.jsonl?X-Goog-Signature=s3cr3t&X-Goog-Expires=604800`,
    plans,
    ranges,
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

interface Downloaded {
  bytes: Buffer;
  chunks: number;
  largestChunk: number;
  stats: DownloadStats;
  resumedAt: number[];
  lastOnBytes: number;
}

async function download(url: string, opts: DownloadOptions = {}): Promise<Downloaded> {
  const parts: Uint8Array[] = [];
  const resumedAt: number[] = [];
  let lastOnBytes = 0;
  const gen = downloadChunks(url, {
    retryDelayMs: () => 0,
    onResume: (at) => resumedAt.push(at),
    onBytes: (total) => (lastOnBytes = total),
    ...opts,
  });
  let largestChunk = 0;
  for (;;) {
    const step = await gen.next();
    if (step.done) {
      return { bytes: Buffer.concat(parts), chunks: parts.length, largestChunk, stats: step.value, resumedAt, lastOnBytes };
    }
    parts.push(step.value);
    largestChunk = Math.max(largestChunk, step.value.byteLength);
  }
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

const FILE = randomBytes(1024 * 1024 + 123);

describe('bulk file download', () => {
  let server: FileServer;

  beforeEach(async () => {
    server = await startFileServer(FILE);
  });

  afterEach(async () => {
    await server.close();
  });

  it('when nothing fails, then the bytes arrive whole, in network-sized chunks, without a Range header', async () => {
    const got = await download(server.url);
    expect(got.bytes.equals(FILE)).to.equal(true);
    expect(got.chunks).to.be.greaterThan(1);
    expect(got.largestChunk).to.be.at.most(256 * 1024);
    expect(got.stats).to.deep.equal({ bytes: FILE.length, position: FILE.length, resumes: 0 });
    expect(got.lastOnBytes).to.equal(FILE.length);
    expect(server.ranges).to.deep.equal([undefined]);
  });

  it('when the connection is cut once, then it resumes with a Range request where it stopped', async () => {
    server.plans.push({ cutAfter: 300_000 });
    const got = await download(server.url);
    expect(got.bytes.equals(FILE)).to.equal(true);
    expect(got.resumedAt).to.deep.equal([300_000]);
    expect(server.ranges).to.deep.equal([undefined, 'bytes=300000-']);
    expect(got.stats.resumes).to.equal(1);
  });

  it('when the connection is cut several times, on ranged answers and chunked ones too, then the bytes are still exact', async () => {
    server.plans.push({ cutAfter: 1 }, { cutAfter: 70_000 }, { cutAfter: 0 }, { cutAfter: 200_001, chunked: true }, { cutAfter: 5 });
    // Progress resets the budget: two resumes in a row cover the empty cut and the one after it.
    const got = await download(server.url, { maxResumes: 2 });
    expect(got.bytes.equals(FILE)).to.equal(true);
    expect(got.resumedAt).to.deep.equal([1, 70_001, 70_001, 270_002, 270_007]);
    expect(server.ranges.slice(1)).to.deep.equal(got.resumedAt.map((at) => `bytes=${at}-`));
  });

  it('when the server answers 200 to a range request, then the bytes already delivered are skipped', async () => {
    server.plans.push({ cutAfter: 400_000 }, { ignoreRange: true, cutAfter: 600_000 }, { ignoreRange: true });
    const got = await download(server.url);
    expect(got.bytes.equals(FILE)).to.equal(true);
    expect(got.resumedAt).to.deep.equal([400_000, 600_000]);
  });

  it('when the server answers 500 and 503, then it retries with the delay function and succeeds', async () => {
    server.plans.push({ status: 500 }, { status: 503 }, { cutAfter: 10 }, { status: 500 });
    const delays: number[] = [];
    const got = await download(server.url, { retryDelayMs: (attempt) => (delays.push(attempt), 1) });
    expect(got.bytes.equals(FILE)).to.equal(true);
    expect(got.resumedAt).to.deep.equal([0, 0, 10, 10]);
    // The count of failures in a row starts again after progress.
    expect(delays).to.deep.equal([0, 1, 0, 1]);
  });

  it('when failures go on without progress past maxResumes, then it gives up with a retriable error', async () => {
    server.plans.push({ cutAfter: 1000 }, ...Array.from({ length: 10 }, () => ({ status: 502 })));
    const err = await caught(download(server.url, { maxResumes: 3 }));
    expect(err).to.be.instanceOf(BulkDownloadFailedError);
    const failed = err as BulkDownloadFailedError;
    expect(failed.retriable).to.equal(true);
    expect(failed.position).to.equal(1000);
    expect(failed.attempts).to.equal(4);
    expect(failed.message).to.contain('/bulk/operation.jsonl').and.not.contain('s3cr3t');
    expect(server.ranges).to.have.length(4);
  });

  it('when the URL has expired (GCS 400 ExpiredToken, or 403 Request has expired), then BulkFileExpiredError at once', async () => {
    const bodies = [
      [400, "<?xml version='1.0' encoding='UTF-8'?><Error><Code>ExpiredToken</Code><Message>Invalid argument.</Message><Details>The provided token has expired.</Details></Error>"],
      [403, '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>'],
    ] as const;
    for (const [status, body] of bodies) {
      server.ranges.length = 0;
      server.plans.push({ cutAfter: 50_000 }, { status, body });
      const err = await caught(download(server.url));
      expect(err, String(status)).to.be.instanceOf(BulkFileExpiredError);
      const expired = err as BulkFileExpiredError;
      expect(expired.upstreamStatus).to.equal(status);
      expect(expired.retriable).to.equal(false);
      expect(expired.message).to.not.contain('s3cr3t');
      expect(server.ranges).to.deep.equal([undefined, 'bytes=50000-']);
    }
  });

  it('when the storage refuses otherwise (403 bad signature, 404), then a non-retriable error without retries', async () => {
    for (const [status, body, code] of [
      [403, '<Error><Code>SignatureDoesNotMatch</Code><CanonicalRequest>GET /bulk?X-Goog-Signature=s3cr3t</CanonicalRequest></Error>', 'SignatureDoesNotMatch'],
      [404, '<Error><Code>NoSuchKey</Code></Error>', 'NoSuchKey'],
    ] as const) {
      server.ranges.length = 0;
      server.plans.push({ status, body });
      const err = await caught(download(server.url));
      expect(err, String(status)).to.be.instanceOf(BulkDownloadRefusedError);
      expect((err as BulkDownloadRefusedError).upstreamStatus).to.equal(status);
      expect((err as BulkDownloadRefusedError).retriable).to.equal(false);
      expect((err as Error).message)
        .to.contain(code)
        .and.not.contain('s3cr3t');
      expect(server.ranges).to.have.length(1);
    }
  });

  it('when started at an offset, then only the rest of the file arrives; at the exact end, a 416 means complete', async () => {
    const got = await download(server.url, { startAt: 123_457 });
    expect(got.bytes.equals(FILE.subarray(123_457))).to.equal(true);
    expect(got.stats).to.deep.equal({ bytes: FILE.length - 123_457, position: FILE.length, resumes: 0 });

    const atEnd = await download(server.url, { startAt: FILE.length });
    expect(atEnd.bytes.length).to.equal(0);
    expect(atEnd.stats).to.deep.equal({ bytes: 0, position: FILE.length, resumes: 0 });

    const err = await caught(download(server.url, { startAt: FILE.length + 10 }));
    expect(err).to.be.instanceOf(BulkDownloadRefusedError);
    expect((err as BulkDownloadRefusedError).upstreamStatus).to.equal(416);
  });

  it('when a body ends cleanly before its Content-Length, then the rest is fetched with a Range request', async () => {
    let calls = 0;
    const shortFirst: typeof fetch = async (input, init) => {
      if (calls++ > 0) return fetch(input, init);
      return new Response(FILE.subarray(0, 4096), { status: 200, headers: { 'content-length': String(FILE.length) } });
    };
    const got = await download(server.url, { fetch: shortFirst });
    expect(got.bytes.equals(FILE)).to.equal(true);
    expect(got.resumedAt).to.deep.equal([4096]);
    expect(server.ranges).to.deep.equal(['bytes=4096-']);
  });

  it('when the answer or the body stalls, then the request is abandoned and resumed', async () => {
    server.plans.push({ silent: true }, { stallAfter: 100_000 });
    const got = await download(server.url, { stallTimeoutMs: 200 });
    expect(got.bytes.equals(FILE)).to.equal(true);
    expect(got.resumedAt).to.deep.equal([0, 100_000]);
    expect(server.ranges).to.deep.equal([undefined, undefined, 'bytes=100000-']);
  });

  it('when the consumer is slower than the stall timeout, then its own time does not count as a stall', async () => {
    const resumedAt: number[] = [];
    const parts: Uint8Array[] = [];
    for await (const chunk of downloadChunks(server.url, { stallTimeoutMs: 150, onResume: (at) => resumedAt.push(at) })) {
      parts.push(chunk);
      if (parts.length <= 3) await new Promise((resolve) => setTimeout(resolve, 300));
    }
    expect(Buffer.concat(parts).equals(FILE)).to.equal(true);
    expect(resumedAt).to.deep.equal([]);
  });

  it('when the file changes between two requests, then the download is refused rather than spliced', async () => {
    let calls = 0;
    const changing: typeof fetch = async (input, init) => {
      if (calls++ === 0) return new Response(FILE.subarray(0, 100), { status: 200, headers: { 'content-length': String(FILE.length), etag: '"v0"' } });
      return fetch(input, init);
    };
    const err = await caught(download(server.url, { fetch: changing }));
    expect(err).to.be.instanceOf(BulkDownloadRefusedError);
    expect((err as Error).message).to.contain('changed');
  });

  it('when the signal aborts mid-download, then it stops with the reason and is not retried', async () => {
    const controller = new AbortController();
    const reason = new Error('shutting down');
    const err = await caught(
      (async () => {
        let seen = 0;
        for await (const chunk of downloadChunks(server.url, { signal: controller.signal, retryDelayMs: () => 0 })) {
          seen += chunk.byteLength;
          if (seen > 100_000) controller.abort(reason);
        }
      })(),
    );
    expect(err).to.equal(reason);
    expect(server.ranges).to.have.length(1);
  });

  it('when the consumer stops early, then the generator returns promptly', async () => {
    const gen = downloadChunks(server.url);
    const first = await gen.next();
    expect(first.done).to.equal(false);
    await gen.return({ bytes: 0, position: 0, resumes: 0 });
    expect((await gen.next()).done).to.equal(true);
  });

  it('when a JSONL file is downloaded through several cuts, then the parsed records equal the file', async () => {
    const lines = Array.from({ length: 5000 }, (_, i) =>
      JSON.stringify(i % 4 === 0 ? { id: `gid://shopify/Product/${i}`, title: `Prodüct ${i} ✓` } : { id: `gid://shopify/ProductVariant/${i}`, __parentId: `gid://shopify/Product/${i - (i % 4)}` }),
    );
    const jsonl = Buffer.from(`${lines.join('\n')}\n`);
    const jsonlServer = await startFileServer(jsonl);
    try {
      jsonlServer.plans.push({ cutAfter: 33_333 }, { cutAfter: 77_777 }, { ignoreRange: true, cutAfter: 150_000 }, { cutAfter: 1 });
      const records: JsonlRecord[] = [];
      for await (const record of jsonlRecords(downloadChunks(jsonlServer.url, { retryDelayMs: () => 0 }))) records.push(record);
      expect(records.map((r) => JSON.stringify(r.value))).to.deep.equal(lines);
      expect(records.at(-1)!.endOffset).to.equal(jsonl.length);

      // A later run resumes at a saved record's offset and reads exactly the rest.
      const saved = records[2500]!;
      const rest: JsonlRecord[] = [];
      for await (const record of jsonlRecords(downloadChunks(jsonlServer.url, { startAt: saved.endOffset }), { startOffset: saved.endOffset, startLine: saved.line + 1 })) {
        rest.push(record);
      }
      expect(rest).to.deep.equal(records.slice(2501));
    } finally {
      await jsonlServer.close();
    }
  });
});
