import type { Sql } from '../db/client.ts';
import type { Connection } from './port/connection.ts';
import type { CallContext, RemoteIssue } from './port/tracker.ts';
import { SYNC_FIELDS, canonical, sameValue, setField, type FieldName, type FieldValues } from './fields.ts';
import { emptyBase, type SyncBase } from './base.ts';
import { planReconcile, type ReconcilePlan } from './diff.ts';
import { PartialUpdateError, TrackerError } from './port/errors.ts';
import { markRemoteDeleted } from './remote-events.ts';
import { applyResolutions } from './resolve-conflict.ts';
import {
  loadPair,
  recordPendingPush,
  recordPushed,
  toMappingState,
  type ItemState,
  type MappingRow,
  type MappingState,
} from './pair-statements.ts';

/**
 * One reconcile of one (item, connection) pair: read local, read remote when needed, diff against
 * the base, write what must change, record what happened. The job wrapper runs it; BullMQ's
 * per-pair deduplication guarantees two of these never run at once for one pair.
 */

export interface ReconcileOutcome {
  action: 'created' | 'linked' | 'updated' | 'unchanged' | 'skipped' | 'deleted' | 'remote_deleted';
  /** Rows added to the change feed, for the orchestrator's callback. */
  changeIds: number[];
  remoteKey?: string | null;
  pushed: FieldName[];
  pulled: FieldName[];
  conflicts: number;
  comments: number;
  version: number;
  /** The item's version when this pass recorded its result, if it read it then (saves a query). */
  latestVersion?: number;
  warnings: string[];
}

export interface ReconcileInput {
  sql: Sql;
  connection: Connection;
  itemKey: string;
  readRemote: boolean;
  /**
   * The delivery row the tracker calls are recorded under. A promise when the caller is still
   * writing it: the pass reads the pair meanwhile and waits for the id before its first call.
   */
  deliveryId?: string | Promise<string>;
  /**
   * Passes at most (default MAX_PASSES). 1 when the caller guarantees a later run for a change
   * that lands meanwhile (the reconcile job with a coalescing window: BullMQ parks the next job
   * for the pair until this one ends, and that job waits out the window).
   */
  maxPasses?: number;
}

/** Passes while the item keeps changing under the job; the next job picks up anything beyond. */
const MAX_PASSES = 5;

export async function reconcilePair(input: ReconcileInput): Promise<ReconcileOutcome> {
  let outcome: ReconcileOutcome | undefined;
  const passes = Math.max(1, input.maxPasses ?? MAX_PASSES);
  for (let pass = 0; pass < passes; pass++) {
    outcome = await reconcileOnce(input, outcome);
    // The last allowed pass needs no version check: nothing would act on it.
    if (pass === passes - 1) break;
    if (outcome.action === 'skipped' || outcome.action === 'remote_deleted') break;
    let latest = outcome.latestVersion;
    if (latest === undefined) {
      const [row] = await input.sql<{ version: string }[]>`select version from items where key = ${input.itemKey}`;
      if (!row) break;
      latest = Number(row.version);
    }
    // Snapshot semantics: a change that arrived while this pass ran is synced before finishing.
    if (latest <= outcome.version) break;
  }
  return outcome!;
}

