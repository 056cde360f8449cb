import { Router, type Request } from 'express';
import type { ServiceContext } from '../../context.js';
import { NotFoundError } from '../../errors.js';
import type { components } from '../../generated/api.js';
import { findIntegrationByTenant } from '../../store/integrations.js';
import type { SyncLog } from '../../store/schema.js';
import { findTenantSyncLog, listSyncLogs } from '../../store/sync-logs.js';
import { enqueueSyncs, integrationSyncJobId } from '../../sync/enqueue.js';
import { tenantOf } from '../auth.js';
import { decodeCursor, encodeCursor, invalidCursor } from '../cursor.js';

type Schemas = components['schemas'];

/** The validated `SyncRequest` body (optional) as enqueue options. */
export function syncRequestOf(req: Request): { resources?: Schemas['ResourceName'][]; mode: Schemas['SyncMode'] } {
  const body = (req.body ?? {}) as Schemas['SyncRequest'];
  return { ...(body.resources ? { resources: body.resources } : {}), mode: body.mode ?? 'incremental' };
}

/**
 * A run's job id as tenants see it. Runs logged before job ids became opaque carry the sequential
 * integration id (`sync:<id>:<resource>`): they are shown with today's opaque id of the same job.
 */
function publicJobId(ctx: Pick<ServiceContext, 'config'>, row: SyncLog): string | null {
  if (row.job_id === `sync:${row.integration_id}:${row.resource}`) return integrationSyncJobId(ctx, Number(row.integration_id), row.resource as Schemas['ResourceName']);
  return row.job_id;
}

export function syncLogToApi(ctx: Pick<ServiceContext, 'config'>, row: SyncLog): Schemas['SyncLog'] {
  return {
    id: row.id,
    resource: row.resource as Schemas['ResourceName'],
    trigger: row.trigger as Schemas['SyncTrigger'],
    mode: row.mode as Schemas['SyncMode'],
    status: row.status as Schemas['SyncStatus'],
    job_id: publicJobId(ctx, row),
    started_at: row.started_at.toISOString(),
    finished_at: row.finished_at ? row.finished_at.toISOString() : null,
    duration_ms: row.finished_at && row.status !== 'queued' ? row.finished_at.getTime() - row.started_at.getTime() : null,
    pages: row.pages,
    records_fetched: row.records_fetched,
    records_written: row.records_written,
    records_deleted: row.records_deleted,
    page_cap_reached: row.page_cap_reached === 1,
    resumes_from: row.resumes_from,
    bulk_operation:
      row.bulk_operation_id === null || row.bulk_status === null
        ? null
        : {
            id: row.bulk_operation_id,
            status: row.bulk_status as NonNullable<Schemas['SyncLog']['bulk_operation']>['status'],
            object_count: row.bulk_object_count === null ? null : Number(row.bulk_object_count),
            bytes_downloaded: row.bytes_downloaded === null ? null : Number(row.bytes_downloaded),
          },
    error: row.error,
  };
}

function beforeIdOf(cursor: unknown): number | undefined {
  if (typeof cursor !== 'string') return undefined;
  const [id] = decodeCursor(cursor, 1);
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    throw invalidCursor();
  }
  return id;
}

/** `POST /api/shopify/sync/` (queue syncs of the tenant's store) and its runs: `GET /api/shopify/sync-logs/` and `/{id}/`. */
export function syncRoutes(ctx: ServiceContext): Router {
  const router = Router();

  router.post('/api/shopify/sync/', async (req, res) => {
    const integration = await findIntegrationByTenant(ctx.db, tenantOf(req));
    if (!integration) throw new NotFoundError('No Shopify store is connected for this tenant');
    const accepted = await enqueueSyncs(ctx, integration, { ...syncRequestOf(req), trigger: 'manual' });
    res
      .status(202)
      .location(accepted.links.sync_logs)
      .json(accepted satisfies Schemas['SyncAccepted']);
  });

  router.get('/api/shopify/sync-logs/', async (req, res) => {
    const beforeId = beforeIdOf(req.query.cursor);
    const page = await listSyncLogs(ctx.db, tenantOf(req), {
      limit: Number(req.query.limit ?? 50),
      ...(beforeId !== undefined ? { beforeId } : {}),
      ...(typeof req.query.resource === 'string' ? { resource: req.query.resource } : {}),
      ...(typeof req.query.status === 'string' ? { status: req.query.status } : {}),
      ...(req.query.run_id !== undefined ? { ids: [req.query.run_id].flat().map(Number) } : {}),
    });
    const body: Schemas['SyncLogList'] = {
      data: page.rows.map((row) => syncLogToApi(ctx, row)),
      next_cursor: page.next === null ? null : encodeCursor([page.next]),
    };
    res.json(body);
  });

  router.get('/api/shopify/sync-logs/:id/', async (req, res) => {
    const id = Number(req.params.id);
    const row = await findTenantSyncLog(ctx.db, tenantOf(req), id);
    if (!row) throw new NotFoundError(`Sync run ${id} not found`);
    res.json(syncLogToApi(ctx, row) satisfies Schemas['SyncLog']);
  });

  return router;
}
