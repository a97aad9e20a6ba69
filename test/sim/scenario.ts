import fc from 'fast-check';
import type { Strategy } from '../../src/sync/diff.ts';
import { TRACKER_KINDS, type TrackerKind } from './trackers.ts';

/**
 * What one simulated run does, drawn by fast-check from the run's seed (so a failure shrinks to
 * a small scenario). Values are in the orchestrator's vocabulary; the run translates the remote
 * side's edits through the connection's state map.
 */

export const TITLES = ['alpha', 'beta', 'gamma'] as const;
export const STATES = ['planned', 'doing', 'done'] as const;
export const LABELS = ['a', 'b', 'c'] as const;
export const PRIORITIES = ['low', 'high'] as const;
/** Custom fields (runs with `custom`): a scalar (a single select; null clears it) and a multi-select. */
export const RISK = 'fields.risk' as const;
export const AREAS = 'fields.areas' as const;
export const RISKS = ['low', 'high', null] as const;
export const AREA_VALUES = ['x', 'y', 'z'] as const;
/** Local state -> remote state name (Plane/Jira workflow names). */
export const STATE_MAP: Record<string, string> = { planned: 'Todo', doing: 'In Progress', done: 'Done' };
export const STRATEGIES: readonly Strategy[] = ['local-wins', 'remote-wins', 'merge', 'manual'];

export interface Full {
  title: string;
  state: string;
  labels: string[];
  priority: string;
  /** Only in runs with custom fields. */
  [RISK]?: string | null;
  [AREAS]?: string[] | null;
}
export type Patch = Partial<Full>;

export type Edit =
  | { kind: 'local'; item: number; patch: Patch }
  | { kind: 'remote'; item: number; patch: Patch }
  /** A person ticks one more option of the multi-select in the tracker (whatever it holds now). */
  | { kind: 'remoteAdd'; item: number; value: string }
  | { kind: 'localComment'; item: number }
  | { kind: 'remoteComment'; item: number };

export type HookAction = 'deliver' | 'twice' | 'drop' | 'hold';

export type Op =
  | Edit
  /** Hand the webhooks emitted so far to the intake, each delivered, twice, dropped or held back. */
  | { kind: 'hooks'; actions: HookAction[]; shuffle: number }
  | { kind: 'poll' }
  /** Live segments: run the item's pending reconcile now (with this segment's faults). */
  | { kind: 'sync'; item: number }
  /** Live segments: a labels-only pass of the item now (`trackline sync --labels-only`), retried until it succeeds. */
  | { kind: 'labelsOnly'; item: number }
  | { kind: 'wait'; ms: number }
  | { kind: 'localDelete'; item: number };

export type CallFault = 'r429' | 'r5xx' | 'timeout' | 'lost';

/** Faults of a segment, by the index of the engine's steps (store statements and tracker calls). */
export interface Faults {
  /** Crash (the worker dies) just before these steps of a reconcile. */
  crashes: number[];
  /** A tracker call at this step fails: 429, 5xx, a timeout before the tracker saw it, or its answer lost after it was applied. */
  calls: { at: number; fault: CallFault }[];
  /** Live segments: an edit lands just before this step, while a reconcile runs. */
  during: { at: number; edit: Edit }[];
}

export interface Segment {
  /**
   * paused: every edit lands between two syncs, then the pairs settle (under faults): the outcome
   * is exact. live: edits, webhooks, polls and reconciles interleave (and edits land inside
   * reconciles): the outcome depends on the order, so the check is weaker.
   */
  mode: 'paused' | 'live';
  ops: Op[];
  faults: Faults;
  /** manual: how an operator resolves each open conflict once the segment settled. */
  resolve: ('local' | 'remote')[];
  /** Paused segments: a labels-only pass of every item once the edits are in, before the pairs settle (under the faults). */
  labelsOnly?: boolean;
}

export interface Scenario {
  tracker: TrackerKind;
  strategy: Strategy;
  /** The tracker and the connection carry the two custom fields (field_map), and edits draw them. */
  custom?: boolean;
  initial: Full[];
  /** Faults while the items are first created. */
  createFaults: Faults;
  segments: Segment[];
}

const coreArbs = {
  title: fc.constantFrom(...TITLES),
  state: fc.constantFrom(...STATES),
  labels: fc.subarray([...LABELS]),
  priority: fc.constantFrom(...PRIORITIES),
};
const customArbs = {
  [RISK]: fc.constantFrom(...RISKS),
  // null from the orchestrator clears the multi-select (the empty set).
  [AREAS]: fc.oneof({ weight: 5, arbitrary: fc.subarray([...AREA_VALUES]) }, { weight: 1, arbitrary: fc.constant(null) }),
};

