import type { Sql } from '../../db/client.ts';
import type { SyncBase } from '../base.ts';
import { keepConcurrentChanges } from '../concurrent-pull.ts';
import { itemFieldValues, splitItemValues, type FieldName, type FieldValues } from '../fields.ts';
import {
  ConflictClosedError,
  ConflictNotFoundError,
  type AuditBy,
  type ImportedItem,
  type LoadedPair,
  type MappingRef,
  type PendingComment,
  type PendingPush,
  type PushedResult,
  type ReconciledResult,
  type Resolution,
  type SyncStore,
} from '../port/store.ts';
import type { RemoteIssue } from '../port/tracker.ts';
import { loadPair, recordPendingPush, recordPushed } from './pair-statements.ts';

/**
 * The engine's storage on Postgres (the product's). Each method is one statement or one
 * transaction; "now" is Postgres' clock. The statements every pass runs are batched across
 * concurrent passes (pair-statements.ts).
 */
export class PostgresSyncStore implements SyncStore {
  constructor(private readonly sql: Sql) {}

  loadPair(itemKey: string, connectionId: string): Promise<LoadedPair> {
    return loadPair(this.sql, itemKey, connectionId);
  }

  async itemVersion(itemKey: string): Promise<number | null> {
    const [row] = await this.sql<{ version: string }[]>`select version from items where key = ${itemKey}`;
    return row ? Number(row.version) : null;
  }

  async stopPair(mappingId: number, version: number, by: AuditBy, detail: Record<string, unknown>): Promise<void> {
    const sql = this.sql;
    // With its audit row, in one statement: whoever sees the pair stopped finds why in its trail.
    await sql`
      with stopped as (${this.auditRow(by.itemKey, by.actor, 'sync.stopped', by.connectionId, detail)})
      update mappings set status = 'deleted', synced_version = ${version}, updated_at = now() where id = ${mappingId}`;
  }

  async markSynced(mappingId: number, version: number): Promise<void> {
    await this.sql`update mappings set synced_version = ${version} where id = ${mappingId}`;
  }

  async markUnmapped(mappingId: number, version: number): Promise<void> {
    await this.sql`update mappings set status = 'unmapped', synced_version = ${version}, updated_at = now() where id = ${mappingId}`;
  }

  async remoteHolder(mappingId: number, remoteId: string): Promise<string | null> {
    const [holder] = await this.sql<{ item_key: string }[]>`
      select item_key from mappings where connection_id = (select connection_id from mappings where id = ${mappingId})
        and remote_id = ${remoteId} and id <> ${mappingId}`;
    return holder?.item_key ?? null;
  }

  async recordLinked(mappingId: number, remote: RemoteIssue, base: SyncBase, by: AuditBy): Promise<void> {
    const sql = this.sql;
    // With its audit row, in one statement (see recordCreated).
    await sql`
      with linked as (${this.auditRow(by.itemKey, by.actor, 'remote.linked', by.connectionId, { remote: remote.key, url: remote.url })})
      update mappings set remote_id = ${remote.id}, remote_key = ${remote.key}, remote_url = ${remote.url}, base = ${sql.json(base as never)},
        status = 'synced', remote_updated_at = ${remote.updatedAt ?? null}, updated_at = now() where id = ${mappingId}`;
  }

  async recordCreateIntent(mappingId: number): Promise<void> {
    await this.sql`update mappings set create_intent_at = now(), status = 'creating', updated_at = now() where id = ${mappingId}`;
  }

  async clearCreateIntent(mappingId: number): Promise<void> {
    await this.sql`update mappings set create_intent_at = null, status = 'pending', updated_at = now()
      where id = ${mappingId} and status = 'creating' and remote_id is null`;
  }

