import { sql, type Transaction } from 'kysely';
import type { Database, Db } from './schema.js';

type Executor = Db | Transaction<Database>;

export interface SyncState {
  cursorUpdatedAt: Date | null;
  lastFullSyncAt: Date | null;
  lastIncrementalSyncAt: Date | null;
  /** A walk that earlier runs began and did not finish (page cap, failure), or null. */
  walk: SyncWalk | null;
}

/** A walk through a resource's pages, which may span several runs. */
export interface SyncWalk {
  mode: 'full' | 'incremental';
  /** When its first run began, by the database's clock: the deletion sweep compares `synced_at` with it. */
  startedAt: Date;
  /** The `updated_at_min` every run of an incremental walk reads from (null: everything). */
  updatedAtMin: Date | null;
  /** Newest `updated_at` seen by the walk so far. */
  maxUpdatedAt: Date | null;
  /** Records met so far whose key could not be read (a sweep would then be unsafe). */
  keyless: number;
  /** Where the next run continues (opaque to the store; JSON-serialisable). */
  position: unknown;
}

function walkOf(
  row: { walk_mode: string | null; walk_started_at: Date | null; walk_updated_at_min: Date | null; walk_max_updated_at: Date | null; walk_keyless: number; walk_position: string | null } | undefined,
): SyncWalk | null {
  if (!row || row.walk_started_at === null || row.walk_position === null || (row.walk_mode !== 'full' && row.walk_mode !== 'incremental')) return null;
  let position: unknown;
  try {
    position = JSON.parse(row.walk_position);
  } catch {
    return null; // an unreadable position: the next run starts a new walk
  }
  return { mode: row.walk_mode, startedAt: row.walk_started_at, updatedAtMin: row.walk_updated_at_min, maxUpdatedAt: row.walk_max_updated_at, keyless: Number(row.walk_keyless), position };
}

export async function getSyncState(db: Executor, integrationId: number, resource: string): Promise<SyncState> {
  const row = await db.selectFrom('shopify_sync_state').selectAll().where('integration_id', '=', integrationId).where('resource', '=', resource).executeTakeFirst();
  return {
    cursorUpdatedAt: row?.cursor_updated_at ?? null,
    lastFullSyncAt: row?.last_full_sync_at ?? null,
    lastIncrementalSyncAt: row?.last_incremental_sync_at ?? null,
    walk: walkOf(row),
  };
}

/**
 * Saves where a walk continues, in the transaction of the page that got it there (so the position never
 * runs ahead of what is written). A page of another walk (a different start) replaces the walk; pages of
 * the same walk add up the newest `updated_at` and the keyless records. `walk_started_at` is assigned
 * last: ON DUPLICATE KEY UPDATE assigns left to right, and the others compare with the stored start.
 */
export async function saveWalkProgress(
  db: Executor,
  integrationId: number,
  resource: string,
  page: Omit<SyncWalk, 'maxUpdatedAt' | 'keyless'> & { pageMaxUpdatedAt: Date | null; pageKeyless: number },
): Promise<void> {
  const sameWalk = sql`walk_started_at <=> VALUES(walk_started_at)`;
  await db
    .insertInto('shopify_sync_state')
    .values({
      integration_id: integrationId,
      resource,
      cursor_updated_at: null,
      last_full_sync_at: null,
      last_incremental_sync_at: null,
      walk_mode: page.mode,
      walk_updated_at_min: page.updatedAtMin,
      walk_max_updated_at: page.pageMaxUpdatedAt,
      walk_keyless: page.pageKeyless,
      walk_position: JSON.stringify(page.position),
      walk_started_at: page.startedAt,
    })
    .onDuplicateKeyUpdate({
      walk_mode: sql`VALUES(walk_mode)`,
      walk_updated_at_min: sql`VALUES(walk_updated_at_min)`,
      walk_max_updated_at: sql`IF(${sameWalk}, GREATEST(COALESCE(walk_max_updated_at, VALUES(walk_max_updated_at)), COALESCE(VALUES(walk_max_updated_at), walk_max_updated_at)), VALUES(walk_max_updated_at))`,
      walk_keyless: sql`IF(${sameWalk}, walk_keyless + VALUES(walk_keyless), VALUES(walk_keyless))`,
      walk_position: sql`VALUES(walk_position)`,
      walk_started_at: sql`VALUES(walk_started_at)`,
    })
    .execute();
}

/**
 * Moves the `updated_at` cursor forward (never back) in the transaction of a page whose source lists in
 * `updated_at` order (GraphQL's `sortKey: UPDATED_AT`): everything older was read by then, so an
 * incremental read may start there even if the walk never completes.
 */
export async function advanceSyncCursor(db: Executor, integrationId: number, resource: string, cursor: Date): Promise<void> {
  await db
    .insertInto('shopify_sync_state')
    .values({ integration_id: integrationId, resource, cursor_updated_at: cursor, last_full_sync_at: null, last_incremental_sync_at: null })
    .onDuplicateKeyUpdate({
      cursor_updated_at: sql`IF(cursor_updated_at IS NOT NULL AND cursor_updated_at > VALUES(cursor_updated_at), cursor_updated_at, VALUES(cursor_updated_at))`,
    })
    .execute();
}

/** Records a complete walk: the new `updated_at` cursor, when this kind of walk last completed, and no walk in progress. */
export async function saveSyncCompleted(db: Executor, integrationId: number, resource: string, run: { cursor: Date | null; mode: 'full' | 'incremental'; at: Date }): Promise<void> {
  const full = run.mode === 'full';
  await db
    .insertInto('shopify_sync_state')
    .values({
      integration_id: integrationId,
      resource,
      cursor_updated_at: run.cursor,
      last_full_sync_at: full ? run.at : null,
      last_incremental_sync_at: full ? null : run.at,
    })
    .onDuplicateKeyUpdate({
      // A cursor only moves forward (a run that saw nothing new keeps the one it started from).
      cursor_updated_at: sql`IF(VALUES(cursor_updated_at) IS NULL OR cursor_updated_at > VALUES(cursor_updated_at), cursor_updated_at, VALUES(cursor_updated_at))`,
      ...(full ? { last_full_sync_at: run.at } : { last_incremental_sync_at: run.at }),
      walk_mode: null,
      walk_started_at: null,
      walk_updated_at_min: null,
      walk_max_updated_at: null,
      walk_keyless: 0,
      walk_position: null,
    })
    .execute();
}

/** The database's clock (what `synced_at` is written with), so sweeps never compare two clocks. */
export async function databaseNow(db: Executor): Promise<Date> {
  const { rows } = await sql<{ now: Date }>`SELECT NOW(3) AS now`.execute(db);
  return (rows[0] as { now: Date }).now;
}

/** The resources of an integration whose walk waits for (or applies the file of) this bulk operation. */
export async function resourcesWaitingForOperation(db: Executor, integrationId: number, operation: string): Promise<string[]> {
  const rows = await db.selectFrom('shopify_sync_state').select(['resource', 'walk_position']).where('integration_id', '=', integrationId).where('walk_position', 'like', '{"bulk":%').execute();
  return rows
    .filter((r) => {
      try {
        return (JSON.parse(r.walk_position ?? 'null') as { bulk?: { operation?: unknown } } | null)?.bulk?.operation === operation;
      } catch {
        return false;
      }
    })
    .map((r) => r.resource);
}
