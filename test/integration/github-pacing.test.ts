import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GITHUB, startHarness, waitFor, type Harness } from '../support/harness.ts';

let h: Harness;
beforeAll(async () => {
  // Real pacing: a primary budget high enough not to matter here, so what shows is the spacing of
  // writes (1 s per token, trackers.md 3.5). The sandbox's secondary limit is made strict, two
  // content-creating requests per 1.9 s, so writes any closer together would be refused.
  h = await startHarness('github_pacing', { plane: false, github: { rate_limit: { requests: 100_000, per: '1h' } } });
  h.sandbox.github.limits.configure({ secondary: { requests: 2, perMs: 1900 } });
});
afterAll(async () => h?.close());
beforeEach(() => {
  h.sandbox.faults.clear();
  h.sandbox.github.limits.reset();
});

const repoKey = `${GITHUB.owner}/${GITHUB.repo}`;
const at = (e: { at: string }) => Date.parse(e.at);

/** Issues filed by people, linked to items: linking reads, so each change below is one write. */
async function linkedItems(prefix: string, n: number): Promise<string[]> {
  const keys = Array.from({ length: n }, (_, i) => `${prefix}/${i}`);
  const issues = keys.map((k) => h.sandbox.github.store.createAsPerson(GITHUB.owner, GITHUB.repo, { title: k }));
  await h.postEvents({
    events: keys.map((key, i) => ({ type: 'item.upserted', item: { key, links: { 'gh-main': String(issues[i]!.number) } } })),
  });
  await waitFor(
    () =>
      h.sql`select count(*)::int as n from mappings where item_key like ${`${prefix}/%`} and status = 'synced'`.then((r) => r[0].n === n),
    10_000,
  );
  return keys;
}

async function allSynced(keys: string[]) {
  await waitFor(
    () =>
      h.sql`select count(*)::int as n from mappings m join items i on i.key = m.item_key where m.item_key in ${h.sql(keys)} and m.status = 'synced' and m.synced_version = i.version`.then(
        (r) => r[0].n === keys.length,
      ),
    14_000,
  );
}

describe('GitHub pacing', () => {
  it('N changes to N items are written about a second apart, and GitHub refuses none', async () => {
    const N = 6;
    const keys = await linkedItems('spaced', N);
    const before = h.sandbox.log.entries().length;
    const started = Date.now();
    await h.postEvents({ events: keys.map((key) => ({ type: 'item.upserted', item: { key, title: `${key} renamed` } })) });
    await allSynced(keys);
    const elapsed = Date.now() - started;

    const log = h.sandbox.log
      .entries()
      .slice(before)
      .filter((e) => e.tracker === 'github');
    const writes = log.filter((e) => e.method === 'PATCH');
    expect(writes).toHaveLength(N);
    const gaps = writes.slice(1).map((w, i) => at(w) - at(writes[i]!));
    // A write leaves at least a second after the previous one was answered, so it arrives at least
    // a second after the previous one arrived.
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(1000);
    expect(elapsed).toBeGreaterThanOrEqual((N - 1) * 1000);
    expect(elapsed).toBeLessThan((N + 3) * 1000);
    expect(log.filter((e) => e.status === 403 || e.status === 429)).toEqual([]);
    expect(h.sandbox.github.limits.served.secondary).toBe(0);
    for (const key of keys) expect(h.sandbox.github.store.issuesOf(repoKey).find((i) => i.title === `${key} renamed`)).toBeTruthy();
    console.log(`[github-pacing] ${N} writes in ${elapsed} ms; gaps ${gaps.join(', ')} ms`);
  }, 15_000);

  it('a create with a new milestone: its two writes a second apart, its reads not spaced', async () => {
    const before = h.sandbox.log.entries().length;
    await h.postEvents({
      type: 'item.upserted',
      item: { key: 'milestone/1', title: 'needs a milestone', labels: ['bug', 'brand-new'], assignees: ['alice'], milestone: 'Sprint 42' },
    });
    await waitFor(
      () => h.sql`select count(*)::int as n from mappings where item_key = 'milestone/1' and status = 'synced'`.then((r) => r[0].n === 1),
      10_000,
    );
    const log = h.sandbox.log
      .entries()
      .slice(before)
      .filter((e) => e.tracker === 'github');
    const writes = log.filter((e) => e.method !== 'GET');
    expect(writes.map((w) => `${w.method} ${w.path.replace(/.*\/repos\/[^/]+\/[^/]+/, '')}`)).toEqual(['POST /milestones', 'POST /issues']);
    expect(at(writes[1]!) - at(writes[0]!)).toBeGreaterThanOrEqual(1000);
    // The reads a create needs go out together; spaced by the hourly budget they were 750 ms apart.
    const reads = log.filter((e) => e.method === 'GET' && at(e) <= at(writes[0]!));
    for (let i = 1; i < reads.length; i++) expect(at(reads[i]!) - at(reads[i - 1]!)).toBeLessThan(500);
    expect(log.filter((e) => e.status === 403 || e.status === 429)).toEqual([]);
  }, 15_000);

  it('a secondary-limit 403 with retry-after: 5 pauses every call for the token, then work resumes', async () => {
    const keys = await linkedItems('paused', 3);
    h.sandbox.faults.inject({ tracker: 'github', method: 'PATCH', status: 403, retryAfter: 5, times: 1 });
    const before = h.sandbox.log.entries().length;
    await h.postEvents({ events: keys.map((key) => ({ type: 'item.upserted', item: { key, title: `${key} renamed` } })) });
    await allSynced(keys);

    const log = h.sandbox.log
      .entries()
      .slice(before)
      .filter((e) => e.tracker === 'github');
    const limited = log.find((e) => e.status === 403)!;
    expect(limited).toBeTruthy();
    const t = at(limited);
    // Nothing reached GitHub with this token during the pause, allowing ~50 ms for requests that
    // were already in flight when the 403 came back.
    const during = log.filter((e) => at(e) > t + 50 && at(e) < t + 4950);
    expect(during).toEqual([]);
    const after = log.filter((e) => at(e) >= t + 4950);
    expect(after.filter((e) => e.method === 'PATCH').length).toBeGreaterThanOrEqual(1);
    const failed =
      await h.sql`select count(*)::int as n from deliveries where kind = 'reconcile' and status = 'failed' and item_key like 'paused/%'`;
    expect(failed[0].n).toBe(0);
    const [call] = await waitFor(() => h.sql`select rate_limit from tracker_calls where status = 403`.then((r) => (r.length ? r : null)));
    expect(call.rate_limit).toMatchObject({ 'retry-after': '5' });
  }, 15_000);
});
