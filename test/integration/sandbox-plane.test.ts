// The Plane part of the sandbox, exercised over real HTTP: every expectation here is a fact about
// Plane's wire format (docs trackers.md §2) or about the sandbox's test controls.
import { afterEach, describe, expect, it } from 'vitest';
import { createSandbox, type ListeningSandbox, type Sandbox, type SandboxOptions } from '../../sandbox/server.ts';
import type { PlaneChangeEvent, SeededProject } from '../../sandbox/plane/model.ts';

const KEY = 'plane_api_sandbox_test';
const OTHER_KEY = 'plane_api_other_project';

interface Ctx {
  sb: Sandbox;
  srv: ListeningSandbox;
  project: SeededProject;
  other: SeededProject;
  base: string;
  /** Request with the API key; JSON body when given. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Response>;
}

let current: Ctx | undefined;
afterEach(async () => {
  await current?.srv.close();
  current = undefined;
});

async function start(options: SandboxOptions = {}): Promise<Ctx> {
  const sb = createSandbox(options);
  const project = sb.plane.seedProject({ workspace: 'acme', identifier: 'ET', name: 'Example Team', apiKeys: [KEY], labels: ['backend'] });
  const other = sb.plane.seedProject({ workspace: 'acme', identifier: 'OT', apiKeys: [OTHER_KEY], labels: ['foreign'] });
  const srv = await sb.listen(0);
  const base = `/api/v1/workspaces/acme/projects/${project.projectId}`;
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) =>
    fetch(`${srv.url}${path}`, {
      method,
      headers: { 'X-API-Key': KEY, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
      redirect: 'manual',
    });
  current = { sb, srv, project, other, base, call };
  return current;
}

/**
 * A Plane timestamp in microseconds. Compared as numbers, not strings: like Python's isoformat,
 * the sandbox leaves out a zero fraction ("…:45Z"), which sorts after "…:45.000001Z" as text.
 */
function micros(timestamp: string): number {
  const fraction = /\.(\d+)Z$/.exec(timestamp)?.[1] ?? '';
  return Date.parse(timestamp) * 1000 + Number(fraction.padEnd(6, '0').slice(3));
}

async function json<T = Record<string, any>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

const PAGE_KEYS = [
  'grouped_by',
  'sub_grouped_by',
  'total_count',
  'next_cursor',
  'prev_cursor',
  'next_page_results',
  'prev_page_results',
  'count',
  'total_pages',
  'total_results',
  'extra_stats',
  'results',
].sort();

describe('auth (trackers.md §2.1)', () => {
  it('answers 401 without a key and 403 with a wrong one, in DRF shapes', async () => {
    const { srv, base } = await start();
    const missing = await fetch(`${srv.url}${base}/work-items/`);
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ detail: 'Authentication credentials were not provided.' });

    const wrong = await fetch(`${srv.url}${base}/work-items/`, { headers: { 'X-API-Key': 'plane_api_nope' } });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toEqual({ detail: 'Given API token is not valid' });
  });

  it('reads the key header case-insensitively', async () => {
    const { srv, base } = await start();
    const res = await fetch(`${srv.url}${base}/work-items/`, { headers: { 'x-api-key': KEY } });
    expect(res.status).toBe(200);
    const upper = await fetch(`${srv.url}${base}/work-items/`, { headers: { 'X-API-KEY': KEY } });
    expect(upper.status).toBe(200);
  });

  it('refuses a valid key on a project its user is not a member of (403, not 404)', async () => {
    const { call, other } = await start();
    const res = await call('GET', `/api/v1/workspaces/acme/projects/${other.projectId}/work-items/`);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ detail: 'You do not have permission to perform this action.' });
  });
});

