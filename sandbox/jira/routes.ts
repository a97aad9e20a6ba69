// Jira Cloud REST v3 as served by the sandbox, on Jira's real paths (/rest/api/3/…), so a
// client's Jira base_url is the sandbox URL itself.
//
// Each request: basic auth (`email:api_token`; 401 with Jira's plain-text body without it or with
// wrong credentials), then the burst limiter (429 with Retry-After, an ISO 8601 X-RateLimit-Reset
// and RateLimit-Reason: jira-burst-based), then for writes to an existing issue the per-issue
// write limits (20 per 2 s, 100 per 30 s; RateLimit-Reason: jira-per-issue-on-write), then the
// operation. Errors use Jira's ErrorCollection `{errorMessages, errors}` (trackers.md §4.5-4.6).

import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { RateLimiter } from '../rate-limit.ts';
import type { SandboxEnv, TrackerMount } from '../mount.ts';
import { JqlError, compileJql } from './jql.ts';
import { JiraApiError, errorCollection, type JiraIssueRec, type JiraUser } from './model.ts';
import {
  commentJson,
  customFieldMetaJson,
  fieldListJson,
  issueJson,
  versionJson,
  issueTypeJson,
  priorityJson,
  projectRefJson,
  transitionJson,
  userJson,
} from './serialize.ts';
import { type JiraStore } from './store.ts';
import { statusJson, workflowPreviewJson } from './workflow.ts';
import { remoteLinkJson } from './remote-links.ts';

export type JiraEnv = {
  Bindings: SandboxEnv['Bindings'];
  Variables: SandboxEnv['Variables'] & { jiraUser: JiraUser };
};
type C = Context<JiraEnv>;

export interface JiraRoutesOptions {
  store: JiraStore;
  rateLimit: RateLimiter;
  /** The most issues one search/jql page returns, whatever maxResults asks. @defaultValue 100 */
  maxSearchResults?: number;
  /**
   * A fault-injected 429 without `retryAfter` is a gateway 429: no Retry-After, only
   * X-RateLimit-Reset, this far ahead (trackers.md §4.6). @defaultValue 2000
   */
  faultResetMs?: number;
  /** Extra routes (test controls) mounted with the API. */
  control?: Hono;
}

const ROOT = '/rest';
const API = '/rest/api/3';

/** What Jira Cloud answers to missing or wrong basic-auth credentials: plain text, not JSON. */
const UNAUTHENTICATED = 'Client must be authenticated to access this resource.';
const PER_ISSUE_WINDOWS = [
  { limit: 20, perMs: 2_000 },
  { limit: 100, perMs: 30_000 },
];

const iso = (ms: number) => new Date(ms).toISOString();

/** Jira's rendering of an error status, for faults and unrouted paths. */
export function jiraErrorRenderer(faultResetMs = 2_000) {
  return (status: number, retryAfter?: number): Response => {
    const json = (body: unknown, headers: Record<string, string> = {}) =>
      new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json;charset=UTF-8', ...headers } });
    if (status === 429) {
      // A fault's retryAfter becomes Retry-After (set by performFault); the reset is always sent.
      const resetMs = retryAfter !== undefined ? retryAfter * 1000 : faultResetMs;
      return json(errorCollection(['Rate limit exceeded.']), {
        'X-RateLimit-Reset': iso(Date.now() + resetMs),
        'RateLimit-Reason': 'jira-burst-based',
      });
    }
    if (status === 401) return new Response(UNAUTHENTICATED, { status, headers: { 'Content-Type': 'text/plain;charset=UTF-8' } });
    if (status === 403) return json(errorCollection(['You do not have permission to perform this operation.']));
    if (status === 404) return json(errorCollection(['The requested resource could not be found.']));
    if (status >= 500) return json(errorCollection(['Internal server error.']));
    return json(errorCollection(['The request is invalid.']));
  };
}

