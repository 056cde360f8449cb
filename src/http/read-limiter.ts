import { ThrottledError } from '../errors.js';

/** A tenant already has as many reads in flight as it may; one of them finishing makes room (reads last milliseconds). */
export class TooManyReadsError extends ThrottledError {
  constructor(limit: number) {
    super(`At most ${limit} reads of one tenant run at once; retry when one has finished`, 1);
  }
}

export interface ReadLimiter {
  /** Takes a slot for the tenant, or throws `TooManyReadsError`; the returned function gives it back (once). */
  acquire(tenantId: string): () => void;
  /** Reads in flight for the tenant (0 when none). */
  inFlight(tenantId: string): number;
}

/**
 * Caps the reads one tenant runs at once in this process, so one tenant's slow or many requests cannot
 * hold every pooled MySQL connection while other tenants wait. Counts live in memory: each API process
 * bounds its own pool.
 */
export function perTenantReadLimiter(limit: number): ReadLimiter {
  const counts = new Map<string, number>();
  return {
    acquire(tenantId) {
      const current = counts.get(tenantId) ?? 0;
      if (current >= limit) throw new TooManyReadsError(limit);
      counts.set(tenantId, current + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (counts.get(tenantId) ?? 1) - 1;
        if (left <= 0) counts.delete(tenantId);
        else counts.set(tenantId, left);
      };
    },
    inFlight: (tenantId) => counts.get(tenantId) ?? 0,
  };
}