describe('work items', () => {
  it('creates (201), reads by id, by identifier on both route names, and by external pair', async () => {
    const { call, base, project } = await start();
    const res = await call('POST', `${base}/work-items/`, {
      name: 'WP01: Models',
      description_html: '<p>Build <strong>it</strong></p>',
      priority: 'high',
      state: project.states['In Progress'],
      labels: [project.labels.backend],
      external_id: 'user-auth/WP01',
      external_source: 'trackline',
    });
    expect(res.status).toBe(201);
    const created = await json(res);
    expect(created).toMatchObject({
      name: 'WP01: Models',
      description_html: '<p>Build <strong>it</strong></p>',
      priority: 'high',
      state: project.states['In Progress'],
      labels: [project.labels.backend],
      assignees: [],
      sequence_id: 1,
      project: project.projectId,
      workspace: project.workspaceId,
      external_id: 'user-auth/WP01',
      external_source: 'trackline',
      parent: null,
      deleted_at: null,
    });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    // DRF renders datetimes with microseconds and a Z.
    expect(created.updated_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$/);
    // IssueSerializer excludes description_stripped.
    expect(created).not.toHaveProperty('description_stripped');

    const byId = await call('GET', `${base}/work-items/${created.id}/`);
    expect(byId.status).toBe(200);
    expect((await json(byId)).name).toBe('WP01: Models');

    for (const col of ['work-items', 'issues']) {
      const byRef = await call('GET', `/api/v1/workspaces/acme/${col}/ET-1/`);
      expect(byRef.status).toBe(200);
      expect((await json(byRef)).id).toBe(created.id);
    }
    const missingRef = await call('GET', '/api/v1/workspaces/acme/work-items/ET-99/');
    expect(missingRef.status).toBe(404);
    expect(await missingRef.json()).toEqual({ error: 'The requested resource does not exist.' });

    // The external pair returns the object itself, not a page.
    const byExt = await call('GET', `${base}/work-items/?external_id=user-auth%2FWP01&external_source=trackline`);
    expect(byExt.status).toBe(200);
    const found = await json(byExt);
    expect(found.id).toBe(created.id);
    expect(found).not.toHaveProperty('results');
    const noExt = await call('GET', `${base}/work-items/?external_id=nope&external_source=trackline`);
    expect(noExt.status).toBe(404);
    expect(await noExt.json()).toEqual({ error: 'The requested resource does not exist.' });

    // The old issues/ routes are the same views.
    const viaIssues = await call('GET', `${base}/issues/${created.id}/`);
    expect((await json(viaIssues)).id).toBe(created.id);
  });

  it('answers 409 with the existing id on a duplicate external pair, and creates nothing', async () => {
    const { sb, call, base, project } = await start();
    const first = await json(await call('POST', `${base}/work-items/`, { name: 'A', external_id: 'k/1', external_source: 'trackline' }));
    const dup = await call('POST', `${base}/work-items/`, { name: 'A again', external_id: 'k/1', external_source: 'trackline' });
    expect(dup.status).toBe(409);
    expect(await dup.json()).toEqual({ error: 'Issue with the same external id and external source already exists', id: first.id });
    expect(sb.plane.issuesOf(project.projectId)).toHaveLength(1);
    // Same id, other source: a different pair.
    const otherSource = await call('POST', `${base}/work-items/`, { name: 'B', external_id: 'k/1', external_source: 'github' });
    expect(otherSource.status).toBe(201);
  });

  it('validates like Plane: missing name, unknown state, foreign labels dropped, bad priority', async () => {
    const { call, base, project, other } = await start();
    const noName = await call('POST', `${base}/work-items/`, { priority: 'low' });
    expect(noName.status).toBe(400);
    expect(await noName.json()).toEqual({ name: ['This field is required.'] });

    const ghost = crypto.randomUUID();
    const badState = await call('POST', `${base}/work-items/`, { name: 'x', state: ghost });
    expect(badState.status).toBe(400);
    expect(await badState.json()).toEqual({ state: [`Invalid pk "${ghost}" - object does not exist.`] });

    const foreignState = await call('POST', `${base}/work-items/`, { name: 'x', state: other.defaultStateId });
    expect(foreignState.status).toBe(400);
    expect(await foreignState.json()).toEqual({ non_field_errors: ['State is not valid please pass a valid state_id'] });

    const ghostLabel = await call('POST', `${base}/work-items/`, { name: 'x', labels: [project.labels.backend, ghost] });
    expect(ghostLabel.status).toBe(400);
    expect(await ghostLabel.json()).toEqual({ labels: { '1': [`Invalid pk "${ghost}" - object does not exist.`] } });

    const foreignLabel = await call('POST', `${base}/work-items/`, { name: 'x', labels: [project.labels.backend, other.labels.foreign] });
    expect(foreignLabel.status).toBe(201);
    expect((await json(foreignLabel)).labels).toEqual([project.labels.backend]);

    const badPriority = await call('POST', `${base}/work-items/`, { name: 'x', priority: 'critical' });
    expect(badPriority.status).toBe(400);
    expect(await badPriority.json()).toEqual({ priority: ['"critical" is not a valid choice.'] });
  });

  it('uses the default state and Plane HTML normalisation', async () => {
    const { call, base, project } = await start();
    const plain = await json(await call('POST', `${base}/work-items/`, { name: 'x', description_html: 'just text' }));
    expect(plain.state).toBe(project.states.Backlog);
    expect(plain.description_html).toBe('<p>just text</p>');
    const two = await json(await call('POST', `${base}/work-items/`, { name: 'y', description_html: '<p>a</p><p>b</p>' }));
    expect(two.description_html).toBe('<div><p>a</p><p>b</p></div>');
  });

  it('PATCH changes the state and moves updated_at; every write does', async () => {
    const { call, base, project } = await start();
    const created = await json(await call('POST', `${base}/work-items/`, { name: 'x' }));
    const patched = await call('PATCH', `${base}/work-items/${created.id}/`, { state: project.states.Done });
    expect(patched.status).toBe(200);
    const body = await json(patched);
    expect(body.state).toBe(project.states.Done);
    expect(micros(body.updated_at)).toBeGreaterThan(micros(created.updated_at));
    expect(body.completed_at).not.toBeNull();
    // A PATCH that changes nothing still bumps updated_at.
    const again = await json(await call('PATCH', `${base}/work-items/${created.id}/`, { state: project.states.Done }));
    expect(micros(again.updated_at)).toBeGreaterThan(micros(body.updated_at));
    const read = await json(await call('GET', `${base}/work-items/${created.id}/`));
    expect(read.updated_at).toBe(again.updated_at);
  });

  it('with activityBump, updated_at moves again after the write, as the issue_activity task in Plane does', async () => {
    const { call, base } = await start({ plane: { activityBump: 'sync' } });
    const created = await json(await call('POST', `${base}/work-items/`, { name: 'x' }));
    const read = await json(await call('GET', `${base}/work-items/${created.id}/`));
    expect(micros(read.updated_at)).toBeGreaterThan(micros(created.updated_at));
    const patched = await json(await call('PATCH', `${base}/work-items/${created.id}/`, { name: 'y' }));
    expect(micros(patched.updated_at)).toBeGreaterThan(micros(read.updated_at));
    const reread = await json(await call('GET', `${base}/work-items/${created.id}/`));
    expect(micros(reread.updated_at)).toBeGreaterThan(micros(patched.updated_at));
  });

  it('has no PUT (405), 404s unknown ids in Plane shape, deletes with 204', async () => {
    const { call, base } = await start();
    const created = await json(await call('POST', `${base}/work-items/`, { name: 'x' }));
    const put = await call('PUT', `${base}/work-items/${created.id}/`, { name: 'y' });
    expect(put.status).toBe(405);
    expect(await put.json()).toEqual({ detail: 'Method "PUT" not allowed.' });
    expect(put.headers.get('allow')).toBe('GET, PATCH, DELETE');

    const missing = await call('GET', `${base}/work-items/${crypto.randomUUID()}/`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'The requested resource does not exist.' });

    const del = await call('DELETE', `${base}/work-items/${created.id}/`);
    expect(del.status).toBe(204);
    expect((await call('GET', `${base}/work-items/${created.id}/`)).status).toBe(404);
  });

  it('redirects a path without its trailing slash (Django APPEND_SLASH) and 404s unknown URLs as HTML', async () => {
    const { call, base } = await start();
    const res = await call('GET', `${base}/work-items?per_page=5`);
    expect(res.status).toBe(301);
    expect(res.headers.get('location')).toBe(`${base}/work-items/?per_page=5`);
    const nowhere = await call('GET', `${base}/nowhere/`);
    expect(nowhere.status).toBe(404);
    expect(nowhere.headers.get('content-type')).toContain('text/html');
    expect(await nowhere.text()).toContain('<h1>Not Found</h1>');
  });

  it('answers 415 to a body without a JSON content type, as DRF does', async () => {
    const { srv, base } = await start();
    const res = await fetch(`${srv.url}${base}/work-items/`, {
      method: 'POST',
      headers: { 'X-API-Key': KEY },
      body: JSON.stringify({ name: 'x' }),
    });
    expect(res.status).toBe(415);
    expect(await res.json()).toEqual({ detail: 'Unsupported media type "text/plain;charset=UTF-8" in request.' });
  });
});

