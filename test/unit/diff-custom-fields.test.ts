import { describe, expect, it } from 'vitest';
import { planReconcile, type DiffInput } from '../../src/sync/diff.ts';
import {
  fieldNames,
  fieldOfMapKey,
  itemFieldValues,
  mappedCustomFields,
  sameValue,
  splitItemValues,
  type FieldValues,
} from '../../src/sync/fields.ts';
import { onlySupported } from '../../src/sync/reconcile.ts';
import { createTranslator } from '../../src/sync/translate.ts';
import type { SyncBase } from '../../src/sync/base.ts';

const identity = createTranslator({});

function plan(over: Partial<DiffInput>) {
  const base: SyncBase = over.base ?? { local: {}, remote: {} };
  return planReconcile({ local: {}, remote: null, base, translate: identity, direction: 'both', strategy: 'local-wins', ...over });
}

describe('custom fields: names and storage', () => {
  it('flattens the item custom column to fields.<name> and splits it back', () => {
    const values = itemFieldValues({ title: 'T' }, { risk: 'high', hours: 3, tags: ['a'], junk: { nested: 1 } });
    expect(values).toEqual({ title: 'T', 'fields.risk': 'high', 'fields.hours': 3, 'fields.tags': ['a'] });
    expect(splitItemValues({ title: 'U', 'fields.risk': null })).toEqual({ desired: { title: 'U' }, custom: { risk: null } });
  });

  it('reads field_map keys: core names stay core, anything else is a custom field', () => {
    expect(fieldOfMapKey('priority')).toBe('priority');
    expect(fieldOfMapKey('risk')).toBe('fields.risk');
    expect(fieldOfMapKey('fields.priority')).toBe('fields.priority');
    expect(mappedCustomFields({ milestone: 'Sprint', complexity: 'Estimated Hours', risk: 'Risk Level' })).toEqual([
      'fields.complexity',
      'fields.risk',
    ]);
  });

  it('keeps only the custom fields a connection maps', () => {
    const values: FieldValues = { title: 'T', 'fields.risk': 'high', 'fields.secret': 'x' };
    expect(onlySupported(values, new Set(['title', 'fields.risk']))).toEqual({ title: 'T', 'fields.risk': 'high' });
    expect(fieldNames(values, { 'fields.a': 1 })).toEqual([
      'title',
      'body',
      'state',
      'labels',
      'assignees',
      'priority',
      'milestone',
      'fields.a',
      'fields.risk',
      'fields.secret',
    ]);
  });

  it('compares lists as sets and scalars by value, null meaning no value', () => {
    expect(sameValue('fields.tags', ['b', 'a'], ['a', 'b', 'a'])).toBe(true);
    expect(sameValue('fields.tags', [], undefined)).toBe(true);
    expect(sameValue('fields.hours', 3, '3')).toBe(false);
    expect(sameValue('fields.risk', null, undefined)).toBe(true);
    expect(sameValue('fields.tags', ['a', 'b'], 'b, a')).toBe(true);
    expect(sameValue('fields.tags', ['a'], 'a, c')).toBe(false);
  });
});

