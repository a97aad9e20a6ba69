import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GITHUB, startHarness, waitFor, type Harness } from '../support/harness.ts';

// Plane carries specs with the defaults (reopen = "ask"); GitHub carries tasks and allows
// re-opening but never closes (close_issues = false).
let h: Harness;
beforeAll(async () => {
  h = await startHarness('state_guard', { plane: { kinds: ['spec'] }, github: { kinds: ['task'], reopen: 'allow', close_issues: false } });
});
afterAll(async () => h?.close());

const version = async (key: string) => Number((await h.sql`select version from items where key = ${key}`)[0].version);
const synced = async (key: string) => {
  const v = await version(key);
  await waitFor(
    () => h.sql`select 1 from mappings where item_key = ${key} and status = 'synced' and synced_version >= ${v}`.then((r) => r.length > 0),
    15_000,
  );
};
const openConflict = (key: string) =>
  waitFor(
    () =>
      h.sql`select id, field, local_value, remote_value, reason from conflicts where item_key = ${key} and status = 'open'`.then(
        (r) => r[0],
      ),
    15_000,
  );
const planeState = (key: string) => {
  const issue = h.sandbox.plane.issuesOf(h.project.projectId).find((i) => i.external_id === key)!;
  return h.sandbox.plane.statesOf(h.project.projectId).find((s) => s.id === issue.state)?.name;
};
const ghIssue = (key: string) =>
  h.sandbox.github.store
    .issuesOf(`${GITHUB.owner}/${GITHUB.repo}`)
    .find((i) => (i.body ?? '').includes(`trackline:item=${encodeURIComponent(key)} `))!;

describe('state changes Trackline makes only when asked', () => {
  it('reopen = "ask": a done issue is not re-opened by the item going back; the conflict names both sides; "use local" re-opens it', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'spec/1', kind: 'spec', title: 'Spec', state: 'done' } });
    await synced('spec/1');
    expect(planeState('spec/1')).toBe('Done');

    // Re-planned, with a title change in the same event: the title goes through, the state waits.
    await h.postEvents({ type: 'item.upserted', item: { key: 'spec/1', state: 'doing', title: 'Spec, again' } });
    const held = await openConflict('spec/1');
    expect(held).toMatchObject({ field: 'state', local_value: 'doing', remote_value: 'Done' });
    expect(held.reason).toBe(
      'the item went back to "doing" while ET-1 is done in the tracker ("Done"): reopen = "ask" holds it; resolve with local to re-open the issue, with remote to keep it done',
    );
    await waitFor(() => h.sandbox.plane.issuesOf(h.project.projectId).find((i) => i.external_id === 'spec/1')!.name === 'Spec, again');
    expect(planeState('spec/1')).toBe('Done');
    const item = (await (await h.api('GET', '/v1/items/spec%2F1')).json()) as { connections: { status: string; lastError: string }[] };
    expect(item.connections[0]).toMatchObject({ status: 'conflict', lastError: held.reason });

    const resolved = await h.api('POST', `/v1/conflicts/${held.id}/resolve`, { use: 'local', actor: 'operator:ana' });
    expect(resolved.status).toBe(200);
    await synced('spec/1');
    expect(planeState('spec/1')).toBe('In Progress');
    // Once re-opened, ordinary moves between open states are not held.
    await h.postEvents({ type: 'item.upserted', item: { key: 'spec/1', state: 'for_review' } });
    await synced('spec/1');
    expect(planeState('spec/1')).toBe('In Review');
  }, 40_000);

  it('"use remote" keeps the issue done and the item takes the done state back', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'spec/2', kind: 'spec', title: 'Spec 2', state: 'done' } });
    await synced('spec/2');
    await h.postEvents({ type: 'item.upserted', item: { key: 'spec/2', state: 'planned' } });
    const held = await openConflict('spec/2');
    await h.api('POST', `/v1/conflicts/${held.id}/resolve`, { use: 'remote' });
    await waitFor(() => h.sql`select desired->>'state' as s from items where key = 'spec/2'`.then((r) => r[0].s === 'done'), 15_000);
    expect(planeState('spec/2')).toBe('Done');
  }, 30_000);

  it('an event that says force re-opens at once, and the trail says it was forced', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'spec/3', kind: 'spec', title: 'Spec 3', state: 'done' } });
    await synced('spec/3');
    const res = await h.postEvents({
      type: 'item.upserted',
      item: { key: 'spec/3', state: 'planned' },
      force: true,
      actor: 'agent:planner',
    });
    expect(res.status).toBe(202);
    await synced('spec/3');
    expect(planeState('spec/3')).toBe('Todo');
    expect((await h.sql`select count(*)::int as n from conflicts where item_key = 'spec/3' and status = 'open'`)[0].n).toBe(0);
    const [forced] = await h.sql`select actor, detail from activity where item_key = 'spec/3' and action = 'sync.forced'`;
    expect(forced).toMatchObject({ actor: 'orchestrator', detail: { fields: ['state'], reason: 'forced by the event (agent:planner)' } });
    expect((await h.postEvents({ type: 'item.upserted', item: { key: 'spec/3' }, force: 'yes' })).status).toBe(400);
  }, 30_000);

  it('close_issues = false: a closing state is held, the issue stays open; reopen = "allow" re-opens at once', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'task/1', kind: 'task', title: 'Task', state: 'doing' } });
    await synced('task/1');
    await h.postEvents({ type: 'item.upserted', item: { key: 'task/1', state: 'done' } });
    const held = await openConflict('task/1');
    expect(held.reason).toBe(
      `"done" would close #${ghIssue('task/1').number} ("closed") and close_issues is off for this connection: resolve with local to close it, with remote to keep it open`,
    );
    expect(ghIssue('task/1').state).toBe('open');
    // An operator closes it after all.
    await h.api('POST', `/v1/conflicts/${held.id}/resolve`, { use: 'local' });
    await synced('task/1');
    expect(ghIssue('task/1').state).toBe('closed');
    // Re-planned: allowed on this connection, so re-opened without a conflict.
    await h.postEvents({ type: 'item.upserted', item: { key: 'task/1', state: 'planned' } });
    await synced('task/1');
    expect(ghIssue('task/1').state).toBe('open');
    expect((await h.sql`select count(*)::int as n from conflicts where item_key = 'task/1' and status = 'open'`)[0].n).toBe(0);
  }, 40_000);
});
