import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GITHUB, startHarness, waitFor, type Harness } from '../support/harness.ts';
import { loadSpecValidator } from '../support/openapi-validator.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('pull_requests', {
    plane: false,
    github: {
      pull_requests: {
        auto_create: true,
        draft: true,
        request_review: true,
        reviewers: ['bob'],
        reviewers_from_assignees: true,
        open_when: ['for_review'],
        state_map: { merged: 'done', changes_requested: 'doing' },
      },
    },
    // A write whose answer is held back longer than this is a crash between the call and its answer.
    config: { worker: { request_timeout: '2s', backoff: '200ms' } },
  });
  const api = await h.listenApi();
  h.sandbox.github.webhooks.register(GITHUB.owner, GITHUB.repo, { url: `${api}/webhooks/gh-main`, secret: GITHUB.webhookSecret });
});
afterAll(async () => h?.close());

const repo = `${GITHUB.owner}/${GITHUB.repo}`.toLowerCase();
const pulls = () => h.sandbox.github.pulls;
const upsert = (key: string, item: Record<string, unknown>) =>
  h.postEvents({ type: 'item.upserted', item: { key, ...item }, actor: 'agent:planner' });
const prRows = (key: string) =>
  h.sql`select number, state, head, base, origin, last_error, failed_for from pull_requests where item_key = ${key} order by id`;
const pullsFrom = (head: string) =>
  pulls()
    .pullsOf(repo)
    .filter((p) => p.pull.head === head);

/** No reconcile is waiting or running (so a fault injected now meets the next job's calls). */
async function quiet() {
  await waitFor(() =>
    h.runtime.queues.reconcile
      .getJobCounts('active', 'waiting', 'delayed', 'prioritized')
      .then((c) => Object.values(c).every((n) => n === 0)),
  );
}

async function issueNumber(key: string): Promise<number> {
  const [row] = await waitFor(() =>
    h.sql`select remote_id from mappings where item_key = ${key} and remote_id is not null`.then((r) => (r.length ? r : null)),
  );
  return Number(row.remote_id);
}

