// Plane REST API v1 as served by the sandbox, on Plane's real paths (/api/v1/workspaces/…), so a
// client's Plane base_url is the sandbox URL itself.
//
// Each route runs Plane's request pipeline in DRF's order (APIView.initial): URL resolution
// (unknown URL → Django's HTML 404, missing trailing slash → 301), authentication (401/403,
// trackers.md §2.1), permission (403 unless the key's user is a project member), throttling (429,
// §2.4), and only then the view. Routes exist under both `work-items/` and the older `issues/`
// (§2.2); there is no PUT (405), as in Plane's URL patterns.

import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { RateLimiter } from '../rate-limit.ts';
import { PlaneGroups, cycleToJson, moduleToJson } from './groups.ts';
import type { SandboxEnv, TrackerMount } from '../mount.ts';
import { NOT_FOUND_BODY, PlaneApiError, type Actor, type PlaneIssue, type StateGroup } from './model.ts';
import { commentToJson, issueToJson, labelToJson, memberToJson, projectToJson, stateToJson } from './serialize.ts';
import { type PlaneStore } from './store.ts';
import { linkToJson } from './links.ts';

export type PlaneEnv = {
  Bindings: SandboxEnv['Bindings'];
  Variables: SandboxEnv['Variables'] & { planeUser: string };
};
type C = Context<PlaneEnv>;

export interface PlaneRoutesOptions {
  store: PlaneStore;
  /** Cycles and modules; without it those routes answer as for an empty project. */
  groups?: PlaneGroups;
  rateLimit: RateLimiter;
  /**
   * Largest per_page accepted, also the default page size. Plane CE allows 1000; the docs and
   * Plane Cloud say 100 (trackers.md §2.3), which is what the sandbox enforces by default.
   */
  maxPerPage?: number;
}

const API = '/api/v1';

// Plane's fixed messages.
const MISSING_KEY = { detail: 'Authentication credentials were not provided.' };
const INVALID_KEY = { detail: 'Given API token is not valid' };
const NO_PERMISSION = { detail: 'You do not have permission to perform this action.' };
export const RATE_LIMITED_BODY = { error_code: 5900, error_message: 'RATE_LIMIT_EXCEEDED' };
const SERVER_ERROR = { error: 'Something went wrong please try again later' };

/** Django's production 404 page, which is what an unrouted URL gets (it never reaches DRF). */
const DJANGO_NOT_FOUND_HTML = `<!doctype html>
<html lang="en">
<head>
  <title>Not Found</title>
</head>
<body>
  <h1>Not Found</h1><p>The requested resource was not found on this server.</p>
</body>
</html>
`;

const ISSUE_COLLECTIONS = ['work-items', 'issues'] as const;

/** Every route, relative to /api/v1, with the methods its Django URL pattern allows. */
const ROUTES: { pattern: string; methods: string[] }[] = [
  { pattern: '/workspaces/:slug/projects/', methods: ['GET'] },
  { pattern: '/workspaces/:slug/projects/:pk/', methods: ['GET'] },
  { pattern: '/workspaces/:slug/projects/:project_id/states/', methods: ['GET', 'POST'] },
  { pattern: '/workspaces/:slug/projects/:project_id/states/:state_id/', methods: ['GET'] },
  { pattern: '/workspaces/:slug/projects/:project_id/labels/', methods: ['GET', 'POST'] },
  { pattern: '/workspaces/:slug/projects/:project_id/labels/:label_id/', methods: ['GET'] },
  { pattern: '/workspaces/:slug/projects/:project_id/members/', methods: ['GET'] },
  { pattern: '/workspaces/:slug/projects/:project_id/cycles/', methods: ['GET', 'POST'] },
  { pattern: '/workspaces/:slug/projects/:project_id/cycles/:cycle_id/cycle-issues/', methods: ['GET', 'POST'] },
  { pattern: '/workspaces/:slug/projects/:project_id/cycles/:cycle_id/cycle-issues/:issue_id/', methods: ['DELETE'] },
  { pattern: '/workspaces/:slug/projects/:project_id/modules/', methods: ['GET', 'POST'] },
  { pattern: '/workspaces/:slug/projects/:project_id/modules/:module_id/module-issues/', methods: ['GET', 'POST'] },
  { pattern: '/workspaces/:slug/projects/:project_id/modules/:module_id/module-issues/:issue_id/', methods: ['DELETE'] },
  ...ISSUE_COLLECTIONS.flatMap((col) => [
    { pattern: `/workspaces/:slug/${col}/:ref/`, methods: ['GET'] },
    { pattern: `/workspaces/:slug/projects/:project_id/${col}/`, methods: ['GET', 'POST'] },
    { pattern: `/workspaces/:slug/projects/:project_id/${col}/:issue_id/`, methods: ['GET', 'PATCH', 'DELETE'] },
    { pattern: `/workspaces/:slug/projects/:project_id/${col}/:issue_id/comments/`, methods: ['GET', 'POST'] },
    { pattern: `/workspaces/:slug/projects/:project_id/${col}/:issue_id/comments/:comment_id/`, methods: ['GET', 'PATCH', 'DELETE'] },
    { pattern: `/workspaces/:slug/projects/:project_id/${col}/:issue_id/links/`, methods: ['GET', 'POST'] },
    { pattern: `/workspaces/:slug/projects/:project_id/${col}/:issue_id/links/:link_id/`, methods: ['GET', 'PATCH', 'DELETE'] },
  ]),
];

