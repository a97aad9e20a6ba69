import { canonical, fieldNames, listOf, setField, isSetValued, sameValue, setDelta, type FieldName, type FieldValues } from './fields.ts';
import type { SyncBase } from './base.ts';
import type { Translator } from './translate.ts';

export type Direction = 'both' | 'push' | 'pull';
export type Strategy = 'local-wins' | 'remote-wins' | 'merge' | 'manual';

export interface DiffInput {
  /** The item's desired state (orchestrator vocabulary); absent fields were never asserted. */
  local: FieldValues;
  /** The remote issue as read now (tracker vocabulary), or null when it was not read. */
  remote: FieldValues | null;
  base: SyncBase;
  translate: Translator;
  direction: Direction;
  strategy: Strategy;
  /** Fields with an open manual conflict: left alone until an operator resolves it. */
  heldFields?: ReadonlySet<FieldName>;
}

export interface ConflictDecision {
  field: FieldName;
  base: unknown;
  local: unknown;
  remote: unknown;
  /** What the strategy did: took one side, merged, or left it open (manual). */
  outcome: 'local' | 'remote' | 'merged' | 'open';
  strategy: Strategy;
  /** Why, when it is not the usual "both sides changed" (a tracker refusing one field). */
  reason?: string;
}

export interface FieldChange {
  from: unknown;
  to: unknown;
}

export interface ReconcilePlan {
  /** Values to write to the tracker (tracker vocabulary), only fields that must change. */
  push: FieldValues;
  /** Values the item takes from the tracker (orchestrator vocabulary). */
  pull: Partial<Record<FieldName, FieldChange>>;
  conflicts: ConflictDecision[];
  /** The base once the push (if any) succeeds with exactly the values planned. */
  nextBase: SyncBase;
}

/**
 * The three-way diff: each field of each side is compared with that side's half of the base.
 * Only local changed: push. Only remote changed: pull. Both changed to different values: the
 * strategy decides. Pure: no I/O, so every case is a unit test.
 */
export function planReconcile(input: DiffInput): ReconcilePlan {
  const { local, remote, base, translate, direction, strategy } = input;
  const canPush = direction !== 'pull';
  const canPull = direction !== 'push';
  const plan: ReconcilePlan = {
    push: {},
    pull: {},
    conflicts: [],
    nextBase: { local: { ...base.local }, remote: { ...base.remote } },
  };

  // Core fields, and the custom fields either side carries now (local and remote hold only the
  // fields this connection syncs; a custom field left only in the base is no longer mapped).
  for (const field of fieldNames(local, remote)) {
    if (input.heldFields?.has(field)) continue;
    const L = local[field];
    const BL = base.local[field];
    const BR = base.remote[field];
    const R = remote ? remote[field] : undefined;
    const asSet = isSetValued(field, L, BL, BR, R);
    const localChanged = L !== undefined && !sameValue(field, L, BL);
    const remoteChanged = remote !== null && !sameValue(field, R, BR);
    // The remote value Trackline believes is there now: read if it was read, else the base.
    const remoteNow = remote !== null ? R : BR;

    if (!localChanged && !remoteChanged) continue;

    if (localChanged && !remoteChanged) {
      if (canPush) pushField(plan, field, pushTarget(field, asSet, L, BL, remoteNow, translate), L, remoteNow);
      continue;
    }

    if (remoteChanged && !localChanged) {
      if (canPull) pullField(plan, field, pullTarget(field, asSet, R, BR, L ?? BL, translate), L ?? BL, R);
      else setField(plan.nextBase.remote, field, canonical(field, R as never));
      continue;
    }

    // Both sides changed. The same new value on both sides is agreement, not a conflict. The whole
    // local value is compared, not its delta applied to the remote: a remote set holding every
    // label the local side added (and more) is a different value, and taking it for agreement left
    // the two sides apart for good (found by the fault suite's convergence property).
    const localAsRemote = translate.toRemote(field, L as never);
    if (sameValue(field, localAsRemote, R)) {
      setField(plan.nextBase.local, field, canonical(field, L as never));
      setField(plan.nextBase.remote, field, canonical(field, R as never));
      continue;
    }
    const decision: ConflictDecision = { field, base: BL, local: L, remote: R, outcome: 'open', strategy };
    plan.conflicts.push(decision);
    const winner = effectiveWinner(strategy, asSet, direction);
    if (winner === 'open') continue;
    if (winner === 'merge') {
      const merged = mergeSets(listOf(BL), listOf(L), listOf(translate.toLocal(field, R as never)));
      decision.outcome = 'merged';
      if (canPull && !sameValue(field, merged, L)) plan.pull[field] = { from: L, to: merged };
      setField(plan.nextBase.local, field, canonical(field, merged as never));
      const mergedRemote = translate.toRemote(field, merged as never);
      if (canPush && !sameValue(field, mergedRemote, R)) setField(plan.push, field, canonical(field, mergedRemote));
      setField(plan.nextBase.remote, field, canonical(field, (canPush ? mergedRemote : R) as never));
      continue;
    }
    if (winner === 'local') {
      decision.outcome = 'local';
      pushField(plan, field, translate.toRemote(field, L as never), L, R);
    } else {
      decision.outcome = 'remote';
      pullField(plan, field, translate.toLocal(field, R as never), L, R);
    }
  }
  return plan;
}

