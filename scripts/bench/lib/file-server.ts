import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Serves `data` (written to a temporary file first, so the buffer can go) at a local URL until closed. */
export async function serveFileOnce(data: Buffer): Promise<{ url: string; bytes: number; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'bench-file-'));
  const path = join(dir, 'export.jsonl');
  await writeFile(path, data);
  const bytes = data.length;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/jsonl', 'content-length': String(bytes) });
    createReadStream(path).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/export.jsonl`,
    bytes,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
