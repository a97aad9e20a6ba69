import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GITHUB, startHarness, waitFor, type Harness } from '../support/harness.ts';
import type { LoggedRequest } from '../../sandbox/request-log.ts';

let h: Harness;
beforeAll(async () => {
  // Real pacing (a primary budget high enough not to matter), and the sandbox's secondary limit
  // made strict: two content-creating requests per 1.9 s, so writes any closer together than a
  // second apart would be refused.
  h = await startHarness('pr_pacing', {
    plane: false,
    github: {
      rate_limit: { requests: 100_000, per: '1h' },
      pull_requests: { auto_create: true, request_review: true, reviewers: ['bob'], open_when: ['for_review'] },
    },
  });
  h.sandbox.github.limits.configure({ secondary: { requests: 2, perMs: 1900 } });
});
afterAll(async () => h?.close());
beforeEach(() => {
  h.sandbox.faults.clear();
  h.sandbox.github.limits.reset();
});

const repo = `${GITHUB.owner}/${GITHUB.repo}`.toLowerCase();
const at = (e: LoggedRequest) => Date.parse(e.at);
const answered = (e: LoggedRequest) => Date.parse(e.answeredAt!);
const route = (e: LoggedRequest) => `${e.method} ${e.path.replace(/.*\/repos\/[^/]+\/[^/]+/, '').replace(/\/\d+(?=\/|$)/g, '/{n}')}`;
const prOf = (key: string) =>
  h.sql`select number, reviewers_requested_at from pull_requests where item_key = ${key} and number is not null`.then((r) =>
    r.length ? r : null,
  );

describe('pull request writes share the token’s pacer with issue writes', () => {
  it('an issue create, an issue update, a pull request open and its review request: one at a time, each ≥ 1 s after the previous answer', async () => {
    h.sandbox.github.pulls.pushBranch(GITHUB.owner, GITHUB.repo, 'feature/P1', 2);
    const person = h.sandbox.github.store.createAsPerson(GITHUB.owner, GITHUB.repo, { title: 'filed by a person' });
    await h.postEvents({ type: 'item.upserted', item: { key: 'pace/linked', links: { 'gh-main': String(person.number) } } });
    await waitFor(() => h.sql`select 1 from mappings where item_key = 'pace/linked' and status = 'synced'`.then((r) => r.length > 0));
    const before = h.sandbox.log.entries().length;

    // Three items' work lands at once: a new issue, an edit, and an item whose issue, pull request
    // and review request are created in one reconcile.
    await h.postEvents({
      events: [
        { type: 'item.upserted', item: { key: 'pace/new', title: 'A new issue' } },
        { type: 'item.upserted', item: { key: 'pace/linked', title: 'Renamed by the orchestrator' } },
        { type: 'item.upserted', item: { key: 'pace/pr', title: 'P1', state: 'for_review', branch: 'feature/P1' } },
      ],
    });
    await waitFor(async () => (await prOf('pace/pr'))?.[0].reviewers_requested_at, 20_000);
    await waitFor(() => h.sql`select 1 from mappings where item_key = 'pace/new' and status = 'synced'`.then((r) => r.length > 0));
    await waitFor(() => h.sandbox.github.store.issue(repo, person.number)?.title === 'Renamed by the orchestrator');

    const log = h.sandbox.log
      .entries()
      .slice(before)
      .filter((e) => e.tracker === 'github');
    const writes = log.filter((e) => e.method !== 'GET');
    expect(writes.map(route)).toEqual(
      expect.arrayContaining(['POST /issues', 'PATCH /issues/{n}', 'POST /pulls', 'POST /pulls/{n}/requested_reviewers']),
    );
    // Each write reached GitHub at least a second after the previous write was answered, so none
    // was ever in flight together with another.
    const gaps = writes.slice(1).map((w, i) => at(w) - answered(writes[i]!));
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(1000);
    expect(log.filter((e) => e.status === 403 || e.status === 429)).toEqual([]);
    expect(h.sandbox.github.limits.served.secondary).toBe(0);
    const [{ number }] = (await prOf('pace/pr'))!;
    expect(h.sandbox.github.pulls.pull(repo, number)!.pull.requested_reviewers).toEqual(['bob']);
    console.log(`[pr-pacing] ${writes.map(route).join(', ')}; gaps from the previous answer ${gaps.join(', ')} ms`);
  }, 30_000);

  it('a secondary limit on the review request pauses every call of the token, then the request is made once', async () => {
    h.sandbox.github.pulls.pushBranch(GITHUB.owner, GITHUB.repo, 'feature/P2', 1);
    h.sandbox.github.limits.injectSecondary({ status: 403, retryAfter: 3, method: 'POST', pathIncludes: '/requested_reviewers' });
    const before = h.sandbox.log.entries().length;
    await h.postEvents({
      events: [
        { type: 'item.upserted', item: { key: 'pace/pr2', title: 'P2', state: 'for_review', branch: 'feature/P2' } },
        { type: 'item.upserted', item: { key: 'pace/new2', title: 'Another new issue' } },
      ],
    });
    await waitFor(async () => (await prOf('pace/pr2'))?.[0].reviewers_requested_at, 25_000);
    await waitFor(() => h.sql`select 1 from mappings where item_key = 'pace/new2' and status = 'synced'`.then((r) => r.length > 0));

    const log = h.sandbox.log
      .entries()
      .slice(before)
      .filter((e) => e.tracker === 'github');
    const limited = log.find((e) => e.status === 403)!;
    expect(route(limited)).toBe('POST /pulls/{n}/requested_reviewers');
    // Nothing went to GitHub with this token while it was paused (50 ms for what was in flight).
    expect(log.filter((e) => at(e) > answered(limited) + 50 && at(e) < answered(limited) + 2950)).toEqual([]);
    const requests = log.filter((e) => route(e) === 'POST /pulls/{n}/requested_reviewers');
    expect(requests.map((e) => e.status)).toEqual([403, 201]);
    expect(at(requests[1]!)).toBeGreaterThanOrEqual(answered(limited) + 2950);
    // One pull request, and the issue created either before the limit or after the pause.
    expect(log.filter((e) => route(e) === 'POST /pulls').map((e) => e.status)).toEqual([201]);
    expect(await h.sql`select status from deliveries where kind = 'pull_request' and item_key = 'pace/pr2'`).toEqual([]);
  }, 30_000);
});
