import type { PendingQuery, Row } from 'postgres';
import type { Sql } from '../../db/client.ts';
import { itemFieldValues, type FieldName, type FieldValues } from '../fields.ts';
import type { SyncBase } from '../base.ts';
import type { LoadedPair, MappingState, PendingPush, PushedResult } from '../port/store.ts';
import { StatementBatch, batchPerHandle } from '../../support/statement-batch.ts';

/**
 * The statements every reconcile pass runs, each shared by the passes that reach it in the same
 * event loop turn (StatementBatch): a worker running 32 reconciles sends one load for all of
 * them instead of 32. The answers are the same as one statement per pass would give: each pass
 * reads and writes only its own pair's rows, and the worker never runs two passes of one pair at
 * once (BullMQ's per-pair deduplication).
 */

export interface MappingRow {
  id: string;
  remote_id: string | null;
  remote_key: string | null;
  link_to: string | null;
  base: SyncBase | null;
  status: string;
  synced_version: string;
  comment_cursor: string;
  create_intent_at: Date | null;
  remote_changed_at: Date | null;
  pending_push: PendingPush | null;
}

export function toMappingState(row: MappingRow): MappingState {
  return {
    id: Number(row.id),
    remoteId: row.remote_id,
    remoteKey: row.remote_key,
    linkTo: row.link_to,
    base: row.base,
    status: row.status,
    syncedVersion: Number(row.synced_version),
    commentCursor: Number(row.comment_cursor),
    createIntentAt: row.create_intent_at,
    remoteChangedAt: row.remote_changed_at,
    pendingPush: row.pending_push,
  };
}

export type PairRow = {
  ord: string;
  key: string;
  kind: string | null;
  desired: FieldValues;
  custom: Record<string, unknown> | null;
  version: string;
  deleted_at: Date | null;
} & Partial<MappingRow> & {
    held_fields: FieldName[];
    resolutions: { id: number; field: string; resolution: 'local' | 'remote'; remote_value: unknown }[];
    new_comments: boolean;
    branch: string | null;
    pull_request_link: string | null;
    has_pull_requests: boolean;
  };

const NOT_FOUND: LoadedPair = { item: null, mapping: null, heldFields: new Set(), resolutions: [], newComments: false };

/** One pair to read: an item and the connection it syncs with. */
export interface PairKey {
  itemKey: string;
  connectionId: string;
}

/**
 * Everything a pass reads before deciding, for many pairs in ONE query: each pair's item, its
 * mapping for the connection, the fields held by open conflicts, the operators' resolutions still
 * to carry out, whether comments wait to be delivered, and whether the item has anything to do
 * with pull requests (so the reconcile job's pull request step costs no query of its own when not).
 * One row per pair, in `p.ord` order (1-based), also for a missing item (its columns null).
 * `extra` adds columns computed from `p` (the reconcile job's delivery row: jobs/deliveries.ts).
 */
export function selectPairs(sql: Sql, pairs: PairKey[], extra: PendingQuery<Row[]> = sql``): PendingQuery<PairRow[]> {
  return sql<PairRow[]>`
    select p.ord, i.key, i.kind, i.desired, i.custom, i.version, i.deleted_at,
      m.id, m.remote_id, m.remote_key, m.link_to, m.base, m.status, m.synced_version, m.comment_cursor, m.create_intent_at, m.remote_changed_at, m.pending_push,
      array(select distinct c.field from conflicts c where c.item_key = i.key and c.connection_id = p.connection_id and c.status = 'open') as held_fields,
      (select coalesce(jsonb_agg(jsonb_build_object('id', c.id, 'field', c.field, 'resolution', c.resolution, 'remote_value', c.remote_value) order by c.id), '[]'::jsonb)
        from conflicts c where c.item_key = i.key and c.connection_id = p.connection_id and c.status = 'resolved' and c.applied_at is null
          and c.resolution in ('local', 'remote')) as resolutions,
      exists(select 1 from comments cm where cm.item_key = i.key and cm.id > m.comment_cursor) as new_comments,
      i.branch, i.pull_request_link, exists(select 1 from pull_requests pr where pr.item_key = i.key) as has_pull_requests${extra}
    from (select * from unnest(${pairs.map((p) => p.itemKey)}::text[], ${pairs.map((p) => p.connectionId)}::text[]) with ordinality as p(item_key, connection_id, ord)
      limit ${pairs.length}) p
    left join items i on i.key = p.item_key
    left join mappings m on m.item_key = i.key and m.connection_id = p.connection_id`;
}