  async recordCreated(
    mappingId: number,
    remote: RemoteIssue,
    base: SyncBase,
    version: number,
    held: string | null,
    by: AuditBy,
  ): Promise<void> {
    const sql = this.sql;
    // The mapping and its audit row in one statement: whoever sees the pair synced also finds
    // "remote.created" in its trail (two statements let a reader in between).
    await sql`
      with created as (${this.auditRow(by.itemKey, by.actor, 'remote.created', by.connectionId, { remote: remote.key, url: remote.url, fields: remote.fields })})
      update mappings set remote_id = ${remote.id}, remote_key = ${remote.key}, remote_url = ${remote.url},
        base = ${sql.json(base as never)}, status = ${held ? 'conflict' : 'synced'}, synced_version = ${version}, last_synced_at = now(),
        last_error = ${held}, remote_updated_at = ${remote.updatedAt ?? null}, updated_at = now()
      where id = ${mappingId}`;
  }

  async openConflict(by: AuditBy, field: FieldName, local: unknown, remote: unknown, reason: string): Promise<void> {
    const sql = this.sql;
    await sql`insert into conflicts (item_key, connection_id, field, local_value, remote_value, status, reason)
      values (${by.itemKey}, ${by.connectionId}, ${field}, ${sql.json((local ?? null) as never)}, ${sql.json((remote ?? null) as never)}, 'open', ${reason})`;
  }

  async audit(itemKey: string, actor: string, action: string, connectionId: string | null, detail: Record<string, unknown>): Promise<void> {
    await this.sql`${this.auditRow(itemKey, actor, action, connectionId, detail)}`;
  }

  recordPendingPush(mappingId: number, intent: PendingPush): Promise<void> {
    return recordPendingPush(this.sql, mappingId, intent);
  }

  recordPushed(result: PushedResult): Promise<number | undefined> {
    return recordPushed(this.sql, result);
  }

  async recordReconciled(r: ReconciledResult): Promise<number | null> {
    let changeId: number | null = null;
    await this.sql.begin(async (tx) => {
      let version = r.version;
      let pulled = r.pulled;
      let nextBase = r.nextBase;
      // Whether an event changed the item after the pass read it: then the pass's pulls must not
      // overwrite what the event changed, and the pair is synced only as far as the pass read.
      let overtaken = false;
      if (r.pulled.length) {
        const [now] = await tx<{ version: string; desired: FieldValues; custom: Record<string, unknown> }[]>`
          select version, desired, custom from items where key = ${r.itemKey} for update`;
        if (Number(now.version) !== r.version) {
          overtaken = true;
          const [m] = await tx<{ base: SyncBase | null }[]>`select base from mappings where id = ${r.mappingId}`;
          ({ pulled, nextBase } = keepConcurrentChanges(r.pulled, r.nextBase, itemFieldValues(now.desired, now.custom), m?.base ?? null));
        }
      }
      if (pulled.length) {
        // The item takes the remote values as a new version, so every other connection carrying it
        // receives the change on its next reconcile (the item is the hub).
        // Custom fields (`fields.risk`) go back to the item's `custom` column under their own name.
        const patch = splitItemValues(Object.fromEntries(pulled.map(([f, c]) => [f, c.to])));
        const [row] = await tx<{ version: string }[]>`
          update items set desired = desired || ${tx.json(patch.desired as never)}, custom = custom || ${tx.json(patch.custom as never)},
            version = version + 1, updated_at = now()
          where key = ${r.itemKey} returning version`;
        version = overtaken ? r.version : Number(row.version);
        for (const [field, change] of pulled) {
          await tx`insert into activity (item_key, actor, action, connection_id, field, from_value, to_value)
            values (${r.itemKey}, ${r.actor}, 'field.pulled', ${r.connectionId}, ${field}, ${tx.json((change.from ?? null) as never)}, ${tx.json((change.to ?? null) as never)})`;
        }
        const [change] = await tx<{ id: string }[]>`insert into changes (item_key, connection_id, fields, actor)
          values (${r.itemKey}, ${r.connectionId}, ${tx.json(Object.fromEntries(pulled) as never)}, ${r.remote.updatedBy ?? r.actor}) returning id`;
        changeId = Number(change.id);
        // Other connections carrying the item must now sync the pulled value.
        await tx`update mappings set updated_at = now() where item_key = ${r.itemKey} and connection_id <> ${r.connectionId}`;
      }
      for (const p of r.pushed) {
        await tx`insert into activity (item_key, actor, action, connection_id, field, from_value, to_value)
          values (${r.itemKey}, ${r.actor}, 'field.pushed', ${r.connectionId}, ${p.field}, ${tx.json((p.from_value ?? null) as never)}, ${tx.json((p.to_value ?? null) as never)})`;
      }
      for (const c of r.conflicts) {
        const open = c.outcome === 'open';
        await tx`insert into conflicts (item_key, connection_id, field, base_value, local_value, remote_value, status, resolution, resolved_by, resolved_at, applied_at, reason)
          values (${r.itemKey}, ${r.connectionId}, ${c.field}, ${tx.json((c.base ?? null) as never)}, ${tx.json((c.local ?? null) as never)}, ${tx.json((c.remote ?? null) as never)},
            ${open ? 'open' : 'resolved'}, ${open ? null : c.outcome}, ${open ? null : `strategy:${c.strategy}`}, ${open ? null : new Date()}, ${open ? null : new Date()},
            ${c.reason})`;
        await tx`insert into activity (item_key, actor, action, connection_id, field, from_value, to_value, detail)
          values (${r.itemKey}, ${open ? r.actor : `strategy:${c.strategy}`}, ${open ? 'conflict.opened' : 'conflict.resolved'}, ${r.connectionId}, ${c.field},
            ${tx.json((c.local ?? null) as never)}, ${tx.json((c.remote ?? null) as never)}, ${tx.json({ base: c.base ?? null, outcome: c.outcome } as never)})`;
      }
      if (r.resolutionIds.length) await tx`update conflicts set applied_at = now() where id in ${tx(r.resolutionIds)}`;
      if (r.fields) {
        await recordFieldsOnly(tx as never, { ...r, nextBase }, r.fields, version);
        return;
      }
      // A pull made a new version that this pass already agrees with: record that version as synced
      // (unless an event overtook the pass: then only the version it read, and the event's stays pending).
      await tx`update mappings set base = ${tx.json(nextBase as never)}, synced_version = greatest(synced_version, ${version}),
        status = ${r.status}, last_synced_at = now(), last_error = ${r.lastError}, pending_push = null,
        remote_key = coalesce(${r.remote.key}, remote_key), remote_url = coalesce(${r.remote.url}, remote_url),
        remote_updated_at = coalesce(${r.remote.updatedAt}, remote_updated_at), updated_at = now()
        where id = ${r.mappingId}`;
    });
    return changeId;
  }

