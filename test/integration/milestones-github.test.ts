import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GITHUB, startHarness, waitFor, type Harness } from '../support/harness.ts';

/**
 * GitHub Issues' milestone behaves like Plane's cycles and Jira's fix versions (issue 15): set by
 * title (created when missing), cleared with null, and a closed milestone refused by name while
 * the other fields sync, the milestone held as a conflict.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness('milestones_github', { plane: false, github: {} });
  // Closed before Trackline first lists the milestones.
  h.sandbox.github.store.createMilestone(`${GITHUB.owner}/${GITHUB.repo}`, { title: 'v0.9', state: 'closed' }, GITHUB.owner);
});
afterAll(async () => h?.close());

const upsert = (key: string, fields: Record<string, unknown>) =>
  h.postEvents({ type: 'item.upserted', item: { key, ...fields }, actor: 'agent:planner' });
const version = async (key: string) => Number((await h.sql`select version from items where key = ${key}`)[0].version);
const issueOf = (number: string) => h.sandbox.github.store.issue(`${GITHUB.owner}/${GITHUB.repo}`, Number(number))!;
const milestoneOf = (number: string) => {
  const m = issueOf(number).milestone;
  return m === null ? null : h.sandbox.github.store.repo(GITHUB.owner, GITHUB.repo)!.milestones.get(m)!.title;
};

async function settled(key: string, minVersion = 1) {
  return waitFor(
    () =>
      h.sql`select remote_id, status, last_error from mappings where item_key = ${key} and connection_id = 'gh-main'
        and status in ('synced', 'conflict') and synced_version >= ${minVersion} and pending_push is null`.then((r) => r[0]),
    15_000,
  );
}

describe('GitHub: the milestone', () => {
  it('is set by title (created when missing) and cleared with null', async () => {
    await upsert('gm/1', { title: 'One', milestone: 'v1.0' });
    const m = await settled('gm/1');
    expect(milestoneOf(m.remote_id)).toBe('v1.0');
    await upsert('gm/1', { milestone: null });
    await settled('gm/1', await version('gm/1'));
    expect(milestoneOf(m.remote_id)).toBeNull();
  });

  it('a closed milestone is refused by name; the title still syncs and the milestone is held as a conflict', async () => {
    await upsert('gm/2', { title: 'Two', milestone: 'v1.0' });
    const m = await settled('gm/2');
    await upsert('gm/2', { title: 'Two, renamed', milestone: 'v0.9' });
    const row = await waitFor(() =>
      h.sql`select status, last_error from mappings where item_key = 'gm/2' and last_error like 'GitHub milestone "v0.9"%'`.then(
        (r) => r[0],
      ),
    );
    expect(row.status).toBe('conflict');
    expect(row.last_error).toContain('is closed');
    expect(issueOf(m.remote_id).title).toBe('Two, renamed');
    expect(milestoneOf(m.remote_id)).toBe('v1.0');
    const [conflict] = await h.sql`select field, local_value, status from conflicts where item_key = 'gm/2'`;
    expect(conflict).toMatchObject({ field: 'milestone', local_value: 'v0.9', status: 'open' });
  });
});
