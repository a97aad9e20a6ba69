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
  await h.sandbox.github.webhooks.drain();
  await waitFor(() =>
    h.sql`select count(*)::int as n from deliveries where kind = 'webhook' and status in ('received', 'processing', 'queued')`.then(
      (r) => r[0].n === 0,
    ),
  );
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
    const [row] = await waitFor(() => prRows('user-auth/WP02').then((r) => (r[0]?.state ? r : null)));
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
    // Its webhook is not sent: Trackline learns of it only from GitHub's answer to opening another.
    for (const hook of h.sandbox.github.webhooks.hooks) hook.active = false;
    const mine = pulls().create(repo, { title: 'My WP03', head: 'feature/WP03', base: 'main' }, 'alice');
    for (const hook of h.sandbox.github.webhooks.hooks) hook.active = true;
    await upsert('user-auth/WP03', { title: 'WP03', state: 'for_review', branch: 'feature/WP03' });
    const [row] = await waitFor(() => prRows('user-auth/WP03').then((r) => (r[0]?.state ? r : null)));
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
    const [row] = await waitFor(() => prRows('user-auth/WP04').then((r) => (r[0]?.state ? r : null)), 20_000);
    expect(pullsFrom('feature/WP04')).toHaveLength(1);
    expect(row.number).toBe(pullsFrom('feature/WP04')[0]!.issue.number);
    // The first open did reach GitHub and its answer never came back. The call log is written in
    // batches (a quarter second apart), so the adopting retry can land before the lost call's row.
    const lost = await waitFor(() =>
      h.sql`select error from tracker_calls where method = 'POST' and path = '/api/v3/repos/acme/app/pulls' and error like 'no answer within%'`.then(
        (r) => (r.length ? r : null),
      ),
    );
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

    // Once the branch is pushed, an operator's retry of that delivery opens it.
    pulls().pushBranch(GITHUB.owner, GITHUB.repo, 'feature/nowhere', 1);
    const [{ id }] = await h.sql`select id from deliveries where kind = 'pull_request' and item_key = 'user-auth/WP05'`;
    expect((await h.api('POST', `/v1/deliveries/${id}/retry`, {})).status).toBeLessThan(300);
    await waitFor(() => prRows('user-auth/WP05').then((r) => r[0]?.number !== null));

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

const feed = async (key: string) =>
  (
    (await (await h.api('GET', '/v1/changes?limit=500')).json()) as {
      changes: {
        key: string;
        type: string;
        fields: Record<string, unknown>;
        actor: string;
        pullRequest?: { number: number; from: string | null; to: string; url: string };
      }[];
    }
  ).changes.filter((c) => c.key === key);
const prState = async (key: string, number: number) =>
  (await h.sql`select state from pull_requests where item_key = ${key} and number = ${number}`)[0]?.state;
/** Waits for the pull request's state Trackline records, after the webhooks have gone out. */
async function stateBecomes(key: string, number: number, state: string) {
  await h.sandbox.github.webhooks.drain();
  await waitFor(async () => (await prState(key, number)) === state, 10_000);
}

