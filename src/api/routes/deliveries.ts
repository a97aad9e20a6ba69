import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { validate } from '../validation.ts';
import { requireScope } from '../middleware/require-scope.ts';
import { allowedConnections, mayTouch } from '../connection-access.ts';
import { parseJson, readRawBody } from '../middleware/raw-body.ts';
import { DeliveryNotFoundError, DeliveryNotRetryableError, retryDelivery } from '../../operator/retry-delivery.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const DeliveriesQuery = z.object({
  direction: z.enum(['in', 'out']).optional(),
  status: z
    .string()
    .regex(/^[a-z_]+$/)
    .optional(),
  connection: z.string().optional(),
  key: z.string().optional(),
  kind: z.enum(['event', 'webhook', 'reconcile', 'callback', 'poll']).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  /** Opaque cursor from a previous page's `next`. */
  after: z.string().max(200).optional(),
});

export const RetryBody = z.object({
  actor: z
    .string()
    .regex(/^operator:[^\s]{1,100}$/, 'expected "operator:<name>"')
    .optional(),
});

interface DeliveryRow {
  id: string;
  /** created_at as Postgres prints it: microseconds kept, so a cursor never repeats a row. */
  created_key: string;
  direction: string;
  kind: string;
  connection_id: string | null;
  item_key: string | null;
  status: string;
  attempts: number;
  last_error: string | null;
  created_at: Date;
  updated_at: Date;
  request_id: string | null;
}

const summary = (r: DeliveryRow) => ({
  id: r.id,
  direction: r.direction,
  kind: r.kind,
  connection: r.connection_id,
  key: r.item_key,
  status: r.status,
  attempts: r.attempts,
  lastError: r.last_error,
  requestId: r.request_id,
  createdAt: r.created_at.toISOString(),
  updatedAt: r.updated_at.toISOString(),
});

/** Newest first; the cursor is the (created_at, id) of the last row, so pages never overlap. */
function encodeCursor(r: DeliveryRow): string {
  return Buffer.from(`${r.created_key}|${r.id}`).toString('base64url');
}
function decodeCursor(cursor: string): { at: string; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const timestamp = /^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:?\d{2})?|Z)?$/;
  if (!at || !id || !timestamp.test(at) || !UUID.test(id)) throw new ApiError('invalid_request', 'after: not a cursor from this API');
  return { at, id };
}

export const deliveriesRoutes = new Hono<AppEnv>()
  .get('/', requireScope('items:read'), async (c) => {
    const { sql } = c.get('services');
    const q = validate(DeliveriesQuery, c.req.query());
    const allowed = allowedConnections(c);
    const cursor = q.after ? decodeCursor(q.after) : null;
    const rows = await sql<DeliveryRow[]>`
      select id, direction, kind, connection_id, item_key, status, attempts, last_error, created_at, created_at::text as created_key, updated_at, request_id from deliveries
      where true
        ${allowed ? sql`and connection_id in ${sql(allowed)}` : sql``}
        ${q.direction ? sql`and direction = ${q.direction}` : sql``}
        ${q.status ? sql`and status = ${q.status}` : sql``}
        ${q.connection ? sql`and connection_id = ${q.connection}` : sql``}
        ${q.key ? sql`and item_key = ${q.key}` : sql``}
        ${q.kind ? sql`and kind = ${q.kind}` : sql``}
        ${q.since ? sql`and created_at >= ${q.since}` : sql``}
        ${q.until ? sql`and created_at < ${q.until}` : sql``}
        ${cursor ? sql`and (created_at, id) < (${cursor.at}::timestamptz, ${cursor.id}::uuid)` : sql``}
      order by created_at desc, id desc limit ${q.limit + 1}`;
    const page = rows.slice(0, q.limit);
    return c.json({ deliveries: page.map(summary), next: rows.length > q.limit ? encodeCursor(page[page.length - 1]) : null });
  })
  .get('/:id', requireScope('items:read'), async (c) => {
    const { sql } = c.get('services');
    const id = c.req.param('id');
    if (!UUID.test(id)) throw new ApiError('not_found', `no delivery "${id}"`);
    const [row] = await sql<
      (DeliveryRow & {
        request: unknown;
        result: unknown;
        attempt_log: Array<{ attempt: number; startedAt: string; endedAt?: string; status?: string; error?: string }>;
        job_id: string | null;
        dedup_key: string | null;
      })[]
    >`
      select * from deliveries where id = ${id}`;
    if (!row || !mayTouch(c, row.connection_id)) throw new ApiError('not_found', `no delivery "${id}"`);
    const calls = await sql<
      { method: string; path: string; status: number | null; duration_ms: number; rate_limit: unknown; error: string | null; at: Date }[]
    >`
      select method, path, status, duration_ms, rate_limit, error, at from tracker_calls where delivery_id = ${id} order by at, id`;
    const toCall = (k: (typeof calls)[number]) => ({
      at: k.at.toISOString(),
      method: k.method,
      path: k.path,
      status: k.status,
      durationMs: k.duration_ms,
      rateLimit: k.rate_limit,
      error: k.error,
    });
    // Each attempt with the tracker calls made while it ran.
    const log = row.attempt_log ?? [];
    const attempts = log.map((a, i) => {
      const start = Date.parse(a.startedAt);
      const end = a.endedAt ? Date.parse(a.endedAt) : i + 1 < log.length ? Date.parse(log[i + 1].startedAt) : Number.POSITIVE_INFINITY;
      return { ...a, calls: calls.filter((k) => k.at.getTime() >= start - 5 && k.at.getTime() <= end + 5).map(toCall) };
    });
    return c.json({
      ...summary(row),
      jobId: row.job_id,
      dedupKey: row.dedup_key,
      request: row.request,
      result: row.result,
      attempts: attempts.length ? attempts : undefined,
      calls: calls.map(toCall),
    });
  })
  .post('/:id/retry', requireScope('deliveries:write'), async (c) => {
    const { sql, queues } = c.get('services');
    const id = c.req.param('id');
    if (!UUID.test(id)) throw new ApiError('not_found', `no delivery "${id}"`);
    const raw = await readRawBody(c.req.raw);
    const body = raw.length ? validate(RetryBody, parseJson(raw)) : {};
    if (allowedConnections(c)) {
      const [owner] = await sql<{ connection_id: string | null }[]>`select connection_id from deliveries where id = ${id}`;
      if (!owner || !mayTouch(c, owner.connection_id)) throw new ApiError('not_found', `no delivery "${id}"`);
    }
    const actor = body.actor ?? `operator:token-${c.get('principal')}`;
    try {
      const retried = await retryDelivery(sql, queues, id, actor);
      return c.json({ ...retried, by: actor }, 202);
    } catch (error) {
      if (error instanceof DeliveryNotFoundError) throw new ApiError('not_found', error.message);
      if (error instanceof DeliveryNotRetryableError) throw new ApiError('conflict', error.message);
      throw error;
    }
  });