  async flagRemoteChange(mappingId: number): Promise<void> {
    await this
      .sql`update mappings set remote_changed_at = date_trunc('milliseconds', now()), remote_updated_at = null where id = ${mappingId}`;
  }

  async clearRemoteChange(mappingId: number, seenAt: Date): Promise<void> {
    // The flag is stored at millisecond precision so it compares equal to the JS Date read back.
    await this.sql`update mappings set remote_changed_at = null where id = ${mappingId} and remote_changed_at <= ${seenAt}`;
  }

  async pendingComments(itemKey: string, after: number, limit: number): Promise<PendingComment[]> {
    const rows = await this.sql<{ id: string; body: string; actor: string | null }[]>`
      select id, body, actor from comments where item_key = ${itemKey} and id > ${after} order by id limit ${limit}`;
    return rows.map((r) => ({ id: Number(r.id), body: r.body, actor: r.actor }));
  }

  async advanceCommentCursor(itemKey: string, connectionId: string, commentId: number): Promise<void> {
    await this.sql`update mappings set comment_cursor = ${commentId} where item_key = ${itemKey} and connection_id = ${connectionId}`;
  }

  async findMappingByRemote(connectionId: string, remoteId: string): Promise<MappingRef | null> {
    const [row] = await this.sql<
      {
        item_key: string;
        remote_key: string | null;
        status: string;
        remote_updated_at: string | null;
        base: SyncBase | null;
        held: string[];
      }[]
    >`select m.item_key, m.remote_key, m.status, m.remote_updated_at, m.base,
        array(select distinct c.field from conflicts c where c.item_key = m.item_key and c.connection_id = m.connection_id and c.status = 'open') as held
      from mappings m where m.connection_id = ${connectionId} and m.remote_id = ${remoteId}`;
    return row
      ? {
          itemKey: row.item_key,
          remoteKey: row.remote_key,
          status: row.status,
          remoteUpdatedAt: row.remote_updated_at,
          base: row.base,
          heldFields: row.held,
        }
      : null;
  }

