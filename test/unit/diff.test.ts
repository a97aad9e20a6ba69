import { describe, expect, it } from 'vitest';
import { planReconcile, mergeSets, baseAfterSetWrite, type DiffInput } from '../../src/sync/diff.ts';
import { applySetDelta, setDelta } from '../../src/sync/fields.ts';
import { createTranslator } from '../../src/sync/translate.ts';
import type { SyncBase } from '../../src/sync/base.ts';

const identity = createTranslator({});
const mapped = createTranslator({
  state_map: { doing: 'In Progress', done: 'Done', review: 'In Review', for_review: 'In Review' },
  label_map: { 'in-review': 'for_review' },
});

function plan(over: Partial<DiffInput>) {
  const base: SyncBase = over.base ?? { local: {}, remote: {} };
  return planReconcile({ local: {}, remote: null, base, translate: identity, direction: 'both', strategy: 'local-wins', ...over });
}

describe('three-way diff: one side changed', () => {
  it('pushes a local change and moves both halves of the base', () => {
    const p = plan({ local: { title: 'New' }, base: { local: { title: 'Old' }, remote: { title: 'Old' } } });
    expect(p.push).toEqual({ title: 'New' });
    expect(p.pull).toEqual({});
    expect(p.nextBase).toEqual({ local: { title: 'New' }, remote: { title: 'New' } });
  });

  it('pulls a remote change into the item', () => {
    const p = plan({ local: { title: 'Old' }, remote: { title: 'Theirs' }, base: { local: { title: 'Old' }, remote: { title: 'Old' } } });
    expect(p.push).toEqual({});
    expect(p.pull).toEqual({ title: { from: 'Old', to: 'Theirs' } });
    expect(p.nextBase.local.title).toBe('Theirs');
  });

  it('does nothing when neither side changed (an echo of our own write)', () => {
    const base = { local: { state: 'doing', labels: ['a', 'b'] }, remote: { state: 'In Progress', labels: ['a', 'b'] } };
    const p = plan({
      local: { state: 'doing', labels: ['b', 'a'] },
      remote: { state: 'In Progress', labels: ['b', 'a'] },
      base,
      translate: mapped,
    });
    expect(p.push).toEqual({});
    expect(p.pull).toEqual({});
    expect(p.conflicts).toEqual([]);
  });

  it('translates states through the state map both ways', () => {
    const base = { local: { state: 'doing' }, remote: { state: 'In Progress' } };
    expect(plan({ local: { state: 'done' }, base, translate: mapped }).push).toEqual({ state: 'Done' });
    const pulled = plan({ local: { state: 'doing' }, remote: { state: 'Done' }, base, translate: mapped });
    expect(pulled.pull.state).toEqual({ from: 'doing', to: 'done' });
  });

  it('sees no change when two local states share one remote state (lossy map)', () => {
    // local "review" and "for_review" both mean "In Review"; reading back yields "review" first,
    // but the item said "for_review": comparing each side with its own base half avoids a false pull.
    const base = { local: { state: 'for_review' }, remote: { state: 'In Review' } };
    const p = plan({ local: { state: 'for_review' }, remote: { state: 'In Review' }, base, translate: mapped });
    expect(p.pull).toEqual({});
    expect(p.push).toEqual({});
  });

  it('skips a push when the translated value is already there', () => {
    const base = { local: { state: 'review' }, remote: { state: 'In Review' } };
    const p = plan({ local: { state: 'for_review' }, base, translate: mapped });
    expect(p.push).toEqual({});
    expect(p.nextBase.local.state).toBe('for_review');
  });

  it('ignores fields the item never asserted', () => {
    const p = plan({ local: {}, remote: null, base: { local: {}, remote: { title: 'x', labels: ['a'] } } });
    expect(p.push).toEqual({});
  });

  it('treats null and absent milestone as the same value', () => {
    const p = plan({ local: { milestone: null }, base: { local: {}, remote: { milestone: null } } });
    expect(p.push).toEqual({});
  });
});

describe('three-way diff: sets', () => {
  it('applies only the local delta, keeping a label a person added remotely', () => {
    const base = { local: { labels: ['a'] }, remote: { labels: ['a'] } };
    const p = plan({ local: { labels: ['a', 'b'] }, remote: null, base: { ...base, remote: { labels: ['a'] } } });
    expect(p.push).toEqual({ labels: ['a', 'b'] });
    // With the remote read, a label "x" added there survives the local addition of "b".
    const read = plan({ local: { labels: ['a', 'b'] }, remote: { labels: ['a', 'x'] }, base, strategy: 'merge' });
    expect(read.push.labels).toEqual(['a', 'b', 'x']);
    expect(read.pull.labels?.to).toEqual(['a', 'b', 'x']);
  });

  it('maps labels through label_map', () => {
    const base = { local: { labels: [] }, remote: { labels: [] } };
    expect(plan({ local: { labels: ['in-review'] }, base, translate: mapped }).push).toEqual({ labels: ['for_review'] });
  });

  it('merges label sets three-way', () => {
    expect(mergeSets(['a', 'b', 'c'], ['a', 'b', 'd'], ['a', 'c', 'e'])).toEqual(['a', 'd', 'e']);
    expect(mergeSets(undefined, ['x'], ['y'])).toEqual(['x', 'y']);
  });
});

