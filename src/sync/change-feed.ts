import type { Sql } from '../db/client.ts';
import { splitItemValues } from './fields.ts';

/** One entry of the orchestrator's change feed, as `GET /v1/changes` and the callback send it. */
export interface ChangeEntry {
  id: string;
  type: string;
  key: string;
  connection: string;
  fields: Record<string, { from: unknown; to: unknown }>;
  comment: string | null;
  actor: string | null;
  at: string;
  /** `item.pr_changed` only: the pull request and its state before and after. */
  pullRequest?: Record<string, unknown>;
}

interface ChangeRow {
  id: string;
  type: string;
  item_key: string;
  connection_id: string;
  fields: Record<string, { from: unknown; to: unknown }>;
  comment: string | null;
  actor: string | null;
  at: Date;
  pull_request: Record<string, unknown> | null;
}

export function toChangeEntry(row: ChangeRow): ChangeEntry {
  return {
    id: String(row.id),
    type: row.type,
    key: row.item_key,
    connection: row.connection_id,
    fields: row.fields ?? {},
    comment: row.comment,
    actor: row.actor,
    at: row.at.toISOString(),
    ...(row.pull_request ? { pullRequest: row.pull_request } : {}),
  };
}

/** `connections`: only these connections' changes (a connection-limited api token); absent, all. */
export async function readChanges(sql: Sql, after: number, limit: number, connections?: string[] | null): Promise<ChangeEntry[]> {
  const rows = await sql<ChangeRow[]>`select id, type, item_key, connection_id, fields, comment, actor, at, pull_request
    from changes where id > ${after} ${connections ? sql`and connection_id in ${sql(connections)}` : sql``} order by id limit ${limit}`;
  return rows.map(toChangeEntry);
}

export async function readChange(sql: Sql, id: number): Promise<(ChangeEntry & { notifiedAt: Date | null }) | null> {
  const [row] = await sql<
    (ChangeRow & { notified_at: Date | null })[]
  >`select id, type, item_key, connection_id, fields, comment, actor, at, pull_request, notified_at
    from changes where id = ${id}`;
  return row ? { ...toChangeEntry(row), notifiedAt: row.notified_at } : null;
}

/**
 * The orchestrator answered a callback 409: its governance refuses the remote change. The item
 * goes back to the value it had, and each field becomes an open manual conflict, held (neither
 * pushed nor pulled) until an operator or the orchestrator resolves it.
 */
export async function refuseChange(sql: Sql, change: ChangeEntry): Promise<number> {
  return sql.begin(async (tx) => {
    const fields = Object.entries(change.fields);
    if (fields.length) {
      const revert = splitItemValues(Object.fromEntries(fields.map(([f, c]) => [f, c.from])));
      await tx`update items set desired = desired || ${tx.json(revert.desired as never)}, custom = custom || ${tx.json(revert.custom as never)},
        version = version + 1, updated_at = now() where key = ${change.key}`;
    }
    // The remote value is kept in the tracker's vocabulary, as conflicts found by the diff are:
    // after the pull it is what the base's remote half holds.
    const [mapping] = await tx<{ base: { remote: Record<string, unknown> } | null }[]>`
      select base from mappings where item_key = ${change.key} and connection_id = ${change.connection}`;
    for (const [field, c] of fields) {
      const remoteValue = mapping?.base?.remote[field] ?? c.to ?? null;
      await tx`insert into conflicts (item_key, connection_id, field, base_value, local_value, remote_value, status, reason)
        values (${change.key}, ${change.connection}, ${field}, ${tx.json((c.from ?? null) as never)}, ${tx.json((c.from ?? null) as never)}, ${tx.json(remoteValue as never)}, 'open',
          ${`the orchestrator refused change ${change.id} (409); waiting for a resolution`})`;
      await tx`insert into activity (item_key, actor, action, connection_id, field, from_value, to_value, detail)
        values (${change.key}, 'orchestrator', 'change.refused', ${change.connection}, ${field}, ${tx.json((c.to ?? null) as never)}, ${tx.json((c.from ?? null) as never)}, ${tx.json({ change: change.id } as never)})`;
    }
    if (!fields.length) {
      await tx`insert into activity (item_key, actor, action, connection_id, detail)
        values (${change.key}, 'orchestrator', 'change.refused', ${change.connection}, ${tx.json({ change: change.id, type: change.type } as never)})`;
    }
    await tx`update changes set callback_status = 'refused' where id = ${change.id}`;
    return fields.length;
  }) as Promise<number>;
}
