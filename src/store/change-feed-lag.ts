import type { Db } from './schema.js';

export interface UnsequencedBacklog {
  /** Committed change events without a feed position yet. */
  count: number;
  /** When the oldest of them occurred (null when none waits). */
  oldestOccurredAt: Date | null;
}

/** How far the sequencer is behind, read off the index of events without a position. */
export async function unsequencedBacklog(db: Db): Promise<UnsequencedBacklog> {
  const row = await db
    .selectFrom('change_events')
    .select((eb) => [eb.fn.countAll<string | number>().as('count'), eb.fn.min('occurred_at').as('oldest')])
    .where('position', 'is', null)
    .executeTakeFirstOrThrow();
  return { count: Number(row.count), oldestOccurredAt: row.oldest === null ? null : new Date(row.oldest) };
}
