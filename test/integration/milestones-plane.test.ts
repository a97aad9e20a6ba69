import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { loadSpecValidator, specMissing } from '../support/openapi-validator.ts';

/**
 * An item's milestone in Plane (issue 15): a cycle (milestone_as = "cycle", the default), found by
 * name and created when missing, joined and left through the cycle-issues endpoints; a completed
 * cycle refused by name with the other fields still syncing; a person's move between cycles
 * (which leaves the work item's updated_at alone) noticed by polling membership.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness('milestones_plane');
});
afterAll(async () => h?.close());

const pid = () => h.project.projectId;
const groups = () => h.sandbox.planeGroups;
const upsert = (key: string, fields: Record<string, unknown>) =>
  h.postEvents({ type: 'item.upserted', item: { key, ...fields }, actor: 'agent:planner' });
const desired = async (key: string) => (await h.sql`select desired from items where key = ${key}`)[0].desired as Record<string, unknown>;
const version = async (key: string) => Number((await h.sql`select version from items where key = ${key}`)[0].version);
const cycleOf = (issueId: string) => {
  const id = groups().cycleOf.get(issueId);
  return id ? groups().cycles.get(id)!.name : null;
};
const cycleNamed = (name: string) =>
  groups()
    .cyclesOf(pid())
    .find((c) => c.name === name)!;

async function settled(key: string, minVersion = 1) {
  return waitFor(
    () =>
      h.sql`select remote_id, remote_key, status, last_error from mappings where item_key = ${key} and connection_id = 'plane-main'
        and status in ('synced', 'conflict') and synced_version >= ${minVersion} and pending_push is null`.then((r) => r[0]),
    15_000,
  );
}

describe('Plane: the milestone is a cycle', () => {
  it('joins the cycle named by the milestone, created once for every item that asks', async () => {
    h.sandbox.log.clear();
    await upsert('cy/1', { title: 'First', milestone: 'Sprint 1' });
    await upsert('cy/2', { title: 'Second', milestone: 'Sprint 1' });
    const [a, b] = [await settled('cy/1'), await settled('cy/2')];
    expect(cycleOf(a.remote_id)).toBe('Sprint 1');
    expect(cycleOf(b.remote_id)).toBe('Sprint 1');
    expect(
      groups()
        .cyclesOf(pid())
        .map((c) => c.name),
    ).toEqual(['Sprint 1']);
    const creates = h.sandbox.log
      .entries({ tracker: 'plane', method: 'POST', pathIncludes: '/cycles/' })
      .filter((e) => !e.path.includes('cycle-issues'));
    expect(creates.map((e) => e.body)).toEqual([{ name: 'Sprint 1' }]);
    const joins = h.sandbox.log.entries({ tracker: 'plane', method: 'POST', pathIncludes: '/cycle-issues/' });
    expect(joins.map((e) => e.body).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y)))).toEqual(
      [{ issues: [a.remote_id] }, { issues: [b.remote_id] }].sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
    );
  });

  it('a new milestone moves the work item to that cycle; no milestone takes it out', async () => {
    const m = await settled('cy/1');
    h.sandbox.log.clear();
    await upsert('cy/1', { milestone: 'Sprint 2' });
    await settled('cy/1', await version('cy/1'));
    expect(cycleOf(m.remote_id)).toBe('Sprint 2');
    expect(
      h.sandbox.log.entries({ tracker: 'plane', method: 'POST', pathIncludes: `/cycles/${cycleNamed('Sprint 2').id}/cycle-issues/` }),
    ).toHaveLength(1);
    // Neither the move nor the lookup cost a write to the work item itself.
    expect(h.sandbox.log.entries({ tracker: 'plane', method: 'PATCH' })).toHaveLength(0);

    await upsert('cy/1', { milestone: null });
    await settled('cy/1', await version('cy/1'));
    expect(cycleOf(m.remote_id)).toBeNull();
    expect(h.sandbox.log.entries({ tracker: 'plane', method: 'DELETE', pathIncludes: `/cycle-issues/${m.remote_id}/` })).toHaveLength(1);
  });

  it('a completed cycle is refused by name: the title still syncs and the milestone is held as a conflict', async () => {
    groups().createCycle(pid(), { name: 'Sprint 0', start_date: '2026-01-05T00:00:00Z', end_date: '2026-01-16T00:00:00Z' });
    await upsert('cy/3', { title: 'Third', milestone: 'Sprint 1' });
    const m = await settled('cy/3');
    await upsert('cy/3', { title: 'Third, renamed', milestone: 'Sprint 0' });
    const row = await waitFor(() =>
      h.sql`select status, last_error from mappings where item_key = 'cy/3' and last_error like 'Plane cycle "Sprint 0" refused%'`.then(
        (r) => r[0],
      ),
    );
    expect(row.status).toBe('conflict');
    expect(row.last_error).toContain('The Cycle has already been completed so no new issues can be added');
    expect(h.sandbox.plane.issue(pid(), m.remote_id)!.name).toBe('Third, renamed');
    expect(cycleOf(m.remote_id)).toBe('Sprint 1');
    const [conflict] = await h.sql`select field, local_value, status from conflicts where item_key = 'cy/3'`;
    expect(conflict).toMatchObject({ field: 'milestone', local_value: 'Sprint 0', status: 'open' });
  });

  it('a person’s move to another cycle, which leaves updated_at alone, comes back through polling membership', async () => {
    const m = await settled('cy/2');
    const before = h.sandbox.plane.issue(pid(), m.remote_id)!.updated_at;
    await h.runtime.queues.pollNow('plane-main');
    await waitFor(async () => (await h.sql`select 1 from deliveries where kind = 'poll' and status = 'done'`).length > 0).catch(
      () => undefined,
    );
    const sprint3 = groups().createCycle(pid(), { name: 'Sprint 3' });
    groups().add('cycle', pid(), sprint3.id, { issues: [m.remote_id] });
    expect(h.sandbox.plane.issue(pid(), m.remote_id)!.updated_at).toBe(before);
    // Polls until the move is seen (the first poll of a process may only take note of membership).
    await waitFor(async () => {
      await h.runtime.queues.pollNow('plane-main');
      return (await desired('cy/2')).milestone === 'Sprint 3';
    }, 15_000);
    const [change] = await h.sql`select fields from changes where item_key = 'cy/2' and type = 'item.changed' order by id desc limit 1`;
    expect(change.fields.milestone).toEqual({ from: 'Sprint 1', to: 'Sprint 3' });
  });

  it.skipIf(specMissing('plane'))('every request validates against Plane’s OpenAPI description', async () => {
    const spec = await loadSpecValidator('plane');
    const requests = h.sandbox.log.entries({ tracker: 'plane' });
    expect(requests.some((r) => r.path.includes('/cycle-issues/'))).toBe(true);
    spec.assertAll(
      requests.map((r) => {
        const query = new URLSearchParams(r.query).toString();
        return { method: r.method, url: `${r.path}${query ? `?${query}` : ''}`, body: r.body ?? undefined, headers: r.headers };
      }),
    );
  });
});
