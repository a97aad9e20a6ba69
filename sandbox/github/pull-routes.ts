// GitHub's REST "Pulls" routes for the sandbox (create, list, get, update, requested reviewers,
// reviews, merge), behind the same gate as the issue routes (auth, limits, ETags), and control
// routes under /_sandbox/github/ to act as a person: push a branch, open, review, mark ready or
// draft, merge.

import type { Hono } from 'hono';
import type { C, GhEnv, RestHelpers } from './rest-env.ts';
import type { Urls } from './json.ts';
import { GitHubApiError, type GitHubStore, notFound, repoKey } from './store.ts';
import type { GitHubPulls } from './pulls.ts';

export function registerPullRoutes(rest: RestHelpers, store: GitHubStore, pulls: GitHubPulls): void {
  const { on, bodyOf, repoOf, urls, viewer } = rest;
  const keyOf = (c: C) => {
    const repo = repoOf(c);
    return repoKey(repo.owner, repo.name);
  };
  const numberOf = (c: C) => Number(c.req.param('number'));
  const found = (key: string, n: number) => {
    const f = pulls.pull(key, n);
    if (!f) throw notFound();
    return f;
  };

  on('GET', '/repos/:owner/:repo/pulls', (c) => {
    const key = keyOf(c);
    const repo = store.repos.get(key)!;
    const q = (n: string) => c.req.query(n);
    const state = q('state') ?? 'open';
    if (!['open', 'closed', 'all'].includes(state)) throw invalidParam('state', state);
    const sort = q('sort') ?? 'created';
    if (!['created', 'updated', 'popularity', 'long-running'].includes(sort)) throw invalidParam('sort', sort);
    // "Default: desc when sort is created or sort is not specified, otherwise asc."
    const direction = q('direction') ?? (sort === 'created' ? 'desc' : 'asc');
    if (!['asc', 'desc'].includes(direction)) throw invalidParam('direction', direction);
    const head = q('head');
    const base = q('base');
    let list = pulls.pullsOf(key);
    if (state !== 'all') list = list.filter((p) => p.issue.state === state);
    if (head) {
      const [owner, ref] = head.includes(':') ? head.split(/:(.*)/s) : [repo.owner, head];
      list = owner!.toLowerCase() === repo.owner.toLowerCase() ? list.filter((p) => p.pull.head === ref) : [];
    }
    if (base) list = list.filter((p) => p.pull.base === base);
    const sortKey = (p: (typeof list)[number]) => (sort === 'updated' ? p.issue.updated_at : p.issue.created_at);
    list.sort(
      (a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : a.issue.id - b.issue.id) * (direction === 'asc' ? 1 : -1),
    );
    return rest.paginate(c, list, (p) => pulls.json(p.issue, p.pull, urls(c), false));
  });
  on('POST', '/repos/:owner/:repo/pulls', (c) => {
    const created = pulls.create(keyOf(c), bodyOf(c), viewer(c));
    return c.json(pulls.json(created.issue, created.pull, urls(c), true), 201);
  });
  on('GET', '/repos/:owner/:repo/pulls/:number', (c) => {
    const f = found(keyOf(c), numberOf(c));
    return c.json(pulls.json(f.issue, f.pull, urls(c), true));
  });
  on('PATCH', '/repos/:owner/:repo/pulls/:number', (c) => {
    const key = keyOf(c);
    found(key, numberOf(c));
    const issue = pulls.update(key, numberOf(c), bodyOf(c), viewer(c));
    return c.json(pulls.json(issue, pulls.pull(key, issue.number)!.pull, urls(c), true));
  });
  on('GET', '/repos/:owner/:repo/pulls/:number/requested_reviewers', (c) => {
    const f = found(keyOf(c), numberOf(c));
    const json = pulls.json(f.issue, f.pull, urls(c), false);
    return c.json({ users: json.requested_reviewers, teams: json.requested_teams });
  });
  on('POST', '/repos/:owner/:repo/pulls/:number/requested_reviewers', (c) => {
    const key = keyOf(c);
    found(key, numberOf(c));
    const issue = pulls.requestReviewers(key, numberOf(c), bodyOf(c), viewer(c));
    return c.json(pulls.json(issue, pulls.pull(key, issue.number)!.pull, urls(c), false), 201);
  });
  on('GET', '/repos/:owner/:repo/pulls/:number/reviews', (c) => {
    const f = found(keyOf(c), numberOf(c));
    return rest.paginate(c, f.pull.reviews, (r) => pulls.reviewJson(r, f.issue, urls(c)));
  });
  on('POST', '/repos/:owner/:repo/pulls/:number/reviews', (c) => {
    const key = keyOf(c);
    const f = found(key, numberOf(c));
    return c.json(pulls.reviewJson(pulls.review(key, numberOf(c), bodyOf(c), viewer(c)), f.issue, urls(c)));
  });
  on('PUT', '/repos/:owner/:repo/pulls/:number/merge', (c) => {
    const key = keyOf(c);
    found(key, numberOf(c));
    return c.json(pulls.merge(key, numberOf(c), bodyOf(c), viewer(c)));
  });
}