export function createJiraMount(options: JiraRoutesOptions): TrackerMount {
  const render = jiraErrorRenderer(options.faultResetMs);
  return {
    name: 'jira',
    roots: [ROOT],
    app: createJiraRoutes(options) as unknown as Hono<SandboxEnv>,
    renderError: render,
    notFound: (c, path) => c.json(errorCollection([`null for uri: ${new URL(c.req.url).origin}${path}`]), 404),
  };
}

export function createJiraRoutes({ store, rateLimit, maxSearchResults = 100, control }: JiraRoutesOptions): Hono<JiraEnv> {
  const app = new Hono<JiraEnv>();
  const writes = new Map<string, number[]>();

  app.onError((err, c) => {
    if (err instanceof JiraApiError) {
      return typeof err.body === 'string' ? c.text(err.body, err.status as 401) : c.json(err.body, err.status as 400);
    }
    if (err instanceof JqlError) return c.json(errorCollection([err.message]), 400);
    console.error('[sandbox/jira] unhandled error', err);
    return c.json(errorCollection(['Internal server error.']), 500);
  });

  if (control) app.route('/_sandbox/jira', control);

  /** Authentication, then the burst limiter (per account), as Jira's gateway orders them. */
  const gate: MiddlewareHandler<JiraEnv> = async (c, next) => {
    // self links point at wherever the sandbox is listening.
    store.baseUrl = new URL(c.req.url).origin;
    const auth = c.req.header('authorization') ?? '';
    const m = /^Basic\s+(\S+)$/i.exec(auth);
    let user: JiraUser | undefined;
    if (m) {
      const decoded = Buffer.from(m[1], 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) user = store.authenticate(decoded.slice(0, colon), decoded.slice(colon + 1));
    }
    if (!user) return c.text(UNAUTHENTICATED, 401);
    c.set('jiraUser', user);
    const decision = rateLimit.check('jira', user.accountId);
    if (decision && !decision.allowed) {
      return c.json(errorCollection(['Rate limit exceeded.']), 429, {
        'Retry-After': String(decision.retryAfterSec),
        'X-RateLimit-Reset': iso(Date.now() + decision.retryAfterSec * 1000),
        'X-RateLimit-Limit': String(decision.limit),
        'X-RateLimit-Remaining': '0',
        'RateLimit-Reason': 'jira-burst-based',
      });
    }
    await next();
    if (decision) {
      c.res.headers.set('X-RateLimit-Limit', String(decision.limit));
      c.res.headers.set('X-RateLimit-Remaining', String(decision.remaining));
      if (decision.remaining < decision.limit * 0.2) c.res.headers.set('X-RateLimit-NearLimit', 'true');
    }
  };
  app.use(`${ROOT}/*`, gate);

  const me = (c: C) => c.get('jiraUser').accountId;
  const bodyOf = (c: C): Record<string, unknown> => {
    const err = c.get('bodyError');
    if (err) throw new JiraApiError(400, errorCollection([`Unexpected character in the request body: ${err}`]));
    const body = c.get('body');
    if (body === undefined) throw new JiraApiError(400, errorCollection(['The request body is missing.']));
    return body as Record<string, unknown>;
  };
  const issueOf = (c: C): JiraIssueRec => {
    const issue = store.issue(c.req.param('issueIdOrKey')!);
    if (!issue) throw new JiraApiError(404, errorCollection(['Issue does not exist or you do not have permission to see it.']));
    return issue;
  };
  const csv = (c: C, name: string): string[] | undefined => {
    const values = c.req.queries(name);
    return values && values.length
      ? values
          .flatMap((v) => v.split(','))
          .map((v) => v.trim())
          .filter(Boolean)
      : undefined;
  };

  /** Jira's per-issue write limits, counted for every writer of the issue (trackers.md §4.6). */
  const perIssueWrite = (c: C, issue: JiraIssueRec): Response | null => {
    const now = Date.now();
    const log = (writes.get(issue.id) ?? []).filter((t) => t > now - 30_000);
    writes.set(issue.id, log);
    let wait = 0;
    for (const w of PER_ISSUE_WINDOWS) {
      const inWindow = log.filter((t) => t > now - w.perMs);
      if (inWindow.length >= w.limit) wait = Math.max(wait, inWindow[inWindow.length - w.limit] + w.perMs - now);
    }
    if (wait > 0) {
      store.perIssueRefusals++;
      const seconds = Math.max(1, Math.ceil(wait / 1000));
      return c.json(errorCollection(['Rate limit exceeded.']), 429, {
        'Retry-After': String(seconds),
        'X-RateLimit-Reset': iso(now + seconds * 1000),
        'RateLimit-Reason': 'jira-per-issue-on-write',
      });
    }
    log.push(now);
    return null;
  };

  // ---- the user and the project
  app.get(`${API}/myself`, (c) => c.json(userJson(store, me(c))));

  app.get(`${API}/project/:key`, (c) => {
    const project = store.project(c.req.param('key'));
    if (!project) return c.json(errorCollection([`No project could be found with key '${c.req.param('key')}'.`]), 404);
    return c.json({
      ...projectRefJson(store, project),
      description: '',
      lead: userJson(store, project.lead),
      issueTypes: project.issueTypes.map((t) => issueTypeJson(store, t)),
      assigneeType: 'UNASSIGNED',
      style: 'classic',
    });
  });

  app.get(`${API}/project/:key/versions`, (c) => {
    const project = store.project(c.req.param('key'));
    if (!project) return c.json(errorCollection([`No project could be found with key '${c.req.param('key')}'.`]), 404);
    return c.json(store.versionsOf(project.id).map((v) => versionJson(store, v)));
  });

  app.post(`${API}/version`, (c) => c.json(versionJson(store, store.createVersion(bodyOf(c))), 201));

  app.get(`${API}/project/:key/statuses`, (c) => {
    const project = store.project(c.req.param('key'));
    if (!project) return c.json(errorCollection([`No project could be found with key '${c.req.param('key')}'.`]), 404);
    return c.json(
      project.issueTypes.map((t) => ({
        self: `${store.baseUrl}/rest/api/3/issuetype/${t.id}`,
        id: t.id,
        name: t.name,
        subtask: t.subtask,
        statuses: project.workflow.statuses.map((s) => statusJson(store.baseUrl, s)),
      })),
    );
  });

  app.get(`${API}/priority/search`, (c) => {
    const startAt = Number(c.req.query('startAt') ?? 0) || 0;
    const maxResults = Math.min(Number(c.req.query('maxResults') ?? 50) || 50, 100);
    const values = store.priorities.slice(startAt, startAt + maxResults);
    return c.json({
      self: `${store.baseUrl}/rest/api/3/priority/search?startAt=${startAt}&maxResults=${maxResults}`,
      maxResults,
      startAt,
      total: store.priorities.length,
      isLast: startAt + values.length >= store.priorities.length,
      values: values.map((p) => ({ ...priorityJson(store, p), description: '', statusColor: '#cccccc', isDefault: p.name === 'Medium' })),
    });
  });

  // ---- fields: the site's system and custom fields, and what a create or an edit may set
  app.get(`${API}/field`, (c) => c.json(fieldListJson(store)));

  /** System fields a create takes (the ones the sandbox keeps), in createmeta's shape. */
  const systemMeta = (): Array<Record<string, unknown>> =>
    fieldListJson(store)
      .filter((f) => !f.custom && f.orderable)
      .map((f) => ({
        required: f.id === 'summary' || f.id === 'issuetype' || f.id === 'project',
        schema: f.schema,
        name: f.name,
        key: f.id,
        operations: f.id === 'labels' || f.id === 'fixVersions' ? ['add', 'set', 'remove'] : ['set'],
        hasDefaultValue: f.id === 'priority',
      }));

  app.get(`${API}/issue/createmeta/:projectIdOrKey/issuetypes/:issueTypeId`, (c) => {
    const project = store.project(c.req.param('projectIdOrKey'));
    if (!project) return c.json(errorCollection([`No project could be found with key '${c.req.param('projectIdOrKey')}'.`]), 404);
    if (!project.issueTypes.some((t) => t.id === c.req.param('issueTypeId')))
      return c.json(errorCollection(['The issue type selected is invalid.']), 400);
    const all = [...systemMeta(), ...store.customFieldsOf(project.id).map((f) => customFieldMetaJson(store, f))].map((f) => ({
      ...f,
      fieldId: f.key,
    }));
    const startAt = Math.max(0, Number(c.req.query('startAt') ?? 0) || 0);
    const maxResults = Math.max(1, Math.min(Number(c.req.query('maxResults') ?? 50) || 50, 200));
    return c.json({ maxResults, startAt, total: all.length, fields: all.slice(startAt, startAt + maxResults) });
  });

  app.get(`${API}/issue/:issueIdOrKey/editmeta`, (c) => {
    const issue = issueOf(c);
    const fields = [...systemMeta(), ...store.customFieldsOf(issue.projectId).map((f) => customFieldMetaJson(store, f))];
    return c.json({ fields: Object.fromEntries(fields.map((f) => [f.key as string, f])) });
  });

  // ---- the workflow (read-only preview; needs "View (read-only) workflow")
  app.post(`${API}/workflows/preview`, (c) => {
    const body = bodyOf(c) as { projectId?: unknown; issueTypeIds?: unknown };
    if (!c.get('jiraUser').canReadWorkflow) {
      // The spec's 401: "the caller doesn't have permissions to perform the operation".
      return c.json(
        errorCollection([
          'You are not authorized to perform this action. Administrator privileges or the View (read-only) workflow permission are required.',
        ]),
        401,
      );
    }
    const project = typeof body.projectId === 'string' ? store.projects.get(body.projectId) : undefined;
    if (!project) return c.json(errorCollection(['The projectId parameter is required and must name an existing project.']), 400);
    const ids = Array.isArray(body.issueTypeIds) ? body.issueTypeIds.map(String) : [];
    if (ids.some((id) => !project.issueTypes.some((t) => t.id === id)))
      return c.json(errorCollection(['One or more previews were not found.']), 404);
    return c.json(workflowPreviewJson(project.workflow, project.id, ids.length ? ids : project.issueTypes.map((t) => t.id)));
  });

  // ---- issues
  app.post(`${API}/issue`, (c) => {
    const issue = store.createIssue(bodyOf(c) as never, me(c));
    return c.json({ id: issue.id, key: issue.key, self: `${store.baseUrl}/rest/api/3/issue/${issue.id}` }, 201);
  });

  app.get(`${API}/issue/:issueIdOrKey`, (c) =>
    c.json(issueJson(store, issueOf(c), { fields: csv(c, 'fields'), properties: csv(c, 'properties') })),
  );

  app.put(`${API}/issue/:issueIdOrKey`, (c) => {
    const issue = issueOf(c);
    const body = bodyOf(c);
    const limited = perIssueWrite(c, issue);
    if (limited) return limited;
    store.editIssue(issue.id, body as never, me(c));
    if (c.req.query('returnIssue') === 'true') return c.json(issueJson(store, issue), 200);
    return c.body(null, 204);
  });

  app.delete(`${API}/issue/:issueIdOrKey`, (c) => {
    const issue = issueOf(c);
    const limited = perIssueWrite(c, issue);
    if (limited) return limited;
    store.deleteIssue(issue.id, me(c), (i) => issueJson(store, i));
    return c.body(null, 204);
  });

  app.get(`${API}/issue/:issueIdOrKey/transitions`, (c) => {
    const issue = issueOf(c);
    return c.json({ expand: 'transitions', transitions: store.availableTransitions(issue).map((t) => transitionJson(store, t)) });
  });

  app.post(`${API}/issue/:issueIdOrKey/transitions`, (c) => {
    const issue = issueOf(c);
    const body = bodyOf(c) as { transition?: { id?: unknown } };
    const limited = perIssueWrite(c, issue);
    if (limited) return limited;
    store.transition(issue.id, body.transition?.id, me(c));
    return c.body(null, 204);
  });

  app.get(`${API}/issue/:issueIdOrKey/comment`, (c) => {
    const issue = issueOf(c);
    const startAt = Number(c.req.query('startAt') ?? 0) || 0;
    const maxResults = Math.min(Number(c.req.query('maxResults') ?? 100) || 100, 5000);
    const order = c.req.query('orderBy') ?? 'created';
    let list = store.commentsOf(issue.id);
    if (order === '-created') list = list.reverse();
    const page = list.slice(startAt, startAt + maxResults);
    return c.json({ startAt, maxResults, total: list.length, comments: page.map((x) => commentJson(store, x)) });
  });

  app.post(`${API}/issue/:issueIdOrKey/comment`, (c) => {
    const issue = issueOf(c);
    const body = bodyOf(c) as { body?: unknown };
    const limited = perIssueWrite(c, issue);
    if (limited) return limited;
    return c.json(commentJson(store, store.addComment(issue.id, body.body, me(c))), 201);
  });

  app.get(`${API}/issue/:issueIdOrKey/remotelink`, (c) => {
    const issue = issueOf(c);
    const globalId = c.req.query('globalId');
    const origin = new URL(c.req.url).origin;
    const links = store.remoteLinks.of(issue.id).filter((l) => globalId === undefined || l.globalId === globalId);
    if (globalId !== undefined) {
      if (!links.length) return c.json(errorCollection(['No remote link with that global ID exists on the issue.']), 404);
      return c.json(remoteLinkJson(links[0]!, origin, issue.key));
    }
    return c.json(links.map((l) => remoteLinkJson(l, origin, issue.key)));
  });

  app.post(`${API}/issue/:issueIdOrKey/remotelink`, (c) => {
    const issue = issueOf(c);
    const body = bodyOf(c) as Record<string, unknown>;
    const limited = perIssueWrite(c, issue);
    if (limited) return limited;
    const written = store.remoteLinks.upsert(issue.id, body);
    if ('errors' in written) return c.json(errorCollection([], written.errors), 400);
    const { link, created } = written;
    return c.json(
      { id: link.id, self: `${new URL(c.req.url).origin}/rest/api/3/issue/${issue.key}/remotelink/${link.id}` },
      created ? 201 : 200,
    );
  });

  // DELETE by global ID (required: 400 without it) or by link id; 204, or 404 when there is none.
  app.delete(`${API}/issue/:issueIdOrKey/remotelink`, (c) => {
    const issue = issueOf(c);
    const globalId = c.req.query('globalId');
    if (!globalId) return c.json(errorCollection(['The global ID of the remote link is required.']), 400);
    const limited = perIssueWrite(c, issue);
    if (limited) return limited;
    if (!store.remoteLinks.removeByGlobalId(issue.id, globalId))
      return c.json(errorCollection(['No remote link with that global ID exists on the issue.']), 404);
    return c.body(null, 204);
  });

  app.delete(`${API}/issue/:issueIdOrKey/remotelink/:linkId`, (c) => {
    const issue = issueOf(c);
    const limited = perIssueWrite(c, issue);
    if (limited) return limited;
    if (!store.remoteLinks.remove(issue.id, Number(c.req.param('linkId'))))
      return c.json(errorCollection(['The remote issue link does not exist.']), 404);
    return c.body(null, 204);
  });

  app.get(`${API}/issue/:issueIdOrKey/properties/:propertyKey`, (c) => {
    const issue = issueOf(c);
    const key = c.req.param('propertyKey');
    if (!issue.properties.has(key)) return c.json(errorCollection([`The property with key '${key}' does not exist.`]), 404);
    return c.json({ key, value: issue.properties.get(key) });
  });

  app.put(`${API}/issue/:issueIdOrKey/properties/:propertyKey`, (c) => {
    const issue = issueOf(c);
    const body = bodyOf(c);
    const limited = perIssueWrite(c, issue);
    if (limited) return limited;
    const outcome = store.setProperty(issue.id, c.req.param('propertyKey'), body);
    return c.body(null, outcome === 'created' ? 201 : 200);
  });

  // ---- search (search/jql; the old /search is gone, as on Jira Cloud since 2025)
  const search = (
    c: C,
    params: {
      jql?: unknown;
      nextPageToken?: unknown;
      maxResults?: unknown;
      fields?: unknown;
      properties?: unknown;
      reconcileIssues?: unknown;
    },
  ) => {
    const user = c.get('jiraUser');
    const jql = typeof params.jql === 'string' ? params.jql : '';
    const compiled = compileJql(jql, { timeZone: user.timeZone, indexedProperties: store.indexedProperties });
    // The index lags writes (eventual consistency): an issue newer than the lag is not found,
    // except the ones the caller names in reconcileIssues (read-after-write for up to 50 ids).
    const reconciled = new Set((Array.isArray(params.reconcileIssues) ? params.reconcileIssues : []).map(String));
    const all = [...store.issues.values()]
      .filter((i) => store.indexed(i) || reconciled.has(i.id))
      .map((i) => ({ issue: i, subject: store.jqlSubject(i) }))
      .filter((x) => compiled.match(x.subject))
      .sort((a, b) => compiled.compare(a.subject, b.subject));
    let offset = 0;
    if (typeof params.nextPageToken === 'string' && params.nextPageToken !== '') {
      const decoded = decodeToken(params.nextPageToken);
      if (!decoded || decoded.jql !== jql) return c.json(errorCollection(['The provided next page token is invalid or expired.']), 400);
      offset = decoded.offset;
    }
    const requested = params.maxResults === undefined ? 50 : Number(params.maxResults);
    const size = Math.max(1, Math.min(Number.isFinite(requested) ? requested : 50, maxSearchResults));
    const page = all.slice(offset, offset + size);
    const isLast = offset + page.length >= all.length;
    const fields = Array.isArray(params.fields)
      ? (params.fields as string[])
      : typeof params.fields === 'string'
        ? [params.fields]
        : ['id'];
    const properties = Array.isArray(params.properties)
      ? (params.properties as string[])
      : typeof params.properties === 'string'
        ? [params.properties]
        : [];
    return c.json({
      issues: page.map((x) =>
        issueJson(store, x.issue, { fields: fields.includes('id') && fields.length === 1 ? [] : fields, properties }),
      ),
      ...(isLast ? {} : { nextPageToken: encodeToken({ jql, offset: offset + page.length }) }),
      isLast,
    });
  };
  app.post(`${API}/search/jql`, (c) => search(c, bodyOf(c)));
  app.get(`${API}/search/jql`, (c) =>
    search(c, {
      jql: c.req.query('jql'),
      nextPageToken: c.req.query('nextPageToken'),
      maxResults: c.req.query('maxResults'),
      fields: csv(c, 'fields'),
      properties: csv(c, 'properties'),
      reconcileIssues: csv(c, 'reconcileIssues'),
    }),
  );
  const removed = (c: C) =>
    c.json(
      errorCollection([
        'The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046',
      ]),
      410,
    );
  app.get(`${API}/search`, removed);
  app.post(`${API}/search`, removed);

  return app;
}

function encodeToken(t: { jql: string; offset: number }): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeToken(token: string): { jql: string; offset: number } | null {
  try {
    const t = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { jql?: unknown; offset?: unknown };
    return typeof t.jql === 'string' && typeof t.offset === 'number' ? { jql: t.jql, offset: t.offset } : null;
  } catch {
    return null;
  }
}
