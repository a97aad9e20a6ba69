import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('sync_plane');
});
afterAll(async () => h?.close());
beforeEach(() => {
  h.sandbox.faults.clear();
});

const plane = () => h.sandbox.plane;
const issuesFor = (key: string) =>
  plane()
    .issuesOf(h.project.projectId)
    .filter((i) => i.external_id === key);
const stateName = (id: string | null) =>
  plane()
    .statesOf(h.project.projectId)
    .find((s) => s.id === id)?.name;
const labelNames = (ids: string[]) =>
  ids
    .map(
      (id) =>
        plane()
          .labelsOf(h.project.projectId)
          .find((l) => l.id === id)?.name,
    )
    .sort();

async function item(key: string) {
  const res = await h.api('GET', `/v1/items/${encodeURIComponent(key)}`);
  return (await res.json()) as {
    version: number;
    connections: {
      connection: string;
      status: string;
      remoteKey: string | null;
      url: string | null;
      lastError: string | null;
      syncedVersion: number;
    }[];
  };
}

async function synced(key: string, version?: number) {
  return waitFor(async () => {
    const it = await item(key);
    const c = it.connections[0];
    return c && c.status === 'synced' && (version === undefined || c.syncedVersion >= version) ? it : null;
  }, 15_000);
}

const upsert = (key: string, fields: Record<string, unknown>) =>
  h.postEvents({ type: 'item.upserted', item: { key, ...fields }, actor: 'agent:planner' });

