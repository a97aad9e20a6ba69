import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { spawnTrackline } from '../support/child-process.ts';
import { reconcilePair } from '../../src/sync/reconcile.ts';
import { pgSyncStore } from '../../src/sync/postgres/store.ts';

/**
 * A labels-only sync (`trackline sync --labels-only`, issue 20) merges the labels three-way and
 * touches nothing else: the item's other changes stay pending (synced_version and the other
 * fields' base stay where they were), so the outbox sweep and the next full reconcile still sync
 * them. No webhooks are registered: a person's edit in Plane reaches Trackline only by a read.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness('labels_only');
});
afterAll(async () => h?.close());

const pid = () => h.project.projectId;
const plane = () => h.sandbox.plane;
const mappingOf = async (key: string) =>
  (
    await h.sql<{ remote_id: string; synced_version: string; status: string; base: any }[]>`
      select remote_id, synced_version, status, base from mappings where item_key = ${key} and connection_id = 'plane-main'`
  )[0];
const itemOf = async (key: string) =>
  (await h.sql<{ version: string; desired: any }[]>`select version, desired from items where key = ${key}`)[0];
const issueOf = async (key: string) => plane().issue(pid(), String((await mappingOf(key)).remote_id))!;
const labelNames = (ids: string[]) =>
  ids
    .map(
      (id) =>
        plane()
          .labelsOf(pid())
          .find((l) => l.id === id)!.name,
    )
    .sort();
const labelId = (name: string) =>
  plane()
    .labelsOf(pid())
    .find((l) => l.name === name)?.id ?? plane().createLabel(pid(), { name }, { kind: 'person' } as never).id;

async function synced(key: string) {
  await waitFor(
    () =>
      h.sql`select 1 from mappings m join items i on i.key = m.item_key where m.item_key = ${key} and m.status = 'synced'
        and m.synced_version >= i.version`.then((r) => r.length > 0),
    20_000,
  );
}

/** Each test starts with workers running, whatever the one before left. */
beforeEach(async () => {
  if (!h.workers) await h.startWorkers();
});

/** Workers stopped and no reconcile left queued: only what the test runs syncs anything. */
async function stopSyncing() {
  await h.workers?.close();
  h.workers = undefined;
  await h.runtime.queues.reconcile.drain(true);
}

const labelsOnly = (key: string) =>
  reconcilePair({
    store: pgSyncStore(h.sql),
    connection: h.runtime.connections.get('plane-main')!,
    itemKey: key,
    readRemote: true,
    onlyFields: ['labels'],
  });

