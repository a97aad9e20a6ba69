import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { spawnTrackline } from '../support/child-process.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('cli_parity');
});
afterAll(async () => h?.close());

async function run(args: string[], env: Record<string, string> = {}) {
  const child = spawnTrackline(h, args, { USER: 'ana', ...env });
  const code = await child.exited;
  return { code, out: child.output() };
}

const synced = (key: string) =>
  waitFor(
    () =>
      h.sql`select 1 from mappings m join items i on i.key = m.item_key where m.item_key = ${key} and m.status = 'synced' and m.synced_version >= i.version`.then(
        (r) => r.length > 0,
      ),
    20_000,
  );

describe('trackline CLI parity', () => {
  const plane = () => h.sandbox.plane;
  const issueOf = (key: string) =>
    plane()
      .issuesOf(h.project.projectId)
      .find((i) => i.external_id === key)!;
  const stateOf = (key: string) =>
    plane()
      .statesOf(h.project.projectId)
      .find((s) => s.id === issueOf(key).state)?.name;
  const counts = async () =>
    (
      await h.sql`select (select count(*)::int from activity where action = 'sync.forced') as forced,
        (select count(*)::int from conflicts) as conflicts, (select count(*)::int from items where key = 'no/such-item') as item`
    )[0];

  it('sync --force on a missing item: a clear error, nothing written', async () => {
    const before = await counts();
    const { code, out } = await run(['sync', '--force', '--item', 'no/such-item']);
    expect(code).toBe(1);
    expect(out).toContain('trackline sync: no item "no/such-item" (nothing was written)');
    expect(await counts()).toEqual(before);
    expect((await run(['sync', '--force', '--dry-run'])).code).toBe(2);
  }, 240_000);

  it('sync --force pushes the item where the base says nothing changed, and past the re-open guard; the trail names the operator', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'force/1', title: 'Ours', state: 'done' } });
    await synced('force/1');
    // A person renames it without a webhook reaching Trackline: an ordinary sync has nothing to push.
    plane().editAsPerson(issueOf('force/1').id, { name: 'Theirs' });
    // The orchestrator re-plans it: re-opening is held (reopen = "ask").
    await h.postEvents({ type: 'item.upserted', item: { key: 'force/1', state: 'doing' } });
    await waitFor(() => h.sql`select 1 from conflicts where item_key = 'force/1' and status = 'open'`.then((r) => r.length > 0));
    expect(stateOf('force/1')).toBe('Done');

    const { code, out } = await run(['sync', '--force', '--item', 'force/1', '--push-only', '--as', 'bea']);
    expect(code, out).toBe(0);
    expect(out).toContain('plane-main: 1 item(s) forced by operator:bea');
    expect(issueOf('force/1').name).toBe('Ours');
    expect(stateOf('force/1')).toBe('In Progress');
    expect((await h.sql`select count(*)::int as n from conflicts where item_key = 'force/1' and status = 'open'`)[0].n).toBe(0);
    const trail = await h.sql`select actor, detail from activity where item_key = 'force/1' and action = 'sync.forced'`;
    expect(trail).toHaveLength(1);
    expect(trail[0]).toMatchObject({ actor: 'operator:bea', detail: { reason: 'forced: trackline sync --force' } });
  }, 240_000);

  it('-v logs each tracker call on stderr with credentials censored; sync --status and --test are status and check', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'verbose/1', title: 'Loud' } });
    await synced('verbose/1');
    // The CLI's own worker does the work (not this process's): both ways, so the pull reads the issue.
    await h.workers!.close();
    const verbose = await run(['sync', '--item', 'verbose/1', '-v']);
    expect(verbose.code, verbose.out).toBe(0);
    expect(verbose.out).toContain('"msg":"tracker call"');
    expect(verbose.out).toContain('"msg":"reconciled"');
    expect(verbose.out).not.toContain('plane_api_test_key');

    const status = await run(['sync', '--status']);
    expect(status.code).toBe(0);
    expect(status.out).toMatch(/✓ plane-main \(plane, both, local-wins\)/);
    const check = await run(['sync', '--test']);
    expect(check.code, check.out).toBe(0);
    expect(check.out).toContain('plane-main (plane)\n  ✓');
  }, 240_000);

  it('config show prints the effective config with secrets masked; --include-secrets refuses a pipe', async () => {
    const shown = await run(['config', 'show'], { SOME: 'x' });
    expect(shown.code, shown.out).toBe(0);
    expect(shown.out).toContain('api_key = "plane_…_key"');
    expect(shown.out).toContain('tokens = [ "…6789" ]');
    expect(shown.out).toContain('statement_timeout = "30s"');
    expect(shown.out).not.toContain('plane_api_test_key');
    expect(shown.out).not.toContain('test-token-0123456789');
    const clear = await run(['config', 'show', '--include-secrets']);
    expect(clear.code).toBe(1);
    expect(clear.out).toContain('--include-secrets prints secrets only to a terminal');
    expect(clear.out).not.toContain('plane_api_test_key');
    expect((await run(['config', 'list'])).code).toBe(2);
  }, 240_000);

  it("status --issues shows each issue's live state beside the item's, flags drift, and reads each issue once a minute at most", async () => {
    await h.startWorkers();
    await h.postEvents({
      events: ['drift/1', 'drift/2'].map((key) => ({ type: 'item.upserted', item: { key, title: key, state: 'planned' } })),
    });
    await synced('drift/1');
    await synced('drift/2');
    // A person moves drift/1 on Plane and no webhook reaches Trackline.
    const done = plane()
      .statesOf(h.project.projectId)
      .find((s) => s.name === 'Done')!.id;
    plane().editAsPerson(issueOf('drift/1').id, { state: done });
    h.sandbox.log.clear();
    const first = await run(['status', '--issues']);
    expect(first.code, first.out).toBe(0);
    expect(first.out).toMatch(/⚠ ET-\d+\s+drift\/1: item planned → "Todo", tracker "Done" DRIFT: differs with no sync pending/);
    expect(first.out).toMatch(/✓ ET-\d+\s+drift\/2: item planned → "Todo", tracker "Todo"/);
    expect(first.out).toMatch(/reading plane-main \[#+\] \d+\/\d+ 100%/);
    const reads = h.sandbox.log.entries().length;
    expect(reads).toBeGreaterThan(0);
    expect(h.sandbox.log.writes()).toEqual([]);
    // Again at once: from the cache, no tracker call.
    const second = await run(['status', '--issues']);
    expect(second.out).toContain('DRIFT');
    expect(h.sandbox.log.entries().length).toBe(reads);
  }, 240_000);
});
