import type { Sql } from '../db/client.ts';
import type { Connection } from './port/connection.ts';
import type { RemoteIssue } from './port/tracker.ts';
import { SYNC_FIELDS, canonical, setField, type FieldValues } from './fields.ts';

/**
 * Remote events that are not field changes: an issue deleted in the tracker, a comment written
 * there, and a new remote issue imported as an item. Each writes the item's audit trail and the
 * orchestrator's change feed in one transaction and returns the change ids to notify.
 */

export interface MappingRef {
  itemKey: string;
  remoteKey: string | null;
}

export async function findMappingByRemote(sql: Sql, connectionId: string, remoteId: string): Promise<MappingRef | null> {
  const [row] = await sql<{ item_key: string; remote_key: string | null }[]>`
    select item_key, remote_key from mappings where connection_id = ${connectionId} and remote_id = ${remoteId}`;
  return row ? { itemKey: row.item_key, remoteKey: row.remote_key } : null;
}

/** A webhook or a poll says the remote issue changed: the pair's next reconcile reads it. */
export async function markRemoteChanged(sql: Sql, connectionId: string, itemKey: string): Promise<void> {
  await sql`update mappings set remote_changed_at = date_trunc('milliseconds', now()), updated_at = now() where connection_id = ${connectionId} and item_key = ${itemKey}`;
}

/** The issue is gone from the tracker: stop syncing the pair and tell the orchestrator, once. */
export async function markRemoteDeleted(sql: Sql, connectionId: string, remoteId: string, actor: string | undefined): Promise<number[]> {
  return sql.begin(async (tx) => {
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

/** A person's comment in the tracker goes to the orchestrator's feed (Trackline's own never do). */
export async function recordRemoteComment(
  sql: Sql,
  connectionId: string,
  itemKey: string,
  body: string,
  actor: string | undefined,
): Promise<number[]> {
  return sql.begin(async (tx) => {
    await tx`insert into activity (item_key, actor, action, connection_id, to_value, detail)
      values (${itemKey}, ${`sync:${connectionId}`}, 'comment.pulled', ${connectionId}, ${tx.json(body as never)}, ${tx.json({ by: actor ?? null } as never)})`;
    const [change] = await tx<{ id: string }[]>`insert into changes (item_key, connection_id, type, comment, actor)
      values (${itemKey}, ${connectionId}, 'item.commented', ${body}, ${actor ?? null}) returning id`;
    return [Number(change.id)];
  }) as Promise<number[]>;
}

export type ImportOutcome = { imported: true; itemKey: string; changeIds: number[] } | { imported: false; reason: string };

/**
 * A remote issue with no item becomes one when it carries one of the connection's
 * `import_labels` (key `<connection>:<remote key>`); otherwise it is skipped with the reason.
 * Every other connection carrying the new item then gets it on its next reconcile.
 */
export async function importRemoteIssue(
  sql: Sql,
  connection: Connection,
  others: Connection[],
  remote: RemoteIssue,
): Promise<ImportOutcome> {
  const config = connection.config;
  const wanted = config.import_labels;
  if (wanted.length === 0) return { imported: false, reason: `no item is mapped to ${remote.key} and import_labels is empty` };
  const labels = remote.fields.labels ?? [];
  const match = labels.find((l) => wanted.includes(l));
  if (!match)
    return { imported: false, reason: `no item is mapped to ${remote.key} and it carries none of import_labels (${wanted.join(', ')})` };

  const itemKey = `${config.id}:${remote.key}`;
  const local: FieldValues = {};
  for (const f of SYNC_FIELDS) {
    if (remote.fields[f] !== undefined)
      setField(local, f, canonical(f, connection.translate.toLocal(f, remote.fields[f] as never) as never));
  }
  return sql.begin(async (tx) => {
    const inserted = await tx`insert into items (key, desired, version) values (${itemKey}, ${tx.json(local as never)}, 1)
      on conflict (key) do nothing returning key`;
    if (inserted.length === 0) return { imported: false as const, reason: `item ${itemKey} exists already` };
    await tx`insert into mappings (item_key, connection_id, remote_id, remote_key, remote_url, base, status, synced_version, last_synced_at, remote_updated_at)
      values (${itemKey}, ${config.id}, ${remote.id}, ${remote.key}, ${remote.url}, ${tx.json({ local, remote: remote.fields } as never)}, 'synced', 1, now(), ${remote.updatedAt ?? null})`;
    for (const other of others) {
      if (other.config.id === config.id || other.config.direction === 'pull' || other.config.kinds) continue;
      await tx`insert into mappings (item_key, connection_id) values (${itemKey}, ${other.config.id}) on conflict do nothing`;
    }
    await tx`insert into activity (item_key, actor, action, connection_id, detail)
      values (${itemKey}, ${`sync:${config.id}`}, 'item.imported', ${config.id}, ${tx.json({ remote: remote.key, url: remote.url, label: match, fields: local } as never)})`;
    const fields = Object.fromEntries(Object.entries(local).map(([f, v]) => [f, { from: null, to: v }]));
    const [change] = await tx<{ id: string }[]>`insert into changes (item_key, connection_id, type, fields, actor)
      values (${itemKey}, ${config.id}, 'item.created', ${tx.json(fields as never)}, ${`sync:${config.id}`}) returning id`;
    return { imported: true as const, itemKey, changeIds: [Number(change.id)] };
  }) as Promise<ImportOutcome>;
}
