import { describe, expect, it } from 'vitest';
import { Lookup, refreshAll } from '../../src/trackers/lookup.ts';

/** A load whose answers the test releases one by one. */
function controlledLoad() {
  const pending: Array<{ resolve: (v: string) => void; reject: (e: Error) => void }> = [];
  let calls = 0;
  const load = () => {
    calls++;
    return new Promise<string>((resolve, reject) => pending.push({ resolve, reject }));
  };
  return { load, pending, calls: () => calls };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('Lookup (a catalog entry)', () => {
  it('loads once for concurrent callers', async () => {
    const c = controlledLoad();
    const lookup = new Lookup(c.load);
    const both = Promise.all([lookup.get({}), lookup.get({})]);
    c.pending[0].resolve('states v1');
    expect(await both).toEqual(['states v1', 'states v1']);
    expect(c.calls()).toBe(1);
  });

  it('misses at the same moment share one reload; a miss after it has arrived reloads again', async () => {
    const c = controlledLoad();
    const lookup = new Lookup(c.load);
    const first = lookup.get({});
    c.pending[0].resolve('versions v1');
    await first;
    const misses = Promise.all([lookup.reload({}), lookup.reload({})]);
    expect(c.calls()).toBe(2);
    c.pending[1].resolve('versions v2');
    expect(await misses).toEqual(['versions v2', 'versions v2']);
    const later = lookup.reload({});
    expect(c.calls()).toBe(3);
    c.pending[2].resolve('versions v3');
    expect(await later).toBe('versions v3');
    expect(await lookup.get({})).toBe('versions v3');
  });

  it('a background refresh keeps answering the old value until the new one has arrived', async () => {
    const c = controlledLoad();
    const seen: string[] = [];
    const lookup = new Lookup(c.load, (v) => seen.push(v));
    const first = lookup.get({});
    c.pending[0].resolve('v1');
    await first;
    const refresh = lookup.refresh({});
    // The refresh is waiting (on the tracker, on its budget): readers are not held up by it.
    expect(await lookup.get({})).toBe('v1');
    c.pending[1].resolve('v2');
    await refresh;
    expect(await lookup.get({})).toBe('v2');
    expect(seen).toEqual(['v1', 'v2']);
  });

  it('a failed refresh keeps the value it had; a failed first load is forgotten and tried again', async () => {
    const c = controlledLoad();
    const lookup = new Lookup(c.load);
    const first = lookup.get({});
    c.pending[0].reject(new Error('503'));
    await expect(first).rejects.toThrow('503');
    const again = lookup.get({});
    expect(c.calls()).toBe(2);
    c.pending[1].resolve('v1');
    expect(await again).toBe('v1');
    const refresh = lookup.refresh({});
    c.pending[2].reject(new Error('timeout'));
    await expect(refresh).rejects.toThrow('timeout');
    await tick();
    expect(await lookup.get({})).toBe('v1');
    expect(c.calls()).toBe(3);
  });

  it('refreshAll refreshes every lookup even when one fails, then reports the failure', async () => {
    const ok = controlledLoad();
    const bad = controlledLoad();
    const a = new Lookup(ok.load);
    const b = new Lookup(bad.load);
    const all = refreshAll([a, b], {});
    ok.pending[0].resolve('labels');
    bad.pending[0].reject(new Error('members: 500'));
    await expect(all).rejects.toThrow('members: 500');
    expect(await a.get({})).toBe('labels');
  });
});
