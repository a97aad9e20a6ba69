import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { JIRA, startHarness, waitFor, type Harness } from '../support/harness.ts';

/**
 * The engine syncing items to the sandbox Jira, both ways: creates, state changes through the
 * workflow, rate limits, and a person's change in Jira coming back through the signed webhook.
 */

let h: Harness;
beforeAll(async () => {
  // reopen = "allow": this file drives the workflow's own refusals (a "Won't Do" issue going back
  // to "In Progress"); the re-open guard that would hold that first is state-guard.test.ts's.
  h = await startHarness('sync_jira', { plane: false, jira: { reopen: 'allow' } });
  const api = await h.listenApi();
  h.sandbox.jiraWebhooks.register({ url: `${api}/webhooks/jira-main`, secret: JIRA.webhookSecret });
});
afterAll(async () => h?.close());
beforeEach(() => {
  h.sandbox.faults.clear();
});

const jira = () => h.sandbox.jira;
const issueFor = (key: string) =>
  jira()
    .issuesOf(JIRA.projectKey)
    .filter((i) => (i.properties.get('trackline') as { item?: string } | undefined)?.item === key);
const statusOf = (key: string) => jira().statusOf(issueFor(key)[0]).name;
const upsert = (key: string, fields: Record<string, unknown>) =>
  h.postEvents({ type: 'item.upserted', item: { key, ...fields }, actor: 'agent:planner' });

async function synced(key: string, minVersion = 1) {
  try {
    return await waitFor(
      () =>
        h.sql`select m.* from mappings m where m.item_key = ${key} and m.connection_id = 'jira-main' and m.status = 'synced' and m.synced_version >= ${minVersion}`.then(
          (r) => r[0],
        ),
      10_000,
    );
  } catch {
    const rows = await h.sql`select m.status, m.last_error, m.synced_version from mappings m where m.item_key = ${key}`;
    const ds = await h.sql`select status, last_error, attempts from deliveries where item_key = ${key}`;
    throw new Error(`${key} not synced: ${JSON.stringify(rows)} ${JSON.stringify(ds)}`);
  }
}
const version = async (key: string) => Number((await h.sql`select version from items where key = ${key}`)[0].version);

