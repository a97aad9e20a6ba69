import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createSandbox } from '../../sandbox/server.ts';
import { PacerRegistry } from '../../src/pacing/registry.ts';
import { RedisPacingStore } from '../../src/pacing/redis-pacing-store.ts';
import { PostgresPacingStore } from '../../src/pacing/postgres-pacing-store.ts';
import { ensureDatabase, openDatabase } from '../../src/db/client.ts';
import { runMigrations } from '../../src/db/migrate.ts';
import { ConfigSchema, type JiraConnectionConfig } from '../../src/config/schema.ts';
import { createAdapter } from '../../src/trackers/adapters.ts';
import { JiraAdapter, TransitionUnavailableError } from '../../src/trackers/jira/adapter.ts';
import type { TrackerCall } from '../../src/trackers/call-recorder.ts';
import {
  JIRA,
  REDIS_AVAILABLE,
  REDIS_URL,
  deleteRedisKeys,
  dropDatabase,
  jiraConnection,
  seedJira,
  uniqueNames,
} from '../support/harness.ts';
import { loadSpecValidator, specMissing } from '../support/openapi-validator.ts';

/**
 * The Jira adapter against the sandbox Jira, without the engine: what it sends, how it walks the
 * workflow, polls, finds its issues again and stays inside Jira's per-issue write limits. Real
 * Redis (the pacer and the per-issue gate live there); no database.
 */

const { redisPrefix, databaseUrl } = uniqueNames('jira_adapter');
let clock = Date.parse('2026-05-01T08:00:00Z');
const sandbox = createSandbox({ jira: { now: () => clock, maxSearchResults: 2 } });
let url = '';
let close: () => Promise<void>;
let redis: Redis | undefined;
let db: ReturnType<typeof openDatabase> | undefined;
let pacers: PacerRegistry;
const calls: TrackerCall[] = [];
const warnings: string[] = [];
const ctx = { warn: (m: string) => warnings.push(m) };

function adapterFor(extra: Record<string, unknown> = {}): JiraAdapter {
  const config = ConfigSchema.parse({ connections: [jiraConnection(url, extra)] }).connections[0] as JiraConnectionConfig;
  return createAdapter(config, { pacers, recorder: { record: (c) => calls.push(c) }, timeoutMs: 3000 }) as JiraAdapter;
}

let jira: JiraAdapter;
beforeAll(async () => {
  seedJira(sandbox);
  const listening = await sandbox.listen(0);
  url = listening.url;
  close = listening.close;
  if (REDIS_AVAILABLE) {
    redis = new Redis(REDIS_URL);
    pacers = new PacerRegistry(new RedisPacingStore(redis), redisPrefix);
  } else {
    // A machine without Redis: the pacer's state in PostgreSQL, as Trackline keeps it there.
    await ensureDatabase(databaseUrl);
    await runMigrations(databaseUrl);
    db = openDatabase(databaseUrl, { max: 2 });
    pacers = new PacerRegistry(new PostgresPacingStore(db.sql), redisPrefix);
  }
  jira = adapterFor();
});
afterAll(async () => {
  await pacers?.close();
  redis?.disconnect();
  await close?.();
  if (db) {
    await db.close();
    await dropDatabase(databaseUrl);
  } else await deleteRedisKeys(redisPrefix);
});

const store = () => sandbox.jira;