describe('an item.upserted for a new key', () => {
  // How fast is bench/sync.ts's business (event-to-write latency), not a wall-clock assertion here.
  it('creates exactly one Plane issue with the mapped state, labels and priority', async () => {
    const res = await upsert('user-auth/WP02', {
      kind: 'work_package',
      title: 'WP02: Models layer',
      body: 'Build the **models**.',
      state: 'doing',
      labels: ['backend', 'db'],
      priority: 'critical',
      assignees: ['alice'],
    });
    expect(res.status).toBe(202);
    const it = await synced('user-auth/WP02');
    const issues = issuesFor('user-auth/WP02');
    expect(issues).toHaveLength(1);
    const issue = issues[0];
    expect(issue.name).toBe('WP02: Models layer');
    expect(issue.description_html).toContain('<strong>models</strong>');
    expect(stateName(issue.state)).toBe('In Progress');
    expect(labelNames(issue.labels)).toEqual(['backend', 'db']);
    expect(issue.priority).toBe('urgent');
    expect(issue.assignees).toEqual([h.project.members['alice@example.com']]);
    expect(issue.external_source).toBe('trackline');
    // The api shows the identifier and the URL people open.
    const c = it.connections[0];
    expect(c.remoteKey).toBe(`ET-${issue.sequence_id}`);
    expect(c.url).toBe(`${h.sandboxUrl}/acme/browse/ET-${issue.sequence_id}/`);
    // The activity trail says who changed what.
    const trail = (await (await h.api('GET', '/v1/items/user-auth%2FWP02/activity')).json()) as {
      activity: { actor: string; action: string; field: string | null; to: unknown }[];
    };
    expect(trail.activity).toContainEqual(
      expect.objectContaining({ actor: 'orchestrator', action: 'field.changed', field: 'state', to: 'doing' }),
    );
    expect(trail.activity).toContainEqual(expect.objectContaining({ actor: 'sync:plane-main', action: 'remote.created' }));
  });

  it('updates only the fields that changed, in one PATCH', async () => {
    await upsert('upd/1', { title: 'One', state: 'planned', labels: ['a'] });
    const first = await synced('upd/1');
    h.sandbox.log.clear();
    await upsert('upd/1', { state: 'done' });
    await synced('upd/1', first.version + 1);
    const writes = h.sandbox.log.writes();
    expect(writes).toHaveLength(1);
    expect(writes[0].method).toBe('PATCH');
    expect(Object.keys(writes[0].body as object)).toEqual(['state']);
    expect(stateName(issuesFor('upd/1')[0].state)).toBe('Done');
  });

  it('attaches to an existing issue through links instead of creating one', async () => {
    const existing = plane().createAsPerson(h.project.projectId, { name: 'Filed by a person' });
    await upsert('linked/1', { state: 'doing', links: { 'plane-main': `ET-${existing.sequence_id}` } });
    const it = await synced('linked/1');
    expect(it.connections[0].remoteKey).toBe(`ET-${existing.sequence_id}`);
    expect(issuesFor('linked/1')).toHaveLength(0);
    const now = plane().issue(h.project.projectId, existing.id)!;
    expect(stateName(now.state)).toBe('In Progress');
    expect(now.name).toBe('Filed by a person');
    // Linked, in the same statement that marked the pair synced: the trail has it at once.
    const trail = (await (await h.api('GET', '/v1/items/linked%2F1/activity')).json()) as {
      activity: { actor: string; action: string; detail: Record<string, unknown> | null }[];
    };
    expect(trail.activity).toContainEqual(
      expect.objectContaining({
        actor: 'sync:plane-main',
        action: 'remote.linked',
        detail: expect.objectContaining({ remote: `ET-${existing.sequence_id}` }),
      }),
    );
  });

  it('an item deleted by the orchestrator stops syncing; its Plane issue stays, and the trail says so', async () => {
    await upsert('deleted/1', { title: 'Short-lived', state: 'doing' });
    await synced('deleted/1');
    const [issue] = issuesFor('deleted/1');
    expect((await h.postEvents({ type: 'item.deleted', key: 'deleted/1', actor: 'agent:planner' })).status).toBe(202);
    const stopped = await waitFor(async () => {
      const c = (await item('deleted/1')).connections[0];
      return c.status === 'deleted' ? c : null;
    });
    expect(stopped.remoteKey).toBe(`ET-${issue.sequence_id}`);
    expect(plane().issue(h.project.projectId, issue.id)?.deleted_at ?? null).toBeNull();
    const trail = (await (await h.api('GET', '/v1/items/deleted%2F1/activity')).json()) as {
      activity: { actor: string; action: string; detail: Record<string, unknown> | null }[];
    };
    expect(trail.activity).toContainEqual(
      expect.objectContaining({
        actor: 'sync:plane-main',
        action: 'sync.stopped',
        detail: expect.objectContaining({ remote: `ET-${issue.sequence_id}` }),
      }),
    );
  });

  it('refuses, clearly, a second item linked to an issue that already carries one', async () => {
    const existing = plane().createAsPerson(h.project.projectId, { name: 'Taken' });
    await upsert('taken/1', { links: { 'plane-main': `ET-${existing.sequence_id}` } });
    await synced('taken/1');
    await upsert('taken/2', { links: { 'plane-main': `ET-${existing.sequence_id}` } });
    const delivery = await waitFor(async () => {
      const [d] =
        await h.sql`select attempts, last_error from deliveries where kind = 'reconcile' and item_key = 'taken/2' and status = 'failed'`;
      return d;
    });
    expect(delivery.attempts).toBe(1);
    expect(delivery.last_error).toBe(
      `ET-${existing.sequence_id} is already synced with item "taken/1"; one issue carries one item per connection (link another issue, or unlink that item)`,
    );
  });

  it('delivers comments once, in order', async () => {
    await h.postEvents({
      events: [
        { type: 'item.upserted', item: { key: 'com/1', title: 'C' }, comment: 'Stage: analysis -> development', actor: 'agent:planner' },
        { type: 'item.comment', key: 'com/1', comment: 'second' },
      ],
    });
    await synced('com/1');
    const issue = issuesFor('com/1')[0];
    const comments = await waitFor(() => {
      const list = plane().commentsOf(issue.id);
      return list.length >= 2 ? list : null;
    });
    expect(comments.map((c) => c.comment_html)).toEqual([
      expect.stringContaining('Stage: analysis -&gt; development'),
      expect.stringContaining('second'),
    ]);
  });
});

