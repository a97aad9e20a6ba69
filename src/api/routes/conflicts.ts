import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { validate } from '../validation.ts';
import { pageQuery, pageOf } from '../pagination.ts';
import { requireScope } from '../middleware/require-scope.ts';
import { allowedConnections, mayTouch } from '../connection-access.ts';
import { parseJson, readRawBody } from '../middleware/raw-body.ts';
import { ConflictClosedError, ConflictNotFoundError } from '../../sync/port/store.ts';
import { pgSyncStore } from '../../sync/postgres/store.ts';

const ListQuery = pageQuery.extend({
  status: z.enum(['open', 'resolved']).optional(),
  connection: z.string().optional(),
  key: z.string().optional(),
});

export const ResolveBody = z.object({
  use: z.enum(['local', 'remote']),
  /** Who decides: "orchestrator" or "operator:<name>"; defaults to the calling token's operator id. */
  actor: z
    .string()
    .regex(/^(orchestrator|operator:[^\s]{1,100})$/, 'expected "orchestrator" or "operator:<name>"')
    .optional(),
});

interface ConflictRow {
  id: string;
  item_key: string;
  connection_id: string;
  field: string;
  base_value: unknown;
  local_value: unknown;
  remote_value: unknown;
  status: string;
  resolution: string | null;
  resolved_by: string | null;
  reason: string | null;
  created_at: Date;
  resolved_at: Date | null;
}

const toJson = (r: ConflictRow) => ({
  id: Number(r.id),
  key: r.item_key,
  connection: r.connection_id,
  field: r.field,
  base: r.base_value,
  local: r.local_value,
  remote: r.remote_value,
  status: r.status,
  resolution: r.resolution,
  resolvedBy: r.resolved_by,
  reason: r.reason,
  createdAt: r.created_at.toISOString(),
  resolvedAt: r.resolved_at?.toISOString() ?? null,
});

/** GET /v1/conflicts and POST /v1/conflicts/{id}/resolve. */
export const conflictsRoutes = new Hono<AppEnv>()
  .get('/', requireScope('changes:read'), async (c) => {
    const { sql } = c.get('services');
    const q = validate(ListQuery, c.req.query());
    const allowed = allowedConnections(c);
    const rows = await sql<ConflictRow[]>`select * from conflicts where id > ${q.after ?? 0}
      ${allowed ? sql`and connection_id in ${sql(allowed)}` : sql``}
      ${q.status ? sql`and status = ${q.status}` : sql``}
      ${q.connection ? sql`and connection_id = ${q.connection}` : sql``}
      ${q.key ? sql`and item_key = ${q.key}` : sql``}
      order by id limit ${q.limit + 1}`;
    return c.json(pageOf('conflicts', rows, q.limit, toJson));
  })
  // A decision on the item's value, the orchestrator's as much as an operator's: events:write.
  .post('/:id/resolve', requireScope('events:write'), async (c) => {
    const { sql, queues, log } = c.get('services');
    const id = Number(c.req.param('id'));
    if (!Number.isInteger(id) || id <= 0) throw new ApiError('invalid_request', 'conflict id: expected a positive whole number');
    const body = validate(ResolveBody, parseJson(await readRawBody(c.req.raw)));
    if (allowedConnections(c)) {
      const [owner] = await sql<{ connection_id: string }[]>`select connection_id from conflicts where id = ${id}`;
      if (!owner || !mayTouch(c, owner.connection_id)) throw new ApiError('not_found', `no conflict ${id}`);
    }
    const actor = body.actor ?? `operator:token-${c.get('principal')}`;
    let resolved;
    try {
      resolved = await pgSyncStore(sql).resolveConflict(id, body.use, actor);
    } catch (error) {
      if (error instanceof ConflictNotFoundError) throw new ApiError('not_found', error.message);
      if (error instanceof ConflictClosedError) throw new ApiError('conflict', error.message);
      throw error;
    }
    try {
      await queues.enqueueReconcile([
        {
          connectionId: resolved.connectionId,
          itemKey: resolved.itemKey,
          reason: 'operator',
          readRemote: true,
          requestId: c.get('requestId'),
        },
      ]);
    } catch (error) {
      log.warn({ err: (error as Error).message }, 'enqueue after resolve failed; the outbox sweep will pick it up');
    }
    const [row] = await sql<ConflictRow[]>`select * from conflicts where id = ${id}`;
    return c.json(toJson(row));
  });
