import { Hono } from 'hono';
import type { AppEnv } from '../context.ts';
import { ApiError } from '../errors.ts';
import { validate } from '../validation.ts';
import { pageQuery, pageOf } from '../pagination.ts';
import { pgPullRequestStore } from '../../sync/postgres/pull-request-store.ts';
import { requireScope } from '../middleware/require-scope.ts';
import { allowedConnections, mayTouch } from '../connection-access.ts';
import type { Sql } from '../../db/client.ts';

/**
 * A connection-limited token sees an item only when one of its connections carries it, and of its
 * trail only the item's own rows and those of its connections (`i` is the items row).
 */
function visibleTo(sql: Sql, allowed: string[] | null) {
  return allowed ? sql`and exists (select 1 from mappings m where m.item_key = i.key and m.connection_id in ${sql(allowed)})` : sql``;
}

/**
 * GET /v1/items/{key} and GET /v1/items/{key}/activity. Keys arrive URL-encoded ("user-auth%2FWP02"),
 * so one path segment; `:key` takes the decoded value.
 */
export const itemsRoutes = new Hono<AppEnv>()
  .get('/:key/activity', requireScope('items:read'), async (c) => {
    const { sql } = c.get('services');
    const key = c.req.param('key');
    const { limit, after } = validate(pageQuery, c.req.query());
    const allowed = allowedConnections(c);
    const [item] = await sql`select 1 from items i where key = ${key} and version > 0 ${visibleTo(sql, allowed)}`;
    if (!item) throw new ApiError('not_found', `no item "${key}"`);
    const rows = await sql<
      {
        id: string;
        actor: string;
        action: string;
        connection_id: string | null;
        field: string | null;
        from_value: unknown;
        to_value: unknown;
        detail: unknown;
        at: Date;
      }[]
    >`
      select id, actor, action, connection_id, field, from_value, to_value, detail, at from activity
      where item_key = ${key} and id > ${after ?? 0}
        ${allowed ? sql`and (connection_id is null or connection_id in ${sql(allowed)})` : sql``}
      order by id limit ${limit + 1}`;
    return c.json(
      pageOf('activity', rows, limit, (r) => ({
        id: Number(r.id),
        at: r.at.toISOString(),
        actor: r.actor,
        action: r.action,
        connection: r.connection_id,
        field: r.field,
        from: r.from_value,
        to: r.to_value,
        detail: r.detail,
      })),
    );
  })
  .get('/:key', requireScope('items:read'), async (c) => {
    const { sql } = c.get('services');
    const key = c.req.param('key');
    const allowed = allowedConnections(c);
    const [item] = await sql<
      {
        key: string;
        kind: string | null;
        desired: Record<string, unknown>;
        custom: Record<string, unknown>;
        version: string;
        deleted_at: Date | null;
        created_at: Date;
        updated_at: Date;
        branch: string | null;
      }[]
    >`
      select key, kind, desired, custom, version, deleted_at, created_at, updated_at, branch from items i where key = ${key} and version > 0 ${visibleTo(sql, allowed)}`;
    if (!item) throw new ApiError('not_found', `no item "${key}"`);
    const mappings = await sql<
      {
        connection_id: string;
        remote_id: string | null;
        remote_key: string | null;
        remote_url: string | null;
        status: string;
        synced_version: string;
        last_synced_at: Date | null;
        last_error: string | null;
      }[]
    >`
      select connection_id, remote_id, remote_key, remote_url, status, synced_version, last_synced_at, last_error
      from mappings where item_key = ${key} ${allowed ? sql`and connection_id in ${sql(allowed)}` : sql``} order by connection_id`;
    const version = Number(item.version);
    const pullRequests = (await pgPullRequestStore(sql).itemView(key)).filter((pr) => mayTouch(c, pr.connection));
    return c.json({
      key: item.key,
      kind: item.kind,
      version,
      deleted: item.deleted_at !== null,
      fields: { ...item.desired, ...(Object.keys(item.custom).length ? { fields: item.custom } : {}) },
      createdAt: item.created_at.toISOString(),
      updatedAt: item.updated_at.toISOString(),
      connections: mappings.map((m) => ({
        connection: m.connection_id,
        remoteId: m.remote_id,
        remoteKey: m.remote_key,
        url: m.remote_url,
        status: m.status === 'synced' && Number(m.synced_version) < version ? 'pending' : m.status,
        syncedVersion: Number(m.synced_version),
        lastSyncedAt: m.last_synced_at?.toISOString() ?? null,
        lastError: m.last_error,
      })),
      branch: item.branch,
      pullRequests,
    });
  });