async function reconcileOnce(input: ReconcileInput, previous?: ReconcileOutcome): Promise<ReconcileOutcome> {
  const { sql, connection, itemKey } = input;
  const config = connection.config;
  const adapter = connection.adapter();
  const warnings: string[] = previous?.warnings ?? [];
  const actor = `sync:${config.id}`;

  const [{ item, mapping, heldFields, resolutions, newComments }, deliveryId] = await Promise.all([
    loadPair(sql, itemKey, config.id),
    input.deliveryId,
  ]);
  const ctx: CallContext = { deliveryId, warn: (m) => warnings.push(m) };
  const outcome: ReconcileOutcome = {
    // A later pass that finds nothing new keeps what an earlier pass did.
    action: previous && previous.action !== 'unchanged' ? previous.action : 'unchanged',
    remoteKey: mapping?.remoteKey,
    pushed: previous?.pushed ?? [],
    pulled: previous?.pulled ?? [],
    conflicts: previous?.conflicts ?? 0,
    comments: previous?.comments ?? 0,
    version: item?.version ?? 0,
    warnings,
    changeIds: previous?.changeIds ?? [],
  };
  if (!item || !mapping) return { ...outcome, action: 'skipped' };
  if (mapping.status === 'remote_deleted')
    return { ...outcome, action: 'skipped', warnings: [...warnings, 'the remote issue was deleted; the pair no longer syncs'] };

  const supported = new Set(adapter.supportedFields);
  const local = onlySupported(item.desired, supported);

  if (item.deleted) {
    // The remote issue is left as it is (people may still need it); the pair stops syncing.
    if (mapping.status !== 'deleted') {
      // With its audit row, in one statement (see the create below).
      await sql`
        with stopped as (${auditRow(sql, itemKey, actor, 'sync.stopped', config.id, { reason: 'item deleted by the orchestrator; remote issue left in place', remote: mapping.remoteKey })})
        update mappings set status = 'deleted', synced_version = ${item.version}, updated_at = now() where id = ${mapping.id}`;
    } else {
      await sql`update mappings set synced_version = ${item.version} where id = ${mapping.id}`;
    }
    return { ...outcome, action: 'deleted' };
  }

  let remote: RemoteIssue | null = null;
  let base = mapping.base ?? emptyBase();

  if (!mapping.remoteId) {
    if (mapping.linkTo) {
      remote = await adapter.resolveLink(mapping.linkTo, ctx);
      // The existing issue is the starting point both sides agree on; the item's own asserted
      // fields then push as local changes.
      base = { local: onlySupported(translateAll(connection, remote.fields, 'toLocal'), supported), remote: remote.fields };
      await claimRemote(sql, mapping.id, remote, base, { itemKey, actor, connectionId: config.id });
      outcome.action = 'linked';
    } else if (!config.create_missing) {
      await sql`update mappings set status = 'unmapped', synced_version = ${item.version}, updated_at = now() where id = ${mapping.id}`;
      return {
        ...outcome,
        action: 'skipped',
        warnings: [...warnings, 'create_missing is off and the item has no link for this connection'],
      };
    } else {
      let held: PartialUpdateError | null = null;
      try {
        remote = await createExactlyOnce(sql, connection, item, local, mapping, ctx);
      } catch (error) {
        if (!(error instanceof PartialUpdateError)) throw error;
        // Created, but one field could not be set (Jira: the initial state is out of the
        // workflow's reach). Keep the issue; hold that field for an operator.
        held = error;
        remote = error.partial;
      }
      base = { local, remote: remote.fields };
      if (held) {
        base = { local: { ...local }, remote: { ...remote.fields } };
        delete base.local[held.field];
        await sql`insert into conflicts (item_key, connection_id, field, local_value, remote_value, status, reason)
          values (${itemKey}, ${config.id}, ${held.field}, ${sql.json((local[held.field] ?? null) as never)}, ${sql.json((remote.fields[held.field] ?? null) as never)}, 'open', ${held.message})`;
        await audit(sql, itemKey, actor, 'conflict.opened', config.id, { field: held.field, reason: held.message });
        warnings.push(held.message);
      }
      // The mapping and its audit row in one statement: whoever sees the pair synced also finds
      // "remote.created" in its trail (two statements let a reader in between).
      await sql`
        with created as (${auditRow(sql, itemKey, actor, 'remote.created', config.id, { remote: remote.key, url: remote.url, fields: remote.fields })})
        update mappings set remote_id = ${remote.id}, remote_key = ${remote.key}, remote_url = ${remote.url},
          base = ${sql.json(base as never)}, status = ${held ? 'conflict' : 'synced'}, synced_version = ${item.version}, last_synced_at = now(),
          last_error = ${held?.message ?? null}, remote_updated_at = ${remote.updatedAt ?? null}, updated_at = now()
        where id = ${mapping.id}`;
      outcome.comments += await deliverComments(sql, connection, itemKey, { id: remote.id, key: remote.key }, mapping.commentCursor, ctx);
      return {
        ...outcome,
        action: 'created',
        remoteKey: remote.key,
        pushed: [...new Set([...outcome.pushed, ...(Object.keys(local) as FieldName[])])],
      };
    }
  }

  const ref = { id: mapping.remoteId ?? remote!.id, key: mapping.remoteKey ?? remote?.key };
  // Operators' resolutions are carried out here, inside the pair's one-at-a-time reconcile.
  if (resolutions.length) base = applyResolutions(base, item.desired as Record<string, unknown>, resolutions, connection.translate);
  // Reading the remote before writing costs budget; it is needed only when the remote side can
  // win or be merged, or a remote change is known to be waiting (webhook, poll).
  const mustRead =
    remote === null &&
    (input.readRemote ||
      resolutions.length > 0 ||
      mapping.remoteChangedAt !== null ||
      mapping.pendingPush !== null ||
      (config.direction !== 'push' && config.conflict_strategy !== 'local-wins'));
  if (mustRead) {
    try {
      remote = await adapter.get(ref, ctx);
    } catch (error) {
      // Gone from the tracker (Plane sends no delete webhook): the pair stops, the orchestrator hears.
      if (error instanceof TrackerError && error.kind === 'not_found') {
        outcome.changeIds.push(...(await markRemoteDeleted(sql, config.id, ref.id, undefined)));
        return { ...outcome, action: 'remote_deleted' };
      }
      throw error;
    }
  }

  if (mapping.pendingPush && remote) {
    // An earlier attempt pushed and died before saving the base. Where the tracker holds what it
    // pushed, that write landed: it becomes the base, so the diff sees what changed since.
    base = { local: { ...base.local }, remote: { ...base.remote } };
    for (const f of Object.keys(mapping.pendingPush.remote) as FieldName[]) {
      if (!sameValue(f, remote.fields[f], mapping.pendingPush.remote[f])) continue;
      setField(base.local, f, mapping.pendingPush.local[f]);
      setField(base.remote, f, canonical(f, remote.fields[f] as never));
    }
  }

  const plan = planReconcile({
    local,
    remote: remote ? onlySupported(remote.fields, supported) : null,
    base,
    translate: connection.translate,
    direction: config.direction,
    strategy: config.conflict_strategy,
    heldFields,
  });

  let after = remote;
  const pushedFields = Object.keys(plan.push) as FieldName[];
  if (pushedFields.length) {
    let blocked: PartialUpdateError | null = null;
    const intent: SyncBase = { local: {}, remote: plan.push };
    for (const f of pushedFields) setField(intent.local, f, plan.nextBase.local[f]);
    await recordPendingPush(sql, mapping.id, intent);
    try {
      after = await adapter.update(ref, plan.push, ctx);
    } catch (error) {
      if (!(error instanceof PartialUpdateError)) throw error;
      // The other fields were written; the one the tracker refused is held for an operator.
      blocked = error;
      after = error.partial;
    }
    // What the tracker holds after the write is the remote half of the base: a sanitised body or
    // a reordered set then reads back as "unchanged", never as an echo.
    for (const f of pushedFields) {
      if (blocked && f === blocked.field) continue;
      setField(plan.nextBase.remote, f, canonical(f, after.fields[f] as never));
    }
    if (blocked) {
      const f = blocked.field;
      // Neither half moves for the blocked field, so it is retried only once resolved.
      setField(plan.nextBase.local, f, base.local[f]);
      setField(plan.nextBase.remote, f, base.remote[f]);
      delete (plan.push as Record<string, unknown>)[f];
      plan.conflicts.push({
        field: f,
        base: base.local[f],
        local: local[f],
        remote: after.fields[f],
        outcome: 'open',
        strategy: config.conflict_strategy,
        reason: blocked.message,
      });
      warnings.push(blocked.message);
    }
  }

  // A write made without reading first answers with the whole issue. A field it did not write that
  // differs from the base was changed in the tracker since the last sync: its webhook may be lost,
  // and the poll would take this write's timestamp as already seen. Flag a pull so it is not lost.
  const written = after;
  const unseen =
    remote === null &&
    written !== null &&
    SYNC_FIELDS.some(
      (f) =>
        supported.has(f) &&
        !pushedFields.includes(f) &&
        written.fields[f] !== undefined &&
        !sameValue(f, written.fields[f], base.remote[f]),
    );
  const { changeId, latestVersion } = await applyPlan(sql, {
    item,
    mapping,
    plan,
    connectionId: config.id,
    actor,
    remote: after,
    strategy: config.conflict_strategy,
    resolutionIds: resolutions.map((r) => r.id),
  });
  outcome.latestVersion = latestVersion;
  if (unseen)
    await sql`update mappings set remote_changed_at = date_trunc('milliseconds', now()), remote_updated_at = null where id = ${mapping.id}`;
  if (remote && mapping.remoteChangedAt) {
    // Read and applied: the pull request is served, unless a newer one came in meanwhile (the
    // flag is stored at millisecond precision so it compares equal to the JS Date read back).
    await sql`update mappings set remote_changed_at = null where id = ${mapping.id} and remote_changed_at <= ${mapping.remoteChangedAt}`;
  }
  if (changeId) outcome.changeIds.push(changeId);

  // The cursor read with the mapping is still current: only deliverComments moves it, and two
  // reconciles of one pair never run at once. A comment recorded after the load bumped the item's
  // version, so the next pass (or the job parked behind this one) delivers it.
  if (newComments) outcome.comments += await deliverComments(sql, connection, itemKey, ref, mapping.commentCursor, ctx);
  outcome.pushed = [...new Set([...outcome.pushed, ...pushedFields])];
  outcome.pulled = [...new Set([...outcome.pulled, ...(Object.keys(plan.pull) as FieldName[])])];
  outcome.conflicts += plan.conflicts.length;
  outcome.remoteKey = after?.key ?? mapping.remoteKey;
  if (outcome.action === 'unchanged' && (pushedFields.length || Object.keys(plan.pull).length)) outcome.action = 'updated';
  return outcome;
}