/** The rows of `selectPairs` as each pair's LoadedPair, in the pairs' order. */
export function toLoadedPairs(count: number, rows: readonly { ord: string }[]): LoadedPair[] {
  const byOrd = new Map(rows.map((row) => [Number(row.ord), row as PairRow]));
  return Array.from({ length: count }, (_, i) => {
    const row = byOrd.get(i + 1);
    if (!row || row.key == null) return NOT_FOUND;
    return {
      item: {
        key: row.key,
        kind: row.kind,
        desired: itemFieldValues(row.desired ?? {}, row.custom),
        version: Number(row.version),
        deleted: row.deleted_at !== null,
        pullRequests: { branch: row.branch, link: row.pull_request_link, known: row.has_pull_requests },
      },
      mapping: row.id == null ? null : toMappingState(row as MappingRow),
      heldFields: new Set(row.held_fields),
      resolutions: row.resolutions.map((r) => ({ id: Number(r.id), field: r.field, use: r.resolution, remoteValue: r.remote_value })),
      newComments: row.new_comments,
    };
  });
}

const loadBatch = batchPerHandle(
  (sql: Sql) =>
    new StatementBatch<PairKey, LoadedPair>(async (pairs) => {
      return toLoadedPairs(pairs.length, await selectPairs(sql, pairs));
    }),
);

export function loadPair(sql: Sql, itemKey: string, connectionId: string): Promise<LoadedPair> {
  return loadBatch(sql).run({ itemKey, connectionId });
}

/** What a pass is about to push, committed before the tracker call (see reconcile.ts). */
const pendingPushBatch = batchPerHandle(
  (sql: Sql) =>
    new StatementBatch<{ id: number; intent: PendingPush }, void>(async (intents) => {
      await sql`update mappings m set pending_push = v.intent
        from (select * from jsonb_to_recordset(${sql.json(intents as never)}) as v(id bigint, intent jsonb) limit ${intents.length}) v where m.id = v.id`;
      return intents.map(() => undefined);
    }),
);

export function recordPendingPush(sql: Sql, mappingId: number, intent: PendingPush): Promise<void> {
  return pendingPushBatch(sql).run({ id: mappingId, intent });
}

/**
 * The common end of a pass, only pushes to record: the audit rows and the new base, for many pairs
 * in ONE statement (atomic, like a transaction of its own). It also reads each item's version as
 * of now, so the pass knows whether the item changed while it ran without another query.
 */
const pushedBatch = batchPerHandle(
  (sql: Sql) =>
    new StatementBatch<PushedResult, number | undefined>(async (results) => {
      const values = results.map((r, ord) => ({
        ord,
        mapping_id: r.mappingId,
        item_key: r.itemKey,
        connection_id: r.connectionId,
        actor: r.actor,
        pushed: r.pushed,
        base: r.nextBase,
        version: r.version,
        remote_key: r.remote.key,
        remote_url: r.remote.url,
        remote_updated_at: r.remote.updatedAt,
      }));
      const rows = await sql<{ ord: number; latest: string | null }[]>`
        with v as materialized (
          select * from jsonb_to_recordset(${sql.json(values as never)}) as v(ord int, mapping_id bigint, item_key text, connection_id text, actor text,
            pushed jsonb, base jsonb, version bigint, remote_key text, remote_url text, remote_updated_at text)
          limit ${values.length}
        ), pushed as (
          insert into activity (item_key, actor, action, connection_id, field, from_value, to_value)
          select v.item_key, v.actor, 'field.pushed', v.connection_id, p.field, coalesce(p.from_value, 'null'::jsonb), coalesce(p.to_value, 'null'::jsonb)
          from v cross join lateral jsonb_to_recordset(v.pushed) as p(field text, from_value jsonb, to_value jsonb)
          order by v.ord
        ), updated as (
          update mappings m set base = v.base, synced_version = greatest(m.synced_version, v.version),
            status = 'synced', last_synced_at = now(), last_error = null, pending_push = null,
            remote_key = coalesce(v.remote_key, m.remote_key), remote_url = coalesce(v.remote_url, m.remote_url),
            remote_updated_at = coalesce(v.remote_updated_at, m.remote_updated_at), updated_at = now()
          from v where m.id = v.mapping_id
          returning m.id
        )
        select v.ord, (select version from items where key = v.item_key) as latest
        from v where v.mapping_id in (select id from updated)`;
      const latest = new Map(rows.map((r) => [Number(r.ord), r.latest == null ? undefined : Number(r.latest)]));
      return results.map((_, ord) => latest.get(ord));
    }),
);

/** Records a pass that only pushed; answers the item's version as of the write (undefined: mapping gone). */
export function recordPushed(sql: Sql, result: PushedResult): Promise<number | undefined> {
  return pushedBatch(sql).run(result);
}