/** URL params that Django declares as <uuid:…>; anything else there does not resolve (404). */
const UUID_PARAMS = ['pk', 'project_id', 'state_id', 'label_id', 'issue_id', 'comment_id', 'cycle_id', 'module_id', 'link_id'];
// Django's UUID converter only matches lower-case hex.
const DJANGO_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const ROUTE_REGEXES = ROUTES.map(({ pattern }) => new RegExp(`^${API}${pattern.replace(/:[a-z_]+/g, '[^/]+')}$`));

/** Whether a path resolves to a Plane route, ignoring param types. */
export function planeRouteExists(path: string): boolean {
  return ROUTE_REGEXES.some((re) => re.test(path));
}

/** Plane's rendering of an error status, for faults and the gateway timeout. */
export function renderPlaneError(status: number, retryAfter?: number): Response {
  const json = (body: unknown) => new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
  if (status === 429) {
    const res = json(RATE_LIMITED_BODY);
    if (retryAfter !== undefined) res.headers.set('Retry-After', String(retryAfter));
    return res;
  }
  if (status === 502 || status === 503 || status === 504) {
    // These come from the proxy in front of Plane, not from Django, so they are HTML.
    const reason = { 502: 'Bad Gateway', 503: 'Service Temporarily Unavailable', 504: 'Gateway Time-out' }[status];
    return new Response(
      `<html>\r\n<head><title>${status} ${reason}</title></head>\r\n<body>\r\n<center><h1>${status} ${reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n`,
      { status, headers: { 'Content-Type': 'text/html' } },
    );
  }
  if (status === 401) return json(MISSING_KEY);
  if (status === 403) return json(NO_PERMISSION);
  if (status === 404) return json(NOT_FOUND_BODY);
  if (status >= 500) return json(SERVER_ERROR);
  return json({ error: 'The payload is not valid' });
}

/**
 * Unrouted paths: Django's CommonMiddleware (APPEND_SLASH) answers 301 to the same path with a
 * slash when that would resolve, for any method; a POST that follows it arrives as a GET without
 * its body. Everything else is Django's HTML 404.
 */
function notFound(c: Context<SandboxEnv>, path: string): Response {
  if (!path.endsWith('/') && planeRouteExists(`${path}/`)) {
    const url = new URL(c.req.url);
    return new Response(null, {
      status: 301,
      headers: { Location: `${path}/${url.search}`, 'Content-Type': 'text/html; charset=utf-8' },
    });
  }
  return c.html(DJANGO_NOT_FOUND_HTML, 404);
}

export function createPlaneMount(options: PlaneRoutesOptions): TrackerMount {
  return {
    name: 'plane',
    roots: [API],
    app: createPlaneRoutes(options) as unknown as Hono<SandboxEnv>,
    renderError: renderPlaneError,
    notFound,
  };
}

