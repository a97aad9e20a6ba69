// GitHub's REST API (as GitHub Enterprise serves it: /api/v3/…, GraphQL on /api/graphql) for the
// sandbox: the routes Trackline's adapters call, with GitHub's status codes, token auth
// (`Authorization: Bearer …` or `token …`), x-ratelimit-* headers on every answer, the 403/429 forms
// of both limits (trackers.md 3.5), ETags and 304s, and `link` header pagination (3.4).
//
// Order per request: auth (401), rate limits (403/429), route, then answer headers. Control routes
// for tests live under /_sandbox/github/ and are not logged.

import { createHash, randomUUID } from 'node:crypto';
import { Hono, type MiddlewareHandler } from 'hono';
import type { SandboxEnv, TrackerMount } from '../mount.ts';
import { operationType, runGraphql } from './graphql.ts';
import { commentJson, issueJson, labelJson, milestoneJson, repoJson, userJson, type Urls } from './json.ts';
import { GitHubLimits, SECONDARY_BODY, primaryBody, type Resource } from './limits.ts';
import { DOCS, GitHubApiError, GitHubStore, notFound, repoKey, type GhIssueRec, type GhRepoRec } from './store.ts';
import { GitHubWebhookSender } from './webhooks.ts';
import { GitHubPulls } from './pulls.ts';
import { registerPullControl, registerPullRoutes } from './pull-routes.ts';

import type { C, GhEnv, RestHelpers } from './rest-env.ts';
export type { C, GhEnv, RestHelpers };

export const REST = '/api/v3';
const GRAPHQL = '/api/graphql';

export interface GitHubSandbox {
  store: GitHubStore;
  pulls: GitHubPulls;
  limits: GitHubLimits;
  webhooks: GitHubWebhookSender;
  mount: TrackerMount;
  dispose(): void;
}

export function createGitHubSandbox(): GitHubSandbox {
  const store = new GitHubStore();
  const pulls = new GitHubPulls(store);
  const limits = new GitHubLimits();
  const webhooks = new GitHubWebhookSender(store, pulls);
  const app = new Hono<GhEnv>();
  const helpers = registerRoutes(app, store, limits, (urls) => (webhooks.urls = urls));
  registerPullRoutes(helpers, store, pulls);
  registerControl(app, store, limits, webhooks);
  registerPullControl(app, store, pulls);
  return {
    store,
    pulls,
    limits,
    webhooks,
    mount: {
      name: 'github',
      roots: [REST, GRAPHQL],
      app: app as unknown as Hono<SandboxEnv>,
      renderError: renderGitHubError,
      notFound: () => json(notFoundBody(), 404),
    },
    dispose: () => webhooks.dispose(),
  };
}

function notFoundBody() {
  return { message: 'Not Found', documentation_url: DOCS, status: '404' };
}

export function json(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', ...headers } });
}

/** GitHub's answer for an error status, for faults: a 403/429 with retry-after is a secondary limit. */
export function renderGitHubError(status: number, retryAfter?: number): Response {
  if (status === 429 || (status === 403 && retryAfter !== undefined)) {
    return json(SECONDARY_BODY, status, retryAfter !== undefined ? { 'retry-after': String(retryAfter) } : {});
  }
  if (status === 401) return json({ message: 'Bad credentials', documentation_url: DOCS, status: '401' }, 401);
  if (status === 403)
    return json({ message: 'Resource not accessible by personal access token', documentation_url: DOCS, status: '403' }, 403);
  if (status === 404) return json(notFoundBody(), 404);
  if (status === 410) return json({ message: 'This issue was deleted', documentation_url: DOCS, status: '410' }, 410);
  if (status === 422) return json({ message: 'Validation Failed', errors: [], documentation_url: DOCS, status: '422' }, 422);
  if (status === 502 || status === 504) {
    return new Response(
      "We couldn't respond to your request in time. Sorry about that. Please try resubmitting your request and contact us if the problem persists.",
      {
        status,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
      },
    );
  }
  return json({ message: 'Server Error' }, status);
}