describe('pagination (trackers.md §2.3)', () => {
  it('pages with Plane cursors until next_page_results is false', async () => {
    const { call, base } = await start();
    for (let i = 1; i <= 5; i++) await call('POST', `${base}/work-items/`, { name: `issue ${i}` });

    const first = await json(await call('GET', `${base}/work-items/?per_page=2`));
    expect(Object.keys(first).sort()).toEqual(PAGE_KEYS);
    expect(first).toMatchObject({
      grouped_by: null,
      sub_grouped_by: null,
      total_count: 5,
      next_cursor: '2:1:0',
      prev_cursor: '2:-1:1',
      next_page_results: true,
      prev_page_results: false,
      count: 2,
      total_pages: 3,
      total_results: 5,
      extra_stats: null,
    });
    const names: string[] = first.results.map((r: { name: string }) => r.name);
    let cursor: string = first.next_cursor;
    let more: boolean = first.next_page_results;
    const counts = [first.count];
    while (more) {
      const page = await json(await call('GET', `${base}/work-items/?per_page=2&cursor=${cursor}`));
      names.push(...page.results.map((r: { name: string }) => r.name));
      counts.push(page.count);
      expect(page.prev_page_results).toBe(true);
      cursor = page.next_cursor;
      more = page.next_page_results;
    }
    expect(counts).toEqual([2, 2, 1]);
    // Default order is -created_at.
    expect(names).toEqual(['issue 5', 'issue 4', 'issue 3', 'issue 2', 'issue 1']);
  });

  it('rejects per_page over 100 and malformed cursors', async () => {
    const { call, base } = await start();
    const big = await call('GET', `${base}/work-items/?per_page=101`);
    expect(big.status).toBe(400);
    expect(await big.json()).toEqual({ detail: 'Invalid per_page value. Cannot exceed 100.' });
    const badCursor = await call('GET', `${base}/work-items/?cursor=abc`);
    expect(badCursor.status).toBe(400);
    expect(await badCursor.json()).toEqual({ detail: 'Invalid cursor parameter.' });
  });

  it('order_by=-updated_at puts the most recently written item first', async () => {
    const { call, base } = await start();
    const ids: string[] = [];
    for (const name of ['a', 'b', 'c']) ids.push((await json(await call('POST', `${base}/work-items/`, { name }))).id);
    await call('PATCH', `${base}/work-items/${ids[0]}/`, { name: 'a2' });
    const page = await json(await call('GET', `${base}/work-items/?order_by=-updated_at`));
    expect(page.results.map((r: { name: string }) => r.name)).toEqual(['a2', 'c', 'b']);
    const asc = await json(await call('GET', `${base}/work-items/?order_by=updated_at`));
    expect(asc.results.map((r: { name: string }) => r.name)).toEqual(['b', 'c', 'a2']);
  });

  it('expands labels and assignees on request', async () => {
    const { call, base, project } = await start();
    const alex = project.members['alex@example.com']!;
    await call('POST', `${base}/work-items/`, { name: 'x', labels: [project.labels.backend], assignees: [alex] });
    const plain = await json(await call('GET', `${base}/work-items/`));
    expect(plain.results[0].labels).toEqual([project.labels.backend]);
    expect(plain.results[0].assignees).toEqual([alex]);
    const expanded = await json(await call('GET', `${base}/work-items/?expand=labels,assignees`));
    expect(expanded.results[0].labels[0]).toMatchObject({ id: project.labels.backend, name: 'backend' });
    expect(expanded.results[0].assignees[0]).toMatchObject({ id: alex, display_name: 'alex', email: 'alex@example.com' });
  });
});