describe('following pull requests (signed webhooks)', () => {
  it('ready for review, back to draft, changes requested (the item moves back), approved, merged: the item is done and its issue closed', async () => {
    const key = 'user-auth/WP02';
    const [{ number }] = await h.sql`select number from pull_requests where item_key = ${key}`;
    const issue = await issueNumber(key);
    pulls().setDraft(GITHUB.owner, GITHUB.repo, number, false, 'alice');
    await stateBecomes(key, number, 'open');
    pulls().setDraft(GITHUB.owner, GITHUB.repo, number, true, 'alice');
    await stateBecomes(key, number, 'draft');
    pulls().setDraft(GITHUB.owner, GITHUB.repo, number, false, 'alice');
    await stateBecomes(key, number, 'open');

    pulls().review(repo, number, { event: 'REQUEST_CHANGES', body: 'Needs tests' }, 'bob');
    await stateBecomes(key, number, 'changes_requested');
    // state_map: changes_requested -> doing, pulled like a person's edit: a new version, every connection follows.
    await waitFor(async () => (await h.sql`select desired->>'state' as s from items where key = ${key}`)[0].s === 'doing');
    await waitFor(() => h.sandbox.github.store.issue(repo, issue)!.labels.includes('in-progress'));

    pulls().review(repo, number, { event: 'APPROVE' }, 'bob');
    await stateBecomes(key, number, 'approved');
    pulls().merge(repo, number, {}, 'alice');
    await stateBecomes(key, number, 'merged');
    await waitFor(async () => (await h.sql`select desired->>'state' as s from items where key = ${key}`)[0].s === 'done');
    expect(h.sandbox.github.store.issue(repo, issue)).toMatchObject({ state: 'closed', state_reason: 'completed' });

    const changes = await feed(key);
    const prChanges = changes.filter((c) => c.type === 'item.pr_changed').map((c) => [c.pullRequest!.from, c.pullRequest!.to, c.actor]);
    expect(prChanges).toEqual([
      [null, 'draft', 'sync:gh-main'],
      ['draft', 'open', 'alice'],
      ['open', 'draft', 'alice'],
      ['draft', 'open', 'alice'],
      ['open', 'changes_requested', 'bob'],
      ['changes_requested', 'approved', 'bob'],
      ['approved', 'merged', 'alice'],
    ]);
    const merged = changes.find((c) => c.type === 'item.pr_changed' && c.pullRequest!.to === 'merged')!;
    expect(merged.pullRequest).toMatchObject({ number, url: `${h.sandboxUrl}/acme/app/pull/${number}` });
    const moves = changes.filter((c) => c.type === 'item.changed' && c.fields.state).map((c) => c.fields.state);
    expect(moves).toEqual(
      expect.arrayContaining([
        { from: 'for_review', to: 'doing' },
        { from: 'doing', to: 'done' },
      ]),
    );
  });

  it('closed without merging, then reopened', async () => {
    const key = 'user-auth/WP03';
    const [{ number }] = await h.sql`select number from pull_requests where item_key = ${key}`;
    pulls().update(repo, number, { state: 'closed' }, 'alice');
    await stateBecomes(key, number, 'closed');
    // closed maps to nothing: the item stays where it was.
    expect((await h.sql`select desired->>'state' as s from items where key = ${key}`)[0].s).toBe('for_review');
    pulls().update(repo, number, { state: 'open' }, 'alice');
    await stateBecomes(key, number, 'open');
    expect((await feed(key)).filter((c) => c.type === 'item.pr_changed').map((c) => c.pullRequest!.to)).toEqual(['open', 'closed', 'open']);
  });

  it('a person’s pull request that says Fixes #N for a mapped issue is linked to that item; links.pull_request adopts one by number', async () => {
    await upsert('link/1', { title: 'Linked by a person', state: 'doing' });
    const issue = await issueNumber('link/1');
    pulls().pushBranch(GITHUB.owner, GITHUB.repo, 'alice/fix', 1);
    const theirs = pulls().create(repo, { title: 'Fix it', head: 'alice/fix', base: 'main', body: `This fixes #${issue}.` }, 'alice');
    await h.sandbox.github.webhooks.drain();
    const [row] = await waitFor(() => prRows('link/1').then((r) => (r[0]?.state ? r : null)));
    expect(row).toMatchObject({ number: theirs.issue.number, origin: 'closes', state: 'open', head: 'alice/fix' });

    pulls().pushBranch(GITHUB.owner, GITHUB.repo, 'bob/other', 1);
    const other = pulls().create(repo, { title: 'Other', head: 'bob/other', base: 'main' }, 'bob');
    await upsert('link/2', { title: 'Names its pull request', links: { pull_request: `#${other.issue.number}` } });
    const [linked] = await waitFor(() => prRows('link/2').then((r) => (r[0]?.state ? r : null)));
    expect(linked).toMatchObject({ number: other.issue.number, origin: 'linked', state: 'open' });

    // A number GitHub does not know fails that link's delivery; the item's issue syncs all the same.
    await upsert('link/3', { title: 'Names a pull request that is not there', links: { pull_request: '#9999' } });
    const [failed] = await waitFor(() =>
      h.sql`select status, last_error from deliveries where kind = 'pull_request' and item_key = 'link/3'`.then((r) =>
        r.length ? r : null,
      ),
    );
    expect(failed.status).toBe('failed');
    expect(failed.last_error).toMatch(/404/);
    expect((await h.sql`select status from mappings where item_key = 'link/3'`)[0].status).toBe('synced');
  });

  it('a links.pull_request number GitHub does not know is refused once: one failed delivery naming it, shown on the item; later reconciles do not ask again', async () => {
    const gets = () =>
      h.sandbox.log.entries({ tracker: 'github' }).filter((e) => e.method === 'GET' && e.path.endsWith('/pulls/9999')).length;
    await waitFor(() => h.sql`select 1 from deliveries where kind = 'pull_request' and item_key = 'link/3'`.then((r) => r.length > 0));
    expect(gets()).toBe(1);
    // Two more changes of the item: its issue follows, the pull request is not looked up again.
    await upsert('link/3', { title: 'Renamed once' });
    await upsert('link/3', { title: 'Renamed twice' });
    const issue = await issueNumber('link/3');
    await waitFor(() => h.sandbox.github.store.issue(repo, issue)?.title === 'Renamed twice');
    await quiet();
    expect(gets()).toBe(1);
    const failed = await h.sql`select status, attempts, last_error from deliveries where kind = 'pull_request' and item_key = 'link/3'`;
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ status: 'failed', attempts: 1 });
    expect(failed[0].last_error).toMatch(/^links\.pull_request #9999: GitHub has no pull request #9999 in this repository \(.*404/);
    // The item view says so.
    const view = async () =>
      ((await (await h.api('GET', '/v1/items/link%2F3')).json()) as { pullRequests: Record<string, unknown>[] }).pullRequests;
    expect(await view()).toEqual([
      expect.objectContaining({ number: null, head: 'pull/9999/head', origin: 'linked', lastError: failed[0].last_error }),
    ]);
    // Naming one that exists replaces the refusal.
    pulls().pushBranch(GITHUB.owner, GITHUB.repo, 'bob/third', 1);
    const third = pulls().create(repo, { title: 'Third', head: 'bob/third', base: 'main' }, 'bob');
    await upsert('link/3', { links: { pull_request: `#${third.issue.number}` } });
    await waitFor(async () => (await view()).some((p) => p.number === third.issue.number && p.state === 'open'));
    expect(await view()).toEqual([expect.objectContaining({ number: third.issue.number, origin: 'linked', lastError: null })]);
    expect(await h.sql`select 1 from deliveries where kind = 'pull_request' and item_key = 'link/3'`).toHaveLength(1);
  });

  it('polling catches what a lost webhook missed (conditional requests: a quiet repository answers 304)', async () => {
    const key = 'user-auth/WP03';
    const [{ number }] = await h.sql`select number from pull_requests where item_key = ${key}`;
    await h.sandbox.github.webhooks.drain();
    for (const hook of h.sandbox.github.webhooks.hooks) hook.active = false;
    try {
      pulls().setDraft(GITHUB.owner, GITHUB.repo, number, true, 'alice');
      await h.runtime.queues.pollNow('gh-main');
      await waitFor(async () => (await prState(key, number)) === 'draft', 10_000);
      // Nothing changed since: the next poll's pulls list is a 304.
      const before = h.sandbox.log.entries({ tracker: 'github' }).length;
      await h.runtime.queues.pollNow('gh-main');
      await waitFor(() =>
        h.sandbox.log
          .entries({ tracker: 'github' })
          .slice(before)
          .some((e) => e.method === 'GET' && e.path.endsWith('/pulls')),
      );
      const listed = h.sandbox.log
        .entries({ tracker: 'github' })
        .slice(before)
        .filter((e) => e.method === 'GET' && e.path.endsWith('/pulls'));
      expect(listed.map((e) => e.status)).toEqual([304]);
    } finally {
      for (const hook of h.sandbox.github.webhooks.hooks) hook.active = true;
    }
  });

  it('a merge the poll finds (its webhook lost, in the second of the last read) is the merger’s, as GitHub’s merged_by says', async () => {
    const key = 'merge/1';
    pulls().pushBranch(GITHUB.owner, GITHUB.repo, 'feature/M1', 1);
    await upsert(key, { title: 'M1', state: 'for_review', branch: 'feature/M1' });
    const [{ number }] = await waitFor(() =>
      h.sql`select number from pull_requests where item_key = ${key} and state is not null`.then((r) => (r.length ? r : null)),
    );
    pulls().setDraft(GITHUB.owner, GITHUB.repo, number, false, 'alice');
    await stateBecomes(key, number, 'open');
    await quiet();
    for (const hook of h.sandbox.github.webhooks.hooks) hook.active = false;
    try {
      pulls().merge(repo, number, {}, 'alice');
      // As when the merge lands in the second of Trackline's last read (GitHub's timestamps are
      // whole seconds): the list shows the timestamp already read, but another state.
      await h.sql`update pull_requests set remote_updated_at = ${pulls().pull(repo, number)!.issue.updated_at} where item_key = ${key}`;
      await h.runtime.queues.pollNow('gh-main');
      await waitFor(async () => (await prState(key, number)) === 'merged', 10_000);
    } finally {
      for (const hook of h.sandbox.github.webhooks.hooks) hook.active = true;
    }
    const merged = (await feed(key)).find((c) => c.type === 'item.pr_changed' && c.pullRequest!.to === 'merged')!;
    expect(merged.actor).toBe('alice');
  });

  it('a signed pull_request delivery without a pull request: 400, nothing recorded; a redelivery is a duplicate', async () => {
    const { signGitHubPayload } = await import('../../src/trackers/github/webhook.ts');
    const body = JSON.stringify({ action: 'opened', pull_request: { title: 'no number' }, repository: { full_name: 'acme/app' } });
    const before = await h.sql`select (select count(*) from changes)::int as changes, (select count(*) from pull_requests)::int as prs`;
    const res = await h.api('POST', '/webhooks/gh-main', body, {
      'x-github-event': 'pull_request',
      'x-github-delivery': 'malformed-1',
      'x-hub-signature-256': signGitHubPayload(GITHUB.webhookSecret, body),
    });
    expect(res.status).toBe(400);
    expect(await h.sql`select (select count(*) from changes)::int as changes, (select count(*) from pull_requests)::int as prs`).toEqual(
      before,
    );
    const sent = h.sandbox.github.webhooks.deliveries.find((d) => d.event === 'pull_request' && d.status === 202)!;
    h.sandbox.github.webhooks.redeliver(sent.id);
    await h.sandbox.github.webhooks.drain();
    expect(h.sandbox.github.webhooks.deliveries.filter((d) => d.id === sent.id).map((d) => d.status)).toEqual([202, 200]);
  });
});

