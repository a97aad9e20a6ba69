import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';

/**
 * The lookups a create needs are loaded when the worker starts, not on the first event's critical
 * path: the first create after a start sends the create and nothing else, not even the cycles'
 * membership (a new work item is in none; under a used-up budget that read failed the job after
 * its create had landed).
 */
let h: Harness;
beforeAll(async () => {
  // A cycle makes the work items' milestone a read of its own (cycle-issues): a new work item must
  // not need it (it is in no cycle yet).
  h = await startHarness('catalog_warming', { planeCycles: ['Sprint 1'] });
});
afterAll(async () => h?.close());

describe('catalog warming', () => {
  it('the worker loads states, labels, members, cycles and the project at start; the first create then makes only its own call', async () => {
    const reads = () => h.sandbox.log.entries({ tracker: 'plane' }).filter((e) => e.method === 'GET');
    await waitFor(() => ['/states/', '/labels/', '/members/', '/cycles/'].every((p) => reads().some((e) => e.path.endsWith(p))), 10_000);
    await waitFor(() => reads().some((e) => /\/projects\/[^/]+\/$/.test(e.path)), 10_000);
    h.sandbox.log.clear();
    await h.postEvents({ type: 'item.upserted', item: { key: 'warm/1', title: 'first', state: 'doing', assignees: ['alice'] } });
    await waitFor(() =>
      h.sql`select count(*)::int as n from mappings where item_key = 'warm/1' and status = 'synced'`.then((r) => r[0].n === 1),
    );
    const calls = h.sandbox.log.entries({ tracker: 'plane' }).map((e) => `${e.method} ${e.path.replace(/.*\/projects\/[^/]+/, '')}`);
    expect(calls).toEqual(['POST /work-items/']);
  });

  it('a label Plane lacks is created at once, without reading the labels again first', async () => {
    h.sandbox.log.clear();
    await h.postEvents({ type: 'item.upserted', item: { key: 'warm/2', title: 'second', labels: ['brand-new'] } });
    await waitFor(() =>
      h.sql`select count(*)::int as n from mappings where item_key = 'warm/2' and status = 'synced'`.then((r) => r[0].n === 1),
    );
    const calls = h.sandbox.log.entries({ tracker: 'plane' }).map((e) => `${e.method} ${e.path.replace(/.*\/projects\/[^/]+/, '')}`);
    expect(calls).toEqual(['POST /labels/', 'POST /work-items/']);
  });

  it('a create with a milestone joins its cycle without reading any cycle’s members first', async () => {
    // The membership read for an existing work item (kept 10 s): the join below must update it.
    const adapter = h.runtime.connections.get('plane-main')!.adapter();
    const [first] = await h.sql`select remote_id from mappings where item_key = 'warm/1'`;
    expect((await adapter.get({ id: first.remote_id }, {})).fields.milestone).toBeNull();
    h.sandbox.log.clear();
    await h.postEvents({ type: 'item.upserted', item: { key: 'warm/3', title: 'third', milestone: 'Sprint 1' } });
    const [m] = await waitFor(() =>
      h.sql`select remote_id from mappings where item_key = 'warm/3' and status = 'synced'`.then((r) => (r.length ? r : undefined)),
    );
    const calls = h.sandbox.log
      .entries({ tracker: 'plane' })
      .map((e) => `${e.method} ${e.path.replace(/.*\/projects\/[^/]+/, '').replace(/\/cycles\/[^/]+\//, '/cycles/:id/')}`);
    expect(calls).toEqual(['POST /work-items/', 'POST /cycles/:id/cycle-issues/']);
    const cycle = h.sandbox.planeGroups.cyclesOf(h.project.projectId).find((c) => c.name === 'Sprint 1')!;
    expect(h.sandbox.planeGroups.cycleOf.get(m.remote_id)).toBe(cycle.id);
    // Read back through the membership read before the create: it knows the join.
    expect((await adapter.get({ id: m.remote_id }, {})).fields.milestone).toBe('Sprint 1');
  });
});