export function createPlaneRoutes({
  store,
  groups = new PlaneGroups(store),
  rateLimit,
  maxPerPage = 100,
}: PlaneRoutesOptions): Hono<PlaneEnv> {
  const app = new Hono<PlaneEnv>();

  app.onError((err, c) => {
    if (err instanceof PlaneApiError) return c.json(err.body as object, err.status as 400);
    console.error('[sandbox/plane] unhandled error', err);
    return c.json(SERVER_ERROR, 500);
  });

  /** URL resolution, authentication, permission and throttling, in DRF's order. */
  const gate: MiddlewareHandler<PlaneEnv> = async (c, next) => {
    for (const name of UUID_PARAMS) {
      const value = c.req.param(name);
      if (value !== undefined && !DJANGO_UUID.test(value)) return c.html(DJANGO_NOT_FOUND_HTML, 404);
    }

    const key = c.req.header('x-api-key');
    if (!key) return c.json(MISSING_KEY, 401);
    const user = store.apiKeys.get(key);
    if (!user) return c.json(INVALID_KEY, 403);
    c.set('planeUser', user);

    if (!hasPermission(store, user, c)) return c.json(NO_PERMISSION, 403);

    // Plane throttles per API key and only after auth and permission checks passed; the
    // X-RateLimit-* headers are set only on requests the throttle let through (§2.4).
    const decision = rateLimit.check('plane', key);
    if (decision && !decision.allowed) {
      return c.json(RATE_LIMITED_BODY, 429, { 'Retry-After': String(decision.retryAfterSec) });
    }
    await next();
    if (decision) {
      c.res.headers.set('X-RateLimit-Remaining', String(decision.remaining));
      c.res.headers.set('X-RateLimit-Reset', String(decision.resetEpochSec));
    }
  };

  const handlers = new Map<string, (c: C) => Response | Promise<Response>>();
  const on = (method: string, pattern: string, handler: (c: C) => Response | Promise<Response>) =>
    handlers.set(`${method} ${pattern}`, handler);
  const actor = (c: C): Actor => ({ id: c.get('planeUser'), kind: 'api' });
  const expandOf = (c: C) => csv(c.req.query('expand'));
  const fieldsOf = (c: C) => {
    const f = csv(c.req.query('fields'));
    return f.length ? f : undefined;
  };
  const issueJson = (c: C, issue: PlaneIssue) => issueToJson(store, issue, { expand: expandOf(c), fields: fieldsOf(c) });
  const projectOf = (c: C) => {
    const project = store.project(c.req.param('slug')!, c.req.param('project_id')!);
    if (!project) throw new PlaneApiError(404, NOT_FOUND_BODY);
    return project;
  };
  const page = <T>(c: C, items: T[], render: (item: T) => unknown) => paginate(c, items, render, maxPerPage);

  // ---- projects
  on('GET', '/workspaces/:slug/projects/', (c) => {
    const user = c.get('planeUser');
    const projects = [...store.projects.values()].filter((p) => p.workspaceSlug === c.req.param('slug') && p.members.has(user));
    return page(c, projects.sort(byDesc((p) => p.created_at)), (p) => projectToJson(store, p));
  });
  on('GET', '/workspaces/:slug/projects/:pk/', (c) => {
    const project = store.project(c.req.param('slug')!, c.req.param('pk')!);
    if (!project) throw new PlaneApiError(404, NOT_FOUND_BODY);
    return c.json(projectToJson(store, project));
  });

  // ---- states (list excludes triage states, as StateListCreateAPIEndpoint does)
  on('GET', '/workspaces/:slug/projects/:project_id/states/', (c) => {
    const project = projectOf(c);
    const extId = c.req.query('external_id');
    const extSource = c.req.query('external_source');
    if (extId && extSource) {
      const state = store.statesOf(project.id).find((s) => s.external_id === extId && s.external_source === extSource);
      if (!state) throw new PlaneApiError(404, NOT_FOUND_BODY);
      return c.json(stateToJson(state));
    }
    return page(
      c,
      store.statesOf(project.id).filter((s) => !s.is_triage),
      stateToJson,
    );
  });
  on('POST', '/workspaces/:slug/projects/:project_id/states/', (c) => {
    const project = projectOf(c);
    // Plane answers 200 (not 201) to a state create.
    return c.json(stateToJson(store.createState(project.id, bodyOf(c), actor(c))), 200);
  });
  on('GET', '/workspaces/:slug/projects/:project_id/states/:state_id/', (c) => {
    const project = projectOf(c);
    const state = store.statesOf(project.id).find((s) => s.id === c.req.param('state_id') && !s.is_triage);
    if (!state) throw new PlaneApiError(404, NOT_FOUND_BODY);
    return c.json(stateToJson(state));
  });

  // ---- labels
  on('GET', '/workspaces/:slug/projects/:project_id/labels/', (c) => {
    const project = projectOf(c);
    return page(c, store.labelsOf(project.id).sort(byDesc((l) => l.created_at)), labelToJson);
  });
  on('POST', '/workspaces/:slug/projects/:project_id/labels/', (c) => {
    const project = projectOf(c);
    return c.json(labelToJson(store.createLabel(project.id, bodyOf(c), actor(c))), 201);
  });
  on('GET', '/workspaces/:slug/projects/:project_id/labels/:label_id/', (c) => {
    const project = projectOf(c);
    const label = store.labelsOf(project.id).find((l) => l.id === c.req.param('label_id'));
    if (!label) throw new PlaneApiError(404, NOT_FOUND_BODY);
    return c.json(labelToJson(label));
  });

  // ---- members: a plain array of UserLite, not paginated (api/views/member.py)
  on('GET', '/workspaces/:slug/projects/:project_id/members/', (c) => {
    const project = projectOf(c);
    return c.json(store.membersOf(project.id).map(memberToJson));
  });

  // ---- cycles and modules (groups.ts): lists are pages; membership posts take {"issues": [ids]}
  const slugOf = (c: C) => c.req.param('slug')!;
  on('GET', '/workspaces/:slug/projects/:project_id/cycles/', (c) => {
    const project = projectOf(c);
    const list = groups.cyclesOf(project.id).sort(byDesc((x) => x.created_at));
    return page(c, list, (x) => cycleToJson(x, slugOf(c), groups.members('cycle', x.id).length));
  });
  on('POST', '/workspaces/:slug/projects/:project_id/cycles/', (c) => {
    const project = projectOf(c);
    return c.json(cycleToJson(groups.createCycle(project.id, bodyOf(c)), slugOf(c), 0), 201);
  });
  on('GET', '/workspaces/:slug/projects/:project_id/modules/', (c) => {
    const project = projectOf(c);
    const list = groups.modulesOf(project.id).sort(byDesc((x) => x.created_at));
    return page(c, list, (x) => moduleToJson(x, slugOf(c), groups.members('module', x.id).length));
  });
  on('POST', '/workspaces/:slug/projects/:project_id/modules/', (c) => {
    const project = projectOf(c);
    return c.json(moduleToJson(groups.createModule(project.id, bodyOf(c)), slugOf(c), 0), 201);
  });
  for (const [kind, col, param] of [
    ['cycle', 'cycles', 'cycle_id'],
    ['module', 'modules', 'module_id'],
  ] as const) {
    const members = `/workspaces/:slug/projects/:project_id/${col}/:${param}/${kind}-issues/`;
    // The work items of the group, as work items (the list view serializes issues).
    on('GET', members, (c) => {
      const project = projectOf(c);
      const id = c.req.param(param)!;
      groups.group(kind, project.id, id);
      const issues = groups
        .members(kind, id)
        .map((i) => store.issue(project.id, i))
        .filter((i): i is PlaneIssue => i !== undefined);
      return page(c, issues, (i) => issueJson(c, i));
    });
    on('POST', members, (c) => {
      const project = projectOf(c);
      groups.add(kind, project.id, c.req.param(param)!, bodyOf(c));
      return c.json({ message: 'success' }, 201);
    });
    on('DELETE', `${members}:issue_id/`, (c) => {
      const project = projectOf(c);
      groups.remove(kind, project.id, c.req.param(param)!, c.req.param('issue_id')!);
      return c.body(null, 204);
    });
  }

  for (const col of ISSUE_COLLECTIONS) {
    // ---- by identifier: workspaces/{slug}/work-items/ET-12/
    on('GET', `/workspaces/:slug/${col}/:ref/`, (c) => {
      const { identifier, sequence } = splitRef(c.req.param('ref')!);
      // Plane checks the part after the dash is a number before querying.
      if (!/^\d+$/.test(sequence)) return c.json({ error: 'Work item not found' }, 404);
      const project = store.projectByIdentifier(c.req.param('slug')!, identifier);
      const issue = project && store.issuesOf(project.id).find((i) => i.sequence_id === Number(sequence));
      if (!issue) throw new PlaneApiError(404, NOT_FOUND_BODY);
      return c.json(issueJson(c, issue));
    });

    // ---- list / create
    on('GET', `/workspaces/:slug/projects/:project_id/${col}/`, (c) => {
      const project = projectOf(c);
      const extId = c.req.query('external_id');
      const extSource = c.req.query('external_source');
      // With both external params the endpoint returns the single object, not a page (§2.2).
      if (extId && extSource) {
        const issue = store.issuesOf(project.id).find((i) => i.external_id === extId && i.external_source === extSource);
        if (!issue) throw new PlaneApiError(404, NOT_FOUND_BODY);
        return c.json(issueJson(c, issue));
      }
      const unsupported = ['pql', 'filters'].filter((p) => c.req.query(p));
      if (unsupported.length > 0) {
        return c.json(
          {
            pql: 'PQL and structured filters are not supported on this Plane edition. Remove the pql/filters parameter and filter results client-side, or use a Plane edition that supports work item query filtering.',
            unsupported_parameters: unsupported,
          },
          400,
        );
      }
      const issues = sortIssues(store, store.issuesOf(project.id), c.req.query('order_by'));
      return page(c, issues, (i) => issueJson(c, i));
    });
    on('POST', `/workspaces/:slug/projects/:project_id/${col}/`, (c) => {
      const project = projectOf(c);
      const issue = store.createIssue(project.id, bodyOf(c), actor(c));
      return c.json(issueToJson(store, issue), 201);
    });

    // ---- detail
    const detail = `/workspaces/:slug/projects/:project_id/${col}/:issue_id/`;
    on('GET', detail, (c) => {
      const project = projectOf(c);
      const issue = store.issue(project.id, c.req.param('issue_id')!);
      if (!issue) throw new PlaneApiError(404, NOT_FOUND_BODY);
      return c.json(issueJson(c, issue));
    });
    on('PATCH', detail, (c) => {
      const project = projectOf(c);
      const issue = store.updateIssue(project.id, c.req.param('issue_id')!, bodyOf(c), actor(c));
      return c.json(issueToJson(store, issue));
    });
    on('DELETE', detail, (c) => {
      const project = projectOf(c);
      store.deleteIssue(project.id, c.req.param('issue_id')!, actor(c));
      return c.body(null, 204);
    });

    // ---- links
    const links = `/workspaces/:slug/projects/:project_id/${col}/:issue_id/links/`;
    const issueOrFail = (c: C) => {
      const issue = store.issue(projectOf(c).id, c.req.param('issue_id')!);
      if (!issue) throw new PlaneApiError(404, NOT_FOUND_BODY);
      return issue;
    };
    on('GET', links, (c) => page(c, store.links.of(issueOrFail(c).id), linkToJson));
    on('POST', links, (c) => c.json(linkToJson(store.links.create(issueOrFail(c), c.req.param('slug')!, bodyOf(c), actor(c).id)), 201));
    on('GET', `${links}:link_id/`, (c) => c.json(linkToJson(store.links.get(issueOrFail(c).id, c.req.param('link_id')!))));
    on('PATCH', `${links}:link_id/`, (c) =>
      c.json(linkToJson(store.links.update(issueOrFail(c).id, c.req.param('link_id')!, bodyOf(c), actor(c).id))),
    );
    on('DELETE', `${links}:link_id/`, (c) => {
      store.links.delete(issueOrFail(c).id, c.req.param('link_id')!);
      return c.body(null, 204);
    });

    // ---- comments (newest first: the view orders by -created_at and ignores ?order_by)
    const comments = `/workspaces/:slug/projects/:project_id/${col}/:issue_id/comments/`;
    on('GET', comments, (c) => {
      const project = projectOf(c);
      const issue = store.issue(project.id, c.req.param('issue_id')!);
      const rows = issue ? store.commentsOf(issue.id).sort(byDesc((x) => x.created_at)) : [];
      return page(c, rows, (x) => commentToJson(x, { isMember: true }));
    });
    on('POST', comments, (c) => {
      const project = projectOf(c);
      const comment = store.createComment(project.id, c.req.param('issue_id')!, bodyOf(c), actor(c));
      return c.json(commentToJson(comment), 201);
    });
    const comment = `${comments}:comment_id/`;
    on('GET', comment, (c) => {
      const project = projectOf(c);
      const row = store.comment(project.id, c.req.param('issue_id')!, c.req.param('comment_id')!);
      if (!row) throw new PlaneApiError(404, NOT_FOUND_BODY);
      return c.json(commentToJson(row, { isMember: true }));
    });
    on('PATCH', comment, (c) => {
      const project = projectOf(c);
      const row = store.updateComment(project.id, c.req.param('issue_id')!, c.req.param('comment_id')!, bodyOf(c), actor(c));
      return c.json(commentToJson(row));
    });
    on('DELETE', comment, (c) => {
      const project = projectOf(c);
      store.deleteComment(project.id, c.req.param('issue_id')!, c.req.param('comment_id')!, actor(c));
      return c.body(null, 204);
    });
  }

  for (const { pattern, methods } of ROUTES) {
    for (const method of methods) {
      const handler = handlers.get(`${method} ${pattern}`);
      if (!handler) throw new Error(`no handler for ${method} ${pattern}`);
      app.on(method, `${API}${pattern}`, gate, (c) => handler(c));
    }
    // DRF answers other methods on a routed URL with 405 after auth and throttling.
    app.all(`${API}${pattern}`, gate, (c) =>
      c.json({ detail: `Method "${c.req.method}" not allowed.` }, 405, { Allow: methods.join(', ') }),
    );
  }

  return app;
}

