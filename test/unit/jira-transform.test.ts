import { describe, expect, it } from 'vitest';
import {
  formatJqlDate,
  issueToFields,
  jqlQuote,
  laterCursor,
  markerLabel,
  parseJiraTime,
  pollJql,
  pollWindowStart,
  summaryFor,
  toRemoteIssue,
  visibleLabels,
} from '../../src/trackers/jira/transform.ts';
import { createJiraSignalReader, parseReset } from '../../src/trackers/jira/rate-signals.ts';
import { distance, graphFromPreview, nextHop, walkTo, type WorkflowGraph } from '../../src/trackers/jira/transitions.ts';
import type { JiraIssue, JiraTransition, JiraWorkflowPreview } from '../../src/trackers/jira/wire.ts';

/** An IssueBean as GET /rest/api/3/issue/{id}?fields=… answers it (spec IssueBean, trimmed). */
const issue: JiraIssue = {
  id: '10002',
  key: 'ET-3',
  self: 'https://acme.atlassian.net/rest/api/3/issue/10002',
  fields: {
    summary: 'WP02: Models layer',
    description: {
      type: 'doc',
      version: 1,
      content: [
        {
          type: 'paragraph',
          content: [
            { type: 'text', text: 'Build the ' },
            { type: 'text', text: 'models', marks: [{ type: 'strong' }] },
            { type: 'text', text: '.' },
          ],
        },
        {
          type: 'bulletList',
          content: [{ type: 'listItem', content: [{ type: 'paragraph', content: [{ type: 'text', text: 'users' }] }] }],
        },
      ],
    },
    status: { id: '10001', name: 'In Progress', statusCategory: { key: 'indeterminate' } },
    labels: ['db', 'trackline:user-auth/WP02', 'backend'],
    assignee: { accountId: '5b10ac8d82e05b22cc7d4ef5', displayName: 'Alice' },
    priority: { id: '2', name: 'High' },
    updated: '2026-05-01T10:15:30.123+0200',
    issuetype: { id: '10001', name: 'Task' },
    project: { id: '10000', key: 'ET' },
  },
};