describe('states, labels, members', () => {
  it('lists Plane default states and creates one (200)', async () => {
    const { call, base } = await start();
    const page = await json(await call('GET', `${base}/states/`));
    expect(page.results.map((s: { name: string; group: string }) => `${s.name}/${s.group}`)).toEqual([
      'Backlog/backlog',
      'Todo/unstarted',
      'In Progress/started',
      'In Review/started',
      'Done/completed',
      'Cancelled/cancelled',
    ]);
    const res = await call('POST', `${base}/states/`, { name: 'Blocked', color: '#ff0000', group: 'started' });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ name: 'Blocked', group: 'started', color: '#ff0000' });
    const missingColor = await call('POST', `${base}/states/`, { name: 'No colour' });
    expect(missingColor.status).toBe(400);
    expect(await missingColor.json()).toEqual({ color: ['This field is required.'] });
  });

  it('creates labels (201), refuses a duplicate name (409) and uses the new label on an issue', async () => {
    const { call, base } = await start();
    const res = await call('POST', `${base}/labels/`, { name: 'db', color: '#00ff00' });
    expect(res.status).toBe(201);
    const label = await json(res);
    expect(label).toMatchObject({ name: 'db', color: '#00ff00' });
    const dup = await call('POST', `${base}/labels/`, { name: 'db' });
    expect(dup.status).toBe(409);
    expect(await dup.json()).toEqual({ error: 'Label with the same name already exists in the project', id: label.id });
    const list = await json(await call('GET', `${base}/labels/`));
    expect(list.results.map((l: { name: string }) => l.name).sort()).toEqual(['backend', 'db']);
    const issue = await json(await call('POST', `${base}/work-items/`, { name: 'x', labels: [label.id] }));
    expect(issue.labels).toEqual([label.id]);
  });

  it('lists members as a bare array of UserLite', async () => {
    const { call, base, project } = await start();
    const members = await json<Record<string, unknown>[]>(await call('GET', `${base}/members/`));
    expect(Array.isArray(members)).toBe(true);
    const alex = members.find((m) => m.id === project.members['alex@example.com']);
    expect(alex).toEqual({
      id: expect.any(String),
      first_name: 'Alex',
      last_name: 'Rivera',
      email: 'alex@example.com',
      avatar: '',
      avatar_url: '',
      display_name: 'alex',
    });
  });
});