describe('custom fields: three-way diff', () => {
  it('pushes one changed custom field and moves its base', () => {
    const base = { local: { 'fields.risk': 'low', 'fields.hours': 2 }, remote: { 'fields.risk': 'low', 'fields.hours': 2 } };
    const p = plan({ local: { 'fields.risk': 'high', 'fields.hours': 2 }, base });
    expect(p.push).toEqual({ 'fields.risk': 'high' });
    expect(p.nextBase.local['fields.risk']).toBe('high');
    expect(p.nextBase.remote['fields.risk']).toBe('high');
    expect(p.nextBase.remote['fields.hours']).toBe(2);
  });

  it('pushes null to clear a field', () => {
    const base = { local: { 'fields.risk': 'low' }, remote: { 'fields.risk': 'low' } };
    const p = plan({ local: { 'fields.risk': null }, base });
    expect(p.push).toEqual({ 'fields.risk': null });
  });

  it("pulls a person's change, also of a field the orchestrator never set", () => {
    const base = { local: { 'fields.risk': 'low' }, remote: { 'fields.risk': 'low' } };
    const p = plan({ local: { 'fields.risk': 'low' }, remote: { 'fields.risk': 'medium', 'fields.hours': 5 }, base });
    expect(p.push).toEqual({});
    expect(p.pull).toEqual({ 'fields.risk': { from: 'low', to: 'medium' }, 'fields.hours': { from: undefined, to: 5 } });
    expect(p.nextBase.local['fields.hours']).toBe(5);
  });

  it('does not echo: the value Trackline wrote coming back changes nothing', () => {
    const base = { local: { 'fields.hours': 3 }, remote: { 'fields.hours': 3 } };
    const p = plan({ local: { 'fields.hours': 3 }, remote: { 'fields.hours': 3 }, base });
    expect(p.push).toEqual({});
    expect(p.pull).toEqual({});
    expect(p.conflicts).toEqual([]);
  });

  it('opens a conflict under manual when both sides changed a custom field differently', () => {
    const base = { local: { 'fields.risk': 'low' }, remote: { 'fields.risk': 'low' } };
    const p = plan({ local: { 'fields.risk': 'high' }, remote: { 'fields.risk': 'medium' }, base, strategy: 'manual' });
    expect(p.push).toEqual({});
    expect(p.pull).toEqual({});
    expect(p.conflicts).toEqual([
      { field: 'fields.risk', base: 'low', local: 'high', remote: 'medium', outcome: 'open', strategy: 'manual' },
    ]);
    expect(p.nextBase).toEqual(base);
  });

  it('takes the tracker value under remote-wins and the item value under local-wins', () => {
    const base = { local: { 'fields.risk': 'low' }, remote: { 'fields.risk': 'low' } };
    const remoteWins = plan({ local: { 'fields.risk': 'high' }, remote: { 'fields.risk': 'medium' }, base, strategy: 'remote-wins' });
    expect(remoteWins.pull).toEqual({ 'fields.risk': { from: 'high', to: 'medium' } });
    const localWins = plan({ local: { 'fields.risk': 'high' }, remote: { 'fields.risk': 'medium' }, base });
    expect(localWins.push).toEqual({ 'fields.risk': 'high' });
  });

  it('leaves a field held by an open conflict alone', () => {
    const base = { local: { 'fields.risk': 'low' }, remote: { 'fields.risk': 'low' } };
    const p = plan({ local: { 'fields.risk': 'high' }, base, heldFields: new Set(['fields.risk']) });
    expect(p.push).toEqual({});
  });
});

describe('custom multi-select fields merge like labels', () => {
  it("writes the orchestrator's additions and removals and keeps what a person added", () => {
    const base = { local: { 'fields.deps': ['a', 'b'] }, remote: { 'fields.deps': ['a', 'b'] } };
    // A person added "x" in the tracker; the orchestrator replaced "b" with "c".
    const p = plan({ local: { 'fields.deps': ['a', 'c'] }, remote: { 'fields.deps': ['a', 'b', 'x'] }, base });
    expect(p.conflicts[0]).toMatchObject({ field: 'fields.deps', outcome: 'merged' });
    expect(p.push).toEqual({ 'fields.deps': ['a', 'c', 'x'] });
    expect(p.pull).toEqual({ 'fields.deps': { from: ['a', 'c'], to: ['a', 'c', 'x'] } });
  });

  it('without a read, applies the delta to the base', () => {
    const base = { local: { 'fields.deps': ['a', 'b'] }, remote: { 'fields.deps': ['a', 'b', 'y'] } };
    const p = plan({ local: { 'fields.deps': ['b', 'c'] }, base });
    expect(p.push).toEqual({ 'fields.deps': ['b', 'c', 'y'] });
  });

  it('treats a single value that became a list as a one-element set', () => {
    const base = { local: { 'fields.deps': 'a' }, remote: { 'fields.deps': 'a' } };
    const p = plan({ local: { 'fields.deps': ['a', 'b'] }, base });
    expect(p.push).toEqual({ 'fields.deps': ['a', 'b'] });
  });

  it('under manual, both sides changing the set is a conflict', () => {
    const base = { local: { 'fields.deps': ['a'] }, remote: { 'fields.deps': ['a'] } };
    const p = plan({ local: { 'fields.deps': ['a', 'b'] }, remote: { 'fields.deps': ['a', 'c'] }, base, strategy: 'manual' });
    expect(p.conflicts[0]).toMatchObject({ field: 'fields.deps', outcome: 'open' });
    expect(p.push).toEqual({});
  });
});