function resourceOf(path: string): Resource {
  if (path.startsWith(GRAPHQL)) return 'graphql';
  if (path.startsWith(`${REST}/search/`)) return 'search';
  return 'core';
}

function registerRoutes(app: Hono<GhEnv>, store: GitHubStore, limits: GitHubLimits, onUrls: (urls: Urls) => void): RestHelpers {
  app.onError((err, c) => {
    if (err instanceof GitHubApiError) return json(err.body, err.status, err.headers);
    console.error('[sandbox/github] unhandled error', err);
    return json({ message: 'Server Error' }, 500);
  });

  /** Auth, then the limits, then the route; answer headers last. */
  const gate: MiddlewareHandler<GhEnv> = async (c, next) => {
    const requestUrl = new URL(c.req.url);
    const urls: Urls = { api: `${requestUrl.origin}${REST}`, web: requestUrl.origin };
    c.set('urls', urls);
    // Webhook payloads link to where the API was last reached.
    onUrls(urls);
    const auth = c.req.header('authorization') ?? '';
    const m = /^(?:bearer|token)\s+(\S+)$/i.exec(auth.trim());
    if (!m) return json({ message: 'Requires authentication', documentation_url: DOCS, status: '401' }, 401);
    const token = store.tokens.get(m[1]!);
    if (!token) return json({ message: 'Bad credentials', documentation_url: DOCS, status: '401' }, 401);
    c.set('ghToken', token);

    const path = requestUrl.pathname;
    const method = c.req.method;
    const resource = resourceOf(path);
    const userId = store.user(token.login).id;
    const taken = limits.take(token.token, resource);
    let rateHeaders = limits.headers(taken.state);
    if (!taken.allowed) {
      if (resource === 'graphql') {
        // GraphQL's primary limit answers 200 with an error (trackers.md 3.5).
        return json({ errors: [{ type: 'RATE_LIMITED', message: `API rate limit exceeded for user ID ${userId}.` }] }, 200, rateHeaders);
      }
      return json(primaryBody(userId), limits.primaryStatus, rateHeaders);
    }
    const injected = limits.takeInjected(method, path);
    if (injected) {
      return json(SECONDARY_BODY, injected.status ?? 403, {
        ...rateHeaders,
        ...(injected.retryAfter !== undefined ? { 'retry-after': String(injected.retryAfter) } : {}),
      });
    }
    const body = c.get('body') as { query?: unknown; operationName?: unknown } | undefined;
    const creating =
      resource === 'graphql'
        ? typeof body?.query === 'string' &&
          operationType(body.query, typeof body.operationName === 'string' ? body.operationName : undefined) === 'mutation'
        : method !== 'GET' && method !== 'HEAD';
    if (creating) {
      const wait = limits.takeSecondary(token.token);
      if (wait !== null) return json(SECONDARY_BODY, 403, { ...rateHeaders, 'retry-after': String(wait) });
    }

    await next();

    // Conditional GET: an unchanged answer is a 304 without a body, and free (trackers.md 3.5).
    if (method === 'GET' && c.res.status === 200) {
      const text = await c.res.clone().text();
      const etag = `W/"${createHash('sha256').update(text).digest('hex').slice(0, 40)}"`;
      const ifNoneMatch = c.req.header('if-none-match');
      if (
        ifNoneMatch &&
        ifNoneMatch
          .split(',')
          .map((s) => s.trim())
          .includes(etag)
      ) {
        rateHeaders = limits.headers(limits.refund(token.token, resource));
        c.res = new Response(null, { status: 304, headers: { etag } });
      } else {
        c.res.headers.set('etag', etag);
      }
    }
    for (const [k, v] of Object.entries(rateHeaders)) c.res.headers.set(k, v);
    c.res.headers.set('x-github-media-type', 'github.v3; format=json');
    c.res.headers.set('x-github-request-id', randomUUID().toUpperCase().slice(0, 23));
    if (token.scopes) {
      c.res.headers.set('x-oauth-scopes', token.scopes.join(', '));
      c.res.headers.set('x-accepted-oauth-scopes', resource === 'graphql' ? '' : 'repo');
    }
  };

  const urls = (c: C) => c.get('urls');
  const viewer = (c: C) => c.get('ghToken').login;
  const bodyOf = (c: C): Record<string, unknown> => {
    if (c.get('bodyError')) throw new GitHubApiError(400, { message: 'Problems parsing JSON', documentation_url: DOCS, status: '400' });
    const body = c.get('body');
    return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  };
  /** The repository, or 404 when the token cannot see it (GitHub hides private repositories). */
  const repoOf = (c: C): GhRepoRec => {
    const repo = store.repo(c.req.param('owner')!, c.req.param('repo')!);
    const token = c.get('ghToken');
    if (!repo) throw notFound();
    if (repo.private && !store.canPush(repo, token.login) && !(token.scopes === null)) throw notFound();
    if (repo.private && token.scopes !== null && !token.scopes.includes('repo')) throw notFound();
    return repo;
  };
  const keyOf = (r: GhRepoRec) => repoKey(r.owner, r.name);
  const issueOf = (c: C, repo: GhRepoRec): GhIssueRec => {
    const issue = store.issue(keyOf(repo), Number(c.req.param('number')));
    if (!issue) throw notFound();
    if (issue.deleted) throw new GitHubApiError(410, { message: 'This issue was deleted', documentation_url: DOCS, status: '410' });
    return issue;
  };
  const on = (method: string, path: string, handler: (c: C) => Response | Promise<Response>) =>
    app.on(method, `${REST}${path}`, gate, handler);

  on('GET', '/user', (c) => c.json(userJson(store.user(viewer(c)), urls(c))));
  on('GET', '/rate_limit', (c) => {
    const token = c.get('ghToken').token;
    // "Accessing this endpoint does not count against your REST API rate limit."
    limits.refund(token, 'core');
    const resources = Object.fromEntries(
      (['core', 'search', 'graphql'] as const).map((r) => {
        const s = limits.peek(token, r);
        return [r, { limit: s.limit, used: s.used, remaining: s.remaining, reset: s.reset }];
      }),
    );
    return c.json({ resources, rate: resources.core });
  });

  on('GET', '/repos/:owner/:repo', (c) => c.json(repoJson(store, repoOf(c), urls(c), viewer(c))));

  on('GET', '/repos/:owner/:repo/labels', (c) => {
    const repo = repoOf(c);
    return paginate(
      c,
      [...repo.labels.values()].sort((a, b) => a.id - b.id),
      (l) => labelJson(l, repo, urls(c)),
    );
  });
  on('POST', '/repos/:owner/:repo/labels', (c) => {
    const repo = repoOf(c);
    if (!store.canPush(repo, viewer(c)))
      throw new GitHubApiError(403, {
        message: 'Resource not accessible by personal access token',
        documentation_url: DOCS,
        status: '403',
      });
    return c.json(labelJson(store.createLabel(keyOf(repo), bodyOf(c)), repo, urls(c)), 201);
  });

  on('GET', '/repos/:owner/:repo/milestones', (c) => {
    const repo = repoOf(c);
    const state = c.req.query('state') ?? 'open';
    const list = [...repo.milestones.values()].filter((m) => state === 'all' || m.state === state).sort((a, b) => a.number - b.number);
    return paginate(c, list, (m) => milestoneJson(store, m, repo, urls(c)));
  });
  on('POST', '/repos/:owner/:repo/milestones', (c) => {
    const repo = repoOf(c);
    if (!store.canPush(repo, viewer(c)))
      throw new GitHubApiError(403, {
        message: 'Resource not accessible by personal access token',
        documentation_url: DOCS,
        status: '403',
      });
    return c.json(milestoneJson(store, store.createMilestone(keyOf(repo), bodyOf(c), viewer(c)), repo, urls(c)), 201);
  });

  on('GET', '/repos/:owner/:repo/assignees/:assignee', (c) => {
    const repo = repoOf(c);
    return store.users.has(c.req.param('assignee')!.toLowerCase()) && store.canPush(repo, c.req.param('assignee')!)
      ? c.body(null, 204)
      : json(notFoundBody(), 404);
  });

  on('GET', '/repos/:owner/:repo/issues', (c) => {
    const repo = repoOf(c);
    const q = (n: string) => c.req.query(n);
    const state = q('state') ?? 'open';
    if (!['open', 'closed', 'all'].includes(state)) throw invalidParam('state', state);
    const sort = q('sort') ?? 'created';
    if (!['created', 'updated', 'comments'].includes(sort)) throw invalidParam('sort', sort);
    const direction = q('direction') ?? 'desc';
    if (!['asc', 'desc'].includes(direction)) throw invalidParam('direction', direction);
    const since = q('since');
    if (since !== undefined && !Number.isFinite(Date.parse(since))) throw invalidParam('since', since);
    const creator = q('creator')?.toLowerCase();
    const labels = q('labels')
      ?.split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean);
    let list = store.issuesOf(keyOf(repo)).filter((i) => !i.deleted);
    if (state !== 'all') list = list.filter((i) => i.state === state);
    if (since) list = list.filter((i) => Date.parse(i.updated_at) >= Date.parse(since));
    if (creator) list = list.filter((i) => i.user.toLowerCase() === creator);
    if (labels?.length) list = list.filter((i) => labels.every((l) => i.labels.includes(l)));
    const keyFn = (i: GhIssueRec) =>
      sort === 'updated' ? i.updated_at : sort === 'comments' ? String(i.comments).padStart(9, '0') : i.created_at;
    list.sort((a, b) => (keyFn(a) < keyFn(b) ? -1 : keyFn(a) > keyFn(b) ? 1 : a.id - b.id) * (direction === 'asc' ? 1 : -1));
    return paginate(c, list, (i) => issueJson(store, i, urls(c)));
  });
  on('POST', '/repos/:owner/:repo/issues', (c) => {
    const repo = repoOf(c);
    return c.json(issueJson(store, store.createIssue(keyOf(repo), bodyOf(c), viewer(c)), urls(c)), 201);
  });
  on('GET', '/repos/:owner/:repo/issues/:number', (c) => {
    const repo = repoOf(c);
    return c.json(issueJson(store, issueOf(c, repo), urls(c)));
  });
  on('PATCH', '/repos/:owner/:repo/issues/:number', (c) => {
    const repo = repoOf(c);
    const issue = issueOf(c, repo);
    return c.json(issueJson(store, store.updateIssue(keyOf(repo), issue.number, bodyOf(c), viewer(c)), urls(c)));
  });
  on('GET', '/repos/:owner/:repo/issues/:number/comments', (c) => {
    const repo = repoOf(c);
    const since = c.req.query('since');
    if (since !== undefined && !Number.isFinite(Date.parse(since))) throw invalidParam('since', since);
    const list = store.commentsOf(issueOf(c, repo)).filter((x) => !since || Date.parse(x.updated_at) >= Date.parse(since));
    return paginate(c, list, (x) => commentJson(store, x, urls(c)));
  });
  on('POST', '/repos/:owner/:repo/issues/:number/comments', (c) => {
    const repo = repoOf(c);
    const issue = issueOf(c, repo);
    return c.json(commentJson(store, store.createComment(keyOf(repo), issue.number, bodyOf(c).body, viewer(c)), urls(c)), 201);
  });

  on('GET', '/search/issues', (c) => {
    const q = c.req.query('q');
    if (!q)
      throw new GitHubApiError(422, {
        message: 'Validation Failed',
        errors: [{ resource: 'Search', field: 'q', code: 'missing' }],
        documentation_url: DOCS,
        status: '422',
      });
    const token = c.get('ghToken');
    const hits = searchIssues(store, q).filter((i) => {
      const repo = store.repos.get(i.repo)!;
      return !repo.private || store.canPush(repo, token.login) || token.scopes === null;
    });
    const page = paginateItems(c, hits);
    if (page instanceof Response) return page;
    return c.json(
      {
        total_count: hits.length,
        incomplete_results: false,
        items: page.items.map((i) => ({ ...issueJson(store, i, urls(c)), score: 1 })),
      },
      200,
      page.headers,
    );
  });

  app.post(GRAPHQL, gate, async (c) => {
    if (c.get('bodyError')) return json({ message: 'Problems parsing JSON', documentation_url: DOCS }, 400);
    return c.json(await runGraphql(store, c.get('ghToken'), urls(c), (c.get('body') ?? {}) as Record<string, unknown>));
  });
  return { on: (method, path, handler) => void on(method, path, handler), bodyOf, repoOf, urls, viewer, paginate };
}

