import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { GITHUB, startHarness, waitFor, type Harness } from '../support/harness.ts';
import { loadSpecValidator } from '../support/openapi-validator.ts';
import type { GhIssueRec } from '../../sandbox/github/store.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('sync_github', {
    plane: false,
    github: {},
    githubProject: { field_map: { priority: 'Priority' } },
  });
  // GitHub's webhooks for acme/app go to Trackline, signed with the connection's secret.
  const api = await h.listenApi();
  h.sandbox.github.webhooks.register(GITHUB.owner, GITHUB.repo, { url: `${api}/webhooks/gh-main`, secret: GITHUB.webhookSecret });
});
afterAll(async () => h?.close());
beforeEach(() => {
  h.sandbox.faults.clear();
});

const gh = () => h.sandbox.github.store;
const repoKey = `${GITHUB.owner}/${GITHUB.repo}`;
const issuesFor = (key: string) =>
  gh()
    .issuesOf(repoKey)
    .filter((i) => !i.deleted && (i.body ?? '').includes(`trackline:item=${encodeURIComponent(key)} `));
const labelsOf = (i: GhIssueRec) => i.labels.map((k) => gh().repo(GITHUB.owner, GITHUB.repo)!.labels.get(k)!.name).sort();
const milestoneOf = (i: GhIssueRec) =>
  i.milestone === null ? null : gh().repo(GITHUB.owner, GITHUB.repo)!.milestones.get(i.milestone)!.title;

const upsert = (key: string, fields: Record<string, unknown>, comment?: string) =>
  h.postEvents({ type: 'item.upserted', item: { key, ...fields }, actor: 'agent:planner', ...(comment ? { comment } : {}) });

async function synced(key: string, connection = 'gh-main', minVersion = 1) {
  try {
    return await waitFor(
      () =>
        h.sql`select m.remote_id, m.remote_key, m.status from mappings m join items i on i.key = m.item_key
          where m.item_key = ${key} and m.connection_id = ${connection} and m.status = 'synced' and m.synced_version >= ${minVersion}`.then(
          (r) => r[0],
        ),
      15_000,
    );
  } catch {
    const rows = await h.sql`select connection_id, status, last_error, synced_version from mappings where item_key = ${key}`;
    throw new Error(`${key} not synced on ${connection}: ${JSON.stringify(rows)}`);
  }
}

async function version(key: string): Promise<number> {
  const [row] = await h.sql`select version from items where key = ${key}`;
  return Number(row.version);
}

/** Waits until the webhooks Trackline's own writes caused have been taken in and processed. */
async function quiet() {
  await h.sandbox.github.webhooks.drain();
  await waitFor(() =>
    h.sql`select count(*)::int as n from deliveries where kind = 'webhook' and status in ('received', 'processing', 'queued')`.then(
      (r) => r[0].n === 0,
    ),
  );
  await waitFor(() =>
    h.runtime.queues.reconcile
      .getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'waiting-children')
      .then((c) => Object.values(c).every((n) => n === 0)),
  );
}