/** Which side a strategy favours for this field, given what the direction allows. */
function effectiveWinner(strategy: Strategy, asSet: boolean, direction: Direction): 'local' | 'remote' | 'merge' | 'open' {
  if (strategy === 'manual') return 'open';
  if (strategy === 'merge') return asSet ? 'merge' : direction === 'pull' ? 'remote' : 'local';
  // A set changed on both sides keeps both sides' additions and removals under local-wins too:
  // the orchestrator's changes go in, and what a person added stays and comes back to the item
  // (issue 15). A push-only connection never takes values back, so there the local set wins.
  if (strategy === 'local-wins') return direction === 'pull' ? 'remote' : asSet && direction === 'both' ? 'merge' : 'local';
  return direction === 'push' ? 'local' : 'remote';
}

function pushField(plan: ReconcilePlan, field: FieldName, target: unknown, localValue: unknown, remoteNow: unknown): void {
  setField(plan.nextBase.local, field, canonical(field, localValue as never));
  setField(plan.nextBase.remote, field, canonical(field, target as never));
  if (!sameValue(field, target, remoteNow)) setField(plan.push, field, canonical(field, target as never));
}

function pullField(plan: ReconcilePlan, field: FieldName, target: unknown, localNow: unknown, remoteValue: unknown): void {
  setField(plan.nextBase.local, field, canonical(field, target as never));
  setField(plan.nextBase.remote, field, canonical(field, remoteValue as never));
  if (!sameValue(field, target, localNow)) plan.pull[field] = { from: localNow, to: canonical(field, target as never) };
}

/**
 * The remote value that carries a local change. For sets only the local delta is applied to what
 * the tracker has, so a label a person added in the tracker survives Trackline's update.
 */
function pushTarget(field: FieldName, asSet: boolean, L: unknown, BL: unknown, remoteNow: unknown, translate: Translator): unknown {
  if (!asSet) return translate.toRemote(field, L as never);
  const added = difference(listOf(L), listOf(BL));
  const removed = difference(listOf(BL), listOf(L));
  const start = listOf(remoteNow ?? translate.toRemote(field, BL as never));
  return applyDelta(start, translate.toRemote(field, added) as string[], translate.toRemote(field, removed) as string[]);
}

/** The local value that carries a remote change; for sets, the remote delta applied locally. */
function pullTarget(field: FieldName, asSet: boolean, R: unknown, BR: unknown, localNow: unknown, translate: Translator): unknown {
  if (!asSet) return translate.toLocal(field, R as never);
  const added = difference(listOf(R), listOf(BR));
  const removed = difference(listOf(BR), listOf(R));
  const start = listOf(localNow);
  return applyDelta(start, translate.toLocal(field, added) as string[], translate.toLocal(field, removed) as string[]);
}

/**
 * The remote half of the base for a set field Trackline has just written as a delta (`since` ->
 * `expected`), given what the tracker answered (`written`). A value a person added in the tracker
 * before its webhook arrived is in `written` but not in `expected`: it stays out of the base, so
 * the next read sees it as the person's change and brings it to the item, instead of the base
 * swallowing it. A value a person removed meanwhile stays in the base for the same reason. A value
 * Trackline added that the tracker did not keep is left out, as the tracker has it.
 */
export function baseAfterSetWrite(expected: string[], since: string[], written: string[]): string[] {
  const ours = new Set(setDelta(since, expected).add);
  const got = new Set(written);
  return [...new Set(expected.filter((v) => got.has(v) || !ours.has(v)))].sort();
}

/** Three-way set merge: keep what neither side removed, add what either side added. */
export function mergeSets(base: string[] | undefined, local: string[], remote: string[] | undefined): string[] {
  const b = new Set(base ?? []);
  const l = new Set(local ?? []);
  const r = new Set(remote ?? []);
  const out = new Set<string>();
  for (const x of b) if (l.has(x) && r.has(x)) out.add(x);
  for (const x of l) if (!b.has(x)) out.add(x);
  for (const x of r) if (!b.has(x)) out.add(x);
  return [...out].sort();
}

function difference(a: string[], b: string[]): string[] {
  const drop = new Set(b);
  return a.filter((x) => !drop.has(x));
}

function applyDelta(start: string[], added: string[], removed: string[]): string[] {
  const out = new Set(start);
  for (const x of removed) out.delete(x);
  for (const x of added) out.add(x);
  return [...out].sort();
}