function invalidParam(name: string, value: string): GitHubApiError {
  return new GitHubApiError(422, {
    message: 'Validation Failed',
    errors: [{ resource: 'Issue', field: name, code: 'invalid', value }],
    documentation_url: DOCS,
    status: '422',
  });
}

/** `per_page` (default 30, max 100) and `page`, with GitHub's `link` header (trackers.md 3.4). */
function paginateItems<T>(c: C, items: T[]): { items: T[]; headers: Record<string, string> } | Response {
  const perPageRaw = c.req.query('per_page');
  const pageRaw = c.req.query('page');
  const perPage = perPageRaw === undefined ? 30 : Math.min(100, Math.max(1, Number.parseInt(perPageRaw, 10) || 30));
  const page = pageRaw === undefined ? 1 : Math.max(1, Number.parseInt(pageRaw, 10) || 1);
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const url = new URL(c.req.url);
  const link = (p: number, rel: string) => {
    url.searchParams.set('per_page', String(perPage));
    url.searchParams.set('page', String(p));
    return `<${url.toString()}>; rel="${rel}"`;
  };
  const links: string[] = [];
  if (page > 1) links.push(link(page - 1, 'prev'));
  if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
  if (page > 1) links.push(link(1, 'first'));
  return { items: items.slice((page - 1) * perPage, page * perPage), headers: links.length ? { link: links.join(', ') } : {} };
}

