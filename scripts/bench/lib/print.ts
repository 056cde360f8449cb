import { format, spreadPct, type Measured } from './stats.js';
import type { BenchResult, Figure } from './types.js';

/** "12,345 req/s ±3 %" — the median and, when repeated, the half-range of the repetitions. */
export function showMeasured(m: Measured, unit: string): string {
  const spread = m.n > 1 ? ` ±${Math.round(spreadPct(m))} %` : '';
  return `${format(m.median)} ${unit}${spread}`;
}

export function showRatio(f: Figure): string {
  return f.ratio === undefined || !Number.isFinite(f.ratio) ? '' : `${format(f.ratio)}×`;
}

export function showTarget(f: Figure): string {
  if (!f.target) return '';
  return `${f.target.text}: ${f.target.met ? 'met' : 'NOT met'}`;
}

/** The figures of one benchmark as the run prints them. */
export function printResult(r: BenchResult): void {
  const rows = r.figures.map((f) => [
    f.name,
    showMeasured(f.value, f.unit),
    f.baseline ? `${showMeasured(f.baseline.value, f.baseline.unit ?? f.unit)} (${f.baseline.name})` : '',
    showRatio(f),
    showTarget(f),
  ]);
  const widths = [0, 1, 2, 3].map((i) => Math.min(70, Math.max(...rows.map((row) => (row[i] as string).length))));
  for (const row of rows) console.log(`  ${row.map((cell, i) => (i < 4 ? cell.padEnd(widths[i] as number) : cell)).join('  ')}`);
  for (const line of r.limits) console.log(`  · ${line}`);
  for (const line of r.findings) console.log(`  ! ${line}`);
  console.log(`  (${Math.round(r.seconds)} s)\n`);
}
