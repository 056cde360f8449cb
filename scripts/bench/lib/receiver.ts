import { setTimeout as sleep } from 'node:timers/promises';
import type { BenchChild } from './child.js';

/** The runner's side of children/webhook-receiver.ts: what it noted of each delivery, and waiting for them. */

export interface Arrival {
  /** Wall-clock ms when the body was in. */
  at: number;
  webhookId: string;
  eventId: string;
  type: string;
  /** `resource:record_id:updated_at`, or null for an event naming no record. */
  change: string | null;
}

/** The answer to `take`: arrivals since the last one, and the counts since the last `reset`. */
export interface Taken {
  arrivals: Arrival[];
  received: number;
  verified: number;
  failed: number;
  failures: string[];
}

export type Receiver = BenchChild<{ port: number }>;

/**
 * Takes the receiver's arrivals until `done` says so, or none came for `quietMs` while `settled()` (or
 * `capMs` passed).
 */
export async function collectArrivals(
  receiver: Receiver,
  done: (all: Arrival[]) => boolean | Promise<boolean>,
  opts: { quietMs: number; settled?: () => boolean; capMs?: number },
): Promise<Arrival[]> {
  const all: Arrival[] = [];
  const t0 = performance.now();
  let lastNew = performance.now();
  for (;;) {
    const taken = await receiver.call<Taken>('take');
    for (const a of taken.arrivals) all.push(a);
    if (taken.arrivals.length > 0) lastNew = performance.now();
    if (await done(all)) return all;
    const quiet = (opts.settled?.() ?? true) && performance.now() - lastNew > opts.quietMs;
    if (quiet || performance.now() - t0 > (opts.capMs ?? 600_000)) return all;
    await sleep(200);
  }
}
