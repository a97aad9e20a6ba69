import { createServer, type IncomingMessage, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox } from '../../sandbox/server.ts';
import { createJiraWebhookHandler } from '../../src/trackers/jira/webhook.ts';
import { JIRA, seedJira, waitFor } from '../support/harness.ts';

/** The sandbox Jira on its own: auth, error shapes, ADF checks, search paging, webhooks. */

const sandbox = createSandbox({ jira: { maxSearchResults: 2, webhooks: { retryDelayMs: 20 } } });
const seeded = seedJira(sandbox);
const auth = `Basic ${Buffer.from(`${JIRA.email}:${JIRA.token}`).toString('base64')}`;
const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = { authorization: auth }) =>
  sandbox.app.request(path, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe('auth and errors', () => {
  it('401 with Jira’s plain-text body without credentials or with wrong ones', async () => {
    const attempts: Record<string, string>[] = [
      {},
      { authorization: `Basic ${Buffer.from(`${JIRA.email}:nope`).toString('base64')}` },
      { authorization: 'Bearer x' },
    ];
    for (const headers of attempts) {
      const res = await call('GET', '/rest/api/3/myself', undefined, headers);
      expect(res.status).toBe(401);
      expect(await res.text()).toBe('Client must be authenticated to access this resource.');
    }
    const me = await call('GET', '/rest/api/3/myself');
    expect(await me.json()).toMatchObject({ emailAddress: JIRA.email, timeZone: JIRA.timeZone });
  });

  it('400 ErrorCollections for a description that is not ADF, a label with a space, a bad transition', async () => {
    const base = { project: { key: 'ET' }, issuetype: { id: seeded.issueTypes.Task }, summary: 's' };
    const notAdf = await call('POST', '/rest/api/3/issue', { fields: { ...base, description: 'plain text' } });
    expect(notAdf.status).toBe(400);
    expect(await notAdf.json()).toEqual({
      errorMessages: [],
      errors: { description: 'Operation value must be an Atlassian Document (see the Atlassian Document Format)' },
    });
    const spaced = await call('POST', '/rest/api/3/issue', { fields: { ...base, labels: ['in review'] } });
    expect(await spaced.json()).toEqual({
      errorMessages: [],
      errors: { labels: "The label 'in review' contains spaces which is invalid." },
    });
    const created = (await (await call('POST', '/rest/api/3/issue', { fields: base })).json()) as { id: string; key: string };
    const done = await call('POST', `/rest/api/3/issue/${created.key}/transitions`, { transition: { id: '41' } });
    expect(done.status).toBe(400);
    expect(await done.json()).toEqual({ errorMessages: ["Transition id '41' is not valid for this issue."], errors: {} });
    expect((await call('GET', '/rest/api/3/issue/ET-999')).status).toBe(404);
    expect((await call('POST', '/rest/api/3/search', { jql: 'project = ET' })).status).toBe(410);
  });
});

describe('search/jql', () => {
  it('pages with nextPageToken, says isLast, refuses unbounded JQL', async () => {
    for (let i = 0; i < 3; i++) sandbox.jira.createAsPerson('ET', { summary: `page ${i}`, labels: ['paged'] });
    const first = (await (
      await call('POST', '/rest/api/3/search/jql', {
        jql: 'project = ET AND labels = paged ORDER BY key ASC',
        fields: ['summary'],
        maxResults: 50,
      })
    ).json()) as { issues: { fields: { summary: string } }[]; nextPageToken?: string; isLast: boolean };
    expect(first.issues.map((i) => i.fields.summary)).toEqual(['page 0', 'page 1']);
    expect(first.isLast).toBe(false);
    const second = (await (
      await call('POST', '/rest/api/3/search/jql', {
        jql: 'project = ET AND labels = paged ORDER BY key ASC',
        fields: ['summary'],
        nextPageToken: first.nextPageToken,
      })
    ).json()) as typeof first;
    expect(second.issues.map((i) => i.fields.summary)).toEqual(['page 2']);
    expect(second).toMatchObject({ isLast: true });
    expect(second.nextPageToken).toBeUndefined();
    // fields defaults to id only, as on Jira.
    const ids = (await (await call('GET', `/rest/api/3/search/jql?jql=${encodeURIComponent('labels = paged')}`)).json()) as {
      issues: { fields: object }[];
    };
    expect(ids.issues[0].fields).toEqual({});
    const unbounded = await call('POST', '/rest/api/3/search/jql', { jql: 'ORDER BY key DESC' });
    expect(unbounded.status).toBe(400);
    expect(await unbounded.json()).toEqual({
      errorMessages: ['Unbounded JQL queries are not allowed here. Please add a search restriction to your query.'],
      errors: {},
    });
    const property = await call('POST', '/rest/api/3/search/jql', { jql: 'issue.property[trackline].item = "x"' });
    expect(property.status).toBe(400);
  });
});

describe('webhooks', () => {
  let server: Server;
  let url = '';
  const received: { headers: IncomingMessage['headers']; body: Buffer; status: number }[] = [];
  let failFirst = 0;
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const status = failFirst-- > 0 ? 503 : 204;
        received.push({ headers: req.headers, body: Buffer.concat(chunks), status });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
  });
  afterAll(async () => {
    sandbox.jiraWebhooks.dispose();
    await new Promise((r) => server.close(r));
  });

  it('signs with X-Hub-Signature, keeps X-Atlassian-Webhook-Identifier across retries and counts them', async () => {
    const target = sandbox.jiraWebhooks.register({ url, secret: JIRA.webhookSecret, events: ['jira:issue_updated'] });
    failFirst = 2;
    const issue = sandbox.jira.createAsPerson('ET', { summary: 'hooked' });
    sandbox.jira.transitionAsPerson(issue.key, 'In Progress');
    await waitFor(() => received.length >= 3);
    await sandbox.jiraWebhooks.drain();
    expect(received.map((r) => r.status)).toEqual([503, 503, 204]);
    const ids = new Set(received.map((r) => r.headers['x-atlassian-webhook-identifier']));
    expect(ids.size).toBe(1);
    expect(received.map((r) => r.headers['x-atlassian-webhook-retry'])).toEqual([undefined, '1', '2']);
    const handler = createJiraWebhookHandler({ webhook_secret: JIRA.webhookSecret, project_key: 'ET' });
    const last = received[2];
    expect(handler.verify(last.headers as Record<string, string>, last.body)).toEqual({ ok: true });
    const payload = JSON.parse(last.body.toString());
    expect(payload.changelog.items).toEqual([expect.objectContaining({ field: 'status', fromString: 'To Do', toString: 'In Progress' })]);
    expect(handler.normalize({}, payload)).toEqual([
      expect.objectContaining({ type: 'issue.changed', remoteId: issue.id, remoteKey: issue.key }),
    ]);
    sandbox.jiraWebhooks.unregister(target.id);
  });
});
