import type { Measured } from './stats.js';

/** What a benchmark is asked to do: the full sizes, or QUICK's smaller ones. */
export interface BenchOptions {
  quick: boolean;
  /** Writes progress lines (the runner prefixes them with the benchmark's name). */
  log(message: string): void;
}

/** A measured figure, with the baseline it is compared to in the same run. */
export interface Figure {
  name: string;
  unit: string;
  value: Measured;
  /** `higher`: more is better (throughput); `lower`: less is better (latency, time, memory). */
  better: 'higher' | 'lower';
  baseline?: { name: string; value: Measured; unit?: string };
  /** The ratio shown (value / baseline unless the benchmark defines it otherwise). */
  ratio?: number;
  target?: { text: string; met: boolean };
}

/** CPU used by each process over a measured window, in % of one core. */
export type CpuShares = Record<string, number>;

export interface BenchResult {
  id: string;
  title: string;
  /** Sizes and settings, one line each. */
  setup: string[];
  figures: Figure[];
  /** What limits this path, from the figures of this run (CPU shares, query plans, waits). */
  limits: string[];
  /** Profiles and plans behind a missed target: cause and proposed fix. */
  findings: string[];
  seconds: number;
}

export interface Benchmark {
  id: string;
  title: string;
  /** Stops the benchmark after this long (default: the runner's, 60 s QUICK / 300 s full). */
  timeoutMs?: { quick: number; full: number };
  run(opts: BenchOptions): Promise<Omit<BenchResult, 'id' | 'title' | 'seconds'>>;
}

/** Ratio figure helper: value / baseline of the medians. */
export function ratioOf(value: Measured, baseline: Measured): number {
  return baseline.median === 0 ? NaN : value.median / baseline.median;
}
