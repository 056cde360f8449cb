import { createReadStream } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MockShop } from './shop.js';

/**
 * Downloads of bulk operation results, `GET /bulk-results/<opaque>.jsonl?expires=…`, answered as Google
 * Cloud Storage answers Shopify's signed URLs: no token needed, `Range` requests (206, or 416 past the
 * end), an XML error once the URL has expired (mock clock). `shop.bulk.cutNextDownload(n)` closes the
 * connection after n bytes of a body, so a client's resume with `Range` can be tested.
 */
export const BULK_RESULTS_PREFIX = '/bulk-results/';

const xml = (code: string, message: string, details?: string) =>
  `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${code}</Code><Message>${message}</Message>${details ? `<Details>${details}</Details>` : ''}</Error>`;

function sendXml(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/xml; charset=UTF-8', 'content-length': Buffer.byteLength(body), ...headers });
  res.end(body);
}

/** `bytes=a-b`, `bytes=a-`, `bytes=-n`: the inclusive range, 'unsatisfiable', or undefined for the whole file. */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const m = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (!m || (m[1] === '' && m[2] === '')) return undefined;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  if (start >= size) return 'unsatisfiable';
  if (end < start) return undefined;
  return { start, end };
}

export function serveBulkResult(shops: Iterable<MockShop>, req: IncomingMessage, res: ServerResponse, url: URL): void {
  const opaque = /^\/bulk-results\/([\w-]+)\.jsonl$/.exec(url.pathname)?.[1];
  let found: { shop: MockShop; file: { path: string; size: number; expiresAtMs: number } } | undefined;
  if (opaque) {
    for (const shop of shops) {
      const file = shop.bulk.download(opaque);
      if (file) found = { shop, file };
    }
  }
  const method = req.method ?? 'GET';
  if (!found || (method !== 'GET' && method !== 'HEAD')) return sendXml(res, 404, xml('NoSuchKey', 'The specified key does not exist.'));
  const { shop, file } = found;
  if (shop.clock.now() > file.expiresAtMs) {
    shop.bulk.stats.expiredDownloads++;
    return sendXml(res, 403, xml('ExpiredToken', 'The provided token has expired.', `Request has expired: ${Math.floor(file.expiresAtMs / 1000)}`));
  }
  const range = parseRange(req.headers.range, file.size);
  if (range === 'unsatisfiable') {
    return sendXml(res, 416, xml('InvalidRange', 'The requested range cannot be satisfied.', `bytes=${req.headers.range ?? ''}`), { 'content-range': `bytes */${file.size}` });
  }
  const start = range?.start ?? 0;
  const end = range?.end ?? file.size - 1;
  const headers: Record<string, string | number> = {
    'content-type': 'application/jsonl',
    'content-length': end - start + 1,
    'accept-ranges': 'bytes',
    etag: `"${opaque}"`,
    'cache-control': 'private, max-age=0',
  };
  if (range) headers['content-range'] = `bytes ${start}-${end}/${file.size}`;
  res.writeHead(range ? 206 : 200, headers);
  if (method === 'HEAD') {
    res.end();
    return;
  }
  shop.bulk.stats.downloads++;
  const cut = shop.bulk.takeCut(end - start + 1);
  if (cut === undefined) {
    createReadStream(file.path, { start, end })
      .on('error', () => res.destroy())
      .pipe(res);
    return;
  }
  shop.bulk.stats.cutDownloads++;
  // The bytes sent so far are flushed, then the connection closes short of Content-Length.
  const close = () => res.socket?.end();
  if (cut === 0) {
    res.flushHeaders();
    close();
    return;
  }
  const stream = createReadStream(file.path, { start, end: start + cut - 1 });
  stream.on('error', () => res.destroy());
  stream.pipe(res, { end: false });
  stream.on('end', close);
}
