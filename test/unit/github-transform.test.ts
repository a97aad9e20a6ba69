import { describe, expect, it } from 'vitest';
import {
  StateModel,
  commentBody,
  composeLabels,
  hasCommentMarker,
  issueToFields,
  itemKeyOf,
  parseIssueRef,
  stripCommentMarker,
  stripItemMarker,
  withItemMarker,
} from '../../src/trackers/github/transform.ts';
import { readGitHubSignals } from '../../src/trackers/github/rate-signals.ts';
import { isContentCreating } from '../../src/trackers/github/transport.ts';
import { nextLink } from '../../src/trackers/github/api.ts';
import { parsePollCursor } from '../../src/trackers/github/adapter.ts';
import { fieldInput, itemToFields } from '../../src/trackers/github-project/transform.ts';
import type { GhIssue } from '../../src/trackers/github/wire.ts';

const model = new StateModel({
  planned: 'todo',
  doing: 'in-progress',
  for_review: 'In Review',
  done: 'closed',
  cancelled: 'closed:not_planned',
  triage: 'open',
});

const issue = (over: Partial<GhIssue>): GhIssue => ({
  id: 1,
  node_id: 'I_1',
  number: 42,
  title: 'T',
  body: 'Body',
  state: 'open',
  state_reason: null,
  labels: [],
  assignees: [],
  milestone: null,
  html_url: 'https://github.com/o/r/issues/42',
  updated_at: '2026-01-01T00:00:00Z',
  ...over,
});

describe('the item marker', () => {
  it('is appended as a hidden comment and never reads back as part of the body', () => {
    const written = withItemMarker('Build the **models**.', 'user-auth/WP02');
    expect(written).toBe('Build the **models**.\n\n<!-- trackline:item=user-auth%2FWP02 -->');
    expect(stripItemMarker(written)).toBe('Build the **models**.');
    expect(itemKeyOf(written)).toBe('user-auth/WP02');
    // An empty body is just the marker, and reads back empty.
    expect(stripItemMarker(withItemMarker('', 'k'))).toBe('');
    // Writing twice keeps one marker.
    expect(withItemMarker(written, 'user-auth/WP02')).toBe(written);
  });

  it('a person’s web edit (CRLF, text after the marker) reads back cleanly', () => {
    const edited = 'Line one\r\nLine two\r\n\r\n<!-- trackline:item=k -->\r\nAdded below';
    expect(stripItemMarker(edited)).toBe('Line one\nLine two\nAdded below');
    expect(itemKeyOf(edited)).toBe('k');
    expect(itemKeyOf('no marker')).toBeNull();
  });

  it('comments carry their own marker', () => {
    const body = commentBody(12, 'Stage: a -> b', 'agent:planner');
    expect(body).toBe('_agent:planner_:\n\nStage: a -> b\n\n<!-- trackline:comment=12 -->');
    expect(hasCommentMarker(body, 12)).toBe(true);
    expect(hasCommentMarker(body, 1)).toBe(false);
    expect(hasCommentMarker(body)).toBe(true);
    expect(stripCommentMarker(body)).toBe('_agent:planner_:\n\nStage: a -> b');
  });
});

