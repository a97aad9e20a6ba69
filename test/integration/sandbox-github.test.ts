import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createSandbox } from '../../sandbox/server.ts';
import { verifyGitHubSignature } from '../../src/trackers/github/webhook.ts';

const TOKEN = 'ghp_sandbox_test';
let sandbox: ReturnType<typeof createSandbox>;

beforeEach(() => {
  sandbox = createSandbox();
  sandbox.github.store.seedRepo({
    owner: 'acme',
    ownerType: 'Organization',
    repo: 'app',
    tokens: [{ token: TOKEN, login: 'bot' }],
    labels: ['bug'],
  });
  sandbox.github.store.seedProject({ owner: 'acme', number: 1, title: 'Roadmap' });
});

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
  sandbox.app.request(path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe('sandbox GitHub REST', () => {
  it('authenticates with Bearer or token; answers 401 otherwise; hides a repository the token cannot see', async () => {
    expect((await call('GET', '/api/v3/user')).status).toBe(200);
    expect((await call('GET', '/api/v3/user', undefined, { authorization: `token ${TOKEN}` })).status).toBe(200);
    const none = await sandbox.app.request('/api/v3/user');
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ message: 'Requires authentication' });
    const bad = await call('GET', '/api/v3/user', undefined, { authorization: 'Bearer nope' });
    expect(await bad.json()).toMatchObject({ message: 'Bad credentials' });
    sandbox.github.store.addToken('ghp_other', 'stranger', ['repo']);
    expect((await call('GET', '/api/v3/repos/acme/app', undefined, { authorization: 'Bearer ghp_other' })).status).toBe(404);
    // A classic token says its scopes.
    expect((await call('GET', '/api/v3/user')).headers.get('x-oauth-scopes')).toBe('repo, project');
  });

  it('creates and edits issues with GitHub’s rules: labels created on use, 422 for a bad assignee, 410 when deleted', async () => {
    const created = await call('POST', '/api/v3/repos/acme/app/issues', { title: 'T', body: 'B', labels: ['bug', 'new-one'] });
    expect(created.status).toBe(201);
    const issue = (await created.json()) as { number: number; labels: { name: string; color: string }[]; state: string };
    expect(issue.labels.map((l) => [l.name, l.color])).toEqual([
      ['bug', 'ededed'],
      ['new-one', 'ededed'],
    ]);
    const badAssignee = await call('PATCH', `/api/v3/repos/acme/app/issues/${issue.number}`, { assignees: ['nobody'] });
    expect(badAssignee.status).toBe(422);
    expect(await badAssignee.json()).toMatchObject({ message: 'Validation Failed', errors: [{ field: 'assignees', code: 'invalid' }] });
    const closed = (await (
      await call('PATCH', `/api/v3/repos/acme/app/issues/${issue.number}`, { state: 'closed', state_reason: 'not_planned' })
    ).json()) as { state: string; state_reason: string };
    expect(closed).toMatchObject({ state: 'closed', state_reason: 'not_planned' });
    expect((await call('POST', '/api/v3/repos/acme/app/issues', { body: 'no title' })).status).toBe(422);
    sandbox.github.store.deleteAsPerson('acme', 'app', issue.number);
    expect((await call('GET', `/api/v3/repos/acme/app/issues/${issue.number}`)).status).toBe(410);
  });

  it('pages with a link header, and a conditional request is a free 304', async () => {
    for (let i = 0; i < 5; i++) sandbox.github.store.createAsPerson('acme', 'app', { title: `#${i}` });
    const first = await call('GET', '/api/v3/repos/acme/app/issues?state=all&per_page=2');
    expect(((await first.json()) as unknown[]).length).toBe(2);
    expect(first.headers.get('link')).toMatch(/<http:\/\/[^>]+page=2[^>]*>; rel="next", <[^>]+page=3[^>]*>; rel="last"/);
    const used = Number(first.headers.get('x-ratelimit-used'));
    const etag = first.headers.get('etag')!;
    const again = await call('GET', '/api/v3/repos/acme/app/issues?state=all&per_page=2', undefined, { 'if-none-match': etag });
    expect(again.status).toBe(304);
    expect(Number(again.headers.get('x-ratelimit-used'))).toBe(used);
    expect(again.headers.get('x-ratelimit-resource')).toBe('core');
  });

  it('serves the primary limit’s 403 (or 429) with remaining 0 and its reset', async () => {
    sandbox.github.limits.configure({ core: { limit: 2, windowMs: 60_000 } });
    expect((await call('GET', '/api/v3/user')).headers.get('x-ratelimit-remaining')).toBe('1');
    expect((await call('GET', '/api/v3/user')).headers.get('x-ratelimit-remaining')).toBe('0');
    const refused = await call('GET', '/api/v3/user');
    expect(refused.status).toBe(403);
    expect(refused.headers.get('x-ratelimit-remaining')).toBe('0');
    expect(Number(refused.headers.get('x-ratelimit-reset'))).toBeGreaterThan(Date.now() / 1000);
    expect(await refused.json()).toMatchObject({ message: expect.stringContaining('API rate limit exceeded') });
    sandbox.github.limits.configure({ core: { limit: 1, windowMs: 60_000 }, primaryStatus: 429 });
    await call('GET', '/api/v3/user');
    expect((await call('GET', '/api/v3/user')).status).toBe(429);
  });

  it('serves the secondary limit with and without retry-after, and limits content creation per token', async () => {
    sandbox.github.limits.injectSecondary({ status: 403, retryAfter: 5 });
    const withWait = await call('GET', '/api/v3/user');
    expect(withWait.status).toBe(403);
    expect(withWait.headers.get('retry-after')).toBe('5');
    expect(await withWait.json()).toMatchObject({ message: expect.stringContaining('secondary rate limit') });
    sandbox.github.limits.injectSecondary({ status: 429 });
    const noWait = await call('GET', '/api/v3/user');
    expect(noWait.status).toBe(429);
    expect(noWait.headers.get('retry-after')).toBeNull();
    // A fault with retryAfter renders the same secondary form.
    sandbox.faults.inject({ tracker: 'github', status: 403, retryAfter: 3, times: 1 });
    expect(await (await call('GET', '/api/v3/user')).json()).toMatchObject({ message: expect.stringContaining('secondary rate limit') });
    sandbox.github.limits.configure({ secondary: { requests: 1, perMs: 60_000 } });
    expect((await call('POST', '/api/v3/repos/acme/app/issues', { title: 'a' })).status).toBe(201);
    const second = await call('POST', '/api/v3/repos/acme/app/issues', { title: 'b' });
    expect(second.status).toBe(403);
    expect(Number(second.headers.get('retry-after'))).toBeGreaterThan(0);
    // Reads are not content creation.
    expect((await call('GET', '/api/v3/repos/acme/app/issues')).status).toBe(200);
  });

  it('searches issue bodies by phrase under an owner', async () => {
    sandbox.github.store.createAsPerson('acme', 'app', { title: 'x', body: 'text <!-- trackline:item=a%2Fb -->' });
    sandbox.github.store.createAsPerson('acme', 'app', { title: 'y', body: 'other' });
    const res = (await (
      await call('GET', `/api/v3/search/issues?q=${encodeURIComponent('"trackline:item=a%2Fb" in:body is:issue org:acme')}`)
    ).json()) as { total_count: number; items: { title: string }[] };
    expect(res.total_count).toBe(1);
    expect(res.items[0]!.title).toBe('x');
  });
});

