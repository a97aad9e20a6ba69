import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { spawnTrackline } from '../support/child-process.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('cli');
});
afterAll(async () => h?.close());

async function run(args: string[], env: Record<string, string> = {}) {
  const child = spawnTrackline(h, args, { USER: 'ana', ...env });
  const code = await child.exited;
  return { code, out: child.output() };
}

const synced = (key: string) =>
  waitFor(() =>
    h.sql`select 1 from mappings m join items i on i.key = m.item_key where m.item_key = ${key} and m.status = 'synced' and m.synced_version >= i.version`.then(
      (r) => r.length > 0,
    ),
  );

describe('trackline CLI', () => {
  it('usage errors exit 2, --help exits 0', async () => {
    expect((await run(['frobnicate'])).code).toBe(2);
    expect((await run(['sync', '--push-only', '--pull-only'])).code).toBe(2);
    expect((await run(['resolve', 'x', '--use', 'local'])).code).toBe(2);
    const help = await run(['sync', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('--dry-run');
  }, 30_000);

  it('sync --dry-run prints the plan item by item and field by field, and writes nothing', async () => {
    for (const key of ['dry/1', 'dry/2']) await h.postEvents({ type: 'item.upserted', item: { key, title: key, state: 'planned' } });
    await synced('dry/1');
    await synced('dry/2');
    await h.workers!.close();
    await h.postEvents({ type: 'item.upserted', item: { key: 'dry/1', state: 'doing', labels: ['backend'] } });
    const issue = h.sandbox.plane.issuesOf(h.project.projectId).find((i) => i.external_id === 'dry/2')!;
    h.sandbox.plane.editAsPerson(issue.id, { name: 'Renamed in Plane' });
    await h.postEvents({ type: 'item.upserted', item: { key: 'dry/3', title: 'Brand new' } });
    h.sandbox.log.clear();

    const { code, out } = await run(['sync', '--dry-run']);
    expect(code, out).toBe(0);
    expect(out).toContain('plane-main: 3 of 3 items would change (dry run: nothing was written)');
    expect(out).toMatch(/dry\/1: update ET-\d+\n\s+push state: "Todo" → "In Progress"\n\s+push labels: \[\] → \["backend"\]/);
    expect(out).toMatch(/dry\/2: update ET-\d+\n\s+pull title: "dry\/2" → "Renamed in Plane"/);
    expect(out).toMatch(/dry\/3: create\n\s+push title: ∅ → "Brand new"/);
    expect(h.sandbox.log.writes()).toEqual([]);
    expect(h.sandbox.log.entries().length).toBeGreaterThan(0); // it did read
    const [row] = await h.sql`select count(*)::int as n from mappings where item_key = 'dry/3' and remote_id is not null`;
    expect(row.n).toBe(0);
  }, 30_000);

  it('sync applies the plan with progress, and resumes from its checkpoint after an interruption', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `bulk/${String(i).padStart(2, '0')}`);
    await h.postEvents({ events: keys.map((key) => ({ type: 'item.upserted', item: { key, title: key } })) });
    // Interrupt a slow sync (the tracker answers slowly) after its first batches.
    h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', delayAfterMs: 300, times: 1000 });
    const first = spawnTrackline(h, ['sync', '--push-only', '--batch', '5']);
    await waitFor(() => h.sql`select value from sync_cursors where name = 'cli-sync'`.then((r) => r.length > 0), 20_000);
    first.process.kill('SIGKILL');
    await first.exited;
    h.sandbox.faults.clear();
    const [checkpoint] = await h.sql`select value from sync_cursors where name = 'cli-sync'`;
    const { code, out } = await run(['sync', '--push-only', '--batch', '5']);
    expect(code, out).toBe(0);
    expect(out).toContain(`resuming after "${checkpoint.value.after}"`);
    expect(out).toMatch(/syncing plane-main \[#+\] \d+\/\d+ 100%/);
    expect(out).toMatch(/plane-main: \d+ synced, 0 failed/);
    for (const key of keys) expect(h.sandbox.plane.issuesOf(h.project.projectId).filter((i) => i.external_id === key)).toHaveLength(1);
    expect((await h.sql`select count(*)::int as n from sync_cursors where name = 'cli-sync'`)[0].n).toBe(0);
  }, 60_000);

  it('status, resolve and replay act as an operator named on the command line', async () => {
    await h.startWorkers();
    await h.postEvents({ type: 'item.upserted', item: { key: 'op/1', title: 'op' } });
    await synced('op/1');
    await h.sql`insert into conflicts (item_key, connection_id, field, local_value, remote_value, status, reason)
      values ('op/1', 'plane-main', 'title', '"op"'::jsonb, '"theirs"'::jsonb, 'open', 'test')`;
    const status = await run(['status', '--conflicts']);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/✓ plane-main \(plane, both, local-wins\)/);
    const id = (status.out.match(/#(\d+) op\/1 on plane-main: title/) ?? [])[1];
    expect(id).toBeTruthy();
    const resolved = await run(['resolve', id, '--use', 'local']);
    expect(resolved.code, resolved.out).toBe(0);
    expect(resolved.out).toContain('by operator:ana');
    expect((await run(['resolve', id, '--use', 'local'])).code).toBe(1);

    h.sandbox.faults.inject({ tracker: 'plane', method: 'PATCH', status: 422, times: 1 });
    await h.postEvents({ type: 'item.upserted', item: { key: 'op/1', state: 'done' } });
    const [failed] = await waitFor(() =>
      h.sql`select id from deliveries where kind = 'reconcile' and item_key = 'op/1' and status = 'failed'`.then((r) =>
        r.length ? r : null,
      ),
    );
    const replay = await run(['replay', failed.id]);
    expect(replay.code, replay.out).toBe(0);
    expect(replay.out).toContain('job retried by operator:ana');
    await synced('op/1');
    const trail = await h.sql`select actor, action from activity where item_key = 'op/1' and actor = 'operator:ana'`;
    expect(trail.map((r) => r.action).sort()).toEqual(['conflict.resolved', 'delivery.retried']);
  }, 60_000);
});