/**
 * ProjectEntityPermission: for project-scoped URLs the key's user must be an active member of that
 * project; for workspace-scoped ones, of some project in the workspace. An unknown project fails
 * this check too, so it is a 403, not a 404.
 */
function hasPermission(store: PlaneStore, user: string, c: C): boolean {
  const slug = c.req.param('slug');
  const projectId = c.req.param('project_id');
  if (projectId !== undefined) return Boolean(store.project(slug!, projectId)?.members.has(user));
  const ref = c.req.param('ref');
  if (ref !== undefined) return Boolean(store.projectByIdentifier(slug!, splitRef(ref).identifier)?.members.has(user));
  return [...store.projects.values()].some((p) => p.workspaceSlug === slug && p.members.has(user));
}

/** "ET-12" → ET and 12; Django's `<str:project_identifier>-<str:issue_identifier>` splits at the last dash. */
function splitRef(ref: string): { identifier: string; sequence: string } {
  const dash = ref.lastIndexOf('-');
  return dash < 0 ? { identifier: ref, sequence: '' } : { identifier: ref.slice(0, dash), sequence: ref.slice(dash + 1) };
}

/**
 * request.data as DRF builds it: an empty body is `{}`; JSON and form bodies are parsed by their
 * Content-Type; any other type is a 415. (fetch() sends a string body as text/plain unless told
 * otherwise, so a client that forgets the header finds out here, as it would against Plane.)
 */
