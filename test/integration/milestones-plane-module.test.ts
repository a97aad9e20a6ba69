import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { loadSpecValidator, specMissing } from '../support/openapi-validator.ts';

/**
 * An item's milestone in Plane as a module (issue 15, `milestone_as = "module"`): found by name
 * and created when missing, joined through the module-issues endpoint; a new milestone leaves the
 * old module explicitly (a module, unlike a cycle, keeps its work items) while a module a person
 * added stays; no milestone leaves it; a person's move to another module (which leaves the work
 * item's updated_at alone) comes back through polling membership.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness('milestones_plane_module', { plane: { milestone_as: 'module' } });
});
afterAll(async () => h?.close());

const pid = () => h.project.projectId;
const groups = () => h.sandbox.planeGroups;
const upsert = (key: string, fields: Record<string, unknown>) =>
  h.postEvents({ type: 'item.upserted', item: { key, ...fields }, actor: 'agent:planner' });
const desired = async (key: string) => (await h.sql`select desired from items where key = ${key}`)[0].desired as Record<string, unknown>;
const version = async (key: string) => Number((await h.sql`select version from items where key = ${key}`)[0].version);
const modulesOf = (issueId: string) =>
  groups()
    .modulesOf(pid())
    .filter((m) => groups().moduleIssues.get(m.id)?.has(issueId))
    .map((m) => m.name)
    .sort();
const moduleNamed = (name: string) =>
  groups()
    .modulesOf(pid())
    .find((m) => m.name === name)!;
/** Every Plane request of the file, for the spec check at the end. */
const seen: ReturnType<Harness['sandbox']['log']['entries']> = [];
function clearLog() {
  seen.push(...h.sandbox.log.entries({ tracker: 'plane' }));
  h.sandbox.log.clear();
}

async function settled(key: string, minVersion = 1) {
  return waitFor(
    () =>
      h.sql`select remote_id, remote_key, status, last_error from mappings where item_key = ${key} and connection_id = 'plane-main'
        and status in ('synced', 'conflict') and synced_version >= ${minVersion} and pending_push is null`.then((r) => r[0]),
    15_000,
  );
}

describe('Plane: the milestone is a module (milestone_as = "module")', () => {
  it('joins the module named by the milestone, created once for every item that asks; no cycle is touched', async () => {
    clearLog();
    await upsert('md/1', { title: 'First', milestone: 'Auth' });
    await upsert('md/2', { title: 'Second', milestone: 'Auth' });
    const [a, b] = [await settled('md/1'), await settled('md/2')];
    expect(modulesOf(a.remote_id)).toEqual(['Auth']);
    expect(modulesOf(b.remote_id)).toEqual(['Auth']);
    expect(
      groups()
        .modulesOf(pid())
        .map((m) => m.name),
    ).toEqual(['Auth']);
    const creates = h.sandbox.log
      .entries({ tracker: 'plane', method: 'POST', pathIncludes: '/modules/' })
      .filter((e) => !e.path.includes('module-issues'));
    expect(creates.map((e) => e.body)).toEqual([{ name: 'Auth' }]);
    const joins = h.sandbox.log.entries({ tracker: 'plane', method: 'POST', pathIncludes: '/module-issues/' });
    expect(joins.map((e) => (e.body as { issues: string[] }).issues[0]).sort()).toEqual([a.remote_id, b.remote_id].sort());
    expect(h.sandbox.log.entries({ tracker: 'plane', pathIncludes: '/cycle' })).toHaveLength(0);
    expect(groups().cyclesOf(pid())).toHaveLength(0);
  });

  it('a new milestone leaves the old module and joins the new one; a module a person added stays', async () => {
    const m = await settled('md/1');
    const extra = groups().createModule(pid(), { name: 'Docs' });
    groups().add('module', pid(), extra.id, { issues: [m.remote_id] });
    clearLog();
    await upsert('md/1', { milestone: 'Billing' });
    await settled('md/1', await version('md/1'));
    expect(modulesOf(m.remote_id)).toEqual(['Billing', 'Docs']);
    expect(
      h.sandbox.log.entries({ tracker: 'plane', method: 'POST', pathIncludes: `/modules/${moduleNamed('Billing').id}/module-issues/` }),
    ).toHaveLength(1);
    // A module keeps its work items when they join another: the old one is left explicitly.
    expect(
      h.sandbox.log.entries({
        tracker: 'plane',
        method: 'DELETE',
        pathIncludes: `/modules/${moduleNamed('Auth').id}/module-issues/${m.remote_id}/`,
      }),
    ).toHaveLength(1);
    // Membership is not a work item field: no PATCH of the work item.
    expect(h.sandbox.log.entries({ tracker: 'plane', method: 'PATCH' })).toHaveLength(0);
  });

  it('no milestone leaves the module Trackline set, and only that one', async () => {
    const m = await settled('md/1');
    clearLog();
    await upsert('md/1', { milestone: null });
    await settled('md/1', await version('md/1'));
    expect(modulesOf(m.remote_id)).toEqual(['Docs']);
    const deletes = h.sandbox.log.entries({ tracker: 'plane', method: 'DELETE', pathIncludes: '/module-issues/' });
    expect(deletes.map((d) => d.path)).toEqual([
      expect.stringContaining(`/modules/${moduleNamed('Billing').id}/module-issues/${m.remote_id}/`),
    ]);
  });

  it('a person’s move to another module, which leaves updated_at alone, comes back through polling membership', async () => {
    const m = await settled('md/2');
    await h.runtime.queues.pollNow('plane-main');
    const before = h.sandbox.plane.issue(pid(), m.remote_id)!.updated_at;
    const payments = groups().createModule(pid(), { name: 'Payments' });
    groups().remove('module', pid(), moduleNamed('Auth').id, m.remote_id);
    groups().add('module', pid(), payments.id, { issues: [m.remote_id] });
    expect(h.sandbox.plane.issue(pid(), m.remote_id)!.updated_at).toBe(before);
    await waitFor(async () => {
      await h.runtime.queues.pollNow('plane-main');
      return (await desired('md/2')).milestone === 'Payments';
    }, 15_000);
    const [change] = await h.sql`select fields from changes where item_key = 'md/2' and type = 'item.changed' order by id desc limit 1`;
    expect(change.fields.milestone).toEqual({ from: 'Auth', to: 'Payments' });
  });

  it.skipIf(specMissing('plane'))('every request validates against Plane’s OpenAPI description', async () => {
    const spec = await loadSpecValidator('plane');
    const requests = [...seen, ...h.sandbox.log.entries({ tracker: 'plane' })];
    expect(requests.some((r) => r.path.includes('/module-issues/'))).toBe(true);
    spec.assertAll(
      requests.map((r) => {
        const query = new URLSearchParams(r.query).toString();
        return { method: r.method, url: `${r.path}${query ? `?${query}` : ''}`, body: r.body ?? undefined, headers: r.headers };
      }),
    );
  });
});