describe('comments', () => {
  it('creates (201), 409s a duplicate external pair, lists newest first', async () => {
    const { call, base } = await start();
    const issue = await json(await call('POST', `${base}/work-items/`, { name: 'x' }));
    const path = `${base}/work-items/${issue.id}/comments/`;
    const res = await call('POST', path, { comment_html: '<p>first</p>', external_id: 'c/1', external_source: 'trackline' });
    expect(res.status).toBe(201);
    const comment = await json(res);
    expect(comment).toMatchObject({
      comment_html: '<p>first</p>',
      issue: issue.id,
      external_id: 'c/1',
      external_source: 'trackline',
      access: 'INTERNAL',
    });
    const dup = await call('POST', path, { comment_html: '<p>again</p>', external_id: 'c/1', external_source: 'trackline' });
    expect(dup.status).toBe(409);
    expect(await dup.json()).toEqual({
      error: 'Work item comment with the same external id and external source already exists',
      id: comment.id,
    });
    await call('POST', path, { comment_html: '<p>second</p>' });
    const list = await json(await call('GET', path));
    expect(list.results.map((c: { comment_html: string }) => c.comment_html)).toEqual(['<p>second</p>', '<p>first</p>']);
  });
});

describe('rate limit (trackers.md §2.4)', () => {
  it('counts down X-RateLimit-Remaining, then 429s with Retry-After, the exact body and no X-RateLimit-*', async () => {
    const { sb, call, base } = await start({ rateLimit: { requests: 3, perMs: 60_000 } });
    const remaining: (string | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const before = Math.floor(Date.now() / 1000);
      const res = await call('GET', `${base}/work-items/`);
      expect(res.status).toBe(200);
      remaining.push(res.headers.get('x-ratelimit-remaining'));
      const reset = Number(res.headers.get('x-ratelimit-reset'));
      expect(reset).toBeGreaterThanOrEqual(before + 60);
      expect(reset).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 60);
    }
    expect(remaining).toEqual(['2', '1', '0']);

    const limited = await call('GET', `${base}/work-items/`);
    expect(limited.status).toBe(429);
    expect(await limited.text()).toBe('{"error_code":5900,"error_message":"RATE_LIMIT_EXCEEDED"}');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThan(55);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(limited.headers.get('x-ratelimit-remaining')).toBeNull();
    expect(limited.headers.get('x-ratelimit-reset')).toBeNull();
    expect(sb.rateLimit.served429).toBe(1);
    expect(sb.rateLimit.served429For('plane')).toBe(1);

    // Another key has its own window.
    const otherKey = await fetch(`${current!.srv.url}/api/v1/workspaces/acme/projects/${current!.other.projectId}/work-items/`, {
      headers: { 'X-API-Key': OTHER_KEY },
    });
    expect(otherKey.status).toBe(200);
    // A bad key is refused by auth before the throttle sees it.
    const bad = await fetch(`${current!.srv.url}${base}/work-items/`, { headers: { 'X-API-Key': 'nope' } });
    expect(bad.status).toBe(403);
  });

  it('slides: a slot frees up once the oldest request leaves the window', async () => {
    const { call, base } = await start({ rateLimit: { requests: 2, perMs: 600 } });
    expect((await call('GET', `${base}/work-items/`)).status).toBe(200);
    expect((await call('GET', `${base}/work-items/`)).status).toBe(200);
    const limited = await call('GET', `${base}/work-items/`);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    await new Promise((r) => setTimeout(r, 650));
    expect((await call('GET', `${base}/work-items/`)).status).toBe(200);
  });

  it('is off by default and can be switched through the control route', async () => {
    const { srv, call, base } = await start();
    const res = await call('GET', `${base}/work-items/`);
    expect(res.headers.get('x-ratelimit-remaining')).toBeNull();
    const put = await fetch(`${srv.url}/_sandbox/rate-limit`, { method: 'PUT', body: JSON.stringify({ requests: 1, perMs: 60_000 }) });
    expect(put.status).toBe(200);
    expect((await call('GET', `${base}/work-items/`)).headers.get('x-ratelimit-remaining')).toBe('0');
    expect((await call('GET', `${base}/work-items/`)).status).toBe(429);
    await fetch(`${srv.url}/_sandbox/rate-limit`, { method: 'PUT', body: JSON.stringify({ disabled: true }) });
    expect((await call('GET', `${base}/work-items/`)).status).toBe(200);
  });
});

