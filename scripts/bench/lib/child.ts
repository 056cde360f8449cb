import { fork, type ChildProcess } from 'node:child_process';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { procCpuTicks, procMemory, resetPeakMemory } from './procfs.js';

/**
 * A benchmark process (server, worker, mock Shopify) started from the compiled tree (see build.ts) and
 * driven over IPC:
 * it sends `{ type: 'ready', ... }` once listening, answers `{ id, cmd, args }` requests, and exits
 * when asked to stop or when the runner goes away (IPC disconnect), so nothing outlives a run.
 */
export interface BenchChild<Ready = Record<string, unknown>> {
  name: string;
  pid: number;
  ready: Ready;
  call<T = unknown>(cmd: string, args?: unknown): Promise<T>;
  /** Resident set now and its peak so far (VmHWM), MB. */
  memory(): { rssMb: number; peakMb: number };
  /** Starts a new peak (VmHWM back to the current RSS), so a phase's peak is its own. */
  resetPeakMemory(): boolean;
  cpuTicks(): number;
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
let compiledDir: string | undefined;

/** Children start from this compiled tree (plain Node) from now on; without it, from the sources through tsx. */
export function useCompiledChildren(dir: string): void {
  compiledDir = dir;
}

export function childScript(name: string): string {
  if (compiledDir) return path.join(compiledDir, 'scripts/bench/children', `${name}.js`);
  return fileURLToPath(new URL(`../children/${name}.ts`, import.meta.url));
}

export interface StartChildOptions {
  env?: Record<string, string>;
  args?: string[];
  /** Extra node flags, e.g. `--cpu-prof` for a profile of the child. */
  nodeArgs?: string[];
  readyTimeoutMs?: number;
  log?: (line: string) => void;
}

export async function startChild<Ready = Record<string, unknown>>(name: string, script: string, opts: StartChildOptions = {}): Promise<BenchChild<Ready>> {
  // BENCH_CPU_PROF=worker,api: those children write a V8 CPU profile (into BENCH_CPU_PROF_DIR) when they exit.
  const profiled = (process.env.BENCH_CPU_PROF ?? '').split(',').includes(name) ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR ?? tmpdir()}`] : [];
  const proc = fork(script, opts.args ?? [], {
    execArgv: [...profiled, ...(opts.nodeArgs ?? []), ...(script.endsWith('.ts') ? ['--import', 'tsx'] : [])],
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  children.add(proc);
  proc.once('exit', () => children.delete(proc));
  const log = opts.log ?? ((line: string) => process.stderr.write(`  [${name}] ${line}\n`));
  for (const stream of [proc.stdout, proc.stderr]) if (stream) createInterface({ input: stream }).on('line', log);

  let nextId = 1;
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  const readyPromise = new Promise<Ready>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} not ready within ${opts.readyTimeoutMs ?? 60_000} ms`)), opts.readyTimeoutMs ?? 60_000);
    proc.on('message', (msg: any) => {
      if (msg?.type === 'ready') {
        clearTimeout(timer);
        resolve(msg as Ready);
      } else if (typeof msg?.id === 'number') {
        const p = pending.get(msg.id);
        pending.delete(msg.id);
        if (!p) return;
        if (msg.ok) p.resolve(msg.result);
        else p.reject(new Error(`${name}: ${msg.error}`));
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      const error = new Error(`${name} exited (${signal ?? code})`);
      reject(error);
      for (const p of pending.values()) p.reject(error);
      pending.clear();
    });
  });
  let ready: Ready;
  try {
    ready = await readyPromise;
  } catch (error) {
    proc.kill('SIGKILL');
    throw error;
  }
  const pid = proc.pid as number;
  return {
    name,
    pid,
    ready,
    call<T>(cmd: string, args?: unknown): Promise<T> {
      const id = nextId++;
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        proc.send({ id, cmd, args });
      });
    },
    memory: () => procMemory(pid),
    resetPeakMemory: () => resetPeakMemory(pid),
    cpuTicks: () => procCpuTicks(pid),
    stop: () => stopProcess(proc),
  };
}

async function stopProcess(proc: ChildProcess, graceMs = 15_000): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  if (proc.connected) proc.send({ cmd: 'stop' });
  else proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Stops every child still running (end of run, Ctrl-C). */
export async function stopAllChildren(): Promise<void> {
  await Promise.allSettled([...children].map((c) => stopProcess(c, 3000)));
}
