import type { Connection } from './port/connection.ts';
import type { CallContext } from './port/tracker.ts';
import { emptyBase } from './base.ts';
import { planReconcile, type ConflictDecision, type FieldChange } from './diff.ts';
import type { FieldName, FieldValues } from './fields.ts';
import { onlySupported, translateAll } from './reconcile.ts';
import { applyResolutions, pinToTrackerValue } from './resolve-conflict.ts';
import type { SyncStore } from './port/store.ts';

/** What a reconcile of one pair would do, field by field, without writing anywhere. */
export interface PairPlan {
  itemKey: string;
  connectionId: string;
  action: 'create' | 'link' | 'update' | 'none' | 'skip';
  remoteKey: string | null;
  /** Fields that would be written to the tracker (tracker vocabulary), with what is there now. */
  push: Partial<Record<FieldName, FieldChange>>;
  /** Fields the item would take from the tracker (orchestrator vocabulary). */
  pull: Partial<Record<FieldName, FieldChange>>;
  conflicts: ConflictDecision[];
  /** Comments that would be posted. */
  comments: number;
  note?: string;
  /** What the pull request step would do ("would open PR feature/WP02 → main (draft)"). */
  pullRequest?: string;
}

/**
 * Plans a pair like the reconcile job would, but only reads: the remote issue is fetched (GET)
 * so the plan shows both directions, and nothing is written to the tracker or the database.
 */
export async function planPair(store: SyncStore, connection: Connection, itemKey: string, ctx: CallContext = {}): Promise<PairPlan> {
  const config = connection.config;
  const adapter = connection.adapter();
  const plan: PairPlan = {
    itemKey,
    connectionId: config.id,
    action: 'none',
    remoteKey: null,
    push: {},
    pull: {},
    conflicts: [],
    comments: 0,
  };
  const { item, mapping, heldFields, resolutions } = await store.loadPair(itemKey, config.id);
  if (!item || !mapping) return { ...plan, action: 'skip', note: 'the connection does not carry this item' };
  if (item.deleted || mapping.status === 'deleted')
    return { ...plan, action: 'skip', note: 'the item was deleted; the pair no longer syncs' };
  if (mapping.status === 'remote_deleted') return { ...plan, action: 'skip', note: 'the remote issue was deleted' };
  const supported = new Set(adapter.supportedFields);
  const local = onlySupported(item.desired, supported);
  plan.comments = await store.countPendingComments(itemKey, mapping.commentCursor);

  let base = mapping.base ?? emptyBase();
  let remote;
  if (!mapping.remoteId) {
    if (mapping.linkTo) {
      remote = await adapter.resolveLink(mapping.linkTo, ctx);
      plan.action = 'link';
      plan.remoteKey = remote.key;
      base = { local: onlySupported(translateAll(connection, remote.fields, 'toLocal'), supported), remote: remote.fields };
    } else if (!config.create_missing) {
      return { ...plan, action: 'skip', note: 'create_missing is off and the item has no link for this connection' };
    } else {
      const fields = translateAll(connection, local, 'toRemote');
      for (const [f, v] of Object.entries(fields)) plan.push[f as FieldName] = { from: null, to: v };
      return {
        ...plan,
        action: 'create',
        note: mapping.createIntentAt ? 'an earlier create may have reached the tracker: it is looked up first' : undefined,
      };
    }
  } else {
    remote = await adapter.get({ id: mapping.remoteId, key: mapping.remoteKey }, ctx);
    plan.remoteKey = remote.key;
  }
  if (resolutions.length) {
    base = applyResolutions(base, item.desired as Record<string, unknown>, resolutions, connection.translate);
    // As the reconcile does: a forced push plans against the tracker's value as read.
    pinToTrackerValue(base, resolutions, remote.fields, connection.translate);
  }
  const diff = planReconcile({
    local,
    remote: onlySupported(remote.fields, supported),
    base,
    translate: connection.translate,
    direction: config.direction,
    strategy: config.conflict_strategy,
    heldFields,
  });
  for (const [f, v] of Object.entries(diff.push) as [FieldName, unknown][])
    plan.push[f] = { from: (remote.fields as FieldValues)[f] ?? null, to: v };
  plan.pull = diff.pull;
  plan.conflicts = diff.conflicts;
  if (plan.action === 'none' && (Object.keys(plan.push).length || Object.keys(plan.pull).length || plan.comments)) plan.action = 'update';
  return plan;
}
