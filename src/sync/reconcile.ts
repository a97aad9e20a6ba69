import type { Connection } from './port/connection.ts';
import type { CallContext, RemoteIssue } from './port/tracker.ts';
import { canonical, fieldNames, isSetValued, sameValue, setField, type FieldName, type FieldValues } from './fields.ts';
import { emptyBase, type SyncBase } from './base.ts';
import { baseAfterSetWrite, planReconcile, type ReconcilePlan } from './diff.ts';
import { CreateDeferredError, CreateRefusedError, PartialUpdateError, RefusedFieldsError, TrackerError } from './port/errors.ts';
import { applyResolutions, pinToTrackerValue } from './resolve-conflict.ts';
import { holdUnsafeState, statePolicy } from './state-guard.ts';
import type { ConflictRecord, ItemState, MappingState, PendingPush, SyncStore } from './port/store.ts';
import { systemClock, type Clock } from './port/clock.ts';

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
  /**
   * Fields the tracker refused (RefusedFieldsError), with why: the rest was synced and recorded,
   * and the delivery fails with this message (not retried; the next change tries them again).
   */
  refused?: string;
}

export interface ReconcileInput {
  /** Where the pair lives: Postgres in the product (src/sync/postgres), memory in the simulator. */
  store: SyncStore;
  /** The system clock unless a simulation brings its own. */
  clock?: Clock;
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
  /**
   * Only these fields (`trackline sync --labels-only`): the pass merges and writes them and
   * nothing else (no create, no comments, no other field, no re-open guard to meet), and records
   * only their part of the base (SyncStore's ReconciledResult.fields), so the item's other changes
   * stay due for the next full reconcile.
   */
  onlyFields?: readonly FieldName[];
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
      const version = await input.store.itemVersion(input.itemKey);
      if (version === null) break;
      latest = version;
    }
    // Snapshot semantics: a change that arrived while this pass ran is synced before finishing.
    if (latest <= outcome.version) break;
  }
  return outcome!;
}