export function paginate<T>(c: C, items: T[], render: (item: T) => unknown): Response {
  const page = paginateItems(c, items);
  if (page instanceof Response) return page;
  return c.json(page.items.map(render), 200, page.headers);
}

/**
 * GitHub's issue search, for the qualifiers Trackline uses: `repo:`, `user:`, `org:`, `is:issue`,
 * `is:pr`, `is:open`/`state:`, `in:title|body`, and quoted phrases or bare words, all of which
 * must appear (case-insensitively) in the searched fields.
 */
export function searchIssues(store: GitHubStore, q: string): GhIssueRec[] {
  const terms: string[] = [];
  const quals: [string, string][] = [];
  for (const m of q.matchAll(/(\w+):("[^"]*"|\S+)|"([^"]*)"|(\S+)/g)) {
    if (m[1]) quals.push([m[1].toLowerCase(), m[2]!.replace(/^"|"$/g, '')]);
    else terms.push((m[3] ?? m[4]!).toLowerCase());
  }
  const inFields = quals.filter(([k]) => k === 'in').map(([, v]) => v.toLowerCase());
  return [...store.issues.values()]
    .filter((i) => !i.deleted)
    .filter((i) => {
      const repo = store.repos.get(i.repo)!;
      for (const [k, v] of quals) {
        const value = v.toLowerCase();
        if (k === 'repo' && i.repo !== value) return false;
        if ((k === 'user' || k === 'org') && repo.owner.toLowerCase() !== value) return false;
        if (k === 'is' && value === 'issue' && i.pull_request) return false;
        if (k === 'is' && (value === 'pr' || value === 'pull-request') && !i.pull_request) return false;
        if ((k === 'is' || k === 'state') && (value === 'open' || value === 'closed') && i.state !== value) return false;
      }
      const text = [
        ...(inFields.length === 0 || inFields.includes('title') ? [i.title] : []),
        ...(inFields.length === 0 || inFields.includes('body') ? [i.body ?? ''] : []),
      ]
        .join('\n')
        .toLowerCase();
      return terms.every((t) => text.includes(t));
    })
    .sort((a, b) => b.id - a.id);
}

function registerControl(app: Hono<GhEnv>, store: GitHubStore, limits: GitHubLimits, webhooks: GitHubWebhookSender): void {
  const base = '/_sandbox/github';
  const read = async (c: C): Promise<Record<string, unknown>> => {
    const text = await c.req.text();
    return text.trim() ? (JSON.parse(text) as Record<string, unknown>) : {};
  };
  const guard = (fn: (c: C) => Promise<Response> | Response) => async (c: C) => {
    try {
      return await fn(c);
    } catch (e) {
      if (e instanceof GitHubApiError) return json(e.body, e.status);
      return json({ error: String(e) }, 400);
    }
  };
  const web = (c: C): Urls => {
    const origin = new URL(c.req.url).origin;
    return { api: `${origin}${REST}`, web: origin };
  };
  app.post(
    `${base}/repos`,
    guard(async (c) => c.json(repoJson(store, store.seedRepo((await read(c)) as never), web(c)), 201)),
  );
  app.post(
    `${base}/projects`,
    guard(async (c) => {
      const p = store.seedProject((await read(c)) as never);
      return c.json({ id: p.id, number: p.number, fields: p.fields }, 201);
    }),
  );
  app.get(
    `${base}/repos/:owner/:repo/issues`,
    guard((c) => {
      const repo = store.repo(c.req.param('owner')!, c.req.param('repo')!);
      if (!repo) throw notFound();
      return c.json(
        store
          .issuesOf(repoKey(repo.owner, repo.name))
          .filter((i) => !i.deleted)
          .map((i) => issueJson(store, i, web(c))),
      );
    }),
  );
  app.post(
    `${base}/repos/:owner/:repo/issues`,
    guard(async (c) => {
      const body = await read(c);
      return c.json(
        issueJson(store, store.createAsPerson(c.req.param('owner')!, c.req.param('repo')!, body as never, c.req.query('person')), web(c)),
        201,
      );
    }),
  );
  app.post(
    `${base}/repos/:owner/:repo/issues/:number/edit`,
    guard(async (c) => {
      const issue = store.editAsPerson(
        c.req.param('owner')!,
        c.req.param('repo')!,
        Number(c.req.param('number')),
        (await read(c)) as never,
        c.req.query('person'),
      );
      return c.json(issueJson(store, issue, web(c)));
    }),
  );
  app.post(
    `${base}/repos/:owner/:repo/issues/:number/comments`,
    guard(async (c) => {
      const body = await read(c);
      const comment = store.commentAsPerson(
        c.req.param('owner')!,
        c.req.param('repo')!,
        Number(c.req.param('number')),
        String(body.body ?? ''),
        c.req.query('person'),
      );
      return c.json(commentJson(store, comment, web(c)), 201);
    }),
  );
  app.delete(
    `${base}/repos/:owner/:repo/issues/:number`,
    guard((c) => {
      store.deleteAsPerson(c.req.param('owner')!, c.req.param('repo')!, Number(c.req.param('number')), c.req.query('person'));
      return c.body(null, 204);
    }),
  );
  // Webhook targets per repository, as a repository webhook on GitHub: {url, secret}.
  app.post(
    `${base}/repos/:owner/:repo/hooks`,
    guard(async (c) => {
      const body = await read(c);
      const hook = webhooks.register(c.req.param('owner')!, c.req.param('repo')!, {
        url: String(body.url),
        secret: String(body.secret ?? ''),
      });
      return c.json(hook, 201);
    }),
  );
  app.get(`${base}/webhooks/deliveries`, (c) => c.json(webhooks.deliveries));
  app.put(
    `${base}/limits`,
    guard(async (c) => {
      limits.configure((await read(c)) as never);
      return c.json({ served: limits.served });
    }),
  );
  app.post(
    `${base}/limits/secondary`,
    guard(async (c) => {
      limits.injectSecondary((await read(c)) as never);
      return c.json({ served: limits.served }, 201);
    }),
  );
  app.get(`${base}/limits`, (c) => c.json({ served: limits.served }));
}