describe('GitHub Issues connection', () => {
  it('a new item becomes one issue with its labels, status label, assignee and milestone', async () => {
    await upsert('user-auth/WP02', {
      kind: 'work_package',
      title: 'WP02: Models layer',
      body: 'Build the **models**.',
      state: 'doing',
      labels: ['backend', 'db'],
      assignees: ['alice'],
      milestone: 'Feature 001',
    });
    const mapping = await synced('user-auth/WP02');
    const issues = issuesFor('user-auth/WP02');
    expect(issues).toHaveLength(1);
    const issue = issues[0]!;
    expect(mapping.remote_id).toBe(String(issue.number));
    expect(mapping.remote_key).toBe(`#${issue.number}`);
    expect(issue.title).toBe('WP02: Models layer');
    expect(issue.body).toBe('Build the **models**.\n\n<!-- trackline:item=user-auth%2FWP02 -->');
    expect(labelsOf(issue)).toEqual(['backend', 'db', 'in-progress']);
    expect(issue.assignees).toEqual(['alice']);
    expect(milestoneOf(issue)).toBe('Feature 001');
    expect(issue.state).toBe('open');
    expect(issue.user).toBe(GITHUB.login);
    // The webhooks of Trackline's own writes come back and change nothing (no echo).
    await quiet();
    const [{ n }] = await h.sql`select count(*)::int as n from changes where item_key = 'user-auth/WP02'`;
    expect(n).toBe(0);
    expect(h.sandbox.github.webhooks.deliveries.filter((d) => d.status === 202).length).toBeGreaterThan(0);
    // The api shows the number and the URL people open.
    const item = (await (await h.api('GET', '/v1/items/user-auth%2FWP02')).json()) as {
      connections: { connection: string; remoteKey: string; url: string }[];
    };
    expect(item.connections.find((c) => c.connection === 'gh-main')).toMatchObject({
      remoteKey: `#${issue.number}`,
      url: `${h.sandboxUrl}/acme/app/issues/${issue.number}`,
    });
  });

  it('moving it to done closes it as completed and drops the status label; re-opening waits for a decision, then restores one', async () => {
    await upsert('close/1', { title: 'Close me', state: 'for_review', labels: ['backend'] });
    await synced('close/1');
    await upsert('close/1', { state: 'done' });
    await synced('close/1', 'gh-main', await version('close/1'));
    let issue = issuesFor('close/1')[0]!;
    expect(issue.state).toBe('closed');
    expect(issue.state_reason).toBe('completed');
    expect(labelsOf(issue)).toEqual(['backend']);
    await upsert('close/1', { state: 'cancelled' });
    await synced('close/1', 'gh-main', await version('close/1'));
    // Back to planned: re-opening a closed issue waits for a decision (reopen = "ask")...
    await upsert('close/1', { state: 'planned' });
    const [held] = await waitFor(() =>
      h.sql`select id, reason from conflicts where item_key = 'close/1' and connection_id = 'gh-main' and status = 'open'`.then((r) =>
        r.length ? r : null,
      ),
    );
    expect(held.reason).toContain('reopen = "ask" holds it');
    expect(issuesFor('close/1')[0]!.state).toBe('closed');
    // ...and an operator's "use local" re-opens it.
    expect((await h.api('POST', `/v1/conflicts/${held.id}/resolve`, { use: 'local' })).status).toBe(200);
    await synced('close/1', 'gh-main', await version('close/1'));
    issue = issuesFor('close/1')[0]!;
    expect(issue.state).toBe('open');
    expect(labelsOf(issue)).toEqual(['backend', 'todo']);
  });

  it('a label a person adds on GitHub survives Trackline’s next update, and reaches the item', async () => {
    await upsert('keep/1', { title: 'Keep labels', state: 'planned', labels: ['backend'] });
    await synced('keep/1');
    await quiet();
    const issue = issuesFor('keep/1')[0]!;
    gh().editAsPerson(GITHUB.owner, GITHUB.repo, issue.number, { addLabels: ['needs-design'] }, 'bob');
    // The webhook makes Trackline read the issue: the person's label becomes the item's too.
    await waitFor(async () => {
      const [row] = await h.sql`select desired from items where key = 'keep/1'`;
      return (row.desired.labels as string[]).includes('needs-design');
    });
    await quiet();
    await upsert('keep/1', { state: 'doing', title: 'Keep labels, renamed' });
    await synced('keep/1', 'gh-main', await version('keep/1'));
    const after = gh().issue(repoKey, issue.number)!;
    expect(after.title).toBe('Keep labels, renamed');
    expect(labelsOf(after)).toEqual(['backend', 'in-progress', 'needs-design']);
  });

  it('a person moving the status label is read back as a state change', async () => {
    await upsert('move/1', { title: 'Move me', state: 'planned' });
    await synced('move/1');
    await quiet();
    const issue = issuesFor('move/1')[0]!;
    gh().editAsPerson(GITHUB.owner, GITHUB.repo, issue.number, { removeLabels: ['todo'], addLabels: ['in-review'] });
    await waitFor(async () => {
      const [row] = await h.sql`select desired from items where key = 'move/1'`;
      return row.desired.state === 'for_review';
    });
    gh().editAsPerson(GITHUB.owner, GITHUB.repo, issue.number, { state: 'closed', state_reason: 'not_planned' });
    await waitFor(async () => {
      const [row] = await h.sql`select desired from items where key = 'move/1'`;
      return row.desired.state === 'cancelled';
    });
  });

  it('a crash mid-create finds the issue by its marker instead of opening a second one', async () => {
    // GitHub creates the issue, but its answer is held past the request timeout (2 s in tests):
    // the attempt fails without learning the number, and the retry must not create another.
    h.sandbox.faults.inject({ tracker: 'github', method: 'POST', pathIncludes: '/repos/acme/app/issues', delayAfterMs: 4_000, times: 1 });
    await upsert('crash/1', { title: 'Crash me', state: 'doing', labels: ['backend'] });
    const mapping = await synced('crash/1');
    const issues = issuesFor('crash/1');
    expect(issues).toHaveLength(1);
    expect(mapping.remote_id).toBe(String(issues[0]!.number));
    const trail = await h.sql`select action from activity where item_key = 'crash/1' and actor = 'sync:gh-main'`;
    expect(trail.map((r) => r.action)).toContain('remote.recovered');
  }, 20_000);

  it('comments are posted once, with the actor, and a resend is a no-op', async () => {
    await h.postEvents({
      events: [
        { type: 'item.upserted', item: { key: 'com/1', title: 'C' }, comment: 'Stage: analysis -> development', actor: 'agent:planner' },
        { type: 'item.comment', key: 'com/1', comment: 'second' },
      ],
    });
    await synced('com/1');
    const issue = issuesFor('com/1')[0]!;
    const comments = await waitFor(() => {
      const list = gh().commentsOf(issue);
      return list.length >= 2 ? list : null;
    });
    expect(comments.map((c) => c.body)).toEqual([
      expect.stringMatching(/^_agent:planner_:\n\nStage: analysis -> development\n\n<!-- trackline:comment=\d+ -->$/),
      expect.stringMatching(/^second\n\n<!-- trackline:comment=\d+ -->$/),
    ]);
    // A crash after posting but before the cursor moved: the next sync finds the marker.
    await h.sql`update mappings set comment_cursor = 0 where item_key = 'com/1' and connection_id = 'gh-main'`;
    await upsert('com/1', { title: 'C2' });
    await synced('com/1', 'gh-main', await version('com/1'));
    expect(gh().commentsOf(issue)).toHaveLength(2);
  });

  it('links attach an existing issue by number; a link to another repository is refused clearly', async () => {
    const existing = gh().createAsPerson(GITHUB.owner, GITHUB.repo, { title: 'Filed by a person', body: 'Found a bug' });
    await upsert('linked/1', { state: 'doing', links: { 'gh-main': `#${existing.number}`, 'gh-board': `${repoKey}#${existing.number}` } });
    await synced('linked/1');
    const now = gh().issue(repoKey, existing.number)!;
    expect(labelsOf(now)).toEqual(['in-progress']);
    expect(now.body).toBe('Found a bug');
    await upsert('linked/2', { links: { 'gh-main': 'other/repo#1' } });
    const delivery = await waitFor(() =>
      h.sql`select attempts, last_error from deliveries where kind = 'reconcile' and item_key = 'linked/2' and status = 'failed'`.then(
        (r) => r[0],
      ),
    );
    expect(delivery.attempts).toBe(1);
    expect(delivery.last_error).toContain('"other/repo#1" is an issue of other/repo, but connection gh-main syncs acme/app');
  });

  it('polling reads changes oldest first, skips pull requests, and a quiet repository answers 304', async () => {
    const adapter = h.runtime.connections.get('gh-main')!.adapter();
    gh().createPullRequest(GITHUB.owner, GITHUB.repo, 'A pull request');
    let cursor: string | null = null;
    const seen: string[] = [];
    for await (const page of adapter.poll(null, {})) {
      seen.push(...page.issues.map((i) => i.id));
      cursor = page.cursor;
    }
    const numbers = gh()
      .issuesOf(repoKey)
      .filter((i) => !i.deleted && !i.pull_request)
      .map((i) => String(i.number));
    expect(new Set(seen)).toEqual(new Set(numbers));
    // Unchanged since: the second poll stores an ETag, the third is a 304.
    for await (const page of adapter.poll(cursor, {})) cursor = page.cursor;
    expect(JSON.parse(cursor!).etag).toBeTruthy();
    const before = h.sandbox.log.entries().length;
    for await (const page of adapter.poll(cursor, {})) expect(page.issues).toEqual([]);
    const polls = h.sandbox.log
      .entries()
      .slice(before)
      .filter((e) => e.tracker === 'github' && e.path === '/api/v3/repos/acme/app/issues');
    expect(polls.map((p) => p.status)).toEqual([304]);
    expect(polls[0]!.headers['if-none-match']).toBeTruthy();
  });
});