/**
 * Exactly-once create: the intent is committed before the call; a retry that finds the intent
 * (the previous attempt may have created the issue and crashed before recording it) looks the
 * issue up by its marker first. The tracker's own duplicate guard (Plane's external id 409) and
 * the unique (connection, remote id) index back this up.
 */
async function createExactlyOnce(
  sql: Sql,
  connection: Connection,
  item: ItemState,
  local: FieldValues,
  mapping: MappingState,
  ctx: CallContext,
): Promise<RemoteIssue> {
  const adapter = connection.adapter();
  if (mapping.createIntentAt) {
    const found = await adapter.findByItemKey(item.key, ctx);
    if (found) {
      await audit(sql, item.key, `sync:${connection.config.id}`, 'remote.recovered', connection.config.id, {
        remote: found.key,
        reason: 'an earlier attempt created it before failing; adopted instead of creating another',
      });
      const pending = diffFields(local, translateAll(connection, found.fields, 'toLocal'));
      return Object.keys(pending).length
        ? adapter.update({ id: found.id, key: found.key }, translateAll(connection, pending, 'toRemote'), ctx)
        : found;
    }
  } else {
    await sql`update mappings set create_intent_at = now(), status = 'creating', updated_at = now() where id = ${mapping.id}`;
  }
  return adapter.create(item.key, translateAll(connection, local, 'toRemote'), ctx);
}

