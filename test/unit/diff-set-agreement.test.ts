import { describe, expect, it } from 'vitest';
import { planReconcile } from '../../src/sync/diff.ts';
import { createTranslator } from '../../src/sync/translate.ts';

/**
 * Found by the fault suite's convergence property (test/faults/regressions/convergence.json):
 * both sides changed a label set between two syncs, and Plane's set held every label the
 * orchestrator added, and more. The agreement check applied the local delta to the remote set,
 * found it equal, and recorded [c, d] and [a, b, c, d] as the agreed base: nothing was ever
 * written again and the two sides stayed apart for good.
 */
describe('three-way diff: a set changed on both sides', () => {
  const base = { local: { labels: [] as string[] }, remote: { labels: [] as string[] } };
  const input = {
    local: { labels: ['c', 'd'] },
    remote: { labels: ['a', 'b', 'c', 'd'] },
    base,
    translate: createTranslator({}),
    direction: 'both' as const,
  };

  it('is a conflict when the values differ, even if the remote holds all the local additions', () => {
    // A set keeps both sides' additions under local-wins (issue 15): the item takes a and b.
    const p = planReconcile({ ...input, strategy: 'local-wins' });
    expect(p.conflicts.map((c) => [c.field, c.outcome])).toEqual([['labels', 'merged']]);
    expect(p.push).toEqual({});
    expect(p.pull).toEqual({ labels: { from: ['c', 'd'], to: ['a', 'b', 'c', 'd'] } });
    expect(p.nextBase).toEqual({ local: { labels: ['a', 'b', 'c', 'd'] }, remote: { labels: ['a', 'b', 'c', 'd'] } });
    // Pushing only, the local set is written and becomes the base on both sides.
    const push = planReconcile({ ...input, direction: 'push', strategy: 'local-wins' });
    expect(push.push).toEqual({ labels: ['c', 'd'] });
    expect(push.nextBase).toEqual({ local: { labels: ['c', 'd'] }, remote: { labels: ['c', 'd'] } });
  });

  it('ends with one agreed value under every strategy', () => {
    for (const strategy of ['local-wins', 'remote-wins', 'merge'] as const) {
      const p = planReconcile({ ...input, strategy });
      expect(p.nextBase.local.labels, strategy).toEqual(p.nextBase.remote.labels);
    }
  });

  it('is agreement when both sides made the same change', () => {
    const p = planReconcile({ ...input, remote: { labels: ['d', 'c'] }, strategy: 'manual' });
    expect(p.conflicts).toEqual([]);
    expect(p.push).toEqual({});
  });
});
