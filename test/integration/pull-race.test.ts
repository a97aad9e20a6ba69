import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';
import { pgSyncStore } from '../../src/sync/postgres/store.ts';

/**
 * An orchestrator event landing while a reconcile that pulls is between reading the item and
 * recording what it pulled. The pass read the item before the event; its pull must not overwrite
 * the event's value of the same field (a lost update), nor mark the event's version synced.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness('pull_race', { plane: { conflict_strategy: 'manual' } });
});
afterAll(async () => h?.close());

describe('a pull racing an orchestrator event on the same field', () => {
  it('keeps the event: both changed the title since the last sync, so under manual it is a conflict', async () => {
    const plane = h.sandbox.plane;
    const pid = h.project.projectId;
    await h.postEvents({ type: 'item.upserted', item: { key: 'race/1', title: 'First title', state: 'planned' } });
    await waitFor(() => h.sql`select 1 from mappings where item_key = 'race/1' and status = 'synced'`.then((r) => r.length > 0));
    await h.workers!.close();

    const issue = plane.issuesOf(pid).find((i) => i.external_id === 'race/1')!;
    plane.editAsPerson(issue.id, { name: 'Title from a person' });
    await pgSyncStore(h.sql).markRemoteChanged('plane-main', 'race/1');
    // The event lands after the pass has read the item and the issue, before it records its pull.
    const adapter = h.runtime.connections.get('plane-main')!.adapter();
    const get = adapter.get.bind(adapter);
    let raced = false;
    adapter.get = async (ref, ctx) => {
      const remote = await get(ref, ctx);
      if (!raced) {
        raced = true;
        await h.postEvents({ type: 'item.upserted', item: { key: 'race/1', title: 'Title from the orchestrator' } });
      }
      return remote;
    };
    await h.startWorkers();
    await waitFor(() => raced);
    await waitFor(
      () =>
        h.sql`select 1 from mappings m join items i on i.key = m.item_key
          where m.item_key = 'race/1' and m.synced_version >= i.version and m.remote_changed_at is null`.then((r) => r.length > 0),
      20_000,
    );
    const conflicts = await h.sql`select field, status, local_value, remote_value from conflicts where item_key = 'race/1'`;
    expect(conflicts).toEqual([
      { field: 'title', status: 'open', local_value: 'Title from the orchestrator', remote_value: 'Title from a person' },
    ]);
    const [item] = await h.sql`select desired from items where key = 'race/1'`;
    expect(item.desired.title).toBe('Title from the orchestrator');
  });
});