describe('faults', () => {
  it('three 500s then success; the faulted requests never reach Plane', async () => {
    const { sb, call, base, project } = await start();
    sb.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', status: 500, times: 3 });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const res = await call('POST', `${base}/work-items/`, { name: 'flaky', external_id: 'f/1', external_source: 'trackline' });
      statuses.push(res.status);
      if (res.status === 500) expect(await res.json()).toEqual({ error: 'Something went wrong please try again later' });
    }
    expect(statuses).toEqual([500, 500, 500, 201]);
    expect(sb.plane.issuesOf(project.projectId)).toHaveLength(1);
    // GETs were never matched by the POST fault.
    expect((await call('GET', `${base}/work-items/`)).status).toBe(200);
    expect(sb.faults.pending()).toEqual([]);
    expect(sb.faults.served).toBe(3);
  });

  it('a 429 with Retry-After: 2 in Plane shape, injected through the control route', async () => {
    const { sb, srv, call, base } = await start();
    const inject = await fetch(`${srv.url}/_sandbox/faults`, {
      method: 'POST',
      body: JSON.stringify({ tracker: 'plane', method: 'GET', status: 429, retryAfter: 2, times: 1 }),
    });
    expect(inject.status).toBe(201);
    const res = await call('GET', `${base}/work-items/`);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('2');
    expect(await res.text()).toBe('{"error_code":5900,"error_message":"RATE_LIMIT_EXCEEDED"}');
    expect((await call('GET', `${base}/work-items/`)).status).toBe(200);
    // The limiter's counter is for 429s it decided itself.
    expect(sb.rateLimit.served429).toBe(0);
    const bad = await fetch(`${srv.url}/_sandbox/faults`, { method: 'POST', body: JSON.stringify({ tracker: 'plane', times: 1 }) });
    expect(bad.status).toBe(400);
  });

  it('a timeout hangs, then answers 504 from the proxy', async () => {
    const { sb, call, base } = await start();
    sb.faults.inject({ tracker: 'plane', timeoutMs: 300, times: 1 });
    const started = Date.now();
    const res = await call('GET', `${base}/work-items/`);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(res.status).toBe(504);
    expect(await res.text()).toContain('504 Gateway Time-out');
  });

  it('a long timeout ends when the client gives up, and the log says nothing was sent', async () => {
    const { sb, base } = await start();
    sb.faults.inject({ tracker: 'plane', timeoutMs: 60_000, times: 1 });
    const started = Date.now();
    const aborted = fetch(`${current!.srv.url}${base}/work-items/`, { headers: { 'X-API-Key': KEY }, signal: AbortSignal.timeout(200) });
    await expect(aborted).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5_000);
    await new Promise((r) => setTimeout(r, 50));
    expect(sb.log.entries().map((e) => e.status)).toEqual([0]);
  });

  it('a reset drops the connection without an answer; the next request works', async () => {
    const { sb, call, base } = await start();
    sb.faults.inject({ tracker: 'plane', method: 'POST', reset: true, times: 1 });
    const failure = await call('POST', `${base}/work-items/`, { name: 'x' }).then(
      () => null,
      (e: Error & { cause?: { code?: string } }) => e,
    );
    expect(failure).toBeInstanceOf(TypeError);
    expect(failure?.cause?.code).toMatch(/ECONNRESET|UND_ERR_SOCKET/);
    expect(sb.log.entries({ method: 'POST' }).map((e) => e.status)).toEqual([0]);
    expect((await call('POST', `${base}/work-items/`, { name: 'x' })).status).toBe(201);
  });

  it('delayAfterMs: Plane commits the write but the client never hears back', async () => {
    const { sb, srv, base, project } = await start();
    sb.faults.inject({ tracker: 'plane', method: 'POST', delayAfterMs: 30_000, times: 1 });
    const res = fetch(`${srv.url}${base}/work-items/`, {
      method: 'POST',
      headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json' },
      body: JSON.stringify({ name: 'held', external_id: 'h/1', external_source: 'trackline' }),
      signal: AbortSignal.timeout(300),
    });
    await expect(res).rejects.toThrow();
    expect(sb.plane.issuesOf(project.projectId).map((i) => i.external_id)).toEqual(['h/1']);
    await new Promise((r) => setTimeout(r, 50));
    expect(sb.log.entries({ method: 'POST' }).map((e) => e.status)).toEqual([0]);
  });
});