describe('opening a pull request for an item’s branch', () => {
  it('opens one draft pull request when the item reaches for_review: title, body with Closes #N, then reviewers', async () => {
    pulls().pushBranch(GITHUB.owner, GITHUB.repo, 'feature/WP02', 3);
    await upsert('user-auth/WP02', {
      title: 'WP02: Models layer',
      body: 'Build the **models**.',
      state: 'doing',
      branch: 'feature/WP02',
      assignees: ['alice'],
    });
    const issue = await issueNumber('user-auth/WP02');
    // Not yet: doing is not an open_when state.
    await new Promise((r) => setTimeout(r, 300));
    expect(pullsFrom('feature/WP02')).toHaveLength(0);

    await upsert('user-auth/WP02', { state: 'for_review' });
    const [row] = await waitFor(() => prRows('user-auth/WP02').then((r) => (r[0]?.number ? r : null)));
    expect(row).toMatchObject({ state: 'draft', head: 'feature/WP02', base: 'main', origin: 'opened' });
    const opened = pullsFrom('feature/WP02');
    expect(opened).toHaveLength(1);
    const { issue: pr, pull } = opened[0]!;
    expect(pr.number).toBe(row.number);
    expect(pr.title).toBe('WP02: Models layer');
    expect(pr.body).toBe(`Build the **models**.\n\nCloses #${issue}`);
    expect(pr.user).toBe(GITHUB.login);
    expect(pull).toMatchObject({ base: 'main', draft: true });
    // Reviewers: the configured one and the assignee, never the author.
    await waitFor(() => pull.requested_reviewers.length === 2);
    expect([...pull.requested_reviewers].sort()).toEqual(['alice', 'bob']);

    // The item view shows it.
    const view = (await (await h.api('GET', '/v1/items/user-auth%2FWP02')).json()) as { pullRequests: unknown[] };
    expect(view.pullRequests).toEqual([
      expect.objectContaining({
        connection: 'gh-main',
        number: pr.number,
        url: `${h.sandboxUrl}/acme/app/pull/${pr.number}`,
        state: 'draft',
        head: 'feature/WP02',
      }),
    ]);
    // More events for the item open nothing more.
    await upsert('user-auth/WP02', { title: 'WP02: Models layer (v2)' });
    await waitFor(() =>
      h.sql`select 1 from mappings where item_key = 'user-auth/WP02' and synced_version = (select version from items where key = 'user-auth/WP02')`.then(
        (r) => r.length > 0,
      ),
    );
    expect(pullsFrom('feature/WP02')).toHaveLength(1);
    // The feed said the pull request appeared.
    const changes = await h.sql`select type, pull_request, actor from changes where item_key = 'user-auth/WP02'`;
    expect(changes).toEqual([
      {
        type: 'item.pr_changed',
        pull_request: expect.objectContaining({ number: pr.number, from: null, to: 'draft' }),
        actor: 'sync:gh-main',
      },
    ]);
  });

  it('a pull request a person already opened from the branch is adopted on GitHub’s 422, not opened twice', async () => {
    pulls().pushBranch(GITHUB.owner, GITHUB.repo, 'feature/WP03', 1);
    const mine = pulls().create(repo, { title: 'My WP03', head: 'feature/WP03', base: 'main' }, 'alice');
    await upsert('user-auth/WP03', { title: 'WP03', state: 'for_review', branch: 'feature/WP03' });
    const [row] = await waitFor(() => prRows('user-auth/WP03').then((r) => (r[0]?.number ? r : null)));
    expect(row.number).toBe(mine.issue.number);
    expect(row.state).toBe('open');
    expect(pullsFrom('feature/WP03')).toHaveLength(1);
    const refused = h.sandbox.log
      .entries({ tracker: 'github' })
      .filter((e) => e.method === 'POST' && e.path.endsWith('/pulls') && e.status === 422);
    expect(refused.length).toBeGreaterThan(0);
  });

  it('a crash between the call and its answer leaves one pull request', async () => {
    pulls().pushBranch(GITHUB.owner, GITHUB.repo, 'feature/WP04', 2);
    await quiet();
    h.sandbox.faults.inject({ tracker: 'github', method: 'POST', pathIncludes: '/pulls', delayAfterMs: 4_000, times: 1 });
    await upsert('user-auth/WP04', { title: 'WP04', state: 'for_review', branch: 'feature/WP04' });
    const [row] = await waitFor(() => prRows('user-auth/WP04').then((r) => (r[0]?.number ? r : null)), 20_000);
    expect(pullsFrom('feature/WP04')).toHaveLength(1);
    expect(row.number).toBe(pullsFrom('feature/WP04')[0]!.issue.number);
    // The first open did reach GitHub and its answer never came back.
    const lost =
      await h.sql`select error from tracker_calls where method = 'POST' and path = '/api/v3/repos/acme/app/pulls' and error like 'no answer within%'`;
    expect(lost).toHaveLength(1);
  });

  it('an unknown branch, or one with nothing to merge, fails a delivery on its first attempt with GitHub’s message; the item keeps syncing', async () => {
    await upsert('user-auth/WP05', { title: 'WP05', state: 'for_review', branch: 'feature/nowhere' });
    const [failed] = await waitFor(() =>
      h.sql`select status, attempts, last_error from deliveries where kind = 'pull_request' and item_key = 'user-auth/WP05'`.then((r) =>
        r.length ? r : null,
      ),
    );
    expect(failed).toMatchObject({ status: 'failed', attempts: 1 });
    expect(failed.last_error).toMatch(/422.*Validation Failed.*"field":"head","code":"invalid"/);
    expect(await prRows('user-auth/WP05')).toEqual([
      expect.objectContaining({ number: null, failed_for: 'feature/nowhere → (default branch)' }),
    ]);
    // The issue went on syncing, and goes on.
    const [mapping] = await h.sql`select status from mappings where item_key = 'user-auth/WP05'`;
    expect(mapping.status).toBe('synced');
    await upsert('user-auth/WP05', { title: 'WP05 renamed' });
    const number = await issueNumber('user-auth/WP05');
    await waitFor(() => h.sandbox.github.store.issue(repo, number)?.title === 'WP05 renamed');
    // Tried once: the rename did not ask GitHub again.
    expect(
      h.sandbox.log
        .entries({ tracker: 'github' })
        .filter((e) => e.method === 'POST' && e.path.endsWith('/pulls') && e.body && JSON.stringify(e.body).includes('feature/nowhere')),
    ).toHaveLength(1);

    pulls().pushBranch(GITHUB.owner, GITHUB.repo, 'feature/empty', 0);
    await upsert('user-auth/WP06', { title: 'WP06', state: 'for_review', branch: 'feature/empty' });
    const [empty] = await waitFor(() =>
      h.sql`select last_error from deliveries where kind = 'pull_request' and item_key = 'user-auth/WP06'`.then((r) =>
        r.length ? r : null,
      ),
    );
    expect(empty.last_error).toContain('No commits between main and feature/empty');
  });
});

describe('every pulls request the adapter made', () => {
  it('validates against GitHub’s OpenAPI description', async () => {
    const requests = h.sandbox.log.entries({ tracker: 'github' }).filter((r) => r.path.includes('/pulls'));
    const kinds = new Set(requests.map((r) => `${r.method} ${r.path.replace(/\/\d+(?=\/|$)/g, '/{n}')}`));
    for (const expected of [
      'POST /api/v3/repos/acme/app/pulls',
      'GET /api/v3/repos/acme/app/pulls',
      'GET /api/v3/repos/acme/app/pulls/{n}',
      'POST /api/v3/repos/acme/app/pulls/{n}/requested_reviewers',
    ]) {
      expect(kinds, expected).toContain(expected);
    }
    const validator = await loadSpecValidator('github');
    validator.assertAll(
      requests.map((r) => {
        const query = new URLSearchParams(r.query).toString();
        return { method: r.method, url: `${r.path}${query ? `?${query}` : ''}`, body: r.body ?? undefined, headers: r.headers };
      }),
    );
    expect(
      validator.validate({
        method: 'POST',
        url: '/api/v3/repos/acme/app/pulls',
        body: { title: 'x', head: 'a', base: 'main', draft: 'yes' },
      }).ok,
    ).toBe(false);
  });
});
