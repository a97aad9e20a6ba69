import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NO_REDIS_URL, startHarness, waitFor, type Harness } from '../support/harness.ts';
import { spawnTrackline } from '../support/child-process.ts';

/**
 * The invariants that rest on the queues, with the queues in PostgreSQL (`[queue] backend =
 * "postgres"`): on every run, whichever backend the rest of the suite uses. REDIS_URL points at a
 * port nothing listens on, so anything still reaching for Redis in this mode fails here.
 */
let h: Harness;
beforeAll(async () => {
  // Workers start in the first test: a `trackline worker` process runs (and dies) before them.
  h = await startHarness('queue_pg', { queueBackend: 'postgres', workers: false, plane: { poll_interval: '2s' } });
});
afterAll(async () => h?.close());
beforeEach(async (context) => {
  h.sandbox.faults.clear();
  // The first test starts them after its crash; should it fail, the others still get workers.
  if (!h.workers && !context.task.name.includes('killed mid-create')) await h.startWorkers();
});

const issuesFor = (key: string) => h.sandbox.plane.issuesOf(h.project.projectId).filter((i) => i.external_id === key);
const stateName = (id: string | null) => h.sandbox.plane.statesOf(h.project.projectId).find((s) => s.id === id)?.name;
const upsert = (key: string, fields: Record<string, unknown>) => h.postEvents({ type: 'item.upserted', item: { key, ...fields } });

type ItemView = { version: number; connections: { status: string; syncedVersion: number; lastError: string | null }[] };
const item = async (key: string) => (await (await h.api('GET', `/v1/items/${encodeURIComponent(key)}`)).json()) as ItemView;
const synced = (key: string, version?: number) =>
  waitFor(async () => {
    const c = (await item(key)).connections[0];
    return c?.status === 'synced' && (version === undefined || c.syncedVersion >= version);
  }, 20_000);

/** Jobs of a queue as rows of the backend's table, by state. */
const jobRows = (queue: string) =>
  h.sql<{ state: string; n: number }[]>`select state, count(*)::int as n from bullmq.job where queue = ${queue} group by state`;

