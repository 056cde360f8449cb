import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compileTree } from './build.js';

/**
 * The other arm of a same-run A/B: the service as it was before a change, compiled like the tree under
 * test. The revision is checked out into a temporary `git worktree` (read-only for the repository's own
 * branches and files), given this repository's node_modules, compiled outside it, and the worktree removed
 * again; the compiled tree is kept per commit, so later runs skip the checkout.
 */
const ROOT = path.resolve(import.meta.dirname, '../../..');

export interface BaselineTree {
  commit: string;
  /** Why this revision: "the parent of <commit>, which added <file>" or "HEAD, as <file> is not committed yet …". */
  why: string;
  /** The compiled tree: `scripts/bench/children/*.js`, `migrations/*.js`. */
  dir: string;
  /** Seconds spent checking out and compiling (0 when the compiled tree was kept from an earlier run). */
  seconds: number;
}

const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/**
 * The revision before the commit that added `file` (a path in the repository): its parent. While that
 * commit does not exist yet (the change is still in the working tree), HEAD is the revision before it.
 */
export function revisionBefore(file: string): { commit: string; why: string } {
  const adding = git('log', '--diff-filter=A', '--format=%H', '--', file).split('\n').filter(Boolean).pop();
  if (adding) return { commit: git('rev-parse', `${adding}^`), why: `the parent of ${adding.slice(0, 10)}, which added ${file}` };
  return { commit: git('rev-parse', 'HEAD'), why: `HEAD, as ${file} is not committed yet (the working tree is the candidate)` };
}

/** The compiled tree of the revision before `file` was added (checked out and compiled unless kept). */
export function baselineTree(file: string, log: (message: string) => void): BaselineTree {
  const { commit, why } = revisionBefore(file);
  const dir = path.join(tmpdir(), `shopint-bench-baseline-${commit.slice(0, 12)}`);
  const stamp = path.join(dir, '.built-commit');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === commit) return { commit, why, dir, seconds: 0 };

  const t0 = performance.now();
  const worktree = path.join(tmpdir(), `shopint-bench-worktree-${process.pid}-${randomBytes(3).toString('hex')}`);
  log(`checking out the baseline ${commit.slice(0, 10)} (${why}) into ${worktree}, compiling it → ${dir}`);
  rmSync(dir, { recursive: true, force: true });
  git('worktree', 'add', '--detach', worktree, commit);
  try {
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(worktree, 'node_modules'), 'dir');
    compileTree(worktree, dir, log);
    writeFileSync(stamp, commit);
  } finally {
    // --force: the node_modules link is a file git does not track.
    git('worktree', 'remove', '--force', worktree);
  }
  return { commit, why, dir, seconds: (performance.now() - t0) / 1000 };
}
