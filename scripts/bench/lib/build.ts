import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * The processes under test run compiled JavaScript on plain Node, as the Docker image runs the service
 * (`tsc -p tsconfig.build.json`): no TypeScript loader in their start-up time or memory. The build goes to
 * a directory outside the repository and is reused while no source file is newer than it.
 */
const ROOT = path.resolve(import.meta.dirname, '../../..');
const OUT = path.join(tmpdir(), `shopint-bench-${createHash('sha256').update(ROOT).digest('hex').slice(0, 10)}`);
const STAMP = path.join(OUT, '.built');
const SOURCES = ['src', 'scripts', 'migrations'];

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (/\.(ts|json)$/.test(entry.name)) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

export interface CompiledTree {
  /** Where `scripts/bench/children/<name>.js` and the service's modules are. */
  dir: string;
  /** Seconds spent compiling (0 when the previous build was still current). */
  seconds: number;
}

/** Compiles the service and the benchmark processes unless the last build is current. */
export function compileForBenchmarks(log: (message: string) => void): CompiledTree {
  const newest = Math.max(...SOURCES.map((d) => newestSource(path.join(ROOT, d))), statSync(path.join(ROOT, 'tsconfig.json')).mtimeMs);
  if (existsSync(STAMP) && statSync(STAMP).mtimeMs > newest) return { dir: OUT, seconds: 0 };
  log(`compiling the service for the benchmark processes (tsc -p tsconfig.build.json → ${OUT})`);
  const seconds = compileTree(ROOT, OUT, log);
  writeFileSync(STAMP, new Date().toISOString());
  return { dir: OUT, seconds };
}

/**
 * Compiles the tree at `root` (this repository, or a checkout of another revision of it) into `out`,
 * with this repository's node_modules; returns the seconds it took.
 */
export function compileTree(root: string, out: string, log: (message: string) => void): number {
  const t0 = performance.now();
  mkdirSync(out, { recursive: true });
  const tsc = spawnSync(
    process.execPath,
    [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', path.join(root, 'tsconfig.build.json'), '--outDir', out, '--incremental', '--tsBuildInfoFile', path.join(out, '.tsbuildinfo')],
    { cwd: root, encoding: 'utf8' },
  );
  // Type errors still emit JavaScript; only a build that wrote nothing is fatal.
  if (!existsSync(path.join(out, 'scripts/bench/children/api-server.js'))) throw new Error(`tsc failed: ${tsc.stdout}${tsc.stderr}`);
  if (tsc.status !== 0) log(`tsc reported type errors (JavaScript was emitted anyway): ${(tsc.stdout ?? '').split('\n').slice(0, 3).join(' | ')}`);
  mkdirSync(path.join(out, 'src/generated'), { recursive: true });
  copyFileSync(path.join(root, 'src/generated/openapi.json'), path.join(out, 'src/generated/openapi.json'));
  writeFileSync(path.join(out, 'package.json'), JSON.stringify({ type: 'module' }));
  if (!existsSync(path.join(out, 'node_modules'))) symlinkSync(path.join(ROOT, 'node_modules'), path.join(out, 'node_modules'), 'dir');
  return (performance.now() - t0) / 1000;
}