describe('the PostgreSQL queue backend', () => {
  it('runs without Redis: the runtime opened none, /readyz reports the queue backend, the queues are rows in schema bullmq', async () => {
    expect(h.runtime.env.REDIS_URL).toBe(NO_REDIS_URL);
    expect(h.runtime.queueBackend.kind).toBe('postgres');
    expect(h.runtime.producerRedis).toBeUndefined();
    const ready = await (await h.api('GET', '/readyz')).json();
    expect(ready).toEqual({ status: 'ready', postgres: 'ok', queues: 'ok', queue_backend: 'postgres' });
    const [schema] = await h.sql`select count(*)::int as n from information_schema.tables where table_schema = 'bullmq'`;
    expect(schema.n).toBeGreaterThan(0);
  });

  it('a worker process killed mid-create: a worker of this process takes the job over, and Plane has exactly one issue', async () => {
    const worker = spawnTrackline(h, ['worker']);
    try {
      // Plane creates the issue but its answer is held back: the worker dies before it learns the id.
      h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', delayAfterMs: 30_000, times: 1 });
      expect((await upsert('crash/1', { title: 'Crash me', state: 'doing' })).status).toBe(202);
      // A child process starts in seconds, or tens of seconds on a loaded machine.
      await waitFor(() => issuesFor('crash/1').length === 1, 45_000);
      const [mapping] = await h.sql`select remote_id, create_intent_at from mappings where item_key = 'crash/1'`;
      expect(mapping.remote_id).toBeNull();
      expect(mapping.create_intent_at).not.toBeNull();
      // The job is a row, active, held by the child's lock.
      expect(await jobRows('reconcile')).toContainEqual({ state: 'active', n: 1 });
      worker.process.kill('SIGKILL');
      await worker.exited;
    } finally {
      if (worker.process.exitCode === null) worker.process.kill('SIGKILL');
    }
    // The lock (3 s in tests) runs out; the stalled check moves the job back and a new worker runs it.
    await h.startWorkers();
    await synced('crash/1');
    expect(issuesFor('crash/1')).toHaveLength(1);
    const trail = await h.sql`select action from activity where item_key = 'crash/1' and actor = 'sync:plane-main'`;
    expect(trail.map((r) => r.action)).toContain('remote.recovered');
  }, 90_000);

  it('coalesces: 50 updates to one item within a second reach Plane as at most 3 writes, ending in the last state', async () => {
    await upsert('burst/1', { title: 'Burst', state: 'planned' });
    await synced('burst/1');
    h.sandbox.log.clear();
    const states = ['planned', 'doing', 'for_review'];
    const burst = await Promise.all(Array.from({ length: 49 }, (_, i) => upsert('burst/1', { title: `Burst ${i}`, state: states[i % 3] })));
    expect(burst.every((r) => r.status === 202)).toBe(true);
    expect((await upsert('burst/1', { title: 'Burst 49', state: 'done' })).status).toBe(202);
    await synced('burst/1', (await item('burst/1')).version);
    const writes = h.sandbox.log.writes({ pathIncludes: '/work-items/' }).filter((w) => !w.path.includes('/labels/'));
    expect(writes.length).toBeGreaterThanOrEqual(1);
    expect(writes.length).toBeLessThanOrEqual(3);
    expect(issuesFor('burst/1')[0].name).toBe('Burst 49');
    expect(stateName(issuesFor('burst/1')[0].state)).toBe('Done');
  });

  it('a change made while the pair’s job runs waits for it (keepLastIfActive) and is not lost; never two jobs for one pair at once', async () => {
    await upsert('park/1', { title: 'Park', state: 'planned' });
    await synced('park/1');
    // The next write's answer is held back 1.5 s: the job stays active meanwhile.
    h.sandbox.faults.inject({ tracker: 'plane', method: 'PATCH', delayAfterMs: 1_500, times: 1 });
    await upsert('park/1', { title: 'Park 1' });
    // Plane has applied the write and holds its answer back: the pair's job is running.
    await waitFor(() => issuesFor('park/1')[0]?.name === 'Park 1', 10_000);
    await upsert('park/1', { title: 'Park 2', state: 'done' });
    // Parked: the pair's active job is the only one of it running.
    const active = await h.runtime.queues.reconcile.getJobs(['active']);
    expect(active.filter((j) => j.data.itemKey === 'park/1')).toHaveLength(1);
    await synced('park/1', (await item('park/1')).version);
    expect(issuesFor('park/1')[0].name).toBe('Park 2');
    expect(stateName(issuesFor('park/1')[0].state)).toBe('Done');
  });

  it('polls on its job scheduler: a person’s edit in Plane comes back without a webhook', async () => {
    const schedulers = await h.runtime.queues.poll.getJobSchedulers();
    expect(schedulers.map((s) => s.key)).toContain('poll:plane-main');
    expect((await h.runtime.queues.maintenance.getJobSchedulers()).map((s) => s.key)).toContain('outbox-sweep');
    await upsert('poll/1', { title: 'Polled', state: 'planned' });
    await synced('poll/1');
    const issue = issuesFor('poll/1')[0];
    h.sandbox.plane.editAsPerson(issue.id, { name: 'Renamed in Plane' });
    await waitFor(async () => {
      const [row] = await h.sql`select desired->>'title' as title from items where key = 'poll/1'`;
      return row.title === 'Renamed in Plane';
    }, 10_000);
  });

  it('retries with backoff: three 500s then success, one issue, four attempts on the delivery', async () => {
    h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', status: 500, times: 3 });
    await upsert('flaky/1', { title: 'Flaky', state: 'doing' });
    await synced('flaky/1');
    expect(issuesFor('flaky/1')).toHaveLength(1);
    const delivery = await waitFor(async () => {
      const [d] =
        await h.sql`select status, attempts from deliveries where kind = 'reconcile' and item_key = 'flaky/1' order by created_at limit 1`;
      return d?.status === 'succeeded' ? d : null;
    });
    expect(delivery.attempts).toBe(4);
  });

  it('an operator retries a failed delivery: the job runs again and the item syncs', async () => {
    await upsert('ops/1', { title: 'Will fail' });
    await synced('ops/1');
    h.sandbox.faults.inject({ tracker: 'plane', method: 'PATCH', status: 422, times: 1 });
    await upsert('ops/1', { state: 'done' });
    type Delivery = { id: string; attempts: number; status: string };
    const failed = await waitFor(
      async () =>
        ((await (await h.api('GET', '/v1/deliveries?status=failed&key=ops%2F1')).json()) as { deliveries: Delivery[] }).deliveries[0],
    );
    expect(failed.attempts).toBe(1);
    // The processor marks the delivery failed, then the queue moves its job to failed.
    await waitFor(async () => (await h.runtime.queues.reconcile.getJobCounts('failed')).failed > 0, 5_000);
    const res = await h.api('POST', `/v1/deliveries/${failed.id}/retry`, { actor: 'operator:ana' });
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ how: 'job retried' });
    await synced('ops/1', (await item('ops/1')).version);
    expect(stateName(issuesFor('ops/1')[0].state)).toBe('Done');
  });
});
