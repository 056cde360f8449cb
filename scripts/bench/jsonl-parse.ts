import os from 'node:os';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { jsonlBatches, jsonlRecords } from '../../src/sync/bulk/jsonl.js';
import { prng } from '../mock-shopify/random.js';

/**
 * Throughput of the bulk-operation JSONL reader (src/sync/bulk/jsonl.ts) on a file shaped like a
 * Shopify products export: a product line of ~20 fields, then its 3 variants on lines of their own with
 * `__parentId`. The file is generated in memory once and fed in 64 KiB views (no copies), so the figure
 * is the parser's alone: line splitting, UTF-8 decoding, JSON.parse and the generators' steps.
 *
 * Modes: `batches` (what the apply uses), `records` (one async step per line) and `baseline` (a plain
 * synchronous split-and-parse loop: the floor the generators are compared with).
 *
 * Alone: `npx tsx scripts/bench/jsonl-parse.ts [--mb 200] [--chunk-kib 64]`.
 */

export type JsonlParseMode = 'records' | 'batches' | 'baseline';

export interface JsonlParseBenchOptions {
  /** Size of the generated file (default 200 MB); ignored when `data` is given. */
  megabytes?: number;
  /** A file generated earlier (`generateBulkJsonl`), to measure several modes on the same bytes. */
  data?: Buffer;
  /** Chunk size fed to the reader (default 64 KiB, a typical network read). */
  chunkBytes?: number;
  /** Default `batches`. */
  mode?: JsonlParseMode;
  /** Batch limits for `batches` (the reader's defaults otherwise). */
  maxRecords?: number;
  maxBytes?: number;
  /**
   * Called with the process's CPU time spent parsing (user + system, seconds) and the highest RSS
   * (bytes) sampled meanwhile. On a shared machine the wall-clock rate reflects the other load; bytes
   * per CPU second is the parser's own cost.
   */
  onMeasured?: (measured: { cpuSeconds: number; peakRssBytes: number }) => void;
}

export interface JsonlParseFigures {
  bytesPerSecond: number;
  linesPerSecond: number;
  bytes: number;
  lines: number;
}

const WORDS = ['organic', 'cotton', 'tee', 'slim', 'fit', 'classic', 'hoodie', 'merino', 'wool', 'socks', 'café', 'naïve', 'déjà', 'vu', 'über', 'jacket', 'rain', 'proof', 'linen', 'shirt'];
const COLORS = ['Black', 'White', 'Navy', 'Olive', 'Crème', 'Rot'];
const SIZES = ['XS', 'S', 'M', 'L', 'XL'];