describe('state mapping', () => {
  it('parses every form of state_map value', () => {
    expect(model.parse('closed')).toEqual({ open: false, reason: 'completed' });
    expect(model.parse('closed:not_planned')).toEqual({ open: false, reason: 'not_planned' });
    expect(model.parse('open')).toEqual({ open: true, label: null });
    expect(model.parse('IN-PROGRESS')).toEqual({ open: true, label: 'in-progress' });
    expect(model.parse('hibernating')).toBeNull();
    expect(model.statusLabels).toEqual(['todo', 'in-progress', 'In Review']);
  });

  it('reads an issue’s state in state_map value form', () => {
    expect(model.read(issue({ state: 'closed', state_reason: 'completed' }))).toBe('closed');
    expect(model.read(issue({ state: 'closed', state_reason: null }))).toBe('closed');
    expect(model.read(issue({ state: 'closed', state_reason: 'not_planned' }))).toBe('closed:not_planned');
    expect(model.read(issue({ state: 'closed', state_reason: 'duplicate' }))).toBe('closed:not_planned');
    expect(model.read(issue({ labels: [{ name: 'bug' }, { name: 'In-Progress' }] }))).toBe('in-progress');
    expect(model.read(issue({ labels: [{ name: 'bug' }] }))).toBe('open');
    // Two status labels: the later one in state_map wins (a person moved it on without removing).
    expect(model.read(issue({ labels: [{ name: 'in review' }, { name: 'todo' }] }))).toBe('In Review');
    // A closed issue is closed whatever labels it kept.
    expect(model.read(issue({ state: 'closed', labels: [{ name: 'todo' }] }))).toBe('closed');
  });

  it('closed:not_planned reads as closed when the map does not use it', () => {
    const plain = new StateModel({ done: 'closed' });
    expect(plain.read(issue({ state: 'closed', state_reason: 'not_planned' }))).toBe('closed');
  });

  it('normalized fields: status labels are state, not labels; marker stripped; sets sorted', () => {
    const fields = issueToFields(
      issue({
        body: 'Hello\n\n<!-- trackline:item=a%2Fb -->',
        labels: [{ name: 'db' }, { name: 'in-progress' }, 'backend'],
        assignees: [
          { login: 'bob', id: 2 },
          { login: 'alice', id: 1 },
        ],
        milestone: { number: 3, title: 'Feature 001' },
      }),
      model,
    );
    expect(fields).toEqual({
      title: 'T',
      body: 'Hello',
      state: 'in-progress',
      labels: ['backend', 'db'],
      assignees: ['alice', 'bob'],
      milestone: 'Feature 001',
    });
  });

  it('composes a PATCH label set with at most one status label', () => {
    expect(composeLabels(['backend', 'todo', 'db'], 'in-progress', model)).toEqual(['backend', 'db', 'in-progress']);
    expect(composeLabels(['backend', 'Backend'], null, model)).toEqual(['backend']);
    expect(composeLabels([], null, model)).toEqual([]);
  });
});

describe('references', () => {
  it('parses the ways people name an issue', () => {
    expect(parseIssueRef('42')).toEqual({ number: 42 });
    expect(parseIssueRef('#42')).toEqual({ number: 42 });
    expect(parseIssueRef('acme/app#7')).toEqual({ number: 7, repo: 'acme/app' });
    expect(parseIssueRef('https://github.com/acme/app/issues/9')).toEqual({ number: 9, repo: 'acme/app' });
    expect(parseIssueRef('https://ghe.example.com/api/v3/repos/acme/app/issues/9')).toEqual({ number: 9, repo: 'acme/app' });
    expect(parseIssueRef('ET-2')).toBeNull();
  });

  it('follows the link header’s next', () => {
    const link =
      '<https://api.github.com/repositories/1/issues?page=2>; rel="next", <https://api.github.com/repositories/1/issues?page=5>; rel="last"';
    expect(nextLink(link)).toBe('https://api.github.com/repositories/1/issues?page=2');
    expect(nextLink('<https://x/?page=1>; rel="prev"')).toBeNull();
    expect(nextLink(undefined)).toBeNull();
  });

  it('reads poll cursors as JSON or a bare timestamp', () => {
    expect(parsePollCursor(null)).toEqual({});
    expect(parsePollCursor('{"since":"2026-01-01T00:00:00Z","etag":"W/\\"x\\""}')).toEqual({
      since: '2026-01-01T00:00:00Z',
      etag: 'W/"x"',
    });
    expect(parsePollCursor('2026-01-01T00:00:00Z')).toEqual({ since: '2026-01-01T00:00:00Z' });
  });
});

