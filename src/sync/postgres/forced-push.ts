import type { Sql } from '../../db/client.ts';

export interface ForcedPush {
  itemKey: string;
  connectionId: string;
  /** The item's values to push (orchestrator vocabulary), by field. */
  fields: Record<string, unknown>;
}

/**
 * A forced push (`trackline sync --force`, an event with `"force": true`): for each field, the
 * decision "use the local value" recorded the way an operator's resolution of a conflict is (a
 * resolved conflict row, not applied yet, naming who and why), with one `sync.forced` row in the
 * item's trail. The pair's next reconcile carries it out (reconcile.ts): it reads the issue, pushes
 * the item's value wherever the tracker's differs, even where the base says nothing changed, and
 * past the re-open and close guards (state-guard.ts). The item's version moves, so the pair is due
 * (the outbox sweep finds it even if the enqueue is lost). `sql` may be a transaction.
 */
export async function recordForcedPushes(
  sql: Sql,
  pushes: ForcedPush[],
  actor: string,
  reason: string,
  options: { bumpVersion: boolean } = { bumpVersion: true },
): Promise<void> {
  const rows = pushes.flatMap((p) =>
    Object.entries(p.fields).map(([field, value]) => ({
      item_key: p.itemKey,
      connection_id: p.connectionId,
      field,
      local_value: value ?? null,
    })),
  );
  if (rows.length === 0) return;
  // An open conflict on a forced field (a held re-open, a workflow refusal) is settled the same way:
  // for the local value, by whoever forced it; otherwise it would keep holding the field.
  await sql`
    update conflicts c set status = 'resolved', resolution = 'local', resolved_by = ${actor}, resolved_at = now()
    from jsonb_to_recordset(${sql.json(rows as never)}) as r(item_key text, connection_id text, field text)
    where c.status = 'open' and c.item_key = r.item_key and c.connection_id = r.connection_id and c.field = r.field`;
  await sql`
    insert into conflicts (item_key, connection_id, field, local_value, remote_value, status, resolution, resolved_by, resolved_at, reason)
    select r.item_key, r.connection_id, r.field, r.local_value, null, 'resolved', 'local', ${actor}, now(), ${reason}
    from jsonb_to_recordset(${sql.json(rows as never)}) as r(item_key text, connection_id text, field text, local_value jsonb)`;
  const trail = pushes.map((p) => ({
    item_key: p.itemKey,
    connection_id: p.connectionId,
    detail: { fields: Object.keys(p.fields), reason },
  }));
  await sql`
    insert into activity (item_key, actor, action, connection_id, detail)
    select t.item_key, ${actor}, 'sync.forced', t.connection_id, t.detail
    from jsonb_to_recordset(${sql.json(trail as never)}) as t(item_key text, connection_id text, detail jsonb)`;
  // An event's own new version already makes the pair due.
  if (!options.bumpVersion) return;
  const keys = [...new Set(pushes.map((p) => p.itemKey))];
  await sql`update items set version = version + 1, updated_at = now() where key in ${sql(keys)}`;
}
