import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { spawnTrackline } from '../support/child-process.ts';

let h: Harness;
beforeAll(async () => {
  // Workers start later: first a real `trackline worker` process that gets killed.
  h = await startHarness('crash_create', { workers: false });
});
afterAll(async () => h?.close());

describe('a worker killed with SIGKILL mid-create', () => {
  it('leaves exactly one Plane issue once a worker takes the job over', async () => {
    const worker = spawnTrackline(h, ['worker']);
    try {
      // Plane creates the issue but its answer is held back: the worker dies before it learns the id.
      h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', delayAfterMs: 30_000, times: 1 });
      const res = await h.postEvents({ type: 'item.upserted', item: { key: 'crash/1', title: 'Crash me', state: 'doing' } });
      expect(res.status).toBe(202);
      const created = await waitFor(
        () => h.sandbox.plane.issuesOf(h.project.projectId).filter((i) => i.external_id === 'crash/1').length === 1,
        20_000,
      );
      expect(created).toBe(true);
      const [mapping] = await h.sql`select remote_id, create_intent_at from mappings where item_key = 'crash/1'`;
      expect(mapping.remote_id).toBeNull();
      expect(mapping.create_intent_at).not.toBeNull();
      worker.process.kill('SIGKILL');
      await worker.exited;
    } finally {
      if (worker.process.exitCode === null) worker.process.kill('SIGKILL');
    }

    // A new worker takes the stalled job over after the lock (3 s in tests) runs out.
    await h.startWorkers();
    const [synced] = await waitFor(
      () =>
        h.sql`select status, remote_key from mappings where item_key = 'crash/1' and status = 'synced'`.then((r) => (r.length ? r : null)),
      30_000,
    );
    const issues = h.sandbox.plane.issuesOf(h.project.projectId).filter((i) => i.external_id === 'crash/1');
    expect(issues).toHaveLength(1);
    expect(synced.remote_key).toBe(`ET-${issues[0].sequence_id}`);
    const trail = await h.sql`select action from activity where item_key = 'crash/1' and actor = 'sync:plane-main'`;
    expect(trail.map((r) => r.action)).toContain('remote.recovered');
  }, 60_000);
});