describe('GitHub rate signals (trackers.md 3.5)', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const h = (o: Record<string, string>) => new Headers(o);

  it('a secondary limit with retry-after pauses that long', () => {
    const s = readGitHubSignals(
      403,
      h({ 'retry-after': '5', 'x-ratelimit-remaining': '4000' }),
      { message: 'You have exceeded a secondary rate limit.' },
      now,
      0,
    );
    expect(s).toMatchObject({ limited: true, pauseMs: 5000 });
    expect(s.keep['retry-after']).toBe('5');
  });

  it('the primary limit pauses until reset', () => {
    const reset = String(now / 1000 + 120);
    const s = readGitHubSignals(
      403,
      h({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }),
      { message: 'API rate limit exceeded' },
      now,
      0,
    );
    expect(s.limited).toBe(true);
    expect(s.pauseMs).toBe(121_000);
    // Allowed, but the last one of the window: pause without failing the call.
    const last = readGitHubSignals(200, h({ 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }), {}, now, 0);
    expect(last).toMatchObject({ limited: false, pauseMs: 121_000 });
  });

  it('a secondary limit without retry-after waits a minute, growing exponentially', () => {
    const body = {
      message: 'You have exceeded a secondary rate limit.',
      documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
    };
    expect(readGitHubSignals(403, h({ 'x-ratelimit-remaining': '10' }), body, now, 0)).toMatchObject({
      limited: true,
      pauseMs: 60_000,
      secondaryWithoutRetryAfter: true,
    });
    expect(readGitHubSignals(403, h({}), body, now, 2)).toMatchObject({ pauseMs: 240_000 });
    expect(readGitHubSignals(429, h({}), {}, now, 10)).toMatchObject({ limited: true, pauseMs: 15 * 60_000 });
  });

  it('a 403 that is not a rate limit stays a permission error', () => {
    const s = readGitHubSignals(
      403,
      h({ 'x-ratelimit-remaining': '4999' }),
      { message: 'Resource not accessible by personal access token' },
      now,
      0,
    );
    expect(s).toEqual({ keep: { 'x-ratelimit-remaining': '4999' }, limited: false });
  });

  it('writes are what GitHub counts as content-creating; a GraphQL query is a read', () => {
    expect(isContentCreating('GET', '/repos/o/r/issues', undefined)).toBe(false);
    expect(isContentCreating('PATCH', '/repos/o/r/issues/1', '{}')).toBe(true);
    expect(isContentCreating('POST', '/graphql', JSON.stringify({ query: 'query { viewer { login } }' }))).toBe(false);
    expect(
      isContentCreating(
        'POST',
        '/api/graphql',
        JSON.stringify({ query: '  mutation M { addProjectV2ItemById(input: {}) { item { id } } }' }),
      ),
    ).toBe(true);
  });
});

describe('project fields', () => {
  const status = {
    id: 'F1',
    name: 'Status',
    dataType: 'SINGLE_SELECT',
    options: [
      { id: 'a', name: 'Todo' },
      { id: 'b', name: 'In Progress' },
    ],
  };

  it('sets a single select by option name and refuses a missing option clearly', () => {
    expect(fieldInput(status, 'in progress', 'Roadmap')).toEqual({ singleSelectOptionId: 'b' });
    expect(() => fieldInput(status, 'Shipped', 'Roadmap')).toThrow(
      'project "Roadmap" has no option "Shipped" in its "Status" field (it has: Todo, In Progress)',
    );
  });

  it('converts text, number and date values', () => {
    expect(fieldInput({ id: 'x', name: 'Note', dataType: 'TEXT' }, 'hi', 'P')).toEqual({ text: 'hi' });
    expect(fieldInput({ id: 'x', name: 'Points', dataType: 'NUMBER' }, '3', 'P')).toEqual({ number: 3 });
    expect(() => fieldInput({ id: 'x', name: 'Points', dataType: 'NUMBER' }, 'three', 'P')).toThrow('not a number');
    expect(fieldInput({ id: 'x', name: 'Due', dataType: 'DATE' }, '2026-03-01', 'P')).toEqual({ date: '2026-03-01' });
    expect(() => fieldInput({ id: 'x', name: 'Due', dataType: 'DATE' }, 'soon', 'P')).toThrow('not a date');
  });

  it('reads state and mapped fields off an item', () => {
    const fields = itemToFields(
      {
        id: 'PVTI_1',
        projectId: 'P',
        issue: null,
        values: new Map<string, string | number>([
          ['Status', 'Done'],
          ['Priority', 'P1'],
        ]),
      },
      'Status',
      { priority: 'Priority', milestone: 'Target' },
    );
    expect(fields).toEqual({ state: 'Done', priority: 'P1', milestone: null });
  });
});