function fullArb(custom: boolean): fc.Arbitrary<Full> {
  // An item may not set a custom field at all (the tracker then reports it null or empty).
  return custom
    ? fc.record({ ...coreArbs, ...customArbs }, { requiredKeys: ['title', 'state', 'labels', 'priority'] })
    : fc.record(coreArbs);
}

function patchArb(custom: boolean): fc.Arbitrary<Patch> {
  return fc
    .record<Patch>(custom ? { ...coreArbs, ...customArbs } : coreArbs, { requiredKeys: [] })
    .filter((p) => Object.keys(p).length > 0);
}

function faultsArb(live: boolean, items: number, custom: boolean): fc.Arbitrary<Faults> {
  const item = fc.nat({ max: items - 1 });
  return fc.record({
    crashes: fc.array(fc.nat({ max: 40 }), { maxLength: 3 }),
    calls: fc.array(fc.record({ at: fc.nat({ max: 40 }), fault: fc.constantFrom<CallFault>('r429', 'r5xx', 'timeout', 'lost') }), {
      maxLength: 3,
    }),
    during: live ? fc.array(fc.record({ at: fc.nat({ max: 40 }), edit: editArb(item, custom) }), { maxLength: 3 }) : fc.constant([]),
  });
}

function editArb(item: fc.Arbitrary<number>, custom: boolean): fc.Arbitrary<Edit> {
  const arbs: { weight: number; arbitrary: fc.Arbitrary<Edit> }[] = [
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('local' as const), item, patch: patchArb(custom) }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('remote' as const), item, patch: patchArb(custom) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('localComment' as const), item }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('remoteComment' as const), item }) },
  ];
  if (custom)
    arbs.push({
      weight: 2,
      arbitrary: fc.record({ kind: fc.constant('remoteAdd' as const), item, value: fc.constantFrom(...AREA_VALUES) }),
    });
  return fc.oneof(...arbs);
}

function opArb(items: number, live: boolean, custom: boolean): fc.Arbitrary<Op> {
  const item = fc.nat({ max: items - 1 });
  const arbs: { weight: number; arbitrary: fc.Arbitrary<Op> }[] = [
    { weight: 8, arbitrary: editArb(item, custom) },
    {
      weight: 3,
      arbitrary: fc.record({
        kind: fc.constant('hooks' as const),
        actions: fc.array(fc.constantFrom<HookAction>('deliver', 'twice', 'drop', 'hold'), { minLength: 1, maxLength: 4 }),
        shuffle: fc.nat(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('poll' as const) }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.constantFrom(50, 400, 1_500, 5_000) }) },
  ];
  if (live) {
    arbs.push({ weight: 4, arbitrary: fc.record({ kind: fc.constant('sync' as const), item }) });
    arbs.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('localDelete' as const), item }) });
    arbs.push({ weight: 1, arbitrary: fc.record({ kind: fc.constant('labelsOnly' as const), item }) });
  }
  return fc.oneof(...arbs);
}

export const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({ items: fc.integer({ min: 1, max: 3 }), custom: fc.boolean() })
  .chain(({ items, custom }) =>
    fc.record({
      tracker: fc.constantFrom(...TRACKER_KINDS),
      strategy: fc.constantFrom(...STRATEGIES),
      custom: fc.constant(custom),
      initial: fc.array(fullArb(custom), { minLength: items, maxLength: items }),
      createFaults: faultsArb(false, items, custom),
      segments: fc.array(
        fc.constantFrom<'paused' | 'live'>('paused', 'live').chain((mode) =>
          fc.record({
            mode: fc.constant(mode),
            ops: fc.array(opArb(items, mode === 'live', custom), { minLength: 1, maxLength: 8 }),
            faults: faultsArb(mode === 'live', items, custom),
            resolve: fc.array(fc.constantFrom<'local' | 'remote'>('local', 'remote'), { minLength: 1, maxLength: 3 }),
            // A labels-only pass in about a quarter of the paused segments.
            labelsOnly: mode === 'paused' ? fc.nat({ max: 3 }).map((n) => n === 0) : fc.constant(false),
          }),
        ),
        { minLength: 1, maxLength: 3 },
      ),
    }),
  );
