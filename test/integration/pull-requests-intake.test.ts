import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../support/harness.ts';
import { planConnection } from '../../src/jobs/plan-job.ts';

let h: Harness;
beforeAll(async () => {
  // No workers: what the intake takes and refuses of an item's branch and pull request.
  h = await startHarness('pr_intake', {
    plane: false,
    github: { pull_requests: { auto_create: true, draft: true, open_when: ['for_review'] } },
    workers: false,
  });
});
afterAll(async () => h?.close());

const upsert = (key: string, item: Record<string, unknown>) => h.postEvents({ type: 'item.upserted', item: { key, ...item } });
const itemView = async (key: string) =>
  (await (await h.api('GET', `/v1/items/${encodeURIComponent(key)}`)).json()) as Record<string, unknown>;

describe('item.branch and links.pull_request', () => {
  it('an item names its branch: kept, audited, shown; null forgets it', async () => {
    expect((await upsert('user-auth/WP02', { title: 'WP02', state: 'doing', branch: 'feature/WP02' })).status).toBe(202);
    expect(await itemView('user-auth/WP02')).toMatchObject({ branch: 'feature/WP02', pullRequests: [] });
    const trail = await h.sql`select from_value, to_value from activity where item_key = 'user-auth/WP02' and field = 'branch'`;
    expect(trail.map((r) => [r.from_value, r.to_value])).toEqual([[null, 'feature/WP02']]);
    await upsert('user-auth/WP02', { branch: null });
    expect(await itemView('user-auth/WP02')).toMatchObject({ branch: null });
  });

  it('links.pull_request takes "#123" beside connection ids and is kept as the number', async () => {
    expect((await upsert('linked/1', { title: 'L', links: { pull_request: '#123' } })).status).toBe(202);
    const [row] = await h.sql`select pull_request_link from items where key = 'linked/1'`;
    expect(row.pull_request_link).toBe('123');
    // No mapping is made for the reserved key.
    const mappings = await h.sql`select connection_id from mappings where item_key = 'linked/1'`;
    expect(mappings.map((m) => m.connection_id)).toEqual(['gh-main']);
  });

  it('a branch that is not a git ref name, or a pull request reference that is not one: 400, nothing written', async () => {
    const before = await h.sql`select (select count(*) from items)::int as items, (select count(*) from activity)::int as activity`;
    for (const [item, path] of [
      [{ title: 'x', branch: 'has space' }, 'events[0].item.branch'],
      [{ title: 'x', branch: 'a..b' }, 'events[0].item.branch'],
      [{ title: 'x', branch: 'ends/' }, 'events[0].item.branch'],
      [{ title: 'x', links: { pull_request: 'PR-12' } }, 'events[0].item.links.pull_request'],
    ] as const) {
      const res = await h.postEvents({ events: [{ type: 'item.upserted', item: { key: 'bad/1', ...item } }] });
      expect(res.status, JSON.stringify(item)).toBe(400);
      const body = (await res.json()) as { error: { message: string } };
      expect(body.error.message).toContain(path);
    }
    const after = await h.sql`select (select count(*) from items)::int as items, (select count(*) from activity)::int as activity`;
    expect(after).toEqual(before);
  });
});

describe('the dry run', () => {
  it('says which pull request it would open, and writes nothing', async () => {
    await upsert('user-auth/WP09', { title: 'WP09', state: 'for_review', branch: 'feature/WP09' });
    const before = h.sandbox.log.entries({ tracker: 'github' }).filter((e) => e.method !== 'GET').length;
    const plan = await planConnection(h.sql, h.runtime.connections, { connectionId: 'gh-main', direction: 'both', limit: 100 });
    const item = plan.items.find((i) => i.itemKey === 'user-auth/WP09')!;
    expect(item.pullRequest).toBe('would open PR feature/WP09 → main (draft)');
    // An item whose state is not an open_when state would open nothing.
    expect(plan.items.find((i) => i.itemKey === 'user-auth/WP02')?.pullRequest).toBeUndefined();
    expect(h.sandbox.log.entries({ tracker: 'github' }).filter((e) => e.method !== 'GET').length).toBe(before);
    expect(await h.sql`select 1 from pull_requests`).toHaveLength(0);
  });
});