/** About `targetBytes` of products-with-variants JSONL, cut at a line boundary. */
export function generateBulkJsonl(targetBytes: number, seed = 42): Buffer {
  const random = prng(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const words = (n: number): string => Array.from({ length: n }, () => pick(WORDS)).join(' ');
  const time = (): string => new Date(Date.UTC(2020, 0, 1) + Math.floor(random() * 5 * 365 * 86_400_000)).toISOString().replace('.000', '');
  const out = Buffer.allocUnsafe(targetBytes + 64 * 1024);
  let pos = 0;
  let productId = 7_000_000_000_000;
  let variantId = 40_000_000_000_000;
  while (pos < targetBytes) {
    productId++;
    const title = words(3);
    const handle = `${title.replace(/[^a-z]+/g, '-')}-${productId}`;
    const price = (5 + random() * 200).toFixed(2);
    const product = {
      id: `gid://shopify/Product/${productId}`,
      legacyResourceId: String(productId),
      title,
      handle,
      descriptionHtml: `<p>${words(40 + Math.floor(random() * 60))}</p><ul><li>${words(6)}</li><li>${words(8)}</li></ul>`,
      vendor: pick(['Acme', 'Nordwind', 'Süd & Co', 'Maison Lumière']),
      productType: pick(['Shirts', 'Hoodies', 'Socks', 'Jackets']),
      status: pick(['ACTIVE', 'ACTIVE', 'ACTIVE', 'DRAFT', 'ARCHIVED']),
      tags: Array.from({ length: 1 + Math.floor(random() * 6) }, () => pick(WORDS)),
      createdAt: time(),
      updatedAt: time(),
      publishedAt: random() < 0.8 ? time() : null,
      templateSuffix: random() < 0.2 ? 'special' : null,
      totalInventory: Math.floor(random() * 500),
      tracksInventory: true,
      hasOnlyDefaultVariant: false,
      onlineStoreUrl: random() < 0.8 ? `https://example-shop.myshopify.com/products/${handle}` : null,
      options: [
        { id: `gid://shopify/ProductOption/${productId}1`, name: 'Color', position: 1, values: COLORS.slice(0, 3) },
        { id: `gid://shopify/ProductOption/${productId}2`, name: 'Size', position: 2, values: SIZES },
      ],
      seo: { title: random() < 0.5 ? title : null, description: random() < 0.5 ? words(12) : null },
      priceRangeV2: { minVariantPrice: { amount: price, currencyCode: 'EUR' }, maxVariantPrice: { amount: price, currencyCode: 'EUR' } },
      featuredImage: {
        id: `gid://shopify/ProductImage/${productId}`,
        url: `https://cdn.shopify.com/s/files/1/0000/0001/products/${handle}.jpg?v=1700000000`,
        altText: random() < 0.5 ? title : null,
        width: 2048,
        height: 2048,
      },
    };
    pos += out.write(JSON.stringify(product), pos);
    out[pos++] = 0x0a;
    for (let v = 1; v <= 3; v++) {
      variantId++;
      const color = pick(COLORS);
      const size = pick(SIZES);
      const variant = {
        id: `gid://shopify/ProductVariant/${variantId}`,
        legacyResourceId: String(variantId),
        title: `${color} / ${size}`,
        sku: `SKU-${productId}-${v}`,
        barcode: random() < 0.6 ? String(4_000_000_000_000 + Math.floor(random() * 1e12)) : null,
        price,
        compareAtPrice: random() < 0.3 ? (Number(price) * 1.2).toFixed(2) : null,
        position: v,
        inventoryQuantity: Math.floor(random() * 200),
        inventoryPolicy: 'DENY',
        taxable: true,
        createdAt: product.createdAt,
        updatedAt: time(),
        selectedOptions: [
          { name: 'Color', value: color },
          { name: 'Size', value: size },
        ],
        inventoryItem: { id: `gid://shopify/InventoryItem/${variantId}`, tracked: true, measurement: { weight: { unit: 'GRAMS', value: Math.floor(random() * 900) } } },
        __parentId: product.id,
      };
      pos += out.write(JSON.stringify(variant), pos);
      out[pos++] = 0x0a;
    }
  }
  return out.subarray(0, pos);
}

/** The file as the network would hand it over: views of `chunkBytes`, no copies. */
async function* chunked(data: Buffer, chunkBytes: number): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += chunkBytes) yield data.subarray(i, i + chunkBytes);
}

/** What a consumer minimally does with a record, so no parsing can be skipped. */
function touch(value: Record<string, unknown>): number {
  return typeof value.__parentId === 'string' ? 1 : 0;
}

/** The floor: a plain synchronous split-and-parse of the same chunks, no generators, no offsets. */
function baseline(data: Buffer, chunkBytes: number, sample: () => void): number {
  let lines = 0;
  let children = 0;
  let carry: Buffer | undefined;
  for (let i = 0; i < data.length; i += chunkBytes) {
    let chunk = data.subarray(i, i + chunkBytes);
    if (carry) {
      chunk = Buffer.concat([carry, chunk]);
      carry = undefined;
    }
    let from = 0;
    for (let nl = chunk.indexOf(0x0a, from); nl !== -1; nl = chunk.indexOf(0x0a, from)) {
      children += touch(JSON.parse(chunk.toString('utf8', from, nl)) as Record<string, unknown>);
      lines++;
      from = nl + 1;
    }
    if (from < chunk.length) carry = Buffer.from(chunk.subarray(from));
    if ((i / chunkBytes) % 64 === 0) sample();
  }
  return lines + (children < 0 ? 1 : 0);
}

