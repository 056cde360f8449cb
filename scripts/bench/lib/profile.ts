import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Reads a V8 `.cpuprofile` (node --cpu-prof) and sums self time by where the code lives: a file of
 * this service (src/…), a package (node_modules/<pkg>), Node internals, GC, idle. The top entries are
 * what a benchmark reports when a figure misses its target.
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Share of busy (non-idle) time by place, biggest first. */
  byPlace: { place: string; pct: number }[];
  /** Hottest functions by self time. */
  byFunction: { fn: string; pct: number }[];
}

const ROOT = path.resolve(import.meta.dirname, '../../..');

function placeOf(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const file = url.replace(/^file:\/\//, '');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg) return `pkg:${pkg[1]}`;
  if (file.startsWith('node:')) return 'node internals';
  // The compiled tree the benchmark processes run from (build.ts) mirrors the sources: name the source file.
  const compiled = /\/shopint-bench-[0-9a-f]+\/(.*)\.js$/.exec(file);
  if (compiled) return `${compiled[1]}.ts`;
  if (file.startsWith(ROOT)) return path.relative(ROOT, file);
  return file;
}

export function summarizeProfile(file: string, top = 8): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // The profiler's own work (stopping and serializing the profile, under node:inspector) is not the app's.
  const inspector = new Set<number>();
  const mark = (id: number, inside: boolean) => {
    const node = byId.get(id);
    if (!node) return;
    const here = inside || node.callFrame.url === 'node:inspector';
    if (here) inspector.add(id);
    for (const child of node.children ?? []) mark(child, here);
  };
  const root = profile.nodes[0];
  if (root) mark(root.id, false);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const places = new Map<string, number>();
  const fns = new Map<string, number>();
  let busy = 0;
  let total = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node || inspector.has(id)) continue;
    total += us;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') continue;
    busy += us;
    const place = placeOf(url, functionName);
    places.set(place, (places.get(place) ?? 0) + us);
    // Line numbers only where they point into the file named (packages); compiled sources have other lines.
    const where = !url ? '' : place.startsWith('pkg:') ? `${place}:${lineNumber + 1}` : place;
    const fn = `${functionName || '(anonymous)'} ${where}`.trim();
    fns.set(fn, (fns.get(fn) ?? 0) + us);
  }
  const pct = (us: number) => Math.round((us / Math.max(1, busy)) * 1000) / 10;
  const ranked = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top);
  return {
    totalMs: Math.round(total / 1000),
    byPlace: ranked(places).map(([place, us]) => ({ place, pct: pct(us) })),
    byFunction: ranked(fns).map(([fn, us]) => ({ fn, pct: pct(us) })),
  };
}

export function describeProfile(s: ProfileSummary, label: string): string[] {
  return [
    `${label} CPU profile (share of busy time) by place: ${s.byPlace.map((p) => `${p.place} ${p.pct} %`).join(', ')}`,
    `${label} hottest functions: ${s.byFunction
      .slice(0, 6)
      .map((f) => `${f.fn} ${f.pct} %`)
      .join('; ')}`,
  ];
}

/**
 * Profiles `child` while `during` runs (the inspector's CPU profiler, the same sampler as `--cpu-prof`,
 * limited to the window) and summarizes it.
 */
export async function profileWindow(child: { call(cmd: string, args?: unknown): Promise<unknown> }, during: () => Promise<unknown>, top = 8): Promise<ProfileSummary> {
  const dir = mkdtempSync(path.join(tmpdir(), 'bench-prof-'));
  try {
    await child.call('profile:start');
    await during();
    const file = path.join(dir, 'window.cpuprofile');
    await child.call('profile:stop', { file });
    return summarizeProfile(file, top);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
