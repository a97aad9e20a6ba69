/**
 * Tests for the OpenAPI request validator that the adapter test suites use. Each test checks both
 * directions: the real request is accepted, and a broken version of it is rejected with an error
 * that names the field. So a validator that accepted everything (or rejected everything) would fail.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSpecValidator, specMissing, type SpecValidator, type ValidationResult } from '../support/openapi-validator.ts';

const UUID_A = '3f2b6c1e-8d4a-4e7b-9c15-2a6d8e0f4b71';
const UUID_B = '9a1c7e52-0b3d-4f68-a2e9-5c7d1b8f3e06';
const UUID_C = 'c4e8a0d2-6f1b-4a39-8e57-0d2c9b6a1f84';

function expectOk(r: ValidationResult, operationId?: string): void {
  expect(r.errors).toEqual([]);
  expect(r.ok).toBe(true);
  if (operationId) expect(r.operationId).toBe(operationId);
}

function expectInvalid(r: ValidationResult, ...mentions: RegExp[]): void {
  expect(r.ok).toBe(false);
  expect(r.errors.length).toBeGreaterThan(0);
  for (const m of mentions) expect(r.errors.join('\n')).toMatch(m);
}

describe.skipIf(specMissing('plane'))('Plane', () => {
  let plane: SpecValidator;
  const api = 'https://plane.example.com/api/v1';
  const project = `${api}/workspaces/acme/projects/${UUID_A}`;
  const validCreate = {
    name: 'Sync the thing',
    description_html: '<p>From Trackline</p>',
    priority: 'high',
    state: UUID_B,
    labels: [UUID_C],
    external_id: 'wi-42',
    external_source: 'trackline',
  };

  beforeAll(async () => {
    plane = await loadSpecValidator('plane');
  });

  it('accepts a create work-item POST and rejects wrong field types, naming the field', () => {
    // The Issue schema lists readOnly id/created_at/project/... as required. Those are response-only,
    // so passing here also shows that readOnly properties are not required in requests.
    expectOk(plane.validate({ method: 'POST', url: `${project}/work-items/`, body: validCreate }), 'workspaces_projects_issues_create');

    const badPriority = plane.validate({ method: 'POST', url: `${project}/work-items/`, body: { ...validCreate, priority: 5 } });
    expectInvalid(badPriority, /body\/priority/);
    expect(badPriority.errors.every((e) => e.startsWith('body/priority'))).toBe(true);

    expectInvalid(
      plane.validate({ method: 'POST', url: `${project}/work-items/`, body: { ...validCreate, labels: 'x' } }),
      /body\/labels: must be array/,
    );
    expectInvalid(
      plane.validate({ method: 'POST', url: `${project}/work-items/`, body: { ...validCreate, priority: 'p1' } }),
      /body\/priority.*allowed values/,
    );
    expectInvalid(
      plane.validate({ method: 'POST', url: `${project}/work-items/`, body: { ...validCreate, labels: ['bug'] } }),
      /body\/labels\/0.*uuid/,
    );
  });

  it('still requires the non-readOnly required fields and treats readOnly fields in a body as errors', () => {
    const { name: _name, ...withoutName } = validCreate;
    expectInvalid(plane.validate({ method: 'POST', url: `${project}/work-items/`, body: withoutName }), /required property 'name'/);
    expectInvalid(
      plane.validate({ method: 'POST', url: `${project}/work-items/`, body: { ...validCreate, id: UUID_A } }),
      /body\/id: is readOnly/,
    );
    expectOk(plane.validate({ method: 'POST', url: `${project}/work-items/`, body: validCreate }));
  });

  it('rejects an unknown path, and does not ignore the trailing slash Django needs', () => {
    expectInvalid(plane.validate({ method: 'POST', url: `${project}/work-itemz/`, body: validCreate }), /no path in the plane spec/);
    expectInvalid(plane.validate({ method: 'POST', url: `${project}/work-items`, body: validCreate }), /with a trailing slash/);
    expectOk(plane.validate({ method: 'POST', url: `${project}/work-items/`, body: validCreate }));
  });

  it('rejects a method the spec does not define for a work-item detail route', () => {
    // The workspace-level detail `work-items/{IDENT}-{seq}/` is GET-only.
    const detail = `${api}/workspaces/acme/work-items/ENG-12/`;
    expectOk(plane.validate({ method: 'GET', url: detail }), 'workspaces_issues___retrieve');
    expectInvalid(plane.validate({ method: 'PUT', url: detail, body: { name: 'x' } }), /method PUT is not defined .*spec allows: GET/);
    // Work-item activities are GET-only too.
    expectOk(plane.validate({ method: 'GET', url: `${project}/work-items/${UUID_B}/activities/` }));
    expectInvalid(plane.validate({ method: 'DELETE', url: `${project}/work-items/${UUID_B}/activities/` }), /method DELETE is not defined/);
    // The project-scoped detail `issues/{id}/` does list PUT (and POST) in this spec:
    // drf-spectacular documents every method of the view on both routes. The spec is the
    // authority, so PUT is accepted there, but its body still has to be an Issue.
    expectOk(
      plane.validate({ method: 'PUT', url: `${project}/work-items/${UUID_B}/`, body: validCreate }),
      'workspaces_projects_issues_update_2',
    );
    expectInvalid(
      plane.validate({ method: 'PUT', url: `${project}/work-items/${UUID_B}/`, body: { ...validCreate, priority: 5 } }),
      /body\/priority/,
    );
  });

  it('accepts the external-id lookup (query params the spec does not list) but checks path params', () => {
    expectOk(
      plane.validate({ method: 'GET', url: `${project}/work-items/?external_id=wi-42&external_source=trackline` }),
      'workspaces_projects_issues_retrieve',
    );
    // project_id is `format: uuid` in the spec; an identifier is not accepted there.
    expectInvalid(
      plane.validate({ method: 'GET', url: `${api}/workspaces/acme/projects/ENG/work-items/?external_id=wi-42&external_source=trackline` }),
      /path parameter 'project_id'.*uuid/,
    );
  });

  it('accepts a comment POST with comment_html and rejects a bad one', () => {
    const url = `${project}/work-items/${UUID_B}/comments/`;
    expectOk(
      plane.validate({ method: 'POST', url, body: { comment_html: '<p>Synced</p>' } }),
      'workspaces_projects_issues_comments_create',
    );
    expectInvalid(plane.validate({ method: 'POST', url, body: { comment_html: 42 } }), /body\/comment_html: must be string/);
    expectInvalid(plane.validate({ method: 'POST', url, body: { comment_html: '<p>x</p>', access: 'PUBLIC' } }), /body\/access.*INTERNAL/);
  });

  it('accepts PATCH {state: uuid} (and null for nullable fields) and rejects a non-uuid state', () => {
    const url = `${project}/work-items/${UUID_B}/`;
    expectOk(plane.validate({ method: 'PATCH', url, body: { state: UUID_C } }), 'workspaces_projects_issues_partial_update_2');
    expectOk(plane.validate({ method: 'PATCH', url, body: { state: null, parent: null, target_date: '2026-03-01' } }));
    expectInvalid(plane.validate({ method: 'PATCH', url, body: { state: 'Todo' } }), /body\/state.*uuid/);
    expectInvalid(plane.validate({ method: 'PATCH', url, body: { target_date: 'next week' } }), /body\/target_date.*date/);
  });

  it('maps work-items to issues, accepts a JSON string body, and checks the content type', () => {
    const issuesUrl = `${project}/issues/`;
    const a = plane.validate({ method: 'POST', url: `${project}/work-items/`, body: validCreate });
    const b = plane.validate({ method: 'POST', url: issuesUrl, body: validCreate });
    expect(a.pathTemplate).toBe('/workspaces/{slug}/projects/{project_id}/issues/');
    expect(b.operationId).toBe(a.operationId);
    expectOk(
      plane.validate({
        method: 'POST',
        url: issuesUrl,
        headers: { 'Content-Type': 'application/json; charset=utf-8' },
        body: JSON.stringify(validCreate),
      }),
    );
    expectInvalid(
      plane.validate({ method: 'POST', url: issuesUrl, headers: { 'content-type': 'application/json' }, body: '{not json' }),
      /not valid JSON/,
    );
    expectInvalid(
      plane.validate({ method: 'POST', url: issuesUrl, headers: { 'content-type': 'text/plain' }, body: 'hi' }),
      /content-type text\/plain is not accepted/,
    );
  });
});

describe.skipIf(specMissing('jira'))('Jira', () => {
  let jira: SpecValidator;
  const site = 'https://acme.atlassian.net';

  beforeAll(async () => {
    jira = await loadSpecValidator('jira');
  });

  it('accepts POST /rest/api/3/issue and rejects a body with the wrong type', () => {
    const body = { fields: { project: { key: 'ET' }, summary: 'x', issuetype: { name: 'Task' } } };
    expectOk(jira.validate({ method: 'POST', url: `${site}/rest/api/3/issue`, body }), 'createIssue');
    expectInvalid(
      jira.validate({ method: 'POST', url: `${site}/rest/api/3/issue`, body: { fields: 'x' } }),
      /body\/fields: must be object/,
    );
    expectInvalid(
      jira.validate({ method: 'POST', url: `${site}/rest/api/3/issue`, body: { ...body, update: [] } }),
      /body\/update: must be object/,
    );
    expectInvalid(jira.validate({ method: 'POST', url: `${site}/rest/api/3/issue` }), /request body is required/);
  });

  it('accepts a transition POST (also through the api.atlassian.com OAuth prefix) and rejects a numeric id', () => {
    const url = `${site}/rest/api/3/issue/ET-1/transitions`;
    expectOk(jira.validate({ method: 'POST', url, body: { transition: { id: '21' } } }), 'doTransition');
    expectOk(
      jira.validate({
        method: 'POST',
        url: 'https://api.atlassian.com/ex/jira/1a2b3c/rest/api/3/issue/ET-1/transitions',
        body: { transition: { id: '21' } },
      }),
      'doTransition',
    );
    expectInvalid(jira.validate({ method: 'POST', url, body: { transition: { id: 21 } } }), /body\/transition\/id: must be string/);
  });

  it('accepts GET /rest/api/3/search/jql with jql and nextPageToken and rejects a non-integer maxResults', () => {
    const ok = jira.validate({
      method: 'GET',
      url: `${site}/rest/api/3/search/jql?jql=${encodeURIComponent('project = ET ORDER BY updated')}&nextPageToken=CAEaAggD&maxResults=100&fields=summary&fields=status`,
    });
    expectOk(ok, 'searchAndReconsileIssuesUsingJql');
    expectInvalid(
      jira.validate({ method: 'GET', url: `${site}/rest/api/3/search/jql?jql=x&maxResults=abc` }),
      /query parameter 'maxResults': must be integer/,
    );
    expectInvalid(
      jira.validate({ method: 'GET', url: `${site}/rest/api/3/search/jql?jql=x&failFast=maybe` }),
      /query parameter 'failFast': must be boolean/,
    );
  });

  it('lets readOnly properties through in Jira bodies but rejects unknown paths and methods', () => {
    // IssueTransition.name is readOnly. Jira's readOnly flags are unreliable, so for Jira they are not errors.
    expectOk(
      jira.validate({ method: 'POST', url: `${site}/rest/api/3/issue/ET-1/transitions`, body: { transition: { id: '21', name: 'Done' } } }),
    );
    expectInvalid(jira.validate({ method: 'POST', url: `${site}/rest/api/3/issue/ET-1/transition`, body: {} }), /no path in the jira spec/);
    expectInvalid(jira.validate({ method: 'PATCH', url: `${site}/rest/api/3/issue/ET-1` }), /method PATCH is not defined/);
  });

  it('handles additionalProperties:false + discriminator oneOf schemas (a Jira spec quirk)', () => {
    // CustomFieldContextDefaultValue: `additionalProperties: false` with only `type` declared next
    // to a discriminated oneOf. Read literally, no default value with a real property could pass.
    const url = `${site}/rest/api/3/field/customfield_10001/context/defaultValue`;
    expectOk(
      jira.validate({ method: 'PUT', url, body: { defaultValues: [{ type: 'option.single', contextId: '10100', optionId: '10001' }] } }),
    );
    // The discriminator picks the branch, and that branch's types are still enforced.
    expectInvalid(
      jira.validate({ method: 'PUT', url, body: { defaultValues: [{ type: 'option.single', contextId: 10100, optionId: '10001' }] } }),
      /contextId: must be string/,
    );
    expectInvalid(
      jira.validate({
        method: 'PUT',
        url,
        body: { defaultValues: [{ type: 'option.single', contextId: '10100', optionId: '10001', bogus: 1 }] },
      }),
      /bogus/,
    );
  });
});

describe('GitHub', () => {
  let github: SpecValidator;
  const gh = 'https://api.github.com';

  beforeAll(async () => {
    github = await loadSpecValidator('github');
  });

  it('accepts POST /repos/o/r/issues and rejects wrong shapes', () => {
    const url = `${gh}/repos/o/r/issues`;
    expectOk(
      github.validate({ method: 'POST', url, body: { title: 'x', labels: ['a'], assignees: ['u'], milestone: 1 } }),
      'issues/create',
    );
    // labels is oneOf [string, object]; both forms are accepted.
    expectOk(github.validate({ method: 'POST', url, body: { title: 'x', labels: [{ name: 'a' }, 'b'] } }));
    expectInvalid(github.validate({ method: 'POST', url, body: { title: 'x', labels: 'a' } }), /body\/labels: must be array/);
    expectInvalid(github.validate({ method: 'POST', url, body: { labels: ['a'] } }), /required property 'title'/);
    expectInvalid(github.validate({ method: 'POST', url, body: { title: 'x', labels: [5] } }), /body\/labels\/0/);
  });

  it('accepts PATCH state=closed/state_reason=completed and rejects state=done', () => {
    const url = `${gh}/repos/o/r/issues/1`;
    expectOk(github.validate({ method: 'PATCH', url, body: { state: 'closed', state_reason: 'completed' } }), 'issues/update');
    // Nullable quirks: state_reason is enum + nullable, milestone is oneOf + nullable. null clears them.
    expectOk(github.validate({ method: 'PATCH', url, body: { state: 'open', state_reason: null, milestone: null } }));
    expectInvalid(
      github.validate({ method: 'PATCH', url, body: { state: 'done' } }),
      /body\/state: must be equal to one of the allowed values: "open", "closed"/,
    );
    expectInvalid(github.validate({ method: 'PATCH', url, body: { state_reason: 'fixed' } }), /body\/state_reason/);
    expectInvalid(
      github.validate({ method: 'PATCH', url: `${gh}/repos/o/r/issues/one`, body: { state: 'closed' } }),
      /path parameter 'issue_number': must be integer/,
    );
  });

  it('accepts the issue list query and rejects per_page=abc', () => {
    expectOk(
      github.validate({ method: 'GET', url: `${gh}/repos/o/r/issues?state=all&since=2026-01-01T00:00:00Z&per_page=100` }),
      'issues/list-for-repo',
    );
    expectInvalid(
      github.validate({ method: 'GET', url: `${gh}/repos/o/r/issues?state=all&per_page=abc` }),
      /query parameter 'per_page': must be integer/,
    );
    expectInvalid(github.validate({ method: 'GET', url: `${gh}/repos/o/r/issues?state=everything` }), /query parameter 'state'/);
    expectInvalid(github.validate({ method: 'GET', url: `${gh}/repos/o/r/issues?since=yesterday` }), /query parameter 'since'.*date-time/);
  });

  it('reports GraphQL as not covered and leaves the decision to the caller', () => {
    const graphql = { method: 'POST', url: `${gh}/graphql`, body: { query: '{ viewer { login } }' } };
    const r = github.validate(graphql);
    expect(r.ok).toBe(false);
    expect(r.notCovered).toBe(true);
    expect(r.errors[0]).toMatch(/not covered/);
    expect(github.validate({ method: 'GET', url: `${gh}/repos/o/r/issues` }).notCovered).toBeUndefined();
    expect(() => github.assertAll([graphql])).toThrow(/not covered/);
    expect(() => github.assertAll([graphql], { allowNotCovered: true })).not.toThrow();
  });
});

describe('assertAll and loading', () => {
  it('throws one Error that lists every invalid request with its errors, and passes valid batches', async () => {
    const github = await loadSpecValidator('github');
    const good = { method: 'GET', url: 'https://api.github.com/repos/o/r/issues?per_page=100' };
    const badBody = { method: 'PATCH', url: 'https://api.github.com/repos/o/r/issues/7', body: { state: 'done' } };
    const badQuery = { method: 'GET', url: 'https://api.github.com/repos/o/r/issues?per_page=abc' };

    expect(() => github.assertAll([good, good])).not.toThrow();
    let message = '';
    try {
      github.assertAll([good, badBody, good, badQuery]);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^2 of 4 request\(s\) do not match the github OpenAPI description/);
    expect(message).toContain('[1] PATCH https://api.github.com/repos/o/r/issues/7 (issues/update)');
    expect(message).toContain('body/state: must be equal to one of the allowed values');
    expect(message).toContain('[3] GET https://api.github.com/repos/o/r/issues?per_page=abc (issues/list-for-repo)');
    expect(message).toContain("query parameter 'per_page': must be integer");
    expect(message).not.toContain('[0]');
  });

  it.skipIf(specMissing('jira'))('caches one validator per spec per process', async () => {
    const [a, b] = await Promise.all([loadSpecValidator('github'), loadSpecValidator('github')]);
    expect(a).toBe(b);
    expect(a).toBe(await loadSpecValidator('github'));
    expect(a).not.toBe(await loadSpecValidator('jira'));
    expect(a.loadMs).toBeGreaterThan(0);
  });
});