async function reconcileOnce(input: ReconcileInput, previous?: ReconcileOutcome): Promise<ReconcileOutcome> {
  const { store, connection, itemKey } = input;
  const config = connection.config;
  const adapter = connection.adapter();
  const warnings: string[] = previous?.warnings ?? [];
  const actor = `sync:${config.id}`;

  const [{ item, mapping, heldFields, resolutions: allResolutions, newComments }, deliveryId] = await Promise.all([
    store.loadPair(itemKey, config.id),
    input.deliveryId,
  ]);
  const ctx: CallContext = { deliveryId, warn: (m) => warnings.push(m) };
  // A pass limited to some fields carries out only their resolutions (forced pushes included).
  const resolutions = input.onlyFields ? allResolutions.filter((r) => input.onlyFields!.includes(r.field as FieldName)) : allResolutions;
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
    ...(previous?.refused ? { refused: previous.refused } : {}),
  };
  if (!item || !mapping) return { ...outcome, action: 'skipped' };
  if (mapping.status === 'remote_deleted')
    return { ...outcome, action: 'skipped', warnings: [...warnings, 'the remote issue was deleted; the pair no longer syncs'] };
  const only = input.onlyFields;
  if (only && (item.deleted || !mapping.remoteId))
    return {
      ...outcome,
      action: 'skipped',
      warnings: [
        ...warnings,
        `a ${only.join(', ')}-only sync ${item.deleted ? 'does not stop a deleted item' : 'creates and links nothing'}`,
      ],
    };

  const supported = new Set(adapter.supportedFields);
  const local = onlySupported(item.desired, supported);
  const by = { itemKey, actor, connectionId: config.id };

  if (item.deleted) {
    // The remote issue is left as it is (people may still need it); the pair stops syncing.
    if (mapping.status !== 'deleted') {
      await store.stopPair(mapping.id, item.version, by, {
        reason: 'item deleted by the orchestrator; remote issue left in place',
        remote: mapping.remoteKey,
        // A push whose answer never came may have landed; the trail says what it wrote (found
        // by the simulator: it said nothing).
        ...(mapping.pendingPush ? { unconfirmedPush: mapping.pendingPush.remote } : {}),
      });
    } else {
      await store.markSynced(mapping.id, item.version);
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
      await claimRemote(store, mapping.id, remote, base, by);
      outcome.action = 'linked';
    } else if (!config.create_missing) {
      await store.markUnmapped(mapping.id, item.version);
      return {
        ...outcome,
        action: 'skipped',
        warnings: [...warnings, 'create_missing is off and the item has no link for this connection'],
      };
    } else {
      let held: PartialUpdateError | null = null;
      let refused: RefusedFieldsError | null = null;
      try {
        remote = await createExactlyOnce(store, input.clock ?? systemClock, connection, item, local, mapping, ctx);
      } catch (error) {
        if (error instanceof RefusedFieldsError) {
          refused = error;
          remote = error.partial;
        } else {
          if (!(error instanceof PartialUpdateError)) throw error;
          // Created, but one field could not be set (Jira: the initial state is out of the
          // workflow's reach). Keep the issue; hold that field for an operator.
          held = error;
          remote = error.partial;
        }
      }
      base = { local, remote: remote.fields };
      if (refused) {
        // Created without the fields the tracker refused: out of the base, so the next change
        // of the item tries them again; the delivery fails naming them.
        base = { local: { ...local }, remote: { ...remote.fields } };
        for (const r of refused.refused) {
          delete base.local[r.field];
          delete base.remote[r.field];
        }
        outcome.refused = refused.message;
        warnings.push(refused.message);
      }
      if (held) {
        base = { local: { ...local }, remote: { ...remote.fields } };
        delete base.local[held.field];
        await store.openConflict(by, held.field, local[held.field], remote.fields[held.field], held.message);
        await store.audit(itemKey, actor, 'conflict.opened', config.id, { field: held.field, reason: held.message });
        warnings.push(held.message);
      }
      await store.recordCreated(mapping.id, remote, base, item.version, held?.message ?? null, by);
      outcome.comments += await deliverComments(store, connection, itemKey, { id: remote.id, key: remote.key }, mapping.commentCursor, ctx);
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
        outcome.changeIds.push(...(await store.markRemoteDeleted(config.id, ref.id, undefined)));
        return { ...outcome, action: 'remote_deleted' };
      }
      throw error;
    }
  }

  // A forced push (sync --force) names no remote value: the tracker's value as read now is the base.
  if (remote && resolutions.length) pinToTrackerValue(base, resolutions, remote.fields, connection.translate);

  // Writes of an earlier attempt that landed unrecorded: their activity rows go with this pass's.
  const recovered: { field: string; from_value: unknown; to_value: unknown }[] = [];
  let adopted = false;
  if (mapping.pendingPush && remote) {
    // An earlier attempt pushed and died before saving the base. Where the tracker holds what it
    // pushed, that write landed: it becomes the base, so the diff sees what changed since.
    base = { local: { ...base.local }, remote: { ...base.remote } };
    for (const f of Object.keys(mapping.pendingPush.remote) as FieldName[]) {
      if (!sameValue(f, remote.fields[f], mapping.pendingPush.remote[f])) continue;
      if (!sameValue(f, base.remote[f], mapping.pendingPush.remote[f])) {
        // The trail must say this write happened (found by the simulator: it said nothing).
        recovered.push({ field: f, from_value: base.remote[f] ?? null, to_value: mapping.pendingPush.remote[f] ?? null });
      }
      // That pass also pulled the field (a merge sent to both sides) and died before the item
      // took it: the base stays, so the diff merges again (the same merge, the tracker already
      // holds it) and the item gets its value. Adopting it made the item's own older value read
      // as a change and pushed it over the merge (found by the simulator).
      if (mapping.pendingPush.pulled?.includes(f)) continue;
      adopted = true;
      setField(base.local, f, mapping.pendingPush.local[f]);
      setField(base.remote, f, canonical(f, remote.fields[f] as never));
    }
  }

  if (adopted || recovered.length) {
    // Recorded at once (the trail rows, the base, the intent cleared), before this pass pushes
    // anything: its own intent replaces the old one, and a crash after that lost the only record
    // of the earlier push, which the next pass then read back as a remote change and pulled over
    // the item (found by the simulator).
    await store.recordPushed({
      mappingId: mapping.id,
      itemKey,
      connectionId: config.id,
      actor,
      pushed: recovered,
      nextBase: base,
      version: mapping.syncedVersion,
      remote: { key: remote?.key ?? null, url: remote?.url ?? null, updatedAt: null },
    });
    mapping.base = base;
  }

  const plan = planReconcile({
    local,
    remote: remote ? onlySupported(remote.fields, supported) : null,
    base,
    translate: connection.translate,
    direction: config.direction,
    strategy: config.conflict_strategy,
    // The fields a limited pass leaves alone are held for it: the diff neither pushes nor pulls them.
    heldFields: only
      ? new Set([...heldFields, ...fieldNames(local, remote?.fields, base.local, base.remote).filter((f) => !only.includes(f))])
      : heldFields,
  });
  // Re-opening a done issue, or closing one where close_issues is off, waits for a decision
  // (state-guard.ts); an operator's local resolution of that decision forces it through.
  const held = holdUnsafeState({
    plan,
    policy: statePolicy(config, (s) => adapter.closesIssue?.(s) ?? false),
    localState: local.state,
    remoteState: remote ? remote.fields.state : base.remote.state,
    base,
    translate: connection.translate,
    strategy: config.conflict_strategy,
    forced: resolutions.some((r) => r.use === 'local' && r.field === 'state'),
    remoteKey: ref.key,
  });
  if (held) warnings.push(held);

  let after = remote;
  let personChangedSet = false;
  const pushedFields = Object.keys(plan.push) as FieldName[];
  if (pushedFields.length) {
    let blocked: PartialUpdateError | null = null;
    let refused: RefusedFieldsError | null = null;
    const intent: PendingPush = { local: {}, remote: plan.push };
    for (const f of pushedFields) setField(intent.local, f, plan.nextBase.local[f]);
    const pulledToo = pushedFields.filter((f) => plan.pull[f] !== undefined);
    if (pulledToo.length) intent.pulled = pulledToo;
    await store.recordPendingPush(mapping.id, intent);
    // What Trackline believes the tracker holds for each pushed field: set fields are written as
    // the difference from it, so what a person added meanwhile is left in place.
    const believed = remote ? remote.fields : base.remote;
    const since: FieldValues = {};
    for (const f of pushedFields) if (believed[f] !== undefined) setField(since, f, believed[f]);
    try {
      after = await adapter.update(ref, plan.push, ctx, since);
    } catch (error) {
      if (error instanceof RefusedFieldsError) {
        // The other fields were written; the refused ones keep their base (tried again with the
        // next change) and the delivery fails naming them.
        refused = error;
        after = error.partial;
      } else {
        if (!(error instanceof PartialUpdateError)) throw error;
        // The other fields were written; the one the tracker refused is held for an operator.
        blocked = error;
        after = error.partial;
      }
    }
    const refusedFields = new Set(refused?.refused.map((r) => r.field) ?? []);
    for (const f of refusedFields) {
      setField(plan.nextBase.local, f, base.local[f]);
      setField(plan.nextBase.remote, f, base.remote[f]);
      delete (plan.push as Record<string, unknown>)[f];
    }
    if (refused) {
      outcome.refused = refused.message;
      warnings.push(refused.message);
    }
    // What the tracker holds after the write is the remote half of the base: a sanitised body or
    // a reordered set then reads back as "unchanged", never as an echo.
    for (const f of pushedFields) {
      if ((blocked && f === blocked.field) || refusedFields.has(f)) continue;
      let value = canonical(f, after.fields[f] as never);
      const was = since[f];
      if (isSetValued(f, was, value) && Array.isArray(was) && Array.isArray(value)) {
        // A person's change to the set that arrived before its webhook reads as a remote change.
        const kept = baseAfterSetWrite(plan.push[f] as string[], was, value);
        if (!sameValue(f, kept, value)) {
          value = kept;
          personChangedSet = true;
        }
      }
      setField(plan.nextBase.remote, f, value);
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
    personChangedSet ||
    // A limited pass read or wrote the issue: another field differing from the base is a remote
    // change it leaves for a full pass, which the flag brings about (and the poll cannot skip).
    (only !== undefined &&
      written !== null &&
      fieldNames(written.fields).some(
        (f) => supported.has(f) && !only.includes(f) && written.fields[f] !== undefined && !sameValue(f, written.fields[f], base.remote[f]),
      )) ||
    (remote === null &&
      written !== null &&
      fieldNames(written.fields).some(
        (f) =>
          supported.has(f) &&
          !pushedFields.includes(f) &&
          written.fields[f] !== undefined &&
          !sameValue(f, written.fields[f], base.remote[f]),
      ));
  const { changeId, latestVersion } = await applyPlan(store, {
    item,
    mapping,
    plan,
    connectionId: config.id,
    actor,
    remote: after,
    strategy: config.conflict_strategy,
    resolutionIds: resolutions.map((r) => r.id),
    onlyFields: only,
  });
  outcome.latestVersion = latestVersion;
  if (unseen) await store.flagRemoteChange(mapping.id);
  // A limited pass applied only some of what it read: a remote change stays flagged for a full one.
  if (remote && mapping.remoteChangedAt && !only) {
    // Read and applied: the pull request is served, unless a newer one came in meanwhile.
    await store.clearRemoteChange(mapping.id, mapping.remoteChangedAt);
  }
  if (changeId) outcome.changeIds.push(changeId);

  // The cursor read with the mapping is still current: only deliverComments moves it, and two
  // reconciles of one pair never run at once. A comment recorded after the load bumped the item's
  // version, so the next pass (or the job parked behind this one) delivers it.
  if (newComments && !only) outcome.comments += await deliverComments(store, connection, itemKey, ref, mapping.commentCursor, ctx);
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
  store: SyncStore,
  clock: Clock,
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
      await store.audit(item.key, `sync:${connection.config.id}`, 'remote.recovered', connection.config.id, {
        remote: found.key,
        reason: 'an earlier attempt created it before failing; adopted instead of creating another',
      });
      const pending = diffFields(local, translateAll(connection, found.fields, 'toLocal'));
      return Object.keys(pending).length
        ? adapter.update({ id: found.id, key: found.key }, translateAll(connection, pending, 'toRemote'), ctx)
        : found;
    }
    // Not found yet may mean not indexed yet: a search that lags writes (Jira) misses an issue
    // created moments ago, and creating now would make a second one. Wait the lag out (the job
    // retries with backoff; not_ready uses an attempt). The intent's time is the store's clock,
    // which for Postgres on the same host is this one.
    const lag = adapter.markerLookupLagMs ?? 0;
    const age = clock.now() - mapping.createIntentAt.getTime();
    if (age < lag) {
      throw new TrackerError(
        'not_ready',
        `an earlier create may have landed and the tracker's search may not show it yet; looking again once it is ${lag} ms old`,
      );
    }
  }
  // Committed before every create call, a retried one too: the intent's time is when the newest
  // issue may have been created, which is what the lag above is measured from.
  await store.recordCreateIntent(mapping.id);
  try {
    return await adapter.create(item.key, translateAll(connection, local, 'toRemote'), ctx);
  } catch (error) {
    // The tracker refused the create itself: nothing was made, and an earlier attempt's create,
    // if any, was looked for above (past the lag) and not found. No issue can be on its way, so
    // the retry need not wait out the search lag. A timeout, a 5xx, a dropped connection or a
    // failure after the create call may have left an issue: the intent stays. A create request
    // the pacer held back never left at all (CreateDeferredError): nothing was made either.
    if (error instanceof CreateRefusedError || error instanceof CreateDeferredError) await store.clearCreateIntent(mapping.id);
    throw error;
  }
}