describe('create and update', () => {
  it('creates one issue with ADF description, labels, priority, assignee, the marker label and property', async () => {
    const remote = await jira.create(
      'user-auth/WP02',
      {
        title: 'WP02: Models layer',
        body: 'Build:\n\n- users\n- [spec](https://example.com)',
        labels: ['backend'],
        priority: 'High',
        assignees: [JIRA.people.alice.accountId],
        state: 'To Do',
      },
      ctx,
    );
    const issue = store().issue(remote.id)!;
    expect(issue.summary).toBe('WP02: Models layer');
    expect(issue.description?.type).toBe('doc');
    expect(issue.labels).toEqual(['backend', 'trackline:user-auth/WP02']);
    expect(issue.assignee).toBe(JIRA.people.alice.accountId);
    expect(issue.properties.get('trackline')).toEqual({ item: 'user-auth/WP02' });
    expect(remote.fields).toEqual({
      title: 'WP02: Models layer',
      body: 'Build:\n\n- users\n- [spec](https://example.com)',
      state: 'To Do',
      labels: ['backend'],
      assignees: [JIRA.people.alice.accountId],
      priority: 'High',
      milestone: null,
    });
    expect(remote.url).toBe(`${url}/browse/${issue.key}`);
  });

  it('edits in one PUT with labels as add/remove operations, so the marker and nothing else is kept', async () => {
    const created = await jira.create('labels/1', { title: 'L', labels: ['a', 'b'] }, ctx);
    sandbox.log.clear();
    const after = await jira.update({ id: created.id }, { labels: ['b', 'c'], title: 'L2' }, ctx);
    const puts = sandbox.log.entries({ tracker: 'jira', method: 'PUT' });
    expect(puts).toHaveLength(1);
    expect(puts[0].body).toEqual({ fields: { summary: 'L2' }, update: { labels: [{ add: 'c' }, { remove: 'a' }] } });
    expect(after.fields.labels).toEqual(['b', 'c']);
    expect(store().issue(created.id)!.labels.sort()).toEqual(['b', 'c', 'trackline:labels/1']);
  });

  it('a label with a space or an unknown priority is a config error before anything is written', async () => {
    const created = await jira.create('cfg/1', { title: 'C' }, ctx);
    sandbox.log.clear();
    await expect(jira.update({ id: created.id }, { title: 'x', labels: ['in review'] }, ctx)).rejects.toMatchObject({
      kind: 'config',
      message: expect.stringContaining('Jira labels cannot contain spaces: "in review"'),
    });
    await expect(jira.update({ id: created.id }, { title: 'x', priority: 'urgent' }, ctx)).rejects.toMatchObject({
      kind: 'config',
      message: 'Jira has no priority "urgent" (it has: Highest, High, Medium, Low, Lowest); map it in priority_map',
    });
    expect(sandbox.log.writes({ tracker: 'jira' })).toEqual([]);
  });
});

describe('state changes walk the workflow', () => {
  it('To Do -> Done takes Start progress, Request review, Approve', async () => {
    const created = await jira.create('walk/1', { title: 'W' }, ctx);
    sandbox.log.clear();
    const after = await jira.update({ id: created.id }, { state: 'Done' }, ctx);
    expect(after.fields.state).toBe('Done');
    const posted = sandbox.log
      .entries({ tracker: 'jira', method: 'POST', pathIncludes: '/transitions' })
      .map((e) => (e.body as { transition: { id: string } }).transition.id);
    expect(posted).toEqual(['11', '21', '41']);
  });

  it('an unreachable status throws TransitionUnavailableError after writing the other fields', async () => {
    const created = await jira.create('dead/1', { title: 'Dead end', state: "Won't Do" }, ctx);
    expect(created.fields.state).toBe("Won't Do");
    const error = await jira
      .update({ id: created.id }, { title: 'Renamed anyway', labels: ['kept'], state: 'In Progress' }, ctx)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransitionUnavailableError);
    const e = error as TransitionUnavailableError;
    expect(e.message).toBe('Jira workflow has no transition from "Won\'t Do" to "In Progress" (available: none)');
    expect(e).toMatchObject({ kind: 'config', retryable: false, transition: { from: "Won't Do", to: 'In Progress', taken: [] } });
    expect(e.partial.fields).toMatchObject({ title: 'Renamed anyway', labels: ['kept'], state: "Won't Do" });
    const issue = store().issue(created.id)!;
    expect(issue.summary).toBe('Renamed anyway');
    expect(store().statusOf(issue).name).toBe("Won't Do");
  });

  it('without permission to read the workflow only direct transitions work, and the error says so', async () => {
    const blind = adapterFor({ email: 'blind@example.com', api_token: 'blind-token' });
    store().seedProject({ key: 'BL', users: [] });
    const user = store().userByEmail(JIRA.email)!;
    store().users.set('blind', {
      ...user,
      accountId: 'blind',
      emailAddress: 'blind@example.com',
      apiToken: 'blind-token',
      canReadWorkflow: false,
    });
    const created = await blind.create('blind/1', { title: 'B' }, ctx);
    await expect(blind.update({ id: created.id }, { state: 'In Progress' }, ctx)).resolves.toMatchObject({
      fields: { state: 'In Progress' },
    });
    const error = (await blind.update({ id: created.id }, { state: 'Done' }, ctx).catch((x: unknown) => x)) as TransitionUnavailableError;
    expect(error).toBeInstanceOf(TransitionUnavailableError);
    expect(error.message).toContain(
      'has no transition from "In Progress" to "Done" (available: Request review → In Review, Stop progress → To Do); Trackline could not read the workflow',
    );
    expect(warnings.some((w) => w.includes('cannot read the Jira workflow'))).toBe(true);
  });
});