describe('sync --labels-only', () => {
  it("merges the labels three-way and leaves the item's other changes pending for the sweep and the next reconcile", async () => {
    const key = 'labels/1';
    await h.postEvents({ type: 'item.upserted', item: { key, title: 'Old title', labels: ['backend', 'sync'] } });
    await synced(key);
    await stopSyncing();
    // A person adds customer-x in Plane; the orchestrator renames the item and swaps sync for frontend.
    const issue = await issueOf(key);
    plane().editAsPerson(issue.id, { labels: [...issue.labels, labelId('customer-x')] });
    await h.postEvents({ type: 'item.upserted', item: { key, title: 'New title', labels: ['backend', 'frontend'] } });
    await h.runtime.queues.reconcile.drain(true);
    const before = await itemOf(key);
    const [{ lastActivity }] = await h.sql`select coalesce(max(id), 0) as "lastActivity" from activity`;

    h.sandbox.log.clear();
    const outcome = await labelsOnly(key);
    expect(outcome.pushed).toEqual(['labels']);
    expect(outcome.pulled).toEqual(['labels']);
    // The tracker: the orchestrator's addition and removal, the person's label kept, the title untouched.
    const after = await issueOf(key);
    expect(labelNames(after.labels)).toEqual(['backend', 'customer-x', 'frontend']);
    expect(after.name).toBe('Old title');
    const patches = h.sandbox.log.entries({ tracker: 'plane', method: 'PATCH', pathIncludes: '/work-items/' });
    expect(patches).toHaveLength(1);
    expect(Object.keys(patches[0].body as object)).toEqual(['labels']);
    // The item takes the person's label back (a new version, a change for the orchestrator).
    const item = await itemOf(key);
    expect(item.desired.labels.sort()).toEqual(['backend', 'customer-x', 'frontend']);
    expect(item.desired.title).toBe('New title');
    expect(Number(item.version)).toBe(Number(before.version) + 1);
    // The pair is still behind its item: the title's change is pending, and its base says the old title.
    const mapping = await mappingOf(key);
    expect(Number(mapping.synced_version)).toBeLessThan(Number(before.version));
    expect(mapping.base.local.title).toBe('Old title');
    expect(mapping.base.remote.title).toBe('Old title');
    expect(mapping.base.local.labels).toEqual(['backend', 'customer-x', 'frontend']);
    const trail = await h.sql`select action, field from activity where item_key = ${key} and action in ('field.pushed', 'field.pulled')
      and id > ${lastActivity} order by id`;
    expect(trail.filter((r) => r.field !== 'labels')).toEqual([]);

    // The outbox sweep finds the pair behind its item and a full reconcile pushes the title,
    // with no second label write: the labels' base already agrees with both sides.
    h.sandbox.log.clear();
    await h.startWorkers();
    await synced(key);
    await waitFor(async () => (await issueOf(key)).name === 'New title', 20_000);
    expect(labelNames((await issueOf(key)).labels)).toEqual(['backend', 'customer-x', 'frontend']);
    const full = h.sandbox.log.entries({ tracker: 'plane', method: 'PATCH', pathIncludes: '/work-items/' });
    expect(full.map((p) => Object.keys(p.body as object))).toEqual([['name']]);
  }, 60_000);

  it('a pair with nothing else pending stays synced after a labels-only pull; an issue not created yet is left alone', async () => {
    const key = 'labels/2';
    await h.postEvents({ type: 'item.upserted', item: { key, title: 'Quiet', labels: ['backend'] } });
    await synced(key);
    await stopSyncing();
    const issue = await issueOf(key);
    plane().editAsPerson(issue.id, { labels: [...issue.labels, labelId('urgent')] });
    const outcome = await labelsOnly(key);
    expect(outcome.pulled).toEqual(['labels']);
    expect(outcome.pushed).toEqual([]);
    const item = await itemOf(key);
    expect(item.desired.labels.sort()).toEqual(['backend', 'urgent']);
    // Only the pass's own pull moved the item: nothing else waits, so the pair is synced at it.
    expect(Number((await mappingOf(key)).synced_version)).toBe(Number(item.version));

    // Not created in the tracker yet: a labels-only pass creates nothing.
    await h.postEvents({ type: 'item.upserted', item: { key: 'labels/new', title: 'Not yet', labels: ['backend'] } });
    await h.runtime.queues.reconcile.drain(true);
    h.sandbox.log.clear();
    const skipped = await labelsOnly('labels/new');
    expect(skipped.action).toBe('skipped');
    expect(skipped.warnings.join()).toContain('creates and links nothing');
    expect(h.sandbox.log.writes()).toEqual([]);
    expect((await h.sql`select remote_id from mappings where item_key = 'labels/new'`)[0].remote_id).toBeNull();
    await h.startWorkers();
    await synced('labels/new');
  }, 60_000);

  it('the CLI: --dry-run prints only label changes; --force puts back a label a person removed, recorded with the operator', async () => {
    const key = 'labels/cli';
    await h.postEvents({ type: 'item.upserted', item: { key, title: 'Cli', labels: ['backend', 'api'] } });
    await synced(key);
    await stopSyncing();
    // A person removes "api" in Plane (no webhook); the orchestrator renames the item.
    const issue = await issueOf(key);
    plane().editAsPerson(issue.id, { labels: issue.labels.filter((id) => id !== labelId('api')) });
    await h.postEvents({ type: 'item.upserted', item: { key, title: 'Cli renamed', labels: ['backend', 'api', 'docs'] } });
    await h.runtime.queues.reconcile.drain(true);

    const run = async (args: string[]) => {
      const child = spawnTrackline(h, args, { USER: 'ana' });
      return { code: await child.exited, out: child.output() };
    };
    const plan = await run(['sync', '--labels-only', '--dry-run', '--item', key]);
    expect(plan.code, plan.out).toBe(0);
    expect(plan.out).toContain('plane-main: 1 of 1 items would change (labels only; dry run: nothing was written)');
    expect(plan.out).toMatch(/push labels: .*docs/);
    expect(plan.out).not.toMatch(/push (title|name)/);
    expect(plan.out).not.toContain('Cli renamed');

    const forced = await run(['sync', '--labels-only', '--force', '--push-only', '--item', key, '--as', 'bea']);
    expect(forced.code, forced.out).toBe(0);
    expect(forced.out).toContain('plane-main: 1 item(s) forced by operator:bea');
    expect(forced.out).toContain('plane-main: 1 synced (labels only), 0 failed');
    // Forced: the item's labels exactly, the one the person removed included.
    expect(labelNames((await issueOf(key)).labels)).toEqual(['api', 'backend', 'docs']);
    const trail = await h.sql`select actor, detail from activity where item_key = ${key} and action = 'sync.forced'`;
    expect(trail).toHaveLength(1);
    expect(trail[0]).toMatchObject({
      actor: 'operator:bea',
      detail: { fields: ['labels'], reason: 'forced: trackline sync --force --labels-only' },
    });
    const resolved = await h.sql`select field from conflicts where item_key = ${key} and resolved_by = 'operator:bea'`;
    expect(resolved.map((r) => r.field)).toEqual(['labels']);

    const refused = await run(['sync', '--labels-only', '--pull-only']);
    expect(refused.code).toBe(2);
    expect(refused.out).toContain('--labels-only reads each issue');
  }, 240_000);
});