describe('coalescing', () => {
  it('50 updates to one item within one second reach Plane as at most 3 writes, ending in the last state', async () => {
    await upsert('burst/1', { title: 'Burst', state: 'planned', labels: [] });
    await synced('burst/1');
    h.sandbox.log.clear();
    const states = ['planned', 'doing', 'for_review'];
    const started = Date.now();
    // 49 updates at once (their order does not matter), then the one that must win.
    const burst = await Promise.all(
      Array.from({ length: 49 }, (_, i) => upsert('burst/1', { title: `Burst ${i}`, state: states[i % 3], labels: [`l${i % 4}`] })),
    );
    expect(burst.every((r) => r.status === 202)).toBe(true);
    expect((await upsert('burst/1', { title: 'Burst 49', state: 'done', labels: ['l1'] })).status).toBe(202);
    expect(Date.now() - started).toBeLessThan(1000);
    const final = await item('burst/1');
    await synced('burst/1', final.version);
    const writes = h.sandbox.log.writes({ pathIncludes: '/work-items/' }).filter((w) => !w.path.includes('/labels/'));
    expect(writes.length).toBeGreaterThanOrEqual(1);
    expect(writes.length).toBeLessThanOrEqual(3);
    const issue = issuesFor('burst/1')[0];
    expect(issue.name).toBe('Burst 49');
    expect(stateName(issue.state)).toBe('Done');
    expect(labelNames(issue.labels)).toEqual(['l1']);
  });

  it('a burst longer than the window (24 updates one after another over ~1.2 s) costs one leading and one trailing write', async () => {
    await upsert('burst/2', { title: 'Slow burst', state: 'planned' });
    await synced('burst/2');
    h.sandbox.log.clear();
    const started = Date.now();
    for (let i = 1; i <= 24; i++) {
      expect((await upsert('burst/2', { title: `Slow burst ${i}` })).status).toBe(202);
      await new Promise((r) => setTimeout(r, Math.max(0, started + i * 50 - Date.now())));
    }
    expect(Date.now() - started).toBeGreaterThan(1000);
    await synced('burst/2', (await item('burst/2')).version);
    const writes = h.sandbox.log.writes({ pathIncludes: '/work-items/' }).filter((w) => !w.path.includes('/labels/'));
    expect(writes.length).toBeLessThanOrEqual(2);
    expect(issuesFor('burst/2')[0].name).toBe('Slow burst 24');
  });

  it('a steady stream of changes still reaches Plane while it lasts (a burst is cut after 4 windows)', async () => {
    await upsert('burst/3', { title: 'Stream', state: 'planned' });
    await synced('burst/3');
    h.sandbox.log.clear();
    const started = Date.now();
    // A change every 100 ms for 3.5 s: never quiet for a whole window.
    for (let i = 1; Date.now() - started < 3500; i++) {
      await upsert('burst/3', { title: `Stream ${i}` });
      await new Promise((r) => setTimeout(r, Math.max(0, started + i * 100 - Date.now())));
    }
    const writes = h.sandbox.log.writes({ pathIncludes: '/work-items/' }).filter((w) => !w.path.includes('/labels/'));
    // The stream began right after the create's sync, inside its window: the first write of the
    // stream comes when the burst is cut, 4 windows (2 s) in, not when the stream ends.
    const during = writes.map((w) => Date.parse(w.at as unknown as string) - started).filter((t) => t < 3500);
    expect(during.length).toBeGreaterThanOrEqual(1);
    expect(during[0]).toBeLessThan(2700);
    await synced('burst/3', (await item('burst/3')).version);
  });
});

