import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { spawnTrackline } from '../support/child-process.ts';

let h: Harness;
beforeAll(async () => {
  // The item goes back from done below: reopen = "allow" lets that reach Plane (the guard is
  // state-guard.test.ts's subject, not this file's).
  h = await startHarness('crash_push', { plane: { reopen: 'allow' } });
});
afterAll(async () => h?.close());

const plane = () => h.sandbox.plane;
const issue = () =>
  plane()
    .issuesOf(h.project.projectId)
    .find((i) => i.external_id === 'cp/1')!;
const stateName = () =>
  plane()
    .statesOf(h.project.projectId)
    .find((s) => s.id === issue().state)?.name;

describe('a worker killed after the tracker took its write, before it saved the base', () => {
  it('still pushes a later change back to the old value (no lost update)', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'cp/1', title: 'Crash push', state: 'doing' } });
    await waitFor(() => h.sql`select 1 from mappings where item_key = 'cp/1' and status = 'synced'`.then((r) => r.length > 0));
    await h.workers!.close();

    const worker = spawnTrackline(h, ['worker']);
    try {
      // Plane applies the PATCH but its answer is held back; the worker dies waiting for it.
      h.sandbox.faults.inject({ tracker: 'plane', method: 'PATCH', delayAfterMs: 30_000, times: 1 });
      await h.postEvents({ type: 'item.upserted', item: { key: 'cp/1', state: 'done' } });
      await waitFor(() => stateName() === 'Done', 20_000);
      worker.process.kill('SIGKILL');
      await worker.exited;
    } finally {
      if (worker.process.exitCode === null) worker.process.kill('SIGKILL');
    }
    const [pending] = await h.sql`select pending_push from mappings where item_key = 'cp/1'`;
    expect(pending.pending_push).toMatchObject({ local: { state: 'done' }, remote: { state: 'Done' } });

    // The orchestrator moves the item back before any sync saw the landed write.
    await h.postEvents({ type: 'item.upserted', item: { key: 'cp/1', state: 'doing' } });
    await h.startWorkers();
    await waitFor(() => stateName() === 'In Progress', 30_000);
    const [after] = await waitFor(
      () =>
        h.sql`select pending_push, status from mappings where item_key = 'cp/1' and pending_push is null`.then((r) =>
          r.length ? r : null,
        ),
      30_000,
    );
    expect(after.status).toBe('synced');
    expect(
      plane()
        .issuesOf(h.project.projectId)
        .filter((i) => i.external_id === 'cp/1'),
    ).toHaveLength(1);
  }, 60_000);
});