function invalidParam(name: string, value: string): GitHubApiError {
  return new GitHubApiError(422, {
    message: 'Validation Failed',
    errors: [{ resource: 'PullRequest', field: name, code: 'invalid', value }],
    documentation_url: 'https://docs.github.com/rest/pulls/pulls#list-pull-requests',
    status: '422',
  });
}

/** Acting as a person (tests, the demo): `?person=login`, default monalisa. */
export function registerPullControl(app: Hono<GhEnv>, store: GitHubStore, pulls: GitHubPulls): void {
  const base = '/_sandbox/github/repos/:owner/:repo';
  const read = async (c: { req: { text(): Promise<string> } }): Promise<Record<string, unknown>> => {
    const text = await c.req.text();
    return text.trim() ? (JSON.parse(text) as Record<string, unknown>) : {};
  };
  const web = (url: string): Urls => {
    const origin = new URL(url).origin;
    return { api: `${origin}/api/v3`, web: origin };
  };
  const answer = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const guard = (fn: (c: C) => Promise<Response>) => async (c: C) => {
    try {
      return await fn(c);
    } catch (e) {
      if (e instanceof GitHubApiError) return answer(e.status, e.body);
      return answer(400, { error: String(e) });
    }
  };
  const person = (c: { req: { query(n: string): string | undefined } }, owner: string, repo: string) => {
    const login = c.req.query('person') ?? 'monalisa';
    store.user(login);
    store.repo(owner, repo)?.collaborators.add(login.toLowerCase());
    return login;
  };
  app.post(
    `${base}/branches`,
    guard(async (c) => {
      const body = await read(c);
      pulls.pushBranch(c.req.param('owner')!, c.req.param('repo')!, String(body.name), body.ahead === undefined ? 1 : Number(body.ahead));
      return answer(201, { name: body.name });
    }),
  );
  app.post(
    `${base}/pulls`,
    guard(async (c) => {
      const owner = c.req.param('owner')!;
      const repo = c.req.param('repo')!;
      const f = pulls.create(repoKey(owner, repo), await read(c), person(c, owner, repo));
      return answer(201, pulls.json(f.issue, f.pull, web(c.req.url), true));
    }),
  );
  app.post(
    `${base}/pulls/:number/:action`,
    guard(async (c) => {
      const owner = c.req.param('owner')!;
      const repo = c.req.param('repo')!;
      const n = Number(c.req.param('number'));
      const who = person(c, owner, repo);
      const key = repoKey(owner, repo);
      const body = await read(c);
      switch (c.req.param('action')) {
        case 'ready':
          pulls.setDraft(owner, repo, n, false, who);
          break;
        case 'draft':
          pulls.setDraft(owner, repo, n, true, who);
          break;
        case 'review':
          pulls.review(key, n, body, who);
          break;
        case 'merge':
          pulls.merge(key, n, body, who);
          break;
        case 'close':
          pulls.update(key, n, { state: 'closed' }, who);
          break;
        case 'reopen':
          pulls.update(key, n, { state: 'open' }, who);
          break;
        default:
          throw notFound();
      }
      const f = pulls.pull(key, n)!;
      return answer(200, pulls.json(f.issue, f.pull, web(c.req.url), true));
    }),
  );
}
