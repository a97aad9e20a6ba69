import { describe, expect, it } from 'vitest';
import { holdUnsafeState, statePolicy } from '../../src/sync/state-guard.ts';
import { createTranslator } from '../../src/sync/translate.ts';
import type { ReconcilePlan } from '../../src/sync/diff.ts';

const stateMap = { planned: 'todo', doing: 'in-progress', done: 'closed', dropped: 'closed:not_planned' };
const translate = createTranslator({ state_map: stateMap });
const githubCloses = (s: string) => s === 'closed' || s === 'closed:not_planned';
const base = { local: { state: 'done' }, remote: { state: 'closed' } };
const planPushing = (state: string): ReconcilePlan => ({
  push: { state },
  pull: {},
  conflicts: [],
  nextBase: { local: { state: 'x' }, remote: { state: 'y' } },
});
const guard = (plan: ReconcilePlan, localState: string, overrides: Partial<Parameters<typeof holdUnsafeState>[0]> = {}) =>
  holdUnsafeState({
    plan,
    policy: statePolicy({ state_map: stateMap }, githubCloses),
    localState,
    remoteState: 'closed',
    base,
    translate,
    strategy: 'local-wins',
    forced: false,
    remoteKey: '#7',
    ...overrides,
  });

describe('state guard', () => {
  it('done states default to the usual names and every state mapped to a closing value', () => {
    expect([...statePolicy({ state_map: stateMap }, githubCloses).doneStates].sort()).toEqual(
      ['canceled', 'cancelled', 'closed', 'completed', 'done', 'dropped'].sort(),
    );
    expect([...statePolicy({ state_map: stateMap, done_states: ['shipped'] }, githubCloses).doneStates]).toEqual(['shipped']);
  });

  it('holds a re-open: the push goes, the base keeps its state, one open conflict with the reason', () => {
    const plan = planPushing('todo');
    plan.conflicts.push({ field: 'state', base: 'done', local: 'planned', remote: 'closed', outcome: 'local', strategy: 'local-wins' });
    expect(guard(plan, 'planned')).toContain('reopen = "ask" holds it');
    expect(plan.push).toEqual({});
    expect(plan.nextBase).toEqual({ local: { state: 'done' }, remote: { state: 'closed' } });
    expect(plan.conflicts).toHaveLength(1);
    expect(plan.conflicts[0]).toMatchObject({ field: 'state', outcome: 'open', local: 'planned', remote: 'closed' });
  });

  it('lets through: a forced push, reopen = "allow", a move between done states, an open issue', () => {
    expect(guard(planPushing('todo'), 'planned', { forced: true })).toBeNull();
    expect(
      guard(planPushing('todo'), 'planned', { policy: statePolicy({ state_map: stateMap, reopen: 'allow' }, githubCloses) }),
    ).toBeNull();
    expect(guard(planPushing('closed:not_planned'), 'dropped')).toBeNull();
    expect(guard(planPushing('in-progress'), 'doing', { remoteState: 'todo' })).toBeNull();
  });

  it('close_issues = false holds a closing state only', () => {
    const policy = statePolicy({ state_map: stateMap, close_issues: false }, githubCloses);
    expect(guard(planPushing('closed'), 'done', { policy, remoteState: 'in-progress' })).toContain('close_issues is off');
    expect(guard(planPushing('in-progress'), 'doing', { policy, remoteState: 'todo' })).toBeNull();
  });
});