function bodyOf(c: C): Record<string, unknown> {
  const raw = c.get('rawBody');
  if (!raw) return {};
  const contentType = c.req.header('content-type') ?? '';
  const mediaType = contentType.split(';')[0]!.trim().toLowerCase();
  if (mediaType === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(raw));
  if (mediaType !== 'application/json') {
    throw new PlaneApiError(415, { detail: `Unsupported media type "${contentType}" in request.` });
  }
  const error = c.get('bodyError');
  if (error) throw new PlaneApiError(400, { detail: `JSON parse error - ${error}` });
  const body = c.get('body');
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) {
    throw new PlaneApiError(400, {
      non_field_errors: [
        `Invalid data. Expected a dictionary, but got ${Array.isArray(body) ? 'list' : typeof body === 'string' ? 'str' : typeof body}.`,
      ],
    });
  }
  return body as Record<string, unknown>;
}

/**
 * Plane's BasePaginator (utils/paginator.py, trackers.md §2.3). The cursor is
 * "{per_page}:{page}:{is_prev}", but the offset is page × the request's per_page; the per_page
 * in the cursor is ignored.
 */
function paginate<T>(c: C, items: T[], render: (item: T) => unknown, maxPerPage: number): Response {
  const perPageRaw = c.req.query('per_page');
  let perPage = maxPerPage;
  if (perPageRaw !== undefined) {
    if (!/^\s*[+-]?\d+\s*$/.test(perPageRaw)) return c.json({ detail: 'Invalid per_page parameter.' }, 400);
    perPage = parseInt(perPageRaw, 10);
    if (perPage > maxPerPage) return c.json({ detail: `Invalid per_page value. Cannot exceed ${maxPerPage}.` }, 400);
    // per_page=0 divides by zero in Plane's page count, which surfaces as its generic 500.
    if (perPage <= 0) return c.json(SERVER_ERROR, 500);
  }

  const cursorRaw = c.req.query('cursor') ?? `${perPage}:0:0`;
  const bits = cursorRaw.split(':');
  const isInt = (s: string | undefined) => s !== undefined && /^\s*[+-]?\d+\s*$/.test(s);
  const isNum = (s: string | undefined) => s !== undefined && (isInt(s) || /^\s*[+-]?(\d+\.\d*|\.\d+)\s*$/.test(s));
  if (bits.length !== 3 || !isNum(bits[0]) || !isInt(bits[1]) || !isInt(bits[2])) {
    return c.json({ detail: 'Invalid cursor parameter.' }, 400);
  }
  const pageNo = parseInt(bits[1]!, 10);
  const offset = pageNo * perPage;
  if (offset < 0) return c.json({ detail: 'Error in parsing' }, 400);

  const window = items.slice(offset, offset + perPage + 1);
  const total = items.length;
  const hasNext = window.length > perPage && offset + perPage < total;
  const results = window.slice(0, perPage);
  return c.json({
    grouped_by: null,
    sub_grouped_by: null,
    total_count: total,
    next_cursor: `${perPage}:${pageNo + 1}:0`,
    prev_cursor: `${perPage}:${pageNo - 1}:1`,
    next_page_results: hasNext,
    prev_page_results: pageNo > 0,
    count: results.length,
    total_pages: total > 0 ? Math.ceil(total / perPage) : 0,
    total_results: total,
    extra_stats: null,
    results: results.map(render),
  });
}

