import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { CpuShares } from './types.js';

/** Linux /proc readings: memory and CPU time of processes, and of the machine. Zero where unreadable. */

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** VmRSS (now) and VmHWM (peak resident set since the process started), MB. */
export function procMemory(pid: number): { rssMb: number; peakMb: number } {
  const status = read(`/proc/${pid}/status`) ?? '';
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rssMb: kb('VmRSS') / 1024, peakMb: kb('VmHWM') / 1024 };
}

/** Resets the kernel's peak resident set (VmHWM) of a process to its current RSS (Linux clear_refs). */
export function resetPeakMemory(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** utime + stime of a process, in clock ticks. */
export function procCpuTicks(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return 0;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

/** Busy ticks of the whole machine (all cores), from /proc/stat. */
function machineBusyTicks(): number {
  const line = (read('/proc/stat') ?? '').split('\n')[0] ?? '';
  const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
  return (user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0);
}

/** Pid of a local server process by its command name (and a word of its command line), if visible. */
export function findProcess(comms: string[], cmdlineIncludes?: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const comm = read(`/proc/${entry}/comm`)?.trim();
    if (!comm || !comms.includes(comm)) continue;
    if (cmdlineIncludes && !(read(`/proc/${entry}/cmdline`) ?? '').includes(cmdlineIncludes)) continue;
    return Number(entry);
  }
  return undefined;
}

export interface ServicePids {
  mysql?: number;
  redis?: number;
}

export function servicePids(redisPort: string): ServicePids {
  const mysql = findProcess(['mariadbd', 'mysqld']);
  const redis = findProcess(['redis-server'], `:${redisPort}`) ?? findProcess(['redis-server']);
  return { ...(mysql ? { mysql } : {}), ...(redis ? { redis } : {}) };
}

/**
 * CPU used over a window, in % of one core, per named process; `other` is what the rest of the machine
 * used meanwhile (other work on a shared machine), `idle` what was left of all cores.
 */
export function cpuWindow(pids: Record<string, number | undefined>): () => CpuShares {
  const named = Object.entries(pids).filter((e): e is [string, number] => e[1] !== undefined);
  const start = named.map(([, pid]) => procCpuTicks(pid));
  const machineStart = machineBusyTicks();
  const t0 = performance.now();
  return () => {
    const seconds = (performance.now() - t0) / 1000;
    const toPct = (ticks: number) => Math.round((ticks / CLK_TCK / seconds) * 100);
    const shares: CpuShares = {};
    let ours = 0;
    named.forEach(([name, pid], i) => {
      const used = procCpuTicks(pid) - (start[i] as number);
      ours += used;
      shares[name] = toPct(used);
    });
    const machine = machineBusyTicks() - machineStart;
    shares.other = Math.max(0, toPct(machine - ours));
    shares.idle = Math.max(0, Math.round(cores() * 100 - toPct(machine)));
    return shares;
  };
}

export function cores(): number {
  return (read('/proc/cpuinfo') ?? '').split('\n').filter((l) => /^processor\s*:/.test(l)).length || 1;
}

/** "api 97 %, mysql 40 %, redis 12 %, runner 60 %, other 20 %" — sorted, biggest first. */
export function describeCpu(shares: CpuShares): string {
  return Object.entries(shares)
    .filter(([name]) => name !== 'idle')
    .sort((a, b) => b[1] - a[1])
    .map(([name, pct]) => `${name} ${pct} %`)
    .concat(shares.idle !== undefined ? [`idle ${shares.idle} %`] : [])
    .join(', ');
}

/** The busiest of our processes in a window and its share (for "what limits" lines). */
export function busiest(shares: CpuShares): [string, number] {
  const ours = Object.entries(shares).filter(([n]) => n !== 'other' && n !== 'idle');
  return ours.sort((a, b) => b[1] - a[1])[0] ?? ['none', 0];
}
