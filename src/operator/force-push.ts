import { itemFieldValues } from '../sync/fields.ts';
import { recordForcedPushes } from '../sync/postgres/forced-push.ts';
import type { OperatorServices } from './services.ts';

/** Why a key given to a sync of named items cannot be synced; null when every key can. */
export interface ItemProblem {
  key: string;
  /** 'missing': no such item (or deleted); 'not_carried': none of the connections carries it. */
  reason: 'missing' | 'not_carried';
}

/**
 * Checked before anything is written, so a sync naming an unknown item changes nothing: every key
 * must name a live item that one of `connectionIds` carries. Answers the first key that does not.
 */
export async function findItemProblem(
  services: Pick<OperatorServices, 'sql'>,
  keys: string[],
  connectionIds: string[],
): Promise<ItemProblem | null> {
  const { sql } = services;
  const rows = await sql<{ key: string; carried: boolean }[]>`
    select i.key, exists (select 1 from mappings m where m.item_key = i.key and m.connection_id in ${sql(connectionIds)}
      and m.status not in ('deleted', 'remote_deleted')) as carried
    from items i where i.key in ${sql(keys)} and i.version > 0 and i.deleted_at is null`;
  const found = new Map(rows.map((r) => [r.key, r.carried]));
  for (const key of keys) {
    if (!found.has(key)) return { key, reason: 'missing' };
    if (!found.get(key)) return { key, reason: 'not_carried' };
  }
  return null;
}

/**
 * An operator's forced push (`trackline sync --force`, `POST /v1/connections/{id}/sync` with
 * `force`): for each item the connection carries (or the named ones) that has an issue, the item's
 * values of the connection's fields (or only `fields`) are recorded as forced by `actor`
 * (sync/postgres/forced-push.ts), in one transaction. The reconciles enqueued afterwards push them
 * wherever the tracker differs. Answers how many items were forced.
 */
export async function forcePush(
  services: Pick<OperatorServices, 'sql' | 'connections'>,
  connectionId: string,
  options: { items?: string[]; fields?: readonly string[]; actor: string; reason: string },
): Promise<number> {
  const { sql } = services;
  const supported = new Set<string>(services.connections.get(connectionId)!.adapter().supportedFields);
  const wanted = (f: string) => supported.has(f) && (!options.fields || options.fields.includes(f));
  const items = await sql<{ key: string; desired: Record<string, unknown>; custom: Record<string, unknown> | null }[]>`
    select i.key, i.desired, i.custom from mappings m join items i on i.key = m.item_key
    where m.connection_id = ${connectionId} and m.status not in ('deleted', 'remote_deleted') and m.remote_id is not null
      ${options.items ? sql`and i.key in ${sql(options.items)}` : sql``}`;
  const pushes = items
    .map((i) => ({
      itemKey: i.key,
      connectionId,
      // Custom fields too (`fields.<name>`), as the connection's field_map carries them.
      fields: Object.fromEntries(Object.entries(itemFieldValues(i.desired, i.custom)).filter(([f, v]) => wanted(f) && v !== undefined)),
    }))
    // An item that never said any of the fields has nothing to force.
    .filter((p) => Object.keys(p.fields).length > 0);
  await sql.begin((tx) => recordForcedPushes(tx as never, pushes, options.actor, options.reason));
  return pushes.length;
}