const PRIORITY_ORDER = ['urgent', 'high', 'medium', 'low', 'none'];
const STATE_GROUP_ORDER: StateGroup[] = ['backlog', 'unstarted', 'started', 'completed', 'cancelled'];
const PLAIN_ORDER_FIELDS = new Set([
  'created_at',
  'updated_at',
  'sequence_id',
  'name',
  'start_date',
  'target_date',
  'sort_order',
  'completed_at',
  'id',
]);

/**
 * ?order_by= for work items. Plane orders by the field, then -created_at (§2.3). priority and
 * state__group/state__name use Plane's fixed rank orders. An unrecognised field falls back to
 * -created_at, as Plane's order_by allow-list does. Nulls sort as Postgres does: last ascending,
 * first descending.
 */
function sortIssues(store: PlaneStore, issues: PlaneIssue[], orderBy = '-created_at'): PlaneIssue[] {
  const desc = orderBy.startsWith('-');
  const field = desc ? orderBy.slice(1) : orderBy;
  let key: (i: PlaneIssue) => string | number | null;
  let descending = desc;
  if (field === 'priority') {
    key = (i) => PRIORITY_ORDER.indexOf(i.priority);
  } else if (field === 'state__group' || field === 'state__name') {
    const rank = (g: StateGroup | undefined) =>
      g && STATE_GROUP_ORDER.includes(g) ? STATE_GROUP_ORDER.indexOf(g) : STATE_GROUP_ORDER.length;
    key = (i) => rank(i.state ? store.states.get(i.state)?.group : undefined);
  } else if (TIME_FIELDS.has(field)) {
    key = (i) => instant((i as unknown as Record<string, string | null>)[field]);
  } else if (PLAIN_ORDER_FIELDS.has(field)) {
    key = (i) => (i as unknown as Record<string, string | number | null>)[field] ?? null;
  } else {
    key = (i) => instant(i.created_at);
    descending = true;
  }
  const cmp = (a: string | number | null, b: string | number | null): number => {
    if (a === b) return 0;
    if (a === null) return descending ? -1 : 1;
    if (b === null) return descending ? 1 : -1;
    const r = a < b ? -1 : 1;
    return descending ? -r : r;
  };
  return [...issues].sort((a, b) => cmp(key(a), key(b)) || instant(b.created_at)! - instant(a.created_at)! || (a.id < b.id ? -1 : 1));
}

/** Timestamps and dates sort as instants, not strings. */
const TIME_FIELDS = new Set(['created_at', 'updated_at', 'completed_at', 'start_date', 'target_date']);

/**
 * Microseconds since the epoch. DRF drops a zero fraction ("…:12Z" next to "…:12.000001Z"), so
 * these strings do not sort as text: "." comes before "Z".
 */
function instant(value: string | null | undefined): number | null {
  if (!value) return null;
  const fraction = /\.(\d{1,6})/.exec(value)?.[1] ?? '';
  return Date.parse(value.replace(/\.\d+/, '')) * 1000 + Number(fraction.padEnd(6, '0') || 0);
}

function byDesc<T>(key: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => (instant(key(b)) ?? 0) - (instant(key(a)) ?? 0);
}

function csv(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