  async markRemoteChanged(connectionId: string, itemKey: string): Promise<void> {
    await this
      .sql`update mappings set remote_changed_at = date_trunc('milliseconds', now()), updated_at = now() where connection_id = ${connectionId} and item_key = ${itemKey}`;
  }

  async markRemoteDeleted(connectionId: string, remoteId: string, actor: string | undefined): Promise<number[]> {
    return this.sql.begin(async (tx) => {
      const rows = await tx<{ item_key: string; remote_key: string | null }[]>`
        update mappings set status = 'remote_deleted', updated_at = now()
        where connection_id = ${connectionId} and remote_id = ${remoteId} and status <> 'remote_deleted'
        returning item_key, remote_key`;
      if (rows.length === 0) return [];
      const { item_key: itemKey, remote_key: remoteKey } = rows[0];
      await tx`insert into activity (item_key, actor, action, connection_id, detail)
        values (${itemKey}, ${`sync:${connectionId}`}, 'remote.deleted', ${connectionId}, ${tx.json({ remote: remoteKey, by: actor ?? null } as never)})`;
      const [change] = await tx<{ id: string }[]>`insert into changes (item_key, connection_id, type, actor)
        values (${itemKey}, ${connectionId}, 'item.remote_deleted', ${actor ?? `sync:${connectionId}`}) returning id`;
      return [Number(change.id)];
    }) as Promise<number[]>;
  }

  async recordRemoteComment(connectionId: string, itemKey: string, body: string, actor: string | undefined): Promise<number[]> {
    return this.sql.begin(async (tx) => {
      await tx`insert into activity (item_key, actor, action, connection_id, to_value, detail)
        values (${itemKey}, ${`sync:${connectionId}`}, 'comment.pulled', ${connectionId}, ${tx.json(body as never)}, ${tx.json({ by: actor ?? null } as never)})`;
      const [change] = await tx<{ id: string }[]>`insert into changes (item_key, connection_id, type, comment, actor)
        values (${itemKey}, ${connectionId}, 'item.commented', ${body}, ${actor ?? null}) returning id`;
      return [Number(change.id)];
    }) as Promise<number[]>;
  }

  async importItem(x: ImportedItem): Promise<number | null> {
    return this.sql.begin(async (tx) => {
      const values = splitItemValues(x.local as Record<string, unknown>);
      const inserted =
        await tx`insert into items (key, desired, custom, version) values (${x.itemKey}, ${tx.json(values.desired as never)}, ${tx.json(values.custom as never)}, 1)
        on conflict (key) do nothing returning key`;
      if (inserted.length === 0) return null;
      await tx`insert into mappings (item_key, connection_id, remote_id, remote_key, remote_url, base, status, synced_version, last_synced_at, remote_updated_at)
        values (${x.itemKey}, ${x.connectionId}, ${x.remote.id}, ${x.remote.key}, ${x.remote.url}, ${tx.json({ local: x.local, remote: x.remote.fields } as never)}, 'synced', 1, now(), ${x.remote.updatedAt ?? null})`;
      for (const other of x.carriers) {
        await tx`insert into mappings (item_key, connection_id) values (${x.itemKey}, ${other}) on conflict do nothing`;
      }
      await tx`insert into activity (item_key, actor, action, connection_id, detail)
        values (${x.itemKey}, ${`sync:${x.connectionId}`}, 'item.imported', ${x.connectionId}, ${tx.json(x.activity as never)})`;
      const [change] = await tx<{ id: string }[]>`insert into changes (item_key, connection_id, type, fields, actor)
        values (${x.itemKey}, ${x.connectionId}, 'item.created', ${tx.json(x.changeFields as never)}, ${`sync:${x.connectionId}`}) returning id`;
      return Number(change.id);
    }) as Promise<number | null>;
  }