describe('review asked again after a request for changes', () => {
  it('the reviewer who asked for changes is asked again once new commits came and the item is back at for_review; not before, and once', async () => {
    const key = 'review/1';
    pulls().pushBranch(GITHUB.owner, GITHUB.repo, 'feature/R1', 1);
    await upsert(key, { title: 'R1', state: 'for_review', branch: 'feature/R1' });
    const [{ number }] = await waitFor(() =>
      h.sql`select number from pull_requests where item_key = ${key} and reviewers_requested_at is not null`.then((r) =>
        r.length ? r : null,
      ),
    );
    const pull = () => pulls().pull(repo, number)!.pull;
    const asked = () =>
      h.sandbox.log
        .entries({ tracker: 'github' })
        .filter((e) => e.method === 'POST' && e.path.endsWith(`/pulls/${number}/requested_reviewers`) && e.status === 201)
        .map((e) => (e.body as { reviewers?: string[] }).reviewers);
    expect(pull().requested_reviewers).toEqual(['bob']);
    pulls().setDraft(GITHUB.owner, GITHUB.repo, number, false, 'alice');
    await stateBecomes(key, number, 'open');

    // Bob asks for changes: GitHub takes him off the list; state_map moves the item back to doing.
    pulls().review(repo, number, { event: 'REQUEST_CHANGES', body: 'Needs tests' }, 'bob');
    await stateBecomes(key, number, 'changes_requested');
    await waitFor(async () => (await h.sql`select desired->>'state' as s from items where key = ${key}`)[0].s === 'doing');
    expect(pull().requested_reviewers).toEqual([]);

    // Back at for_review with no new commit: nothing to look at again, nobody is asked.
    await upsert(key, { state: 'for_review' });
    await quiet();
    expect(pull().requested_reviewers).toEqual([]);
    expect(asked()).toEqual([['bob']]);

    // New commits (GitHub's synchronize): Bob is asked again, with the same request GitHub documents
    // for a first one (POST …/requested_reviewers puts a reviewer who reviewed back on the list).
    pulls().pushBranch(GITHUB.owner, GITHUB.repo, 'feature/R1', 2);
    await h.sandbox.github.webhooks.drain();
    await waitFor(() => pull().requested_reviewers.includes('bob'), 10_000);
    expect(asked()).toEqual([['bob'], ['bob']]);

    // Further changes of the item ask nobody again.
    await upsert(key, { title: 'R1 (tests added)' });
    await quiet();
    await upsert(key, { labels: ['tested'] });
    await quiet();
    expect(asked()).toEqual([['bob'], ['bob']]);

    // Bob approves the new commits.
    pulls().review(repo, number, { event: 'APPROVE' }, 'bob');
    await stateBecomes(key, number, 'approved');
    expect(asked()).toEqual([['bob'], ['bob']]);
  }, 30_000);
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