describe('finding an issue again', () => {
  it('findByItemKey finds the issue by its marker label and checks the property', async () => {
    const created = await jira.create('crash/1', { title: 'Crash' }, ctx);
    expect(await jira.findByItemKey('crash/1', ctx)).toMatchObject({ id: created.id, key: created.key });
    expect(await jira.findByItemKey('crash/2', ctx)).toBeNull();
    // A person copying the label onto another issue does not fool it: the property says otherwise.
    const copy = store().createAsPerson(JIRA.projectKey, { summary: 'copy', labels: ['trackline:crash/9'] });
    store().issue(copy.id)!.properties.set('trackline', { item: 'someone-else' });
    expect(await jira.findByItemKey('crash/9', ctx)).toBeNull();
  });

  it('resolveLink accepts a key, a bare number, an id or a browse URL, in this project only', async () => {
    const person = store().createAsPerson(JIRA.projectKey, { summary: 'Filed by a person' });
    for (const link of [person.key, String(person.number), person.id, `${url}/browse/${person.key}`]) {
      expect((await jira.resolveLink(link, ctx)).id).toBe(person.id);
    }
    const other = store().createAsPerson('BL', { summary: 'elsewhere' });
    await expect(jira.resolveLink(other.key, ctx)).rejects.toMatchObject({
      kind: 'config',
      message: expect.stringContaining('is in Jira project BL'),
    });
  });
});

describe('comments', () => {
  it('are posted once, in ADF, with the attribution that marks them', async () => {
    const created = await jira.create('comments/1', { title: 'C' }, ctx);
    const comment = { id: 41, body: 'Done:\n\n- `lint`\n- [run](https://ci.example.com/1)', actor: 'agent:planner' };
    await jira.addComment({ id: created.id }, comment, ctx);
    await jira.addComment({ id: created.id }, comment, ctx);
    const stored = store().commentsOf(created.id);
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored[0].body)).toContain('Posted by Trackline for agent:planner [tl-c41]');
  });
});

describe('poll', () => {
  it('pages through search/jql oldest first; the cursor is the newest updated seen; the next window overlaps by a minute', async () => {
    // Issues updated at known times (the sandbox clock), two per page.
    const keys: string[] = [];
    for (const minute of [10, 11, 12]) {
      clock = Date.parse(`2026-05-01T09:${minute}:30Z`);
      keys.push(store().createAsPerson(JIRA.projectKey, { summary: `poll ${minute}` }).key);
    }
    clock = Date.parse('2026-05-01T09:12:40Z');
    const pages = [];
    for await (const page of jira.poll('2026-05-01T09:10:00.000Z', ctx)) pages.push(page);
    const seen = pages.flatMap((p) => p.issues.map((i) => i.key));
    expect(seen).toEqual(keys);
    expect(pages.map((p) => p.issues.length)).toEqual([2, 1]);
    expect(pages.at(-1)!.cursor).toBe(new Date(store().issue(keys[2])!.updated).toISOString());
    // The JQL was written in the API user's zone (Berlin, +02:00), a minute before the cursor.
    const jql = sandbox.log.entries({ tracker: 'jira', pathIncludes: '/search/jql' }).map((e) => (e.body as { jql: string }).jql);
    expect(jql).toContain('project = "ET" AND updated >= "2026-05-01 11:09" ORDER BY updated ASC, key ASC');

    // A person edits the middle one; the next poll from the cursor sees it (and, within the
    // overlap minute, the newest one again: the engine ignores repeats).
    clock = Date.parse('2026-05-01T09:13:05Z');
    store().editAsPerson(keys[1], { summary: 'poll 11, edited' });
    const next = [];
    for await (const page of jira.poll(pages.at(-1)!.cursor, ctx)) next.push(...page.issues.map((i) => i.key));
    expect(next).toEqual([keys[2], keys[1]]);
  });
});