async function applyPlan(
  sql: Sql,
  args: {
    item: ItemState;
    mapping: MappingState;
    plan: ReconcilePlan;
    connectionId: string;
    actor: string;
    remote: RemoteIssue | null;
    strategy: string;
    resolutionIds: number[];
  },
): Promise<{ changeId: number | null; latestVersion?: number }> {
  const { item, mapping, plan, connectionId, actor } = args;
  const pulled = Object.entries(plan.pull) as [FieldName, { from: unknown; to: unknown }][];
  if (pulled.length === 0 && plan.conflicts.length === 0 && args.resolutionIds.length === 0) {
    // The common case, only pushes to record: the audit rows and the new base in ONE statement
    // shared with the other passes finishing now (pair-statements.ts), instead of BEGIN, one
    // INSERT per field, the UPDATE and COMMIT. Round trips to Postgres were the largest cost of a
    // sync (bench/sync.ts).
    const latestVersion = await recordPushed(sql, {
      mappingId: mapping.id,
      itemKey: item.key,
      connectionId,
      actor,
      pushed: Object.entries(plan.push).map(([field, value]) => ({
        field,
        from_value: mapping.base?.remote[field as FieldName] ?? null,
        to_value: value ?? null,
      })),
      nextBase: plan.nextBase,
      version: item.version,
      remote: { key: args.remote?.key ?? null, url: args.remote?.url ?? null, updatedAt: args.remote?.updatedAt ?? null },
    });
    return { changeId: null, latestVersion };
  }
  let changeId: number | null = null;
  await sql.begin(async (tx) => {
    let version = item.version;
    if (pulled.length) {
      // The item takes the remote values as a new version, so every other connection carrying it
      // receives the change on its next reconcile (the item is the hub).
      const patch = Object.fromEntries(pulled.map(([f, c]) => [f, c.to]));
      const [row] = await tx<{ version: string }[]>`
        update items set desired = desired || ${tx.json(patch as never)}, version = version + 1, updated_at = now()
        where key = ${item.key} returning version`;
      version = Number(row.version);
      for (const [field, change] of pulled) {
        await tx`insert into activity (item_key, actor, action, connection_id, field, from_value, to_value)
          values (${item.key}, ${actor}, 'field.pulled', ${connectionId}, ${field}, ${tx.json((change.from ?? null) as never)}, ${tx.json((change.to ?? null) as never)})`;
      }
      const [change] = await tx<{ id: string }[]>`insert into changes (item_key, connection_id, fields, actor)
        values (${item.key}, ${connectionId}, ${tx.json(Object.fromEntries(pulled) as never)}, ${args.remote?.updatedBy ?? actor}) returning id`;
      changeId = Number(change.id);
      // Other connections carrying the item must now sync the pulled value.
      await tx`update mappings set updated_at = now() where item_key = ${item.key} and connection_id <> ${connectionId}`;
    }
    for (const [field, value] of Object.entries(args.plan.push)) {
      await tx`insert into activity (item_key, actor, action, connection_id, field, from_value, to_value)
        values (${item.key}, ${actor}, 'field.pushed', ${connectionId}, ${field}, ${tx.json((mapping.base?.remote[field as FieldName] ?? null) as never)}, ${tx.json((value ?? null) as never)})`;
    }
    for (const c of plan.conflicts) {
      const open = c.outcome === 'open';
      await tx`insert into conflicts (item_key, connection_id, field, base_value, local_value, remote_value, status, resolution, resolved_by, resolved_at, applied_at, reason)
        values (${item.key}, ${connectionId}, ${c.field}, ${tx.json((c.base ?? null) as never)}, ${tx.json((c.local ?? null) as never)}, ${tx.json((c.remote ?? null) as never)},
          ${open ? 'open' : 'resolved'}, ${open ? null : c.outcome}, ${open ? null : `strategy:${c.strategy}`}, ${open ? null : new Date()}, ${open ? null : new Date()},
          ${c.reason ?? (open ? 'both sides changed; waiting for an operator (manual strategy)' : `both sides changed; ${c.strategy} kept ${c.outcome === 'merged' ? 'the three-way merge' : `the ${c.outcome} value`}`)})`;
      await tx`insert into activity (item_key, actor, action, connection_id, field, from_value, to_value, detail)
        values (${item.key}, ${open ? actor : `strategy:${c.strategy}`}, ${open ? 'conflict.opened' : 'conflict.resolved'}, ${connectionId}, ${c.field},
          ${tx.json((c.local ?? null) as never)}, ${tx.json((c.remote ?? null) as never)}, ${tx.json({ base: c.base ?? null, outcome: c.outcome } as never)})`;
    }
    if (args.resolutionIds.length) await tx`update conflicts set applied_at = now() where id in ${tx(args.resolutionIds)}`;
    const hasOpen = plan.conflicts.some((c) => c.outcome === 'open');
    // A pull made a new version that this pass already agrees with: record that version as synced.
    const blockedReason = plan.conflicts.find((c) => c.reason)?.reason ?? null;
    await tx`update mappings set base = ${tx.json(plan.nextBase as never)}, synced_version = greatest(synced_version, ${pulled.length ? version : item.version}),
      status = ${hasOpen ? 'conflict' : 'synced'}, last_synced_at = now(), last_error = ${blockedReason}, pending_push = null,
      remote_key = coalesce(${args.remote?.key ?? null}, remote_key), remote_url = coalesce(${args.remote?.url ?? null}, remote_url),
      remote_updated_at = coalesce(${args.remote?.updatedAt ?? null}, remote_updated_at), updated_at = now()
      where id = ${mapping.id}`;
  });
  return { changeId };
}

