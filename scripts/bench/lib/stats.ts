/** Small statistics for benchmark figures: medians over repetitions, percentiles over samples. */

export function sorted(values: readonly number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** Percentile by linear interpolation between closest ranks (p in 0–100). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = sorted(values);
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (rank - lo);
}

export const median = (values: readonly number[]) => percentile(values, 50);

/** A figure measured `values.length` times: its median and the range of the repetitions. */
export interface Measured {
  median: number;
  min: number;
  max: number;
  n: number;
}

export function measured(values: readonly number[]): Measured {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

/** A single value (no repetitions). */
export const single = (value: number): Measured => ({ median: value, min: value, max: value, n: 1 });

/** Relative half-range of the repetitions (±%), the spread shown next to a median. */
export function spreadPct(m: Measured): number {
  return m.median === 0 ? 0 : ((m.max - m.min) / 2 / Math.abs(m.median)) * 100;
}

/** Rounds to a number of significant digits that keeps figures readable (12,345 / 123.4 / 1.234). */
export function round(value: number): number {
  if (!Number.isFinite(value)) return value;
  const abs = Math.abs(value);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 10 ? 2 : 3;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function format(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return round(value).toLocaleString('en-US', { maximumFractionDigits: 3 });
}

/** Counts per whole second from cumulative counts (`done` by wall-clock `at`), from `t0` on. */
export function perSecond(points: { at: number; done: number }[], t0: number): number[] {
  const counts: number[] = [];
  let second = 1;
  let before = 0;
  for (const p of points) {
    while (p.at - t0 >= second * 1000) {
      counts.push(p.done - before);
      before = p.done;
      second++;
    }
  }
  return counts;
}

/** `count ÷ seconds`, "±" the 10th–90th percentile of the per-second rates (a single run's spread). */
export function rateOf(count: number, seconds: number, perSecondRates: number[]): Measured {
  const rate = count / seconds;
  return { median: rate, min: percentile(perSecondRates, 10) || rate, max: percentile(perSecondRates, 90) || rate, n: perSecondRates.length };
}
