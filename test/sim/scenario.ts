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
/** Local state -> remote state name (Plane/Jira workflow names). */
export const STATE_MAP: Record<string, string> = { planned: 'Todo', doing: 'In Progress', done: 'Done' };
export const STRATEGIES: readonly Strategy[] = ['local-wins', 'remote-wins', 'merge', 'manual'];

export interface Full {
  title: string;
  state: string;
  labels: string[];
  priority: string;
}
export type Patch = Partial<Full>;

export type Edit =
  | { kind: 'local'; item: number; patch: Patch }
  | { kind: 'remote'; item: number; patch: Patch }
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
}

export interface Scenario {
  tracker: TrackerKind;
  strategy: Strategy;
  initial: Full[];
  /** Faults while the items are first created. */
  createFaults: Faults;
  segments: Segment[];
}

const fullArb: fc.Arbitrary<Full> = fc.record({
  title: fc.constantFrom(...TITLES),
  state: fc.constantFrom(...STATES),
  labels: fc.subarray([...LABELS]),
  priority: fc.constantFrom(...PRIORITIES),
});

const patchArb: fc.Arbitrary<Patch> = fc
  .record(
    {
      title: fc.constantFrom(...TITLES),
      state: fc.constantFrom(...STATES),
      labels: fc.subarray([...LABELS]),
      priority: fc.constantFrom(...PRIORITIES),
    },
    { requiredKeys: [] },
  )
  .filter((p) => Object.keys(p).length > 0);

function faultsArb(live: boolean, items: number): fc.Arbitrary<Faults> {
  const item = fc.nat({ max: items - 1 });
  return fc.record({
    crashes: fc.array(fc.nat({ max: 40 }), { maxLength: 3 }),
    calls: fc.array(fc.record({ at: fc.nat({ max: 40 }), fault: fc.constantFrom<CallFault>('r429', 'r5xx', 'timeout', 'lost') }), {
      maxLength: 3,
    }),
    during: live ? fc.array(fc.record({ at: fc.nat({ max: 40 }), edit: editArb(item) }), { maxLength: 3 }) : fc.constant([]),
  });
}

function editArb(item: fc.Arbitrary<number>): fc.Arbitrary<Edit> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('local' as const), item, patch: patchArb }) },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('remote' as const), item, patch: patchArb }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('localComment' as const), item }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('remoteComment' as const), item }) },
  );
}

function opArb(items: number, live: boolean): fc.Arbitrary<Op> {
  const item = fc.nat({ max: items - 1 });
  const arbs: { weight: number; arbitrary: fc.Arbitrary<Op> }[] = [
    { weight: 8, arbitrary: editArb(item) },
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
  }
  return fc.oneof(...arbs);
}

export const scenarioArb: fc.Arbitrary<Scenario> = fc.integer({ min: 1, max: 3 }).chain((items) =>
  fc.record({
    tracker: fc.constantFrom(...TRACKER_KINDS),
    strategy: fc.constantFrom(...STRATEGIES),
    initial: fc.array(fullArb, { minLength: items, maxLength: items }),
    createFaults: faultsArb(false, items),
    segments: fc.array(
      fc.constantFrom<'paused' | 'live'>('paused', 'live').chain((mode) =>
        fc.record({
          mode: fc.constant(mode),
          ops: fc.array(opArb(items, mode === 'live'), { minLength: 1, maxLength: 8 }),
          faults: faultsArb(mode === 'live', items),
          resolve: fc.array(fc.constantFrom<'local' | 'remote'>('local', 'remote'), { minLength: 1, maxLength: 3 }),
        }),
      ),
      { minLength: 1, maxLength: 3 },
    ),
  }),
);