describe('GitHub Projects v2 connection', () => {
  const board = () => gh().projectOf(GITHUB.owner, GITHUB.projectNumber)!;
  const itemFor = (key: string) => {
    const issue = issuesFor(key)[0];
    return issue ? [...board().items.values()].find((i) => i.content === issue.node_id) : undefined;
  };

  it('puts the item’s issue on the board and its Status follows the item’s state by option name', async () => {
    await upsert('board/1', { title: 'On the board', state: 'doing', priority: 'P1' });
    await synced('board/1');
    const mapping = await synced('board/1', 'gh-board');
    const item = itemFor('board/1')!;
    expect(mapping.remote_id).toBe(item.id);
    expect(mapping.remote_key).toBe(`${repoKey}#${issuesFor('board/1')[0]!.number}`);
    expect(gh().itemValue(item, 'Status')).toBe('In Progress');
    expect(gh().itemValue(item, 'Priority')).toBe('P1');
    await upsert('board/1', { state: 'done' });
    await synced('board/1', 'gh-board', await version('board/1'));
    expect(gh().itemValue(itemFor('board/1')!, 'Status')).toBe('Done');
    expect(board().items.size).toBeGreaterThanOrEqual(1);
    expect([...board().items.values()].filter((i) => i.content === issuesFor('board/1')[0]!.node_id)).toHaveLength(1);
  });

  it('a state with no Status option is a clear, non-retried error on the delivery; the issue is still put on the board', async () => {
    await upsert('board/2', { title: 'No option', state: 'for_review' });
    await synced('board/2');
    const delivery = await waitFor(() =>
      h.sql`select attempts, last_error, attempt_log from deliveries where kind = 'reconcile' and item_key = 'board/2' and connection_id = 'gh-board' and status = 'failed'`.then(
        (r) => r[0],
      ),
    );
    // Refused on the attempt that met it, never tried again. (An attempt before it may have waited
    // for the item's GitHub issue, which the other connection creates: "not ready", retried.)
    const refusals = (delivery.attempt_log as { error?: string }[]).filter((a) => a.error?.includes('has no option'));
    expect(refusals).toHaveLength(1);
    expect(delivery.attempt_log.at(-1).error).toContain('has no option');
    expect(delivery.last_error).toContain(
      'project "Roadmap" has no option "for_review" in its "Status" field (it has: Todo, In Progress, Done)',
    );
    // The issue is on the board with what the board could take (no Status); the state is tried
    // again with the item's next change.
    expect(gh().itemValue(itemFor('board/2')!, 'Status')).toBeUndefined();
  });

  it('check() reports the token, the project and each state option', async () => {
    const lines = await h.runtime.connections.get('gh-board')!.adapter().check();
    expect(lines).toContainEqual({ ok: true, message: 'Connected to project "Roadmap" (#1 of acme)' });
    expect(lines).toContainEqual({ ok: true, message: 'State "doing" maps to Status "In Progress"' });
    const issues = await h.runtime.connections.get('gh-main')!.adapter().check();
    expect(issues).toContainEqual({ ok: true, message: `Authenticated to GitHub as ${GITHUB.login}` });
    expect(issues).toContainEqual({ ok: true, message: 'Connected to repository acme/app (private)' });
    expect(issues).toContainEqual({ ok: true, message: 'Label "in-progress" (state_map.doing) exists' });
  });
});