  async resolveConflict(id: number, use: 'local' | 'remote', actor: string): Promise<Resolution> {
    return this.sql.begin(async (tx) => {
      const [conflict] = await tx<
        { item_key: string; connection_id: string; field: string; status: string; local_value: unknown; remote_value: unknown }[]
      >`
        select item_key, connection_id, field, status, local_value, remote_value from conflicts where id = ${id} for update`;
      if (!conflict) throw new ConflictNotFoundError(`no conflict ${id}`);
      if (conflict.status !== 'open') throw new ConflictClosedError(`conflict ${id} is already ${conflict.status}`);
      await tx`update conflicts set status = 'resolved', resolution = ${use}, resolved_by = ${actor}, resolved_at = now() where id = ${id}`;
      // A new version makes the pair due again (the outbox sweep would find it even if the enqueue failed).
      await tx`update items set version = version + 1, updated_at = now() where key = ${conflict.item_key}`;
      await tx`insert into activity (item_key, actor, action, connection_id, field, from_value, to_value, detail)
        values (${conflict.item_key}, ${actor}, 'conflict.resolved', ${conflict.connection_id}, ${conflict.field},
          ${tx.json((conflict.local_value ?? null) as never)}, ${tx.json((conflict.remote_value ?? null) as never)}, ${tx.json({ conflict: id, use } as never)})`;
      return { itemKey: conflict.item_key, connectionId: conflict.connection_id, field: conflict.field };
    }) as Promise<Resolution>;
  }

  /** How many of the item's comments wait after `after` (the dry run's count). */
  async countPendingComments(itemKey: string, after: number): Promise<number> {
    const [row] = await this.sql<{ n: number }[]>`select count(*)::int as n from comments where item_key = ${itemKey} and id > ${after}`;
    return row.n;
  }

  /** The INSERT of one audit row, as a fragment: alone (audit) or beside the statement it records. */
  private auditRow(itemKey: string, actor: string, action: string, connectionId: string | null, detail: Record<string, unknown>) {
    const sql = this.sql;
    return sql`insert into activity (item_key, actor, action, connection_id, detail) values (${itemKey}, ${actor}, ${action}, ${connectionId}, ${sql.json(detail as never)})`;
  }
}

const stores = new WeakMap<Sql, PostgresSyncStore>();

/** The store over one connection pool (one per pool, so its batches are shared). */
export function pgSyncStore(sql: Sql): PostgresSyncStore {
  let store = stores.get(sql);
  if (!store) stores.set(sql, (store = new PostgresSyncStore(sql)));
  return store;
}

/**
 * The end of a pass limited to `fields` (store.ts, ReconciledResult.fields): their part of the base
 * and nothing else, so the item's other changes stay due for the outbox sweep and the next
 * reconcile. `version` is the item's version after the pass's pull (the version read if none).
 */
async function recordFieldsOnly(sql: Sql, r: ReconciledResult, fields: FieldName[], version: number): Promise<void> {
  const pick = (half: FieldValues) => Object.fromEntries(fields.filter((f) => half[f] !== undefined).map((f) => [f, half[f]]));
  const open = r.status === 'conflict';
  // Only a pull of this pass moved the item (one version on from the one read).
  const pulledNext = version === r.version + 1;
  await sql`update mappings set
      base = jsonb_build_object(
        'local', (coalesce(base -> 'local', '{}'::jsonb) - ${sql.array(fields)}::text[]) || ${sql.json(pick(r.nextBase.local) as never)},
        'remote', (coalesce(base -> 'remote', '{}'::jsonb) - ${sql.array(fields)}::text[]) || ${sql.json(pick(r.nextBase.remote) as never)}),
      synced_version = case when ${pulledNext} and synced_version >= ${r.version} then ${version} else synced_version end,
      status = case when ${open} then 'conflict' else status end,
      last_error = case when ${open} then ${r.lastError} else last_error end,
      pending_push = null,
      remote_key = coalesce(${r.remote.key}, remote_key), remote_url = coalesce(${r.remote.url}, remote_url), updated_at = now()
    where id = ${r.mappingId}`;
}