describe('issue -> fields', () => {
  it('maps summary, ADF description, status, labels (without the marker), assignee and priority', () => {
    expect(issueToFields(issue)).toEqual({
      title: 'WP02: Models layer',
      body: 'Build the **models**.\n\n- users',
      state: 'In Progress',
      labels: ['backend', 'db'],
      assignees: ['5b10ac8d82e05b22cc7d4ef5'],
      priority: 'High',
      milestone: null,
    });
  });

  it('the milestone is the fix version, the last one Jira lists when there are several', () => {
    const withVersions = (names: string[]) =>
      issueToFields({ ...issue, fields: { ...issue.fields, fixVersions: names.map((name, i) => ({ id: String(i), name })) } });
    expect(withVersions(['Release 1']).milestone).toBe('Release 1');
    expect(withVersions(['Hotfix', 'Release 2']).milestone).toBe('Release 2');
    expect(withVersions([]).milestone).toBeNull();
  });

  it('empty values read as empty', () => {
    const bare = issueToFields({
      id: '1',
      key: 'ET-1',
      fields: { summary: 'x', description: null, assignee: null, priority: null, labels: [] },
    });
    expect(bare).toMatchObject({ body: '', assignees: [], labels: [], priority: null });
  });

  it('a remote issue has the browse URL and an ISO updatedAt', () => {
    const remote = toRemoteIssue(issue, 'https://acme.atlassian.net/');
    expect(remote).toMatchObject({
      id: '10002',
      key: 'ET-3',
      url: 'https://acme.atlassian.net/browse/ET-3',
      updatedAt: '2026-05-01T08:15:30.123Z',
    });
    expect(parseJiraTime('2026-05-01T10:15:30.123-0130')).toBe(Date.parse('2026-05-01T11:45:30.123Z'));
  });

  it('summaries are one line of at most 255 characters', () => {
    expect(summaryFor('a\nb  \n c')).toBe('a b c');
    expect(summaryFor('x'.repeat(300))).toHaveLength(255);
  });

  it('the marker label is searchable and never a synced label', () => {
    expect(markerLabel('user-auth/WP02')).toBe('trackline:user-auth/WP02');
    expect(markerLabel('has space')).toMatch(/^trackline:#[0-9a-f]{32}$/);
    expect(visibleLabels(['a', 'trackline:x'])).toEqual(['a']);
  });
});

describe('JQL window and cursor', () => {
  it('quotes string literals', () => {
    expect(jqlQuote('say "hi" \\ bye')).toBe('"say \\"hi\\" \\\\ bye"');
  });

  it('writes dates in the user’s zone at minute precision', () => {
    const at = Date.parse('2026-05-01T10:00:45Z');
    expect(formatJqlDate(at, 'UTC')).toBe('2026-05-01 10:00');
    expect(formatJqlDate(at, 'Europe/Berlin')).toBe('2026-05-01 12:00');
    expect(formatJqlDate(at, 'America/Los_Angeles')).toBe('2026-05-01 03:00');
    expect(formatJqlDate(at, 'Not/AZone')).toBe('2026-05-01 10:00');
  });

  it('a window starts one whole minute before the cursor’s minute', () => {
    const cursor = Date.parse('2026-05-01T10:00:45.500Z');
    expect(new Date(pollWindowStart(cursor, 'Europe/Berlin')).toISOString()).toBe('2026-05-01T09:59:00.000Z');
    expect(pollJql('ET', '2026-05-01T10:00:45.500Z', 'Europe/Berlin')).toBe(
      'project = "ET" AND updated >= "2026-05-01 11:59" ORDER BY updated ASC, key ASC',
    );
    // No cursor: everything, still bounded by the project (search/jql refuses unbounded JQL).
    expect(pollJql('ET', null, 'UTC')).toBe('project = "ET" ORDER BY updated ASC, key ASC');
  });

  it('near a daylight-saving change the window starts an hour earlier, so a repeated local hour cannot skip changes', () => {
    // Europe/Berlin goes from +02:00 to +01:00 at 2026-10-25 01:00 UTC: 02:00-03:00 local happens twice.
    const firstPass = Date.parse('2026-10-25T00:30:00Z'); // 02:30 local, the first time
    const start = pollWindowStart(firstPass, 'Europe/Berlin');
    expect(new Date(start).toISOString()).toBe('2026-10-24T23:29:00.000Z');
    // Whichever instant Jira reads the local time as, it is not after the cursor.
    const local = formatJqlDate(start, 'Europe/Berlin');
    expect(local).toBe('2026-10-25 01:29');
    // Far from a change, no extra hour.
    expect(new Date(pollWindowStart(Date.parse('2026-07-01T12:00:00Z'), 'Europe/Berlin')).toISOString()).toBe('2026-07-01T11:59:00.000Z');
  });

  it('the cursor only moves forward', () => {
    expect(laterCursor(null, '2026-01-01T00:00:00.000Z')).toBe('2026-01-01T00:00:00.000Z');
    expect(laterCursor('2026-02-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')).toBe('2026-02-01T00:00:00.000Z');
    expect(laterCursor('2026-02-01T00:00:00.000Z', undefined)).toBe('2026-02-01T00:00:00.000Z');
  });
});

describe('rate signals', () => {
  const now = Date.parse('2026-03-26T15:59:50Z');
  const read = () => createJiraSignalReader({ now: () => now, random: () => 0.5 });
  const h = (o: Record<string, string>) => new Headers(o);

  it('a 429 with Retry-After pauses that long and keeps RateLimit-Reason on the call row', () => {
    const s = read()(
      429,
      h({
        'retry-after': '7',
        'ratelimit-reason': 'jira-burst-based',
        'x-ratelimit-reset': '2026-03-26T16:00Z',
        'content-type': 'application/json',
      }),
    );
    expect(s).toMatchObject({ pauseMs: 7000, limited: true, reason: 'Jira 429, Retry-After 7 (jira-burst-based)' });
    expect(s.keep).toEqual({ 'retry-after': '7', 'ratelimit-reason': 'jira-burst-based', 'x-ratelimit-reset': '2026-03-26T16:00Z' });
  });

  it('a 429 with only X-RateLimit-Reset (ISO 8601) pauses until the reset', () => {
    const s = read()(429, h({ 'x-ratelimit-reset': '2026-03-26T16:00Z', 'ratelimit-reason': 'jira-quota-tenant-based' }));
    expect(s).toMatchObject({ pauseMs: 10_000, limited: true });
    expect(parseReset('2026-03-26T16:00:00.000+0000', now)).toBe(10_000);
    expect(parseReset('1774540800', now)).toBe(10_000);
  });

  it('a 429 with neither backs off exponentially with jitter; a success resets it', () => {
    const reader = read();
    expect(reader(429, h({})).pauseMs).toBe(750);
    expect(reader(429, h({})).pauseMs).toBe(1500);
    expect(reader(429, h({})).pauseMs).toBe(3000);
    reader(200, h({}));
    expect(reader(429, h({})).pauseMs).toBe(750);
  });

  it('a 503 with Retry-After pauses without calling it a rate limit; 413 is not a rate signal', () => {
    expect(read()(503, h({ 'retry-after': '3' }))).toMatchObject({ pauseMs: 3000 });
    expect(read()(503, h({ 'retry-after': '3' })).limited).toBeUndefined();
    expect(read()(413, h({}))).toEqual({ keep: {} });
    expect(read()(200, h({ 'x-ratelimit-remaining': '9', 'x-ratelimit-nearlimit': 'true' }))).toEqual({
      keep: { 'x-ratelimit-remaining': '9', 'x-ratelimit-nearlimit': 'true' },
    });
  });
});

describe('transitions', () => {
  // The sandbox's workflow: To Do -> In Progress -> In Review -> Done, back-edges, Done -> To Do,
  // To Do -> Won't Do with no way out. References differ from ids, as in Jira's preview.
  const preview: JiraWorkflowPreview = {
    statuses: [
      { id: '1', name: 'To Do', statusReference: 'r1' },
      { id: '2', name: 'In Progress', statusReference: 'r2' },
      { id: '3', name: 'In Review', statusReference: 'r3' },
      { id: '4', name: 'Done', statusReference: 'r4' },
      { id: '5', name: "Won't Do", statusReference: 'r5' },
    ],
    workflows: [
      {
        transitions: [
          { id: '1', name: 'Create', type: 'INITIAL', toStatusReference: 'r1', links: [] },
          { id: '11', name: 'Start progress', type: 'DIRECTED', toStatusReference: 'r2', links: [{ fromStatusReference: 'r1' }] },
          { id: '21', name: 'Request review', type: 'DIRECTED', toStatusReference: 'r3', links: [{ fromStatusReference: 'r2' }] },
          { id: '31', name: 'Stop progress', type: 'DIRECTED', toStatusReference: 'r1', links: [{ fromStatusReference: 'r2' }] },
          { id: '41', name: 'Approve', type: 'DIRECTED', toStatusReference: 'r4', links: [{ fromStatusReference: 'r3' }] },
          { id: '51', name: 'Request changes', type: 'DIRECTED', toStatusReference: 'r2', links: [{ fromStatusReference: 'r3' }] },
          { id: '61', name: 'Reopen', type: 'DIRECTED', toStatusReference: 'r1', links: [{ fromStatusReference: 'r4' }] },
          { id: '71', name: "Won't do", type: 'DIRECTED', toStatusReference: 'r5', links: [{ fromStatusReference: 'r1' }] },
        ],
      },
    ],
  };
  const graph = graphFromPreview(preview) as WorkflowGraph;
  const status = (id: string) => ({ id, name: graph.names.get(id)! });
  const from = (statusId: string): JiraTransition[] =>
    preview.workflows[0].transitions
      .filter((t) => t.links?.some((l) => l.fromStatusReference === `r${statusId}`))
      .map((t) => ({ id: t.id, name: t.name, to: status(t.toStatusReference.slice(1)) }));

  it('reads the workflow and measures distances', () => {
    expect(distance(graph, '1', ['4'])).toBe(3);
    expect(distance(graph, '2', ['4'])).toBe(2);
    expect(distance(graph, '5', ['1'])).toBe(Infinity);
    expect(nextHop(graph, from('2'), 'Done', new Set())?.name).toBe('Request review');
  });

  async function walk(start: string, target: string, readable = true) {
    let at = start;
    const performed: string[] = [];
    const result = await walkTo(
      {
        transitions: async () => from(at),
        perform: async (t) => {
          performed.push(t.name);
          at = t.to.id;
        },
        workflow: async () => (readable ? graph : null),
      },
      status(start),
      target,
    );
    return { result, performed };
  }

  it('walks the shortest path through intermediate statuses', async () => {
    const { result, performed } = await walk('1', 'Done');
    expect(result).toMatchObject({ ok: true, status: { name: 'Done' } });
    expect(performed).toEqual(['Start progress', 'Request review', 'Approve']);
    expect((await walk('2', 'in review')).performed).toEqual(['Request review']);
  });

  it('a status with no way out is a clear failure naming what is available', async () => {
    const { result, performed } = await walk('5', 'In Progress');
    expect(performed).toEqual([]);
    expect(result).toMatchObject({
      ok: false,
      message: 'Jira workflow has no transition from "Won\'t Do" to "In Progress" (available: none)',
    });
  });

  it('without the workflow only direct transitions are taken, and the error says what would help', async () => {
    const { result } = await walk('1', 'Done', false);
    expect(result.ok).toBe(false);
    expect((result as { message: string }).message).toBe(
      'Jira workflow has no transition from "To Do" to "Done" (available: Start progress → In Progress, Won\'t do → Won\'t Do); Trackline could not read the workflow to go through intermediate statuses (grant its user "View (read-only) workflow" in the project)',
    );
  });

  it('a status the workflow does not have is named as such', async () => {
    const { result } = await walk('1', 'Hibernating');
    expect((result as { message: string }).message).toContain(
      'the workflow has no status "Hibernating" (it has: To Do, In Progress, In Review, Done, Won\'t Do), fix state_map',
    );
  });
});