describe('pacing', () => {
  it('writes to one issue stay under Jira’s per-issue limits (20 per 2 s) without a single 429', async () => {
    const created = await jira.create('hot/1', { title: 'hot' }, ctx);
    const refusedBefore = store().perIssueRefusals;
    const started = Date.now();
    for (let i = 0; i < 30; i++) await jira.update({ id: created.id }, { title: `hot ${i}` }, ctx);
    const elapsed = Date.now() - started;
    expect(store().perIssueRefusals).toBe(refusedBefore);
    expect(store().issue(created.id)!.summary).toBe('hot 29');
    // 18 go at once, the rest wait for the 2 s window to move.
    expect(elapsed).toBeGreaterThanOrEqual(1_900);
    expect(elapsed).toBeLessThan(8_000);
  }, 15_000);

  it('the sandbox does enforce the per-issue limit (a client without the gate gets 429 jira-per-issue-on-write)', async () => {
    const created = await jira.create('hot/2', { title: 'hot' }, ctx);
    const auth = `Basic ${Buffer.from(`${JIRA.email}:${JIRA.token}`).toString('base64')}`;
    const statuses: Response[] = [];
    for (let i = 0; i < 22; i++) {
      statuses.push(
        await fetch(`${url}/rest/api/3/issue/${created.id}`, {
          method: 'PUT',
          headers: { authorization: auth, 'content-type': 'application/json' },
          body: JSON.stringify({ fields: { summary: `x${i}` } }),
        }),
      );
    }
    const refused = statuses.filter((r) => r.status === 429);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused[0].headers.get('ratelimit-reason')).toBe('jira-per-issue-on-write');
    expect(refused[0].headers.get('retry-after')).toMatch(/^\d+$/);
  });
});

describe('check()', () => {
  it('says ✓ for each thing that works', async () => {
    const lines = await jira.check();
    expect(lines.every((l) => l.ok)).toBe(true);
    expect(lines.map((l) => l.message)).toEqual(
      expect.arrayContaining([
        `Connected to ${url} as Trackline Bot (${JIRA.email})`,
        'Project ET (Example Team) is reachable',
        'Issue type "Task" exists in ET',
        'State "doing" maps to Jira status "In Progress"',
      ]),
    );
  });

  it('says ✗ with what to do for wrong credentials, a missing project, type or status', async () => {
    const badAuth = await adapterFor({ api_token: 'wrong' }).check();
    expect(badAuth).toEqual([
      {
        ok: false,
        message: expect.stringContaining('answered 401: Client must be authenticated'),
        hint: expect.stringContaining('api_token'),
      },
    ]);
    const badProject = await adapterFor({ project_key: 'NOPE' }).check();
    expect(badProject.at(-1)).toMatchObject({
      ok: false,
      message: expect.stringContaining("No project could be found with key 'NOPE'"),
      hint: expect.stringContaining('project_key'),
    });
    const badType = await adapterFor({ issue_type: 'Epic' }).check();
    expect(badType.at(-1)).toMatchObject({
      ok: false,
      message: 'Jira project ET has no issue type "Epic" (it has: Task, Bug, Story); set issue_type',
    });
    const badState = await adapterFor({ state_map: { done: 'Closed' } }).check();
    expect(badState.find((l) => !l.ok)).toMatchObject({
      message: expect.stringContaining('State "done" maps to "Closed", which the Task workflow of ET does not have'),
      hint: expect.stringContaining('state_map'),
    });
  });
});

describe('the Jira adapter speaks Jira’s published API', () => {
  it.skipIf(specMissing('jira'))('every request it made in this file validates against jira-platform-v3.openapi.json', async () => {
    const validator = await loadSpecValidator('jira');
    const requests = sandbox.log.entries({ tracker: 'jira' });
    const kinds = new Set(requests.map((r) => `${r.method} ${r.path.replace(/\/issue\/[A-Z0-9-]+/g, '/issue/{id}')}`));
    for (const expected of [
      'GET /rest/api/3/myself',
      'GET /rest/api/3/project/ET',
      'GET /rest/api/3/project/ET/statuses',
      'GET /rest/api/3/priority/search',
      'POST /rest/api/3/workflows/preview',
      'POST /rest/api/3/issue',
      'GET /rest/api/3/issue/{id}',
      'PUT /rest/api/3/issue/{id}',
      'GET /rest/api/3/issue/{id}/transitions',
      'POST /rest/api/3/issue/{id}/transitions',
      'GET /rest/api/3/issue/{id}/comment',
      'POST /rest/api/3/issue/{id}/comment',
      'POST /rest/api/3/search/jql',
    ]) {
      expect(kinds, expected).toContain(expected);
    }
    const invalid = requests
      .map((r) => {
        const query = new URLSearchParams(r.query).toString();
        const req = `${r.path}${query ? `?${query}` : ''}`;
        const result = validator.validate({
          method: r.method,
          url: req,
          headers: { 'content-type': 'application/json' },
          body: r.body ?? undefined,
        });
        return result.ok ? null : `${r.method} ${req}: ${result.errors.join('; ')}`;
      })
      .filter(Boolean);
    expect(invalid).toEqual([]);
    // Not a rubber stamp: a search body with a misspelt key fails it.
    expect(validator.validate({ method: 'POST', url: '/rest/api/3/search/jql', body: { jql: 'project = ET', maxResult: 5 } }).ok).toBe(
      false,
    );
  });
});