export async function benchJsonlParse(opts: JsonlParseBenchOptions = {}): Promise<JsonlParseFigures> {
  const data = opts.data ?? generateBulkJsonl(Math.round((opts.megabytes ?? 200) * 1_000_000));
  const chunkBytes = opts.chunkBytes ?? 64 * 1024;
  const mode = opts.mode ?? 'batches';
  let peakRss = process.memoryUsage.rss();
  const sample = (): void => {
    const rss = process.memoryUsage.rss();
    if (rss > peakRss) peakRss = rss;
  };
  let lines = 0;
  let children = 0;
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  if (mode === 'baseline') {
    lines = baseline(data, chunkBytes, sample);
  } else if (mode === 'records') {
    for await (const record of jsonlRecords(chunked(data, chunkBytes))) {
      children += touch(record.value);
      if ((++lines & 0x3fff) === 0) sample();
    }
  } else {
    const limits = { ...(opts.maxRecords ? { maxRecords: opts.maxRecords } : {}), ...(opts.maxBytes ? { maxBytes: opts.maxBytes } : {}) };
    let batches = 0;
    for await (const batch of jsonlBatches(chunked(data, chunkBytes), limits)) {
      for (const record of batch) children += touch(record.value);
      lines += batch.length;
      if ((++batches & 0x1f) === 0) sample();
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStarted);
  sample();
  opts.onMeasured?.({ cpuSeconds: (cpu.user + cpu.system) / 1e6, peakRssBytes: peakRss });
  if (children < 0) throw new Error('unreachable: keeps the parsed values alive for the optimizer');
  return { bytesPerSecond: data.length / seconds, linesPerSecond: lines / seconds, bytes: data.length, lines };
}

const MB = 1_000_000;
const mib = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { mb: { type: 'string', default: '200' }, 'chunk-kib': { type: 'string', default: '64' }, rounds: { type: 'string', default: '2' } } });
  const megabytes = Number(values.mb);
  const chunkBytes = Number(values['chunk-kib']) * 1024;
  const rounds = Math.max(1, Number(values.rounds));
  const rssStart = process.memoryUsage.rss();
  const generatedAt = performance.now();
  const data = generateBulkJsonl(Math.round(megabytes * MB));
  let lineCount = 0;
  for (let nl = data.indexOf(0x0a); nl !== -1; nl = data.indexOf(0x0a, nl + 1)) lineCount++;
  console.log(
    `generated ${(data.length / MB).toFixed(1)} MB, ${lineCount} lines (avg ${Math.round(data.length / lineCount)} B) in ${((performance.now() - generatedAt) / 1000).toFixed(1)} s; ` +
      `chunks of ${chunkBytes / 1024} KiB; Node ${process.version}`,
  );
  console.log(`RSS at start ${mib(rssStart)}, with the file in memory ${mib(process.memoryUsage.rss())}; load average ${os.loadavg()[0]!.toFixed(1)} on ${os.availableParallelism()} CPUs`);
  // A warm-up on a slice lets the JIT settle before the first measured mode.
  for (const mode of ['baseline', 'records', 'batches'] as const) await benchJsonlParse({ data: data.subarray(0, data.indexOf(0x0a, 20 * MB) + 1), chunkBytes, mode });
  for (let round = 1; round <= rounds; round++) {
    for (const mode of ['baseline', 'records', 'batches'] as const) {
      const before = process.memoryUsage.rss();
      let measured = { cpuSeconds: 0, peakRssBytes: 0 };
      const figures = await benchJsonlParse({ data, chunkBytes, mode, onMeasured: (m) => (measured = m) });
      const after = process.memoryUsage.rss();
      const perCpu = (n: number): number => n / Math.max(measured.cpuSeconds, 1e-9);
      console.log(
        `round ${round} ${mode.padEnd(8)} wall ${(figures.bytesPerSecond / MB).toFixed(1).padStart(6)} MB/s ${Math.round(figures.linesPerSecond).toLocaleString('en-US').padStart(9)} lines/s | ` +
          `per CPU s ${(perCpu(figures.bytes) / MB).toFixed(1).padStart(6)} MB ${Math.round(perCpu(figures.lines)).toLocaleString('en-US').padStart(9)} lines | ` +
          `${figures.lines} lines, RSS before ${mib(before)}, peak ${mib(measured.peakRssBytes)}, after ${mib(after)}`,
      );
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