describe('sandbox GitHub GraphQL (Projects v2)', () => {
  const gql = async (query: string, variables: Record<string, unknown> = {}) =>
    (await call('POST', '/api/graphql', { query, variables })).json() as Promise<{
      data?: any;
      errors?: { type?: string; message: string }[];
    }>;

  it('looks up the project’s fields, adds an item idempotently and sets Status by option id', async () => {
    const issue = sandbox.github.store.createAsPerson('acme', 'app', { title: 'On board' });
    const { data } = await gql(
      `query($o: String!) { organization(login: $o) { projectV2(number: 1) { id field(name: "Status") { ... on ProjectV2SingleSelectField { id options { id name } } } } } }`,
      { o: 'acme' },
    );
    const project = data.organization.projectV2;
    expect(project.field.options.map((o: { name: string }) => o.name)).toEqual(['Todo', 'In Progress', 'Done']);
    const add = `mutation($p: ID!, $c: ID!) { addProjectV2ItemById(input: {projectId: $p, contentId: $c}) { item { id } } }`;
    const first = await gql(add, { p: project.id, c: issue.node_id });
    const second = await gql(add, { p: project.id, c: issue.node_id });
    expect(second.data.addProjectV2ItemById.item.id).toBe(first.data.addProjectV2ItemById.item.id);
    const itemId = first.data.addProjectV2ItemById.item.id;
    const done = project.field.options.find((o: { name: string }) => o.name === 'Done').id;
    const set = await gql(
      `mutation($p: ID!, $i: ID!, $f: ID!, $v: ProjectV2FieldValue!) { updateProjectV2ItemFieldValue(input: {projectId: $p, itemId: $i, fieldId: $f, value: $v}) { projectV2Item { id fieldValueByName(name: "Status") { ... on ProjectV2ItemFieldSingleSelectValue { name } } } } }`,
      { p: project.id, i: itemId, f: project.field.id, v: { singleSelectOptionId: done } },
    );
    expect(set.data.updateProjectV2ItemFieldValue.projectV2Item.fieldValueByName).toEqual({ name: 'Done' });
    const wrong = await gql(
      `mutation($p: ID!, $i: ID!, $f: ID!) { updateProjectV2ItemFieldValue(input: {projectId: $p, itemId: $i, fieldId: $f, value: {singleSelectOptionId: "nope"}}) { projectV2Item { id } } }`,
      { p: project.id, i: itemId, f: project.field.id },
    );
    expect(wrong.errors?.[0]?.message).toContain('option');
  });

  it('answers GitHub’s error shapes: unknown fields, missing nodes, missing scopes', async () => {
    expect((await gql('{ viewer { nope } }')).errors?.[0]?.message).toContain('Cannot query field "nope"');
    expect((await gql('{ node(id: "PVT_missing") { id } }')).errors?.[0]).toMatchObject({ type: 'NOT_FOUND' });
    sandbox.github.store.addToken('ghp_repo_only', 'bot', ['repo']);
    const res = await sandbox.app.request('/api/graphql', {
      method: 'POST',
      headers: { authorization: 'bearer ghp_repo_only', 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ organization(login: "acme") { projectV2(number: 1) { id } } }' }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { errors: { type: string }[] }).errors[0]).toMatchObject({ type: 'INSUFFICIENT_SCOPES' });
  });
});

describe('sandbox GitHub webhooks', () => {
  let received: { headers: IncomingMessage['headers']; body: string }[] = [];
  let server: ReturnType<typeof createServer>;
  let url = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('sends one signed delivery per action, with GitHub’s headers, in order', async () => {
    received = [];
    sandbox.github.webhooks.register('acme', 'app', { url, secret: 's3cret' });
    const issue = sandbox.github.store.createAsPerson('acme', 'app', { title: 'Hook me', labels: ['bug'] });
    sandbox.github.store.editAsPerson('acme', 'app', issue.number, { removeLabels: ['bug'], addLabels: ['docs'], title: 'Renamed' });
    sandbox.github.store.commentAsPerson('acme', 'app', issue.number, 'hello');
    await sandbox.github.webhooks.drain();
    const names = received.map((r) => `${r.headers['x-github-event']}.${JSON.parse(r.body).action}`);
    expect(names).toEqual(['issues.opened', 'issues.edited', 'issues.unlabeled', 'issues.labeled', 'issue_comment.created']);
    for (const r of received) {
      expect(r.headers['user-agent']).toMatch(/^GitHub-Hookshot\//);
      expect(r.headers['x-github-delivery']).toMatch(/^[0-9a-f-]{36}$/);
      expect(verifyGitHubSignature('s3cret', Buffer.from(r.body), r.headers['x-hub-signature-256'] as string)).toEqual({ ok: true });
    }
    const edited = JSON.parse(received[1]!.body);
    expect(edited.changes).toEqual({ title: { from: 'Hook me' } });
    // A redelivery keeps the delivery id (trackers.md 3.2).
    const firstId = sandbox.github.webhooks.deliveries[0]!.id;
    sandbox.github.webhooks.redeliver(firstId);
    await sandbox.github.webhooks.drain();
    expect(received.at(-1)!.headers['x-github-delivery']).toBe(firstId);
  });
});

describe('sandbox GitHub pull requests', () => {
  let received: { headers: IncomingMessage['headers']; body: string }[] = [];
  let server: ReturnType<typeof createServer>;
  let url = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('opens with GitHub’s rules: 422 for an unknown branch, no commits, or a second one from the same head', async () => {
    sandbox.github.pulls.pushBranch('acme', 'app', 'feature/a', 2);
    sandbox.github.pulls.pushBranch('acme', 'app', 'feature/empty', 0);
    const errorsOf = async (res: Response) =>
      ((await res.json()) as { errors: { message?: string; field?: string; code: string }[] }).errors[0];
    const unknown = await call('POST', '/api/v3/repos/acme/app/pulls', { title: 'T', head: 'feature/none', base: 'main' });
    expect(unknown.status).toBe(422);
    expect(await errorsOf(unknown)).toMatchObject({ field: 'head', code: 'invalid' });
    const empty = await call('POST', '/api/v3/repos/acme/app/pulls', { title: 'T', head: 'feature/empty', base: 'main' });
    expect(await errorsOf(empty)).toMatchObject({ code: 'custom', message: 'No commits between main and feature/empty' });
    const created = await call('POST', '/api/v3/repos/acme/app/pulls', { title: 'T', head: 'feature/a', base: 'main', draft: true });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({
      state: 'open',
      draft: true,
      head: { ref: 'feature/a', label: 'acme:feature/a' },
      base: { ref: 'main' },
      merged: false,
    });
    const again = await call('POST', '/api/v3/repos/acme/app/pulls', { title: 'T', head: 'acme:feature/a', base: 'main' });
    expect(await errorsOf(again)).toMatchObject({ code: 'custom', message: 'A pull request already exists for acme:feature/a.' });
    const listed = (await (await call('GET', '/api/v3/repos/acme/app/pulls?state=open&head=acme:feature/a')).json()) as unknown[];
    expect(listed).toHaveLength(1);
  });

  it('reviews, merges (405 while a draft) and closes the issue the body closes; each change a signed webhook', async () => {
    received = [];
    sandbox.github.webhooks.register('acme', 'app', { url, secret: 's3cret' });
    const issue = sandbox.github.store.createAsPerson('acme', 'app', { title: 'The work' });
    sandbox.github.pulls.pushBranch('acme', 'app', 'feature/b', 1);
    sandbox.github.store.seedRepo({ owner: 'acme', repo: 'app', collaborators: ['bob'] });
    const pr = (await (
      await call('POST', '/api/v3/repos/acme/app/pulls', {
        title: 'B',
        head: 'feature/b',
        base: 'main',
        body: `Closes #${issue.number}`,
        draft: true,
      })
    ).json()) as { number: number };
    const path = `/api/v3/repos/acme/app/pulls/${pr.number}`;
    expect((await call('POST', `${path}/requested_reviewers`, { reviewers: ['bot'] })).status).toBe(422); // the author
    expect((await call('POST', `${path}/requested_reviewers`, { reviewers: ['bob'] })).status).toBe(201);
    expect((await call('PUT', `${path}/merge`, {})).status).toBe(405);
    sandbox.github.pulls.setDraft('acme', 'app', pr.number, false, 'bot');
    sandbox.github.pulls.review('acme/app', pr.number, { event: 'REQUEST_CHANGES', body: 'Not yet' }, 'bob');
    sandbox.github.pulls.review('acme/app', pr.number, { event: 'APPROVE' }, 'bob');
    const reviews = (await (await call('GET', `${path}/reviews`)).json()) as { state: string; user: { login: string } }[];
    expect(reviews.map((r) => r.state)).toEqual(['CHANGES_REQUESTED', 'APPROVED']);
    expect(await (await call('PUT', `${path}/merge`, { merge_method: 'squash' })).json()).toMatchObject({ merged: true });
    expect(await (await call('GET', path)).json()).toMatchObject({ state: 'closed', merged: true, merged_by: { login: 'bot' } });
    expect(sandbox.github.store.issue('acme/app', issue.number)).toMatchObject({ state: 'closed', state_reason: 'completed' });
    await sandbox.github.webhooks.drain();
    const names = received.map((r) => `${r.headers['x-github-event']}.${JSON.parse(r.body).action}`);
    expect(names).toEqual([
      'issues.opened',
      'pull_request.opened',
      'pull_request.review_requested',
      'pull_request.ready_for_review',
      'pull_request_review.submitted',
      'pull_request_review.submitted',
      'pull_request.closed',
      'issues.closed',
    ]);
    for (const r of received)
      expect(verifyGitHubSignature('s3cret', Buffer.from(r.body), r.headers['x-hub-signature-256'] as string)).toEqual({ ok: true });
    const closed = JSON.parse(received[6]!.body);
    expect(closed).toMatchObject({ number: pr.number, pull_request: { merged: true, state: 'closed' } });
    expect(JSON.parse(received[5]!.body).review).toMatchObject({ state: 'approved', user: { login: 'bob' } });
  });
});