describe('an item synced to Jira', () => {
  it('is created once, with the ADF body, mapped state, labels, priority and assignee', async () => {
    await upsert('user-auth/WP02', {
      title: 'WP02: Models layer',
      body: 'Build the **models**:\n\n- users\n- sessions',
      state: 'planned',
      labels: ['backend'],
      priority: 'critical',
      assignees: ['alice'],
    });
    const mapping = await synced('user-auth/WP02');
    const issues = issueFor('user-auth/WP02');
    expect(issues).toHaveLength(1);
    const issue = issues[0];
    expect(mapping.remote_key).toBe(issue.key);
    expect(mapping.remote_url).toBe(`${h.sandboxUrl}/browse/${issue.key}`);
    expect(issue.summary).toBe('WP02: Models layer');
    expect(issue.description?.content?.map((n) => n.type)).toEqual(['paragraph', 'bulletList']);
    expect(statusOf('user-auth/WP02')).toBe('To Do');
    expect(issue.labels.sort()).toEqual(['backend', 'trackline:user-auth/WP02']);
    expect(jira().priorities.find((p) => p.id === issue.priorityId)?.name).toBe('Highest');
    expect(issue.assignee).toBe(JIRA.people.alice.accountId);
  });

  it('moving planned -> doing -> done drives the matching transitions, through In Review', async () => {
    await upsert('flow/1', { title: 'Flow', state: 'planned' });
    await synced('flow/1');
    h.sandbox.log.clear();
    await upsert('flow/1', { state: 'doing' });
    await synced('flow/1', 2);
    expect(statusOf('flow/1')).toBe('In Progress');
    await upsert('flow/1', { state: 'done' });
    await synced('flow/1', 3);
    expect(statusOf('flow/1')).toBe('Done');
    const transitions = h.sandbox.log
      .entries({ tracker: 'jira', method: 'POST', pathIncludes: '/transitions' })
      .map((e) => (e.body as { transition: { id: string } }).transition.id);
    // Start progress; then Request review + Approve (doing -> done is not one transition).
    expect(transitions).toEqual(['11', '21', '41']);
    // Our own transitions come back as webhooks; they change nothing (no echo).
    await h.sandbox.jiraWebhooks.drain();
    await waitFor(() =>
      h.sql`select count(*)::int as n from deliveries where kind = 'webhook' and status in ('received', 'processing')`.then(
        (r) => r[0].n === 0,
      ),
    );
    expect(await version('flow/1')).toBe(3);
  });

  it('a state the workflow cannot reach leaves a clear error and an open conflict; the other fields still sync', async () => {
    await upsert('stuck/1', { title: 'Stuck', state: 'cancelled' });
    await synced('stuck/1');
    expect(statusOf('stuck/1')).toBe("Won't Do");
    await upsert('stuck/1', { title: 'Stuck, renamed', state: 'doing' });
    const message = 'Jira workflow has no transition from "Won\'t Do" to "In Progress" (available: none)';
    const [mapping] = await waitFor(() =>
      h.sql`select status, last_error from mappings where item_key = 'stuck/1' and status = 'conflict'`.then((r) => (r.length ? r : null)),
    );
    expect(mapping.last_error).toBe(message);
    const [conflict] = await h.sql`select field, status, local_value, remote_value, reason from conflicts where item_key = 'stuck/1'`;
    expect(conflict).toMatchObject({ field: 'state', status: 'open', local_value: 'doing', remote_value: "Won't Do", reason: message });
    // The other field went through; the job did not fail (no retry loop on a workflow that cannot move).
    expect(issueFor('stuck/1')[0].summary).toBe('Stuck, renamed');
    expect(statusOf('stuck/1')).toBe("Won't Do");
    const failed =
      await h.sql`select count(*)::int as n from deliveries where kind = 'reconcile' and item_key = 'stuck/1' and status = 'failed'`;
    expect(failed[0].n).toBe(0);
    // A later change to another field still syncs while the state is held.
    await upsert('stuck/1', { title: 'Stuck, renamed again' });
    await waitFor(() => issueFor('stuck/1')[0].summary === 'Stuck, renamed again');
    // An operator settles it for Jira's side: the item takes the status Jira has.
    const open = (await (await h.api('GET', '/v1/conflicts?status=open&key=stuck%2F1')).json()) as { conflicts: { id: number }[] };
    expect((await h.api('POST', `/v1/conflicts/${open.conflicts[0].id}/resolve`, { use: 'remote', actor: 'operator:ana' })).status).toBe(
      200,
    );
    await waitFor(
      async () =>
        ((await (await h.api('GET', '/v1/items/stuck%2F1')).json()) as { fields: { state: string } }).fields.state === 'cancelled',
    );
  });

  it('delivers comments once, as ADF that reads back as the markdown', async () => {
    await h.postEvents({
      events: [
        {
          type: 'item.upserted',
          item: { key: 'com/1', title: 'C' },
          comment: 'Stage: analysis -> development\n\n- `lint` ok',
          actor: 'agent:planner',
        },
      ],
    });
    await synced('com/1');
    const issue = issueFor('com/1')[0];
    const comments = await waitFor(() => (jira().commentsOf(issue.id).length ? jira().commentsOf(issue.id) : null));
    expect(comments).toHaveLength(1);
    // Trackline's own comment coming back by webhook is not fed to the orchestrator.
    await h.sandbox.jiraWebhooks.drain();
    await waitFor(() =>
      h.sql`select count(*)::int as n from deliveries where kind = 'webhook' and status in ('received', 'processing')`.then(
        (r) => r[0].n === 0,
      ),
    );
    const fed = await h.sql`select count(*)::int as n from changes where item_key = 'com/1' and type = 'item.commented'`;
    expect(fed[0].n).toBe(0);
  });
});

describe('exactly-once create', () => {
  it('a retry after a lost create answer finds the issue by its marker instead of creating a second one', async () => {
    await upsert('lost/1', { title: 'Lost answer', state: 'planned' });
    await synced('lost/1');
    // As if the worker died after Jira created the issue but before the mapping recorded it.
    await h.sql`update mappings set remote_id = null, remote_key = null, create_intent_at = now(), status = 'creating' where item_key = 'lost/1'`;
    await upsert('lost/1', { title: 'Lost answer, found', state: 'doing' });
    await synced('lost/1', 2);
    const issues = issueFor('lost/1');
    expect(issues).toHaveLength(1);
    expect(issues[0].summary).toBe('Lost answer, found');
    expect(statusOf('lost/1')).toBe('In Progress');
    const trail = await h.sql`select action from activity where item_key = 'lost/1' and actor = 'sync:jira-main'`;
    expect(trail.map((r) => r.action)).toContain('remote.recovered');
  });
});