describe('pacing and retries', () => {
  it('a 429 with Retry-After: 2 stops every call to the connection for about 2 s, then work resumes; no job fails', async () => {
    h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', status: 429, retryAfter: 2, times: 1 });
    h.sandbox.log.clear();
    const started = Date.now();
    await Promise.all(['rl/1', 'rl/2', 'rl/3'].map((k) => upsert(k, { title: k, state: 'doing' })));
    await Promise.all(['rl/1', 'rl/2', 'rl/3'].map((k) => synced(k)));
    const log = h.sandbox.log.entries({ tracker: 'plane' });
    const limited = log.find((e) => e.status === 429)!;
    expect(limited).toBeTruthy();
    const limitedAt = Date.parse(limited.at as unknown as string);
    // Nothing reached the connection during the pause; everything after it succeeded. The three
    // creates go out together (their lookups are warmed, the budget is not spaced), so one can be
    // on its way when the 429 comes back and land in the pause's first moments (in this process the
    // sandbox shares the event loop with the worker, which can hold it back a little).
    const during = log.filter(
      (e) => Date.parse(e.at as unknown as string) > limitedAt + 250 && Date.parse(e.at as unknown as string) < limitedAt + 1900,
    );
    expect(during).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    for (const k of ['rl/1', 'rl/2', 'rl/3']) expect(issuesFor(k)).toHaveLength(1);
    const failed =
      await h.sql`select count(*)::int as n from deliveries where kind = 'reconcile' and status = 'failed' and item_key like 'rl/%'`;
    expect(failed[0].n).toBe(0);
    const [call] = await waitFor(() => h.sql`select rate_limit from tracker_calls where status = 429`.then((r) => (r.length ? r : null)));
    expect(call.rate_limit).toMatchObject({ 'retry-after': '2' });
  });

  it('three 500s then success: the sync succeeds', async () => {
    h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', status: 500, times: 3 });
    await upsert('flaky/1', { title: 'Flaky', state: 'doing' });
    await synced('flaky/1');
    expect(issuesFor('flaky/1')).toHaveLength(1);
    // The delivery row is finished just after the mapping: wait for it rather than race it.
    const delivery = await waitFor(async () => {
      const [d] =
        await h.sql`select id, status, attempts, job_id from deliveries where kind = 'reconcile' and item_key = 'flaky/1' order by created_at limit 1`;
      return d?.status === 'succeeded' ? d : null;
    });
    expect(delivery.attempts).toBe(4);
    // The job's log (Bull Board's Logs tab) names the delivery: each failure with its reason, each retry.
    const { logs } = await h.runtime.queues.reconcile.getJobLogs(delivery.job_id);
    expect(logs.filter((l) => l.startsWith(`attempt 1 failed: delivery ${delivery.id}: `) && /500/.test(l))).toHaveLength(1);
    expect(logs.filter((l) => l.startsWith(`attempt 4: delivery ${delivery.id}`))).toHaveLength(1);
    expect(logs.filter((l) => l.startsWith('attempt 1:'))).toHaveLength(0);
  });

  it('a 404 fails the job at once, and the delivery shows why', async () => {
    await upsert('gone/1', { title: 'Gone', state: 'doing' });
    await synced('gone/1');
    h.sandbox.faults.inject({ tracker: 'plane', method: 'PATCH', status: 404, times: 1 });
    await upsert('gone/1', { state: 'done' });
    const delivery = await waitFor(async () => {
      const [d] =
        await h.sql`select status, attempts, last_error from deliveries where kind = 'reconcile' and item_key = 'gone/1' and status = 'failed'`;
      return d;
    });
    expect(delivery.attempts).toBe(1);
    expect(delivery.last_error).toMatch(/PATCH .*answered 404/);
    const it = await item('gone/1');
    expect(it.connections[0]).toMatchObject({ status: 'error', lastError: expect.stringContaining('404') });
  });

  it('an unknown state is a clear, non-retried error naming the states Plane has', async () => {
    await upsert('badstate/1', { title: 'Bad', state: 'hibernating' });
    const delivery = await waitFor(async () => {
      const [d] =
        await h.sql`select status, attempts, last_error from deliveries where kind = 'reconcile' and item_key = 'badstate/1' and status = 'failed'`;
      return d;
    });
    expect(delivery.attempts).toBe(1);
    expect(delivery.last_error).toContain('Plane project has no state "hibernating"');
    expect(delivery.last_error).toContain('In Progress');
    expect(issuesFor('badstate/1')).toHaveLength(0);
  });
});

describe('tracker calls are recorded without secrets', () => {
  it('every call has method, path, status and duration; no key anywhere', async () => {
    const calls = await h.sql`select method, path, status, duration_ms, rate_limit, error from tracker_calls`;
    expect(calls.length).toBeGreaterThan(5);
    expect(JSON.stringify(calls)).not.toContain('plane_api_test_key');
    const deliveries = await h.sql`select request, result, last_error from deliveries`;
    expect(JSON.stringify(deliveries)).not.toContain('plane_api_test_key');
  });
});