async function deliverComments(
  sql: Sql,
  connection: Connection,
  itemKey: string,
  ref: { id: string; key?: string | null },
  cursor: number,
  ctx: CallContext,
): Promise<number> {
  const pending = await sql<{ id: string; body: string; actor: string | null }[]>`
    select id, body, actor from comments where item_key = ${itemKey} and id > ${cursor} order by id limit 100`;
  for (const comment of pending) {
    await connection.adapter().addComment(ref, { id: Number(comment.id), body: comment.body, actor: comment.actor }, ctx);
    // Advanced after each comment: a crash re-sends at most one, which the tracker-side marker drops.
    await sql`update mappings set comment_cursor = ${comment.id} where item_key = ${itemKey} and connection_id = ${connection.config.id}`;
  }
  return pending.length;
}

export async function loadItem(sql: Sql, key: string): Promise<ItemState | null> {
  const [row] = await sql<{ key: string; kind: string | null; desired: FieldValues; version: string; deleted_at: Date | null }[]>`
    select key, kind, desired, version, deleted_at from items where key = ${key}`;
  return row
    ? { key: row.key, kind: row.kind, desired: row.desired ?? {}, version: Number(row.version), deleted: row.deleted_at !== null }
    : null;
}

export async function loadMapping(sql: Sql, itemKey: string, connectionId: string): Promise<MappingState | null> {
  const [row] = await sql<MappingRow[]>`
    select id, remote_id, remote_key, link_to, base, status, synced_version, comment_cursor, create_intent_at, remote_changed_at, pending_push
    from mappings where item_key = ${itemKey} and connection_id = ${connectionId}`;
  return row ? toMappingState(row) : null;
}

