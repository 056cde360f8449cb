import type { Transaction } from 'kysely';
import type { Db } from '../store/schema.js';
import type { Logger } from '../platform/logger.js';
import { pageWrite, sleep } from '../platform/retry-policies.js';
import type { MapContext, MappedRecord, ResourceDefinition, Row } from '../resources/index.js';
import { writeChildrenOfVersion } from '../store/bulk-children.js';
import { isCurrentInstallation, lockInstallation } from '../store/integrations.js';
import { upsertRecords, type Owner } from '../store/records.js';
import type { Database } from '../store/schema.js';
import { updateSyncLogProgress, type SyncCounts } from '../store/sync-logs.js';
import { touchRecords } from '../store/record-sweeps.js';
import { advanceSyncCursor, saveWalkProgress, type SyncWalk } from '../store/sync-state.js';
import { isConflict } from '../store/mysql-errors.js';
import { IntegrationDisconnectedError } from './errors.js';
import type { ShopifyRecord } from './pages.js';

export interface MappedPage {
  records: MappedRecord[];
  /** Keys of every record of the page, mapped or not (a full sync marks them seen). */
  keys: unknown[][];
  /** Newest `updated_at` of the page. */
  maxUpdatedAt: Date | null;
  /** Records that could not be mapped (logged and skipped; a retry would fail the same way). */
  skipped: number;
  /** A record whose key could not even be read: a full sync must not sweep deletions then. */
  keyless: number;
  /**
   * Children that came on their own (a bulk file's lines): the records are then written without
   * touching their stored children, and these are written where their parent holds this version.
   */
  separateChildren?: Row[];
}

/** Shopify JSON → rows through the registry's mapper; one bad record is skipped, not the whole sync. */
export function mapPage(resource: ResourceDefinition, items: ShopifyRecord[], mapCtx: MapContext, log: Logger): MappedPage {
  const page: MappedPage = { records: [], keys: [], maxUpdatedAt: null, skipped: 0, keyless: 0 };
  for (const item of items) {
    try {
      const mapped = resource.map(item, mapCtx);
      page.records.push(mapped);
      page.keys.push(resource.keyColumns.map((c) => mapped.row[c]));
      if (!page.maxUpdatedAt || mapped.row.updated_at > page.maxUpdatedAt) page.maxUpdatedAt = mapped.row.updated_at;
    } catch (error) {
      page.skipped++;
      let key: unknown[] | undefined;
      try {
        key = resource.keyOf(item);
        page.keys.push(key);
      } catch {
        page.keyless++;
      }
      log.warn({ err: (error as Error).message, key }, 'Shopify record skipped: it could not be mapped');
    }
  }
  return page;
}

/**
 * Locks the integration row (shared) and fails unless it is still connected and still `installation`
 * (absent: any): a disconnect, purge or another installation (another shop, a reconnect after a
 * disconnect) then never races a write of the run, and a run of an earlier installation writes nothing.
 * A transaction that goes on to update the integration row locks it for update at once (`mode`): two
 * runs upgrading their shared locks would deadlock.
 */
export async function assertCurrentInstallation(trx: Transaction<Database>, integrationId: number, installation?: number, mode: 'share' | 'update' = 'share'): Promise<void> {
  const state = await lockInstallation(trx, integrationId, mode);
  if (!isCurrentInstallation(state, installation ?? state?.installation ?? 0)) {
    throw new IntegrationDisconnectedError(
      state && installation !== undefined && state.installation !== installation ? 'The store was connected again (another installation) during the sync; this run stopped without writing' : undefined,
    );
  }
}

/** Where the walk continues after this page, saved with it (absent when the page ended the walk). */
export type WalkStep = Omit<SyncWalk, 'maxUpdatedAt' | 'keyless'>;

/**
 * One page in one transaction: order-free upsert (a stored newer version wins), in a full sync the
 * "seen" mark, the run's progress and where the walk continues; nothing when the run's installation is
 * not the current one any more. A deadlock with a concurrent webhook batch is retried (`pageWrite`).
 */
export async function writePage(
  db: Db,
  resource: ResourceDefinition,
  owner: Owner,
  page: MappedPage,
  progress: {
    logId: number;
    counts: SyncCounts;
    markSeen: boolean;
    walk?: WalkStep;
    installation?: number;
    /** The `updated_at` cursor may move here with this page (sources listing in `updated_at` order). */
    advanceCursorTo?: Date;
  },
  /** When the page's request started: its records' secondary version (a sync read wins over what was observed before it). */
  observedAt: Date,
): Promise<number> {
  for (let retry = 0; ; retry++) {
    try {
      return await db.transaction().execute(async (trx) => {
        await assertCurrentInstallation(trx, owner.integrationId, progress.installation);
        const separate = page.separateChildren !== undefined;
        const { written } = await upsertRecords(
          trx,
          resource,
          owner,
          page.records.map((r) => ({ ...r, observedAt })),
          { children: separate ? 'separate' : 'replace' },
        );
        const childrenWritten = separate ? await writeChildrenOfVersion(trx, resource, owner, page.separateChildren ?? [], observedAt) : 0;
        // A written row got a fresh `synced_at` already; only a page with unchanged (skipped) rows needs the mark.
        if (progress.markSeen && written < page.keys.length) await touchRecords(trx, resource, owner, page.keys);
        const counts = { ...progress.counts, records_written: progress.counts.records_written + written + childrenWritten };
        await updateSyncLogProgress(trx, progress.logId, counts);
        if (progress.walk) {
          await saveWalkProgress(trx, owner.integrationId, resource.name, { ...progress.walk, pageMaxUpdatedAt: page.maxUpdatedAt, pageKeyless: page.keyless });
        }
        if (progress.advanceCursorTo) await advanceSyncCursor(trx, owner.integrationId, resource.name, progress.advanceCursorTo);
        return written + childrenWritten;
      });
    } catch (error) {
      if (!isConflict(error) || retry >= pageWrite.maxRetries) throw error;
      await sleep(pageWrite.delayMs(retry));
    }
  }
}
