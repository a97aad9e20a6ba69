import type { Sql } from '../db/client.ts';
import type { SyncBase } from './base.ts';

export class ConflictNotFoundError extends Error {}
export class ConflictClosedError extends Error {}

export interface Resolution {
  itemKey: string;
  connectionId: string;
  field: string;
}

/**
 * Resolves an open conflict by steering the base, so the ordinary three-way diff carries the
 * decision out on the next reconcile:
 * - "local": the remote half keeps what the tracker has and the local half forgets the field,
 *   so the item's value reads as a local change and is pushed;
 * - "remote": the local half keeps the item's value and the remote half forgets the field, so the
 *   tracker's value reads as a remote change and is pulled.
 */
export async function resolveConflict(sql: Sql, id: number, use: 'local' | 'remote', actor: string): Promise<Resolution> {
  return sql.begin(async (tx) => {
    const [conflict] = await tx<{ item_key: string; connection_id: string; field: string; status: string; local_value: unknown; remote_value: unknown }[]>`
      select item_key, connection_id, field, status, local_value, remote_value from conflicts where id = ${id} for update`;
    if (!conflict) throw new ConflictNotFoundError(`no conflict ${id}`);
    if (conflict.status !== 'open') throw new ConflictClosedError(`conflict ${id} is already ${conflict.status}`);
    const [mapping] = await tx<{ id: string; base: SyncBase | null }[]>`
      select id, base from mappings where item_key = ${conflict.item_key} and connection_id = ${conflict.connection_id} for update`;
    if (mapping?.base) {
      const base: SyncBase = { local: { ...mapping.base.local }, remote: { ...mapping.base.remote } };
      const field = conflict.field as keyof SyncBase['local'];
      if (use === 'local') delete base.local[field];
      else delete base.remote[field];
      await tx`update mappings set base = ${tx.json(base as never)}, updated_at = now() where id = ${mapping.id}`;
    }
    await tx`update conflicts set status = 'resolved', resolution = ${use}, resolved_by = ${actor}, resolved_at = now() where id = ${id}`;
    // A new version makes the pair due again (the outbox sweep would find it even if the enqueue failed).
    await tx`update items set version = version + 1, updated_at = now() where key = ${conflict.item_key}`;
    await tx`insert into activity (item_key, actor, action, connection_id, field, from_value, to_value, detail)
      values (${conflict.item_key}, ${actor}, 'conflict.resolved', ${conflict.connection_id}, ${conflict.field},
        ${tx.json((conflict.local_value ?? null) as never)}, ${tx.json((conflict.remote_value ?? null) as never)}, ${tx.json({ conflict: id, use } as never)})`;
    return { itemKey: conflict.item_key, connectionId: conflict.connection_id, field: conflict.field };
  }) as Promise<Resolution>;
}