describe('changes made in Jira', () => {
  it('a person’s transition comes back through the signed webhook as the item’s new state', async () => {
    await upsert('pull/1', { title: 'Pull', state: 'doing' });
    await synced('pull/1');
    await h.sandbox.jiraWebhooks.drain();
    const before = await version('pull/1');
    jira().transitionAsPerson(issueFor('pull/1')[0].key, 'In Review', JIRA.people.bob.email);
    await waitFor(async () => (await h.sql`select desired->>'state' as state from items where key = 'pull/1'`)[0].state === 'for_review');
    expect(await version('pull/1')).toBe(before + 1);
    const sent = h.sandbox.jiraWebhooks
      .deliveries({ event: 'jira:issue_updated' })
      .filter((d) => d.body.includes('"toString":"In Review"'));
    expect(sent[0].headers['X-Hub-Signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(sent[0].headers['X-Atlassian-Webhook-Retry']).toBeUndefined();
  });

  it('a person’s comment in Jira reaches the orchestrator as markdown', async () => {
    await upsert('pullc/1', { title: 'Pull comment' });
    await synced('pullc/1');
    jira().commentAsPerson(
      issueFor('pullc/1')[0].key,
      {
        type: 'doc',
        version: 1,
        content: [
          {
            type: 'paragraph',
            content: [
              { type: 'text', text: 'Looks ' },
              { type: 'text', text: 'good', marks: [{ type: 'strong' }] },
            ],
          },
        ],
      },
      JIRA.people.bob.email,
    );
    const [change] = await waitFor(() =>
      h.sql`select comment, actor from changes where item_key = 'pullc/1' and type = 'item.commented'`.then((r) => (r.length ? r : null)),
    );
    expect(change).toMatchObject({ comment: 'Looks **good**', actor: 'Bob' });
  });
});

describe('rate limits', () => {
  it('a 429 with Retry-After: 2 stops every call to the connection for about 2 s; no job fails', async () => {
    h.sandbox.faults.inject({ tracker: 'jira', method: 'POST', pathIncludes: '/rest/api/3/issue', status: 429, retryAfter: 2, times: 1 });
    h.sandbox.log.clear();
    const started = Date.now();
    await Promise.all(['rl/1', 'rl/2', 'rl/3'].map((k) => upsert(k, { title: k })));
    await Promise.all(['rl/1', 'rl/2', 'rl/3'].map((k) => synced(k)));
    const log = h.sandbox.log.entries({ tracker: 'jira' });
    const limitedAt = Date.parse(log.find((e) => e.status === 429)!.at);
    // Requests already on their way when the 429 came back may land in its first moments (the
    // sandbox stamps arrival; under a loaded test run that can take a couple hundred ms).
    const during = log.filter((e) => Date.parse(e.at) > limitedAt + 200 && Date.parse(e.at) < limitedAt + 1900);
    expect(during).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
    for (const k of ['rl/1', 'rl/2', 'rl/3']) expect(issueFor(k)).toHaveLength(1);
    const failed =
      await h.sql`select count(*)::int as n from deliveries where kind = 'reconcile' and status = 'failed' and item_key like 'rl/%'`;
    expect(failed[0].n).toBe(0);
    const [call] = await waitFor(() =>
      h.sql`select rate_limit from tracker_calls where status = 429 and rate_limit ? 'retry-after'`.then((r) => (r.length ? r : null)),
    );
    expect(call.rate_limit).toMatchObject({ 'retry-after': '2', 'ratelimit-reason': 'jira-burst-based' });
  });

  it('a 429 with only X-RateLimit-Reset (ISO 8601) pauses until the reset; no job fails', async () => {
    // A gateway 429: no Retry-After; the sandbox sends X-RateLimit-Reset 2 s ahead.
    h.sandbox.faults.inject({ tracker: 'jira', method: 'POST', pathIncludes: '/rest/api/3/issue', status: 429, times: 1 });
    h.sandbox.log.clear();
    const started = Date.now();
    await Promise.all(['rr/1', 'rr/2'].map((k) => upsert(k, { title: k })));
    await Promise.all(['rr/1', 'rr/2'].map((k) => synced(k)));
    const log = h.sandbox.log.entries({ tracker: 'jira' });
    const limitedAt = Date.parse(log.find((e) => e.status === 429)!.at);
    expect(log.filter((e) => Date.parse(e.at) > limitedAt + 200 && Date.parse(e.at) < limitedAt + 1500)).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1500);
    const failed =
      await h.sql`select count(*)::int as n from deliveries where kind = 'reconcile' and status = 'failed' and item_key like 'rr/%'`;
    expect(failed[0].n).toBe(0);
    const [call] = await waitFor(() =>
      h.sql`select rate_limit from tracker_calls where status = 429 and not (rate_limit ? 'retry-after')`.then((r) =>
        r.length ? r : null,
      ),
    );
    expect(call.rate_limit).toMatchObject({
      'x-ratelimit-reset': expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
      'ratelimit-reason': 'jira-burst-based',
    });
  });
});

describe('tracker calls are recorded without secrets', () => {
  it('no API token or basic-auth header anywhere', async () => {
    const calls = await h.sql`select method, path, status, rate_limit, error from tracker_calls`;
    expect(calls.length).toBeGreaterThan(5);
    const basic = Buffer.from(`${JIRA.email}:${JIRA.token}`).toString('base64');
    for (const text of [JSON.stringify(calls), JSON.stringify(await h.sql`select request, result, last_error from deliveries`)]) {
      expect(text).not.toContain(JIRA.token);
      expect(text).not.toContain(basic);
      expect(text).not.toContain(JIRA.webhookSecret);
    }
  });
});