describe('request log', () => {
  it('records requests with redacted credentials, parsed bodies and statuses; writes() are non-GET', async () => {
    const { sb, srv, call, base } = await start();
    await call('POST', `${base}/work-items/`, { name: 'logged' }, { Authorization: 'Bearer secret-token' });
    await call('GET', `${base}/work-items/?per_page=10&order_by=-updated_at`);
    await fetch(`${srv.url}/_sandbox/requests`); // control routes are not logged

    const all = sb.log.entries();
    expect(all).toHaveLength(2);
    const [post, get] = all;
    expect(post).toMatchObject({
      tracker: 'plane',
      method: 'POST',
      path: `${base}/work-items/`,
      body: { name: 'logged' },
      status: 201,
      query: {},
    });
    expect(post!.headers['x-api-key']).toBe('[redacted]');
    expect(post!.headers.authorization).toBe('[redacted]');
    expect(post!.headers['content-type']).toBe('application/json');
    expect(JSON.stringify(all)).not.toContain(KEY);
    expect(JSON.stringify(all)).not.toContain('secret-token');
    expect(get).toMatchObject({ method: 'GET', query: { per_page: '10', order_by: '-updated_at' }, body: null, status: 200 });
    expect(Number.isNaN(Date.parse(get!.at))).toBe(false);

    expect(sb.log.writes().map((w) => w.method)).toEqual(['POST']);
    const viaHttp = await json<unknown[]>(await fetch(`${srv.url}/_sandbox/requests?method=GET`));
    expect(viaHttp).toHaveLength(1);
    expect((await fetch(`${srv.url}/_sandbox/requests`, { method: 'DELETE' })).status).toBe(204);
    expect(sb.log.entries()).toEqual([]);
  });
});

