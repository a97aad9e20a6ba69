import { afterEach, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { pgSyncStore } from '../../src/sync/postgres/store.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/**
 * Both sides change the same fields between two syncs: the orchestrator moves the item to
 * "doing" and adds label d; a person in Plane moves it to "In Review", adds c and removes a.
 * Workers are stopped while both happen, then the pair reconciles once with the remote change
 * known (as when the person's webhook has arrived), and the strategy decides.
 */
async function bothSidesChange(strategy: string) {
  h = await startHarness(`strategy_${strategy.replace('-', '_')}`, { plane: { conflict_strategy: strategy } });
  const plane = h.sandbox.plane;
  const pid = h.project.projectId;
  await h.postEvents({ type: 'item.upserted', item: { key: 's/1', title: 'Strategy', state: 'planned', labels: ['a', 'b'] } });
  await waitFor(() => h!.sql`select 1 from mappings where item_key = 's/1' and status = 'synced'`.then((r) => r.length > 0));
  await h.workers!.close();

  const issue = plane.issuesOf(pid).find((i) => i.external_id === 's/1')!;
  const label = (name: string) =>
    plane.labelsOf(pid).find((l) => l.name === name)?.id ?? plane.createLabel(pid, { name }, { kind: 'person' } as never).id;
  plane.editAsPerson(issue.id, { state: plane.statesOf(pid).find((s) => s.name === 'In Review')!.id, labels: [label('b'), label('c')] });
  await h.postEvents({ type: 'item.upserted', item: { key: 's/1', state: 'doing', labels: ['a', 'b', 'd'] } });
  await pgSyncStore(h.sql).markRemoteChanged('plane-main', 's/1');

  await h.startWorkers();
  await waitFor(() =>
    h!
      .sql`select 1 from mappings m join items i on i.key = m.item_key where m.item_key = 's/1' and m.synced_version >= i.version and m.remote_changed_at is null`.then(
      (r) => r.length > 0,
    ),
  );
  const now = plane.issue(pid, issue.id)!;
  const remote = {
    state: plane.statesOf(pid).find((s) => s.id === now.state)!.name,
    labels: now.labels.map((id) => plane.labelsOf(pid).find((l) => l.id === id)!.name).sort(),
  };
  const item = (await (await h.api('GET', '/v1/items/s%2F1')).json()) as { fields: { state: string; labels: string[] } };
  const conflicts = await h.sql<{ field: string; status: string; resolution: string | null; resolved_by: string | null; reason: string }[]>`
    select field, status, resolution, resolved_by, reason from conflicts where item_key = 's/1' order by field`;
  const trail = (await (await h.api('GET', '/v1/items/s%2F1/activity')).json()) as {
    activity: { actor: string; action: string; field: string | null; detail: { outcome?: string } | null }[];
  };
  return { remote, local: item.fields, conflicts, trail: trail.activity };
}

describe('conflict strategies (DESIGN 3)', () => {
  it('local-wins: the orchestrator’s values go to Plane, labels keep both sides’ changes, and the trail says the strategy chose them', async () => {
    const r = await bothSidesChange('local-wins');
    // The orchestrator added d; the person removed a and added c: a set keeps both sides' changes
    // (issue 15), the scalar takes the orchestrator's value.
    expect(r.remote).toEqual({ state: 'In Progress', labels: ['b', 'c', 'd'] });
    expect(r.local).toMatchObject({ state: 'doing', labels: ['b', 'c', 'd'] });
    expect(r.conflicts).toEqual([
      expect.objectContaining({ field: 'labels', status: 'resolved', resolution: 'merged', resolved_by: 'strategy:local-wins' }),
      expect.objectContaining({ field: 'state', status: 'resolved', resolution: 'local', resolved_by: 'strategy:local-wins' }),
    ]);
    expect(r.conflicts[1].reason).toContain('local-wins kept the local value');
    expect(r.trail).toContainEqual(
      expect.objectContaining({
        actor: 'strategy:local-wins',
        action: 'conflict.resolved',
        field: 'state',
        detail: expect.objectContaining({ outcome: 'local' }),
      }),
    );
  });

  it('remote-wins: the item takes Plane’s values', async () => {
    const r = await bothSidesChange('remote-wins');
    expect(r.remote).toEqual({ state: 'In Review', labels: ['b', 'c'] });
    expect(r.local).toMatchObject({ state: 'for_review', labels: ['b', 'c'] });
    expect(r.conflicts.map((c) => [c.field, c.resolution, c.resolved_by])).toEqual([
      ['labels', 'remote', 'strategy:remote-wins'],
      ['state', 'remote', 'strategy:remote-wins'],
    ]);
  });

  it('merge: label sets merge three-way, the scalar goes to the local side', async () => {
    const r = await bothSidesChange('merge');
    // base {a,b}; local added d; remote added c and removed a.
    expect(r.remote).toEqual({ state: 'In Progress', labels: ['b', 'c', 'd'] });
    expect(r.local).toMatchObject({ state: 'doing', labels: ['b', 'c', 'd'] });
    expect(r.conflicts.map((c) => [c.field, c.resolution])).toEqual([
      ['labels', 'merged'],
      ['state', 'local'],
    ]);
  });

  it('manual: both sides stay as they are until an operator resolves; then the chosen side is applied', async () => {
    const r = await bothSidesChange('manual');
    expect(r.remote).toEqual({ state: 'In Review', labels: ['b', 'c'] });
    expect(r.local).toMatchObject({ state: 'doing', labels: ['a', 'b', 'd'] });
    expect(r.conflicts.map((c) => [c.field, c.status])).toEqual([
      ['labels', 'open'],
      ['state', 'open'],
    ]);
    const open = (await (await h!.api('GET', '/v1/conflicts?status=open')).json()) as { conflicts: { id: number; field: string }[] };
    const state = open.conflicts.find((c) => c.field === 'state')!;
    const labels = open.conflicts.find((c) => c.field === 'labels')!;
    expect((await h!.api('POST', `/v1/conflicts/${state.id}/resolve`, { use: 'remote', actor: 'operator:ana' })).status).toBe(200);
    expect((await h!.api('POST', `/v1/conflicts/${labels.id}/resolve`, { use: 'local', actor: 'orchestrator' })).status).toBe(200);
    const plane = h!.sandbox.plane;
    const pid = h!.project.projectId;
    await waitFor(async () => {
      const item = (await (await h!.api('GET', '/v1/items/s%2F1')).json()) as { fields: { state: string } };
      const issue = plane.issuesOf(pid).find((i) => i.external_id === 's/1')!;
      const labelNames = issue.labels.map((id) => plane.labelsOf(pid).find((l) => l.id === id)!.name).sort();
      return item.fields.state === 'for_review' && labelNames.join() === 'a,b,d';
    });
    const trail = (await (await h!.api('GET', '/v1/items/s%2F1/activity')).json()) as {
      activity: { actor: string; action: string; field: string }[];
    };
    expect(trail.activity).toContainEqual(expect.objectContaining({ actor: 'operator:ana', action: 'conflict.resolved', field: 'state' }));
    expect(trail.activity).toContainEqual(expect.objectContaining({ actor: 'orchestrator', action: 'conflict.resolved', field: 'labels' }));
    const bad = await h!.api('POST', `/v1/conflicts/${state.id}/resolve`, { use: 'sideways' });
    expect(bad.status).toBe(400);
  });
});