async function applyPlan(
  store: SyncStore,
  args: {
    item: ItemState;
    mapping: MappingState;
    plan: ReconcilePlan;
    connectionId: string;
    actor: string;
    remote: RemoteIssue | null;
    strategy: string;
    resolutionIds: number[];
    onlyFields?: readonly FieldName[];
  },
): Promise<{ changeId: number | null; latestVersion?: number }> {
  const { item, mapping, plan, connectionId, actor } = args;
  const pulled = Object.entries(plan.pull) as [FieldName, { from: unknown; to: unknown }][];
  const pushed = Object.entries(plan.push).map(([field, value]) => ({
    field,
    from_value: mapping.base?.remote[field as FieldName] ?? null,
    to_value: value ?? null,
  }));
  const remote = { key: args.remote?.key ?? null, url: args.remote?.url ?? null, updatedAt: args.remote?.updatedAt ?? null };
  if (pulled.length === 0 && plan.conflicts.length === 0 && args.resolutionIds.length === 0 && !args.onlyFields) {
    // The common case, only pushes to record: the audit rows and the new base in ONE statement
    // shared with the other passes finishing now (postgres/pair-statements.ts), instead of BEGIN,
    // one INSERT per field, the UPDATE and COMMIT. Round trips to Postgres were the largest cost
    // of a sync (bench/sync.ts).
    const latestVersion = await store.recordPushed({
      mappingId: mapping.id,
      itemKey: item.key,
      connectionId,
      actor,
      pushed,
      nextBase: plan.nextBase,
      version: item.version,
      remote,
    });
    return { changeId: null, latestVersion };
  }
  const conflicts: ConflictRecord[] = plan.conflicts.map((c) => ({
    field: c.field,
    base: c.base,
    local: c.local,
    remote: c.remote,
    outcome: c.outcome,
    strategy: c.strategy,
    reason:
      c.reason ??
      (c.outcome === 'open'
        ? 'both sides changed; waiting for an operator (manual strategy)'
        : `both sides changed; ${c.strategy} kept ${c.outcome === 'merged' ? 'the three-way merge' : `the ${c.outcome} value`}`),
  }));
  const changeId = await store.recordReconciled({
    mappingId: mapping.id,
    itemKey: item.key,
    connectionId,
    actor,
    version: item.version,
    pulled,
    pushed,
    conflicts,
    resolutionIds: args.resolutionIds,
    nextBase: plan.nextBase,
    status: plan.conflicts.some((c) => c.outcome === 'open') ? 'conflict' : 'synced',
    // A field the tracker refused says why on the mapping.
    lastError: plan.conflicts.find((c) => c.reason)?.reason ?? null,
    remote: { ...remote, updatedBy: args.remote?.updatedBy ?? null },
    ...(args.onlyFields ? { fields: [...args.onlyFields] } : {}),
  });
  return { changeId };
}