describe('every request the adapters made', () => {
  it('validates against GitHub’s OpenAPI description (GraphQL is not covered by it)', async () => {
    const requests = h.sandbox.log.entries({ tracker: 'github' });
    const kinds = new Set(requests.map((r) => `${r.method} ${r.path.replace(/\/\d+(?=\/|$)/g, '/{n}')}`));
    for (const expected of [
      'GET /api/v3/user',
      'GET /api/v3/repos/acme/app/labels',
      'GET /api/v3/repos/acme/app/milestones',
      'POST /api/v3/repos/acme/app/milestones',
      'POST /api/v3/repos/acme/app/issues',
      'PATCH /api/v3/repos/acme/app/issues/{n}',
      'GET /api/v3/repos/acme/app/issues/{n}',
      'GET /api/v3/repos/acme/app/issues',
      'GET /api/v3/repos/acme/app/assignees/alice',
      'GET /api/v3/repos/acme/app/issues/{n}/comments',
      'POST /api/v3/repos/acme/app/issues/{n}/comments',
      'GET /api/v3/search/issues',
      'POST /api/graphql',
    ]) {
      expect(kinds, expected).toContain(expected);
    }
    const validator = await loadSpecValidator('github');
    validator.assertAll(
      requests.map((r) => {
        const query = new URLSearchParams(r.query).toString();
        return { method: r.method, url: `${r.path}${query ? `?${query}` : ''}`, body: r.body ?? undefined, headers: r.headers };
      }),
      { allowNotCovered: true },
    );
    // Not a rubber stamp: a body GitHub would refuse fails it.
    const patch = requests.find((r) => r.method === 'PATCH')!;
    expect(validator.validate({ method: 'PATCH', url: patch.path, body: { state: 'done' } }).ok).toBe(false);
  });
});
