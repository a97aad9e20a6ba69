import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_TOKEN, startHarness, waitFor, type Harness } from '../support/harness.ts';

/**
 * POST /v1/connections/{id}/sync with `force` (issue 20), the HTTP twin of `trackline sync
 * --force [--item KEY] [--as NAME]`: the forced push is recorded with the operator, and it takes
 * the admin scope. Bad input is a 400 naming the field, with nothing written or enqueued.
 */

const RETRIER = 'retrier-token-0123456789';
let h: Harness;
beforeAll(async () => {
  h = await startHarness('api_sync_force', {
    // A second connection that only pulls, for items of kind "g".
    github: { direction: 'pull', kinds: ['g'] },
    config: { api: { tokens: [API_TOKEN, { token: RETRIER, scopes: ['items:read', 'deliveries:write'] }] } },
  });
});
afterAll(async () => h?.close());

const sync = (body: unknown, token = API_TOKEN) =>
  h.api('POST', '/v1/connections/plane-main/sync', body, { authorization: `Bearer ${token}` });
const errorOf = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;
const issueOf = (key: string) => h.sandbox.plane.issuesOf(h.project.projectId).find((i) => i.external_id === key)!;
const synced = (key: string) =>
  waitFor(
    () =>
      h.sql`select 1 from mappings m join items i on i.key = m.item_key where m.item_key = ${key} and m.status = 'synced' and m.synced_version >= i.version`.then(
        (r) => r.length > 0,
      ),
    20_000,
  );
/** Everything a sync request could write or enqueue (read once the queues are idle). */
const written = async () => {
  await waitFor(() =>
    h.runtime.queues.reconcile
      .getJobCounts('active', 'waiting', 'delayed', 'prioritized')
      .then((c) => Object.values(c).every((n) => n === 0)),
  );
  return snapshot();
};
const snapshot = async () => ({
  rows: (
    await h.sql`select (select count(*)::int from activity where action = 'sync.forced') as forced,
      (select count(*)::int from conflicts) as conflicts, (select coalesce(sum(version), 0)::int from items) as versions,
      (select count(*)::int from deliveries) as deliveries`
  )[0],
  jobs: await h.runtime.queues.reconcile.getJobCountByTypes('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'),
  polls: await h.runtime.queues.poll.getJobCountByTypes('waiting', 'active', 'delayed', 'completed', 'failed', 'prioritized'),
});

