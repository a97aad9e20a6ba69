import type { Sql } from '../db/client.ts';
import type { SyncBase } from './base.ts';
import type { FieldName } from './fields.ts';
import type { Translator } from './translate.ts';

export class ConflictNotFoundError extends Error {}
export class ConflictClosedError extends Error {}

export interface Resolution {
  itemKey: string;
  connectionId: string;
  field: string;
}

/**
 * Records an operator's (or the orchestrator's) decision on an open conflict. The pair's next
 * reconcile applies it to the base (see `applyResolutions`), so the ordinary three-way diff
 * carries it out and no base write races a running reconcile.
 */
export async function resolveConflict(sql: Sql, id: number, use: 'local' | 'remote', actor: string): Promise<Resolution> {
  return sql.begin(async (tx) => {
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

export interface PendingResolution {
  id: number;
  field: string;
  use: 'local' | 'remote';
  remoteValue: unknown;
}

export async function pendingResolutions(sql: Sql, itemKey: string, connectionId: string): Promise<PendingResolution[]> {
  const rows = await sql<{ id: string; field: string; resolution: 'local' | 'remote'; remote_value: unknown }[]>`
    select id, field, resolution, remote_value from conflicts
    where item_key = ${itemKey} and connection_id = ${connectionId} and status = 'resolved' and applied_at is null
      and resolution in ('local', 'remote') order by id`;
  return rows.map((r) => ({ id: Number(r.id), field: r.field, use: r.resolution, remoteValue: r.remote_value }));
}

/**
 * Steers the base so exactly one side reads as changed:
 * - "local": the remote half is pinned to the tracker's value (the conflict's remote value, in
 *   the tracker's vocabulary) and the local half to that same value in the orchestrator's words:
 *   the item's value reads as a change from it and is pushed (for sets, exactly the item's set);
 * - "remote": the local half is pinned to the item's current value and the remote half forgets
 *   the field: the tracker's value is pulled.
 */
export function applyResolutions(
  base: SyncBase,
  desired: Record<string, unknown>,
  resolutions: PendingResolution[],
  translate: Translator,
): SyncBase {
  const next: SyncBase = { local: { ...base.local }, remote: { ...base.remote } };
  const local = next.local as Record<string, unknown>;
  const remote = next.remote as Record<string, unknown>;
  for (const r of resolutions) {
    if (r.use === 'local') {
      if (r.remoteValue === null || r.remoteValue === undefined) {
        delete remote[r.field];
        delete local[r.field];
      } else {
        remote[r.field] = r.remoteValue;
        local[r.field] = translate.toLocal(r.field as FieldName, r.remoteValue as never);
      }
    } else {
      if (desired[r.field] === undefined) delete local[r.field];
      else local[r.field] = desired[r.field];
      delete remote[r.field];
    }
  }
  return next;
}