describe('three-way diff: conflicts by strategy', () => {
  const base = { local: { state: 'planned', title: 'T' }, remote: { state: 'planned', title: 'T' } };
  const both = { local: { state: 'doing', title: 'T' }, remote: { state: 'blocked', title: 'T' }, base };

  it('local-wins writes the local value and records the conflict as settled', () => {
    const p = plan({ ...both, strategy: 'local-wins' });
    expect(p.push).toEqual({ state: 'doing' });
    expect(p.pull).toEqual({});
    expect(p.conflicts).toMatchObject([
      { field: 'state', outcome: 'local', strategy: 'local-wins', local: 'doing', remote: 'blocked', base: 'planned' },
    ]);
  });

  it('remote-wins takes the remote value into the item', () => {
    const p = plan({ ...both, strategy: 'remote-wins' });
    expect(p.push).toEqual({});
    expect(p.pull).toEqual({ state: { from: 'doing', to: 'blocked' } });
    expect(p.conflicts[0].outcome).toBe('remote');
  });

  it('manual leaves both sides and the base alone, and holds the field open', () => {
    const p = plan({ ...both, strategy: 'manual' });
    expect(p.push).toEqual({});
    expect(p.pull).toEqual({});
    expect(p.conflicts[0].outcome).toBe('open');
    expect(p.nextBase.local.state).toBe('planned');
    // While held, the field is not re-diffed (no second conflict row).
    const held = plan({ ...both, strategy: 'manual', heldFields: new Set(['state'] as const) });
    expect(held.conflicts).toEqual([]);
  });

  it('merge merges sets and gives scalars to the local side', () => {
    const setBase = { local: { labels: ['a', 'b'], state: 'x' }, remote: { labels: ['a', 'b'], state: 'x' } };
    const p = plan({
      local: { labels: ['a', 'c'], state: 'y' },
      remote: { labels: ['b', 'd'], state: 'z' },
      base: setBase,
      strategy: 'merge',
    });
    expect(p.push).toEqual({ labels: ['c', 'd'], state: 'y' });
    expect(p.pull).toEqual({ labels: { from: ['a', 'c'], to: ['c', 'd'] } });
    expect(p.conflicts.map((c) => [c.field, c.outcome])).toEqual([
      ['state', 'local'],
      ['labels', 'merged'],
    ]);
  });

  it('the same change on both sides is agreement, not a conflict', () => {
    const p = plan({
      local: { state: 'doing' },
      remote: { state: 'doing' },
      base: { local: { state: 'planned' }, remote: { state: 'planned' } },
      strategy: 'manual',
    });
    expect(p.conflicts).toEqual([]);
    expect(p.push).toEqual({});
    expect(p.nextBase).toEqual({ local: { state: 'doing' }, remote: { state: 'doing' } });
  });
});

describe('three-way diff: direction', () => {
  const base = { local: { title: 'A' }, remote: { title: 'A' } };
  it('push-only never pulls, but absorbs the remote value into the base so it is not re-seen', () => {
    const p = plan({ local: { title: 'A' }, remote: { title: 'B' }, base, direction: 'push' });
    expect(p.pull).toEqual({});
    expect(p.nextBase.remote.title).toBe('B');
  });
  it('pull-only never pushes', () => {
    const p = plan({ local: { title: 'C' }, remote: { title: 'A' }, base, direction: 'pull' });
    expect(p.push).toEqual({});
  });
  it('a conflict under push-only goes to the local side whatever the strategy', () => {
    const p = plan({ local: { title: 'L' }, remote: { title: 'R' }, base, direction: 'push', strategy: 'remote-wins' });
    expect(p.push).toEqual({ title: 'L' });
  });
});

describe('set-valued fields keep what people added (issue 15)', () => {
  const base = { local: { labels: ['backend', 'sync'] }, remote: { labels: ['backend', 'sync'] } };

  it('local-wins with both sides changed keeps the orchestrator’s delta and the person’s, and the item takes the person’s', () => {
    const p = plan({ local: { labels: ['backend', 'frontend'] }, remote: { labels: ['backend', 'customer-x', 'sync'] }, base });
    expect(p.push).toEqual({ labels: ['backend', 'customer-x', 'frontend'] });
    expect(p.pull).toEqual({ labels: { from: ['backend', 'frontend'], to: ['backend', 'customer-x', 'frontend'] } });
    expect(p.conflicts.map((c) => [c.field, c.outcome])).toEqual([['labels', 'merged']]);
  });

  it('push-only under local-wins still writes the local set', () => {
    const p = plan({
      local: { labels: ['backend', 'frontend'] },
      remote: { labels: ['backend', 'customer-x', 'sync'] },
      base,
      direction: 'push',
    });
    expect(p.push).toEqual({ labels: ['backend', 'frontend'] });
    expect(p.pull).toEqual({});
  });

  it('after a blind write the base leaves out what the person added, so it reads as their change', () => {
    // Trackline wrote backend,sync -> backend,frontend; the tracker answers with customer-x too.
    expect(baseAfterSetWrite(['backend', 'frontend'], ['backend', 'sync'], ['backend', 'customer-x', 'frontend'])).toEqual([
      'backend',
      'frontend',
    ]);
    // A person removed backend meanwhile: it stays in the base, so the removal reads as theirs.
    expect(baseAfterSetWrite(['backend', 'frontend'], ['backend', 'sync'], ['frontend'])).toEqual(['backend', 'frontend']);
    // The tracker did not keep Trackline's own addition: the base says what the tracker has.
    expect(baseAfterSetWrite(['backend', 'frontend'], ['backend', 'sync'], ['backend'])).toEqual(['backend']);
  });

  it('deltas apply to what the tracker holds, case-insensitively where asked', () => {
    const d = setDelta(['backend', 'sync'], ['backend', 'frontend']);
    expect(d).toEqual({ add: ['frontend'], remove: ['sync'] });
    expect(applySetDelta(['Backend', 'Sync', 'customer-x'], d, (v) => v.toLowerCase()).sort()).toEqual([
      'Backend',
      'customer-x',
      'frontend',
    ]);
  });
});