describe('POST /v1/connections/{id}/sync with force', () => {
  it('bad input: a 400 naming the field, nothing written or enqueued', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'api/1', title: 'One' } });
    await synced('api/1');
    const before = await written();
    const cases: [unknown, string][] = [
      [{ force: true, frce: true }, '"frce"'],
      [{ force: 'yes' }, 'force: '],
      [{ force: true, items: 'api/1' }, 'items: '],
      [{ force: true, items: [] }, 'items: '],
      [{ force: true, items: ['api/1', 'no/such-item'] }, 'items[1]: no item "no/such-item"'],
      [{ force: true, dryRun: true }, 'force: force and dryRun exclude each other'],
      [{ force: true, direction: 'pull' }, 'force: force pushes'],
      [{ actor: 'operator:bea' }, 'actor: actor names who forced the sync; it needs force: true'],
      [{ force: true, actor: 'bea' }, 'actor: expected "operator:<name>"'],
      [{ labelsOnly: true, direction: 'pull' }, 'labelsOnly: '],
      [[true], 'expected object'],
    ];
    for (const [body, message] of cases) {
      const res = await sync(body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      const error = await errorOf(res);
      expect(error.code).toBe('invalid_request');
      expect(error.message, JSON.stringify(body)).toContain(message);
    }
    // An item another connection carries, or none: the same, by the same check.
    await h.sql`insert into items (key, kind, desired, version) values ('api/orphan', null, '{"title":"x"}', 1)`;
    const orphan = await sync({ force: true, items: ['api/orphan'] });
    expect(orphan.status).toBe(400);
    expect((await errorOf(orphan)).message).toBe('items[0]: item "api/orphan" is not synced with connection "plane-main"');
    await h.sql`delete from items where key = 'api/orphan'`;
    // A connection that only pulls has nothing to force.
    const pullOnly = await h.api('POST', '/v1/connections/gh-main/sync', { force: true });
    expect(pullOnly.status).toBe(400);
    expect((await errorOf(pullOnly)).message).toBe('force: connection "gh-main" only pulls; there is nothing to push');
    expect(await snapshot()).toEqual(before);
  }, 60_000);

  it('a token without the admin scope gets 403 naming it, nothing written; deliveries:write is not enough', async () => {
    const before = await written();
    const res = await sync({ force: true, items: ['api/1'] }, RETRIER);
    expect(res.status).toBe(403);
    expect(await errorOf(res)).toMatchObject({ code: 'forbidden', message: 'this token lacks the "admin" scope' });
    expect(await snapshot()).toEqual(before);
  });

  it("forces the item's values where the base says nothing changed; the trail names the actor, or the token", async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'api/2', title: 'Ours' } });
    await synced('api/2');
    // A person renames both issues without a webhook reaching Trackline: an ordinary sync has nothing to push.
    h.sandbox.plane.editAsPerson(issueOf('api/1').id, { name: 'Theirs 1' });
    h.sandbox.plane.editAsPerson(issueOf('api/2').id, { name: 'Theirs 2' });

    const res = await sync({ force: true, items: ['api/2'], direction: 'push', actor: 'operator:bea' });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({
      connection: 'plane-main',
      dryRun: false,
      items: ['api/2'],
      reconciles: 1,
      poll: false,
      forced: { items: 1, by: 'operator:bea' },
    });
    await waitFor(() => issueOf('api/2').name === 'Ours', 20_000);
    const trail = await h.sql`select item_key, actor, detail from activity where action = 'sync.forced'`;
    expect(trail).toEqual([
      {
        item_key: 'api/2',
        actor: 'operator:bea',
        detail: { fields: ['title'], reason: 'forced: POST /v1/connections/plane-main/sync' },
      },
    ]);
    // Only the named item: the other's rename stays.
    expect(issueOf('api/1').name).toBe('Theirs 1');

    // Without an actor, the token's identity is recorded.
    const byToken = await sync({ force: true, items: ['api/1'], direction: 'push' });
    expect(byToken.status).toBe(202);
    const { forced } = (await byToken.json()) as { forced: { by: string } };
    expect(forced.by).toMatch(/^operator:token-[0-9a-f]{16}$/);
    await waitFor(() => issueOf('api/1').name === 'One', 20_000);
    const [row] = await h.sql`select actor from activity where action = 'sync.forced' and item_key = 'api/1'`;
    expect(row.actor).toBe(forced.by);
  }, 60_000);

  it('labelsOnly with dryRun plans only the label changes of the named items', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'api/3', title: 'Three', labels: ['backend'] } });
    await synced('api/3');
    await h.workers!.close();
    h.workers = undefined;
    await h.postEvents({ type: 'item.upserted', item: { key: 'api/3', title: 'Three renamed', labels: ['backend', 'docs'] } });
    // The api answers once the event is committed and enqueues its reconcile just after: wait for
    // that job (slower with the queues in PostgreSQL) before draining it away.
    await waitFor(() =>
      h.runtime.queues.reconcile
        .getJobs(['waiting', 'prioritized', 'delayed'])
        .then((jobs) => jobs.some((j) => j.data.itemKey === 'api/3')),
    );
    await h.runtime.queues.reconcile.drain(true);
    await h.startWorkers();
    // The plan job runs in a worker; the item's own reconcile was drained above, so it is still pending.
    const res = await sync({ dryRun: true, labelsOnly: true, items: ['api/3'] });
    expect(res.status).toBe(200);
    const plan = (await res.json()) as { items: { itemKey: string; push: Record<string, unknown> }[]; only: string[] };
    expect(plan.only).toEqual(['labels']);
    expect(plan.items.map((i) => i.itemKey)).toEqual(['api/3']);
    expect(Object.keys(plan.items[0].push)).toEqual(['labels']);
  }, 60_000);
});