async function deliverComments(
  store: SyncStore,
  connection: Connection,
  itemKey: string,
  ref: { id: string; key?: string | null },
  cursor: number,
  ctx: CallContext,
): Promise<number> {
  const pending = await store.pendingComments(itemKey, cursor, 100);
  for (const comment of pending) {
    await connection.adapter().addComment(ref, { id: comment.id, body: comment.body, actor: comment.actor }, ctx);
    // Advanced after each comment: a crash re-sends at most one, which the tracker-side marker drops.
    await store.advanceCommentCursor(itemKey, connection.config.id, comment.id);
  }
  return pending.length;
}

/** An event linked an item to an issue another item already holds on this connection. */
export class LinkTakenError extends Error {}

async function claimRemote(
  store: SyncStore,
  mappingId: number,
  remote: RemoteIssue,
  base: SyncBase,
  by: { itemKey: string; actor: string; connectionId: string },
): Promise<void> {
  const holder = await store.remoteHolder(mappingId, remote.id);
  if (holder !== null) {
    throw new LinkTakenError(
      `${remote.key} is already synced with item "${holder}"; one issue carries one item per connection (link another issue, or unlink that item)`,
    );
  }
  await store.recordLinked(mappingId, remote, base, by);
}

/** The values a connection carries: its adapter's core fields and the custom fields its field_map names. */
export function onlySupported(values: FieldValues, supported: Set<FieldName>): FieldValues {
  const out: FieldValues = {};
  for (const f of fieldNames(values))
    if (supported.has(f) && values[f] !== undefined) (out as Record<string, unknown>)[f] = canonical(f, values[f] as never);
  return out;
}

export function translateAll(connection: Connection, values: FieldValues, dir: 'toLocal' | 'toRemote'): FieldValues {
  const out: FieldValues = {};
  for (const f of fieldNames(values)) {
    if (values[f] === undefined) continue;
    (out as Record<string, unknown>)[f] = canonical(f, connection.translate[dir](f, values[f] as never) as never);
  }
  return out;
}

function diffFields(want: FieldValues, have: FieldValues): FieldValues {
  const out: FieldValues = {};
  for (const f of fieldNames(want)) {
    if (want[f] === undefined) continue;
    if (JSON.stringify(canonical(f, want[f] as never)) !== JSON.stringify(canonical(f, have[f] as never)))
      (out as Record<string, unknown>)[f] = want[f];
  }
  return out;
}