/** An event linked an item to an issue another item already holds on this connection. */
export class LinkTakenError extends Error {}

async function claimRemote(
  sql: Sql,
  mappingId: number,
  remote: RemoteIssue,
  base: SyncBase,
  by: { itemKey: string; actor: string; connectionId: string },
): Promise<void> {
  const [holder] = await sql<{ item_key: string }[]>`
    select item_key from mappings where connection_id = (select connection_id from mappings where id = ${mappingId})
      and remote_id = ${remote.id} and id <> ${mappingId}`;
  if (holder) {
    throw new LinkTakenError(
      `${remote.key} is already synced with item "${holder.item_key}"; one issue carries one item per connection (link another issue, or unlink that item)`,
    );
  }
  // With its audit row, in one statement (see the create above).
  await sql`
    with linked as (${auditRow(sql, by.itemKey, by.actor, 'remote.linked', by.connectionId, { remote: remote.key, url: remote.url })})
    update mappings set remote_id = ${remote.id}, remote_key = ${remote.key}, remote_url = ${remote.url}, base = ${sql.json(base as never)},
      status = 'synced', remote_updated_at = ${remote.updatedAt ?? null}, updated_at = now() where id = ${mappingId}`;
}

export async function openConflictFields(sql: Sql, itemKey: string, connectionId: string): Promise<Set<FieldName>> {
  const rows = await sql<
    { field: FieldName }[]
  >`select distinct field from conflicts where item_key = ${itemKey} and connection_id = ${connectionId} and status = 'open'`;
  return new Set(rows.map((r) => r.field));
}

export async function audit(
  sql: Sql,
  itemKey: string,
  actor: string,
  action: string,
  connectionId: string | null,
  detail: Record<string, unknown>,
): Promise<void> {
  await sql`${auditRow(sql, itemKey, actor, action, connectionId, detail)}`;
}

/** The INSERT of one audit row, as a fragment: alone (audit) or beside the statement it records. */
function auditRow(sql: Sql, itemKey: string, actor: string, action: string, connectionId: string | null, detail: Record<string, unknown>) {
  return sql`insert into activity (item_key, actor, action, connection_id, detail) values (${itemKey}, ${actor}, ${action}, ${connectionId}, ${sql.json(detail as never)})`;
}

export function onlySupported(values: FieldValues, supported: Set<FieldName>): FieldValues {
  const out: FieldValues = {};
  for (const f of SYNC_FIELDS)
    if (supported.has(f) && values[f] !== undefined) (out as Record<string, unknown>)[f] = canonical(f, values[f] as never);
  return out;
}

export function translateAll(connection: Connection, values: FieldValues, dir: 'toLocal' | 'toRemote'): FieldValues {
  const out: FieldValues = {};
  for (const f of SYNC_FIELDS) {
    if (values[f] === undefined) continue;
    (out as Record<string, unknown>)[f] = canonical(f, connection.translate[dir](f, values[f] as never) as never);
  }
  return out;
}

function diffFields(want: FieldValues, have: FieldValues): FieldValues {
  const out: FieldValues = {};
  for (const f of SYNC_FIELDS) {
    if (want[f] === undefined) continue;
    if (JSON.stringify(canonical(f, want[f] as never)) !== JSON.stringify(canonical(f, have[f] as never)))
      (out as Record<string, unknown>)[f] = want[f];
  }
  return out;
}
