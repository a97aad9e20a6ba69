import type { ConflictDecision, ReconcilePlan, Strategy } from './diff.ts';
import type { SyncBase } from './base.ts';
import type { Translator } from './translate.ts';

/**
 * The two state changes Trackline makes only when asked to, checked after the three-way diff has
 * planned a push of `state`:
 *
 * - re-opening: the tracker has the issue in a done state and the item went back to a state that
 *   is not done (the orchestrator re-planned it). With `reopen = "ask"` (the default) the push is
 *   held as an open conflict naming both sides; `reopen = "allow"` pushes it.
 * - closing: the state to write closes the issue (GitHub `closed`, `closed:not_planned`) and the
 *   connection says `close_issues = false`: held the same way.
 *
 * A held push is an open conflict on `state`: the other fields sync, and the operator's (or the
 * orchestrator's) `resolve --use local` pushes it after all, `--use remote` keeps the tracker's
 * state. A forced push (that resolution, `trackline sync --force`) passes both checks. Pulls are
 * not touched: an issue closed by a person comes back to the item as a change, as always.
 */
export interface StatePolicy {
  reopen: 'ask' | 'allow';
  closeIssues: boolean;
  /** Local states that mean done. */
  doneStates: ReadonlySet<string>;
  /** Whether writing this remote state closes the issue (the adapter knows). */
  closes(remoteState: string): boolean;
}

export interface StateGuardInput {
  plan: ReconcilePlan;
  policy: StatePolicy;
  /** The item's state (orchestrator vocabulary). */
  localState: string | undefined;
  /** The tracker's state as last read, else as the base remembers it (tracker vocabulary). */
  remoteState: string | undefined;
  base: SyncBase;
  translate: Translator;
  strategy: Strategy;
  /** The push was forced (an operator's local resolution, `sync --force`): nothing is held. */
  forced: boolean;
  /** How people call the issue, for the reason (`ET-12`, `#42`). */
  remoteKey: string | null | undefined;
}

/** Holds the planned state push when it would re-open or close what the policy keeps; says why, or null. */
export function holdUnsafeState(input: StateGuardInput): string | null {
  const { plan, policy, localState, remoteState, base } = input;
  const target = plan.push.state;
  if (target === undefined || input.forced || localState === undefined) return null;
  const issue = input.remoteKey ?? 'the issue';
  let reason: string | null = null;
  const remoteDone = remoteState !== undefined && policy.doneStates.has(input.translate.toLocal('state', remoteState) ?? '');
  if (policy.reopen === 'ask' && remoteDone && !policy.doneStates.has(localState)) {
    reason =
      `the item went back to "${localState}" while ${issue} is done in the tracker ("${remoteState}"): ` +
      'reopen = "ask" holds it; resolve with local to re-open the issue, with remote to keep it done';
  } else if (!policy.closeIssues && policy.closes(target)) {
    reason =
      `"${localState}" would close ${issue} ("${target}") and close_issues is off for this connection: ` +
      'resolve with local to close it, with remote to keep it open';
  }
  if (!reason) return null;
  delete plan.push.state;
  plan.nextBase.local.state = base.local.state;
  plan.nextBase.remote.state = base.remote.state;
  const decision: ConflictDecision = {
    field: 'state',
    base: base.local.state,
    local: localState,
    remote: remoteState,
    outcome: 'open',
    strategy: input.strategy,
    reason,
  };
  // A both-sides-changed decision the strategy took for state gives way to the held one.
  plan.conflicts = [...plan.conflicts.filter((c) => c.field !== 'state'), decision];
  return reason;
}

/** Local states that mean done when the connection does not list them (`done_states`). */
export const DEFAULT_DONE_STATES = ['done', 'closed', 'completed', 'cancelled', 'canceled'] as const;

export function statePolicy(
  config: { reopen?: 'ask' | 'allow'; close_issues?: boolean; done_states?: string[]; state_map: Record<string, string> },
  closes: (remoteState: string) => boolean,
): StatePolicy {
  // By default a local state is done when its name says so or its mapped value closes the issue.
  const done = config.done_states ?? [
    ...DEFAULT_DONE_STATES,
    ...Object.entries(config.state_map)
      .filter(([, v]) => closes(v))
      .map(([k]) => k),
  ];
  return { reopen: config.reopen ?? 'ask', closeIssues: config.close_issues ?? true, doneStates: new Set(done), closes };
}
