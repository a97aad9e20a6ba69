import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';

let h: Harness;
beforeAll(async () => {
  // local-wins without webhooks: pushes are written without reading the issue first, and only
  // polling learns about edits made in Plane. The schedule is far off; the test polls on demand.
  h = await startHarness('blind_push_pull', { plane: { conflict_strategy: 'local-wins', poll_interval: '1h' } });
});
afterAll(async () => h?.close());

/**
 * Found by the fault suite's convergence property (test/faults/regressions/convergence.json): a
 * person renamed the issue (webhook lost), then Trackline pushed a label change without reading.
 * The push's answer carried Plane's new updated_at, which was recorded as "seen", so the next
 * poll skipped the issue and the rename was never pulled: the two sides stayed apart for good.
 */
describe('an edit in Plane followed by a push that did not read the issue', () => {
  it('is still pulled by the next poll', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'bp/1', title: 'original', labels: ['a'] } });
    await waitFor(() => h.sql`select 1 from mappings where item_key = 'bp/1' and status = 'synced'`.then((r) => r.length > 0));
    const issue = h.sandbox.plane.issuesOf(h.project.projectId).find((i) => i.external_id === 'bp/1')!;
    h.sandbox.plane.editAsPerson(issue.id, { name: 'renamed in Plane' });
    await h.postEvents({ type: 'item.upserted', item: { key: 'bp/1', labels: ['a', 'b'] } });
    await waitFor(() =>
      h.sql`select 1 from mappings m join items i on i.key = m.item_key where m.item_key = 'bp/1' and m.synced_version >= i.version`.then(
        (r) => r.length > 0,
      ),
    );
    expect(h.sandbox.plane.issue(h.project.projectId, issue.id)!.name).toBe('renamed in Plane');

    await h.runtime.queues.pollNow('plane-main');
    const item = await waitFor(async () => {
      const res = (await (await h.api('GET', '/v1/items/bp%2F1')).json()) as { fields: { title: string; labels: string[] } };
      return res.fields.title === 'renamed in Plane' ? res : null;
    }, 10_000);
    expect(item.fields.labels).toEqual(['a', 'b']);
  });
});