describe('store events and person edits', () => {
  it('emits created/updated events with the changed fields and who made them', async () => {
    const { sb, srv, call, base, project } = await start();
    const events: PlaneChangeEvent[] = [];
    sb.plane.onChange((e) => events.push(e));
    const created = await json(await call('POST', `${base}/work-items/`, { name: 'x', priority: 'low' }));
    await call('PATCH', `${base}/work-items/${created.id}/`, { name: 'x', priority: 'high' });
    const edit = await fetch(`${srv.url}/_sandbox/plane/issues/${created.id}/edit`, {
      method: 'POST',
      body: JSON.stringify({ state: project.states.Done }),
    });
    expect(edit.status).toBe(200);
    expect((await json(edit)).state).toBe(project.states.Done);

    expect(events.map((e) => `${e.entity}:${e.action}:${e.actorKind}`)).toEqual([
      'issue:created:api',
      'issue:updated:api',
      'issue:updated:person',
    ]);
    expect(events[0]!.actor).toBe(project.apiUsers[KEY]);
    // Only the field whose value differed counts (Plane fires one webhook per changed field).
    expect(events[1]!.fieldsChanged).toEqual(['priority']);
    expect(events[1]!.changes).toEqual([{ field: 'priority', oldValue: 'low', newValue: 'high' }]);
    expect(events[2]!.actor).toBe(project.members['alex@example.com']);
    expect(events[2]!.fieldsChanged).toEqual(['state']);

    const listed = await json<{ id: string; state: string }[]>(await fetch(`${srv.url}/_sandbox/plane/issues`));
    expect(listed).toEqual([expect.objectContaining({ id: created.id, state: project.states.Done })]);

    const invalid = sb.plane.editAsPerson.bind(sb.plane, created.id, { state: crypto.randomUUID() });
    expect(invalid).toThrow(/Invalid pk/);
  });
});
