import { describe, expect, it } from 'vitest';
import { planReconcile } from '../../src/sync/diff.ts';
import type { FieldValues } from '../../src/sync/fields.ts';
import { applyResolutions, pinToTrackerValue } from '../../src/sync/resolve-conflict.ts';
import type { PendingResolution } from '../../src/sync/port/store.ts';
import { createTranslator } from '../../src/sync/translate.ts';
import type { SyncBase } from '../../src/sync/base.ts';

/**
 * How an operator's "use local" (or a forced push) is carried out: the base is steered so the
 * item's value is the only change, then the ordinary three-way diff writes it.
 */
const translate = createTranslator({ state_map: { doing: 'In Progress', done: 'Done' } });

function carryOut(base: SyncBase, local: FieldValues, remote: FieldValues, resolutions: PendingResolution[]) {
  const steered = applyResolutions(base, local as Record<string, unknown>, resolutions, translate);
  pinToTrackerValue(steered, resolutions, remote, translate);
  return planReconcile({ local, remote, base: steered, translate, direction: 'both', strategy: 'manual' });
}

const useLocal = (field: string, remoteValue: unknown = null): PendingResolution => ({ id: 1, field, use: 'local', remoteValue });

describe('"use local" naming no remote value (a forced push, or a conflict whose remote side was empty)', () => {
  it('an item that cleared a field clears the value the tracker holds now', () => {
    const base: SyncBase = { local: { 'fields.risk': 'high' }, remote: { 'fields.risk': 'high' } } as never;
    const p = carryOut(base, { 'fields.risk': null } as never, { 'fields.risk': 'low' } as never, [useLocal('fields.risk')]);
    expect(p.push).toEqual({ 'fields.risk': null });
    expect(p.conflicts).toEqual([]);
  });

  it('a set becomes exactly the item’s set: a label a person added meanwhile goes', () => {
    const base: SyncBase = { local: { labels: ['api'] }, remote: { labels: ['api'] } };
    const p = carryOut(base, { labels: ['api', 'docs'] }, { labels: ['api', 'urgent'] }, [useLocal('labels')]);
    expect(p.push).toEqual({ labels: ['api', 'docs'] });
    expect(p.pull).toEqual({});
  });

  it('writes nothing where the tracker already holds the item’s value, in the tracker’s words', () => {
    const base: SyncBase = { local: { state: 'done' }, remote: { state: 'Done' } };
    const p = carryOut(base, { state: 'doing' }, { state: 'In Progress' }, [useLocal('state')]);
    expect(p.push).toEqual({});
    expect(p.nextBase).toEqual({ local: { state: 'doing' }, remote: { state: 'In Progress' } });
  });

  it('leaves a resolution that names the conflict’s remote value to applyResolutions', () => {
    const base: SyncBase = { local: { title: 'Old' }, remote: { title: 'Old' } };
    // The person's value at the conflict was "Theirs"; the tracker still holds it.
    const p = carryOut(base, { title: 'Mine' }, { title: 'Theirs' }, [useLocal('title', 'Theirs')]);
    expect(p.push).toEqual({ title: 'Mine' });
  });
});
