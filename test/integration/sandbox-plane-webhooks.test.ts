// The sandbox Plane's outbound webhooks, delivered over real HTTP to a local receiver and checked
// with Trackline's own Plane webhook handler. Every expectation is a fact from trackers.md §1.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createSandbox, type ListeningSandbox, type Sandbox } from '../../sandbox/server.ts';
import type { SeededProject } from '../../sandbox/plane/model.ts';
import type { PlaneWebhookSenderOptions } from '../../sandbox/plane/webhooks.ts';
import { createPlaneWebhookHandler } from '../../src/trackers/plane/webhook.ts';

const KEY = 'plane_api_webhook_test';
const SECRET = 'plane_wh_5f0c2a9e8b7d4c1fa3e6b9d2c5f8a1e4';
const handler = createPlaneWebhookHandler({ webhook_secret: SECRET });

interface Received {
  headers: http.IncomingHttpHeaders;
  raw: Buffer;
  body: Record<string, any>;
}

interface Receiver {
  url: string;
  port: number;
  received: Received[];
  close(): Promise<void>;
}

/** A webhook endpoint on port 0 (or a given port) answering `status` to every POST. */
function startReceiver(status = 200, port = 0): Promise<Receiver> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      received.push({ headers: req.headers, raw, body: JSON.parse(raw.toString('utf8')) });
      res.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const { port: actual } = server.address() as AddressInfo;
      const close = () =>
        new Promise<void>((done) => {
          server.closeAllConnections();
          server.close(() => done());
        });
      resolve({ url: `http://127.0.0.1:${actual}/hooks/plane`, port: actual, received, close });
    });
  });
}

interface Ctx {
  sb: Sandbox;
  srv: ListeningSandbox;
  project: SeededProject;
  base: string;
  call(method: string, path: string, body?: unknown): Promise<Response>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function start(webhooks: PlaneWebhookSenderOptions = {}): Promise<Ctx> {
  const sb = createSandbox({ planeWebhooks: { retryDelayMs: 30, timeoutMs: 2_000, ...webhooks } });
  const project = sb.plane.seedProject({ workspace: 'acme', identifier: 'ET', apiKeys: [KEY], labels: ['backend', 'frontend'] });
  const srv = await sb.listen(0);
  cleanups.push(() => srv.close());
  const base = `/api/v1/workspaces/acme/projects/${project.projectId}`;
  const call = (method: string, path: string, body?: unknown) =>
    fetch(`${srv.url}${path}`, {
      method,
      headers: { 'X-API-Key': KEY, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  return { sb, srv, project, base, call };
}

async function receiver(status = 200, port = 0): Promise<Receiver> {
  const r = await startReceiver(status, port);
  cleanups.push(() => r.close());
  return r;
}

async function createIssue(ctx: Ctx, body: Record<string, unknown> = { name: 'Login page' }): Promise<Record<string, any>> {
  const res = await ctx.call('POST', `${ctx.base}/work-items/`, body);
  expect(res.status).toBe(201);
  return (await res.json()) as Record<string, any>;
}

async function waitFor(check: () => boolean, timeoutMs = 3_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

const headerBag = (h: http.IncomingHttpHeaders) =>
  Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : v]));

describe('v1 deliveries (Plane CE, §1.1–1.3)', () => {
  it('sends one delivery per changed field of a PATCH, each with the full object, signed over the raw body', async () => {
    const ctx = await start();
    const hook = await receiver();
    const issue = await createIssue(ctx);
    ctx.sb.planeWebhooks.register({ url: hook.url, secret: SECRET });

    // Four keys, three of them changes: priority is already "none".
    const res = await ctx.call('PATCH', `${ctx.base}/work-items/${issue.id}/`, {
      name: 'Café login ☕',
      state: ctx.project.states['In Progress'],
      labels: [ctx.project.labels.backend],
      priority: 'none',
    });
    expect(res.status).toBe(200);
    await ctx.sb.planeWebhooks.drain();

    expect(hook.received).toHaveLength(3);
    expect(hook.received.map((r) => r.body.activity.field)).toEqual(['name', 'state', 'labels']);
    const deliveryIds = new Set<string>();
    for (const { headers, raw, body } of hook.received) {
      expect(headers['content-type']).toBe('application/json');
      expect(headers['user-agent']).toBe('Autopilot');
      expect(headers['x-plane-event']).toBe('issue');
      expect(headers['x-plane-signature']).toMatch(/^[0-9a-f]{64}$/);
      deliveryIds.add(headers['x-plane-delivery'] as string);
      expect(handler.verify(headerBag(headers), raw)).toEqual({ ok: true });

      // Python's json.dumps text: spaces after separators, non-ASCII escaped, sort_order a float.
      const text = raw.toString('utf8');
      expect(text.startsWith('{"event": "issue", "action": "updated", "webhook_id": ')).toBe(true);
      expect(text).toContain('"name": "Caf\\u00e9 login \\u2615"');
      expect(text).toContain('"sort_order": 65535.0');
      expect(/[^\x20-\x7e]/.test(text)).toBe(false);

      expect(Object.keys(body)).toEqual(['event', 'action', 'webhook_id', 'workspace_id', 'data', 'activity']);
      expect(body.workspace_id).toBe(ctx.project.workspaceId);
      // The full current object (IssueExpandSerializer): every change already applied.
      expect(body.data).toMatchObject({
        id: issue.id,
        name: 'Café login ☕',
        state: { id: ctx.project.states['In Progress'], name: 'In Progress', group: 'started' },
        labels: [{ id: ctx.project.labels.backend, name: 'backend', color: '' }],
        priority: 'none',
      });
      expect(Object.keys(body.activity)).toEqual(['field', 'new_value', 'old_value', 'actor', 'old_identifier', 'new_identifier']);
      // Changes made through the API come back too: that is how Trackline sees its own echoes.
      expect(body.activity.actor).toMatchObject({ id: ctx.project.apiUsers[KEY], display_name: 'api-bot-1' });
      expect(handler.normalize(headerBag(headers), body)).toEqual([
        { type: 'issue.changed', remoteId: issue.id, labels: ['backend'], actor: 'api-bot-1', action: 'updated' },
      ]);
    }
    expect(deliveryIds.size).toBe(3);
    expect(hook.received[0]!.body.activity).toMatchObject({ old_value: 'Login page', new_value: 'Café login ☕' });
    expect(hook.received[2]!.body.activity).toMatchObject({ old_value: [], new_value: [ctx.project.labels.backend] });

    // Three different events: three different dedup keys.
    const keys = hook.received.map((r) => handler.dedupKey(headerBag(r.headers), r.body, r.raw));
    expect(new Set(keys).size).toBe(3);
  });

  it('sends one "created" delivery for a new issue, and a person\'s edit too', async () => {
    const ctx = await start();
    const hook = await receiver();
    ctx.sb.planeWebhooks.register({ url: hook.url, secret: SECRET });
    const issue = await createIssue(ctx, { name: 'New', priority: 'high', labels: [ctx.project.labels.frontend] });
    ctx.sb.plane.editAsPerson(issue.id, { priority: 'low' });
    await ctx.sb.planeWebhooks.drain();

    expect(hook.received.map((r) => [r.body.action, r.body.activity.field])).toEqual([
      ['created', null],
      ['updated', 'priority'],
    ]);
    expect(hook.received[0]!.body.activity).toMatchObject({ new_value: null, old_value: null, old_identifier: null, new_identifier: null });
    expect(hook.received[1]!.body.activity.actor).toMatchObject({ display_name: 'alex', email: 'alex@example.com' });
  });

  it('sends nothing for issue and comment deletes (CE sends no delete webhooks)', async () => {
    const ctx = await start();
    const hook = await receiver();
    const issue = await createIssue(ctx);
    const comment = ctx.sb.plane.commentAsPerson(issue.id, '<p>bye</p>');
    ctx.sb.planeWebhooks.register({ url: hook.url, secret: SECRET });

    const delComment = await ctx.call('DELETE', `${ctx.base}/work-items/${issue.id}/comments/${comment.id}/`);
    expect(delComment.status).toBe(204);
    const delIssue = await ctx.call('DELETE', `${ctx.base}/work-items/${issue.id}/`);
    expect(delIssue.status).toBe(204);
    await ctx.sb.planeWebhooks.drain();
    expect(hook.received).toHaveLength(0);
    expect(ctx.sb.planeWebhooks.deliveries()).toHaveLength(0);
  });

  it("sends an issue_comment delivery with comment_html, and marks Trackline's own comment", async () => {
    const ctx = await start();
    const hook = await receiver();
    const issue = await createIssue(ctx);
    ctx.sb.planeWebhooks.register({ url: hook.url, secret: SECRET });

    const res = await ctx.call('POST', `${ctx.base}/work-items/${issue.id}/comments/`, {
      comment_html: '<p>Deployed to <strong>staging</strong></p>',
      external_id: 'trackline-comment-1',
      external_source: 'trackline',
    });
    expect(res.status).toBe(201);
    ctx.sb.plane.commentAsPerson(issue.id, '<p>Thanks, looks <em>great</em></p>');
    await ctx.sb.planeWebhooks.drain();

    expect(hook.received).toHaveLength(2);
    const [ours, theirs] = hook.received;
    expect(ours!.headers['x-plane-event']).toBe('issue_comment');
    expect(ours!.body).toMatchObject({
      event: 'issue_comment',
      action: 'created',
      data: { comment_html: '<p>Deployed to <strong>staging</strong></p>', issue: issue.id, external_source: 'trackline' },
    });
    expect(ours!.body.data).not.toHaveProperty('comment_stripped');
    expect(handler.verify(headerBag(ours!.headers), ours!.raw)).toEqual({ ok: true });
    expect(handler.eventName(headerBag(ours!.headers), ours!.body)).toBe('issue_comment.created');
    expect(handler.normalize(headerBag(ours!.headers), ours!.body)).toEqual([
      {
        type: 'comment.created',
        remoteId: issue.id,
        commentId: ours!.body.data.id,
        body: 'Deployed to **staging**',
        actor: 'api-bot-1',
        fromTrackline: true,
      },
    ]);
    expect(handler.normalize(headerBag(theirs!.headers), theirs!.body)).toEqual([
      {
        type: 'comment.created',
        remoteId: issue.id,
        commentId: theirs!.body.data.id,
        body: 'Thanks, looks _great_',
        actor: 'alex',
        fromTrackline: false,
      },
    ]);
  });

  it('keeps the deliveries about one issue in order', async () => {
    const ctx = await start();
    const hook = await receiver();
    const issue = await createIssue(ctx);
    ctx.sb.planeWebhooks.register({ url: hook.url, secret: SECRET });
    for (let i = 1; i <= 5; i++) ctx.sb.plane.editAsPerson(issue.id, { name: `rename ${i}` });
    await ctx.sb.planeWebhooks.drain();
    expect(hook.received.map((r) => r.body.activity.new_value)).toEqual(['rename 1', 'rename 2', 'rename 3', 'rename 4', 'rename 5']);
  });
});

describe('retries (§1.2)', () => {
  it('does not retry an HTTP error answer', async () => {
    const ctx = await start();
    const hook = await receiver(500);
    const issue = await createIssue(ctx);
    ctx.sb.planeWebhooks.register({ url: hook.url, secret: SECRET });
    ctx.sb.plane.editAsPerson(issue.id, { name: 'x' });
    await ctx.sb.planeWebhooks.drain();
    // Well past a retry delay: still one attempt.
    await new Promise((r) => setTimeout(r, 100));
    expect(hook.received).toHaveLength(1);
    expect(ctx.sb.planeWebhooks.deliveries().map((d) => [d.attempt, d.status])).toEqual([[0, 500]]);
  });

  it('retries a refused connection with a fresh X-Plane-Delivery and the identical body', async () => {
    const ctx = await start({ retryDelayMs: 50 });
    // Find a free port, then leave it closed so the first attempts are refused.
    const probe = await startReceiver();
    await probe.close();
    const issue = await createIssue(ctx);
    ctx.sb.planeWebhooks.register({ url: probe.url, secret: SECRET });
    ctx.sb.plane.editAsPerson(issue.id, { priority: 'urgent' });

    await waitFor(() => ctx.sb.planeWebhooks.deliveries().length >= 1);
    const hook = await receiver(200, probe.port);
    await ctx.sb.planeWebhooks.drain();

    const attempts = ctx.sb.planeWebhooks.deliveries();
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    expect(attempts.slice(0, -1).every((a) => a.status === 0 && /ECONNREFUSED/.test(a.error ?? ''))).toBe(true);
    expect(attempts.at(-1)!.status).toBe(200);
    expect(attempts.map((a) => a.attempt)).toEqual(attempts.map((_, i) => i));
    expect(new Set(attempts.map((a) => a.headers['X-Plane-Delivery'])).size).toBe(attempts.length);
    expect(new Set(attempts.map((a) => a.body)).size).toBe(1);
    expect(new Set(attempts.map((a) => a.headers['X-Plane-Signature'])).size).toBe(1);

    expect(hook.received).toHaveLength(1);
    const got = hook.received[0]!;
    expect(got.raw.toString('utf8')).toBe(attempts[0]!.body);
    expect(handler.verify(headerBag(got.headers), got.raw)).toEqual({ ok: true });
    // What the receiver dedups on is the same for every attempt, though the delivery id is not.
    const first = attempts[0]!;
    const firstKey = handler.dedupKey(first.headers, JSON.parse(first.body), Buffer.from(first.body));
    expect(handler.dedupKey(headerBag(got.headers), got.body, got.raw)).toBe(firstKey);
  });

  it('gives up after the last retry and deactivates the webhook, as Plane does', async () => {
    const ctx = await start({ retryDelayMs: 5, maxRetries: 2 });
    const probe = await startReceiver();
    await probe.close();
    const issue = await createIssue(ctx);
    const target = ctx.sb.planeWebhooks.register({ url: probe.url, secret: SECRET });
    ctx.sb.plane.editAsPerson(issue.id, { name: 'a' });
    await ctx.sb.planeWebhooks.drain();
    expect(ctx.sb.planeWebhooks.deliveries().map((d) => d.status)).toEqual([0, 0, 0]);
    expect(ctx.sb.planeWebhooks.targets()[0]!.isActive).toBe(false);

    ctx.sb.plane.editAsPerson(issue.id, { name: 'b' });
    await ctx.sb.planeWebhooks.drain();
    expect(ctx.sb.planeWebhooks.deliveries()).toHaveLength(3);

    ctx.sb.planeWebhooks.setActive(target.id, true);
    expect(ctx.sb.planeWebhooks.targets()[0]!.isActive).toBe(true);
  });
});

describe('switches and controls', () => {
  it('sends nothing while paused (changes are dropped, not queued)', async () => {
    const ctx = await start();
    const hook = await receiver();
    const issue = await createIssue(ctx);
    ctx.sb.planeWebhooks.register({ url: hook.url, secret: SECRET });
    ctx.sb.planeWebhooks.pause();
    expect(ctx.sb.planeWebhooks.enabled).toBe(false);
    ctx.sb.plane.editAsPerson(issue.id, { name: 'quiet' });
    await ctx.sb.planeWebhooks.drain();
    expect(hook.received).toHaveLength(0);

    ctx.sb.planeWebhooks.resume();
    ctx.sb.plane.editAsPerson(issue.id, { name: 'loud' });
    await ctx.sb.planeWebhooks.drain();
    expect(hook.received.map((r) => r.body.data.name)).toEqual(['loud']);
  });

  it('registers, lists, drains and removes webhooks over the control routes', async () => {
    const ctx = await start();
    const hook = await receiver();
    const issue = await createIssue(ctx);
    const control = `${ctx.srv.url}/_sandbox/plane/webhooks`;

    const bad = await fetch(control, { method: 'POST', body: JSON.stringify({ url: 'not a url', secret: 's' }) });
    expect(bad.status).toBe(400);
    const created = await fetch(control, {
      method: 'POST',
      body: JSON.stringify({ url: hook.url, secret: SECRET, version: 'v1', workspace: 'acme' }),
    });
    expect(created.status).toBe(201);
    const target = (await created.json()) as { id: string; version: string };
    expect(target.version).toBe('v1');
    expect(((await (await fetch(control)).json()) as { webhooks: unknown[] }).webhooks).toHaveLength(1);

    ctx.sb.plane.editAsPerson(issue.id, { name: 'via control' });
    expect((await fetch(`${control}/drain`, { method: 'POST' })).status).toBe(204);
    expect(hook.received).toHaveLength(1);
    expect(hook.received[0]!.body.webhook_id).toBe(target.id);
    const log = (await (await fetch(`${control}/deliveries`)).json()) as { status: number }[];
    expect(log.map((d) => d.status)).toEqual([200]);

    expect((await fetch(`${control}/${target.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${control}/${target.id}`, { method: 'DELETE' })).status).toBe(404);
    ctx.sb.plane.editAsPerson(issue.id, { name: 'unheard' });
    await ctx.sb.planeWebhooks.drain();
    expect(hook.received).toHaveLength(1);
  });

  it("only sends a workspace's changes to that workspace's webhook", async () => {
    const ctx = await start();
    const hook = await receiver();
    const other = ctx.sb.plane.seedProject({ workspace: 'globex', identifier: 'GX', apiKeys: [KEY] });
    ctx.sb.planeWebhooks.register({ url: hook.url, secret: SECRET, workspace: 'globex' });
    await createIssue(ctx);
    ctx.sb.plane.createAsPerson(other.projectId, { name: 'in globex' });
    await ctx.sb.planeWebhooks.drain();
    expect(hook.received.map((r) => r.body.data.name)).toEqual(['in globex']);
  });
});

describe('v2 deliveries (§1.4)', () => {
  it('sends one workitem.updated per PATCH with previous_attributes, a stable event_id across retries, and deletes', async () => {
    const ctx = await start({ retryDelayMs: 50 });
    const probe = await startReceiver();
    await probe.close();
    const issue = await createIssue(ctx);
    ctx.sb.planeWebhooks.register({ url: probe.url, secret: SECRET, version: 'v2' });

    const res = await ctx.call('PATCH', `${ctx.base}/work-items/${issue.id}/`, { name: 'v2 name', state: ctx.project.states.Done });
    expect(res.status).toBe(200);
    await waitFor(() => ctx.sb.planeWebhooks.deliveries().length >= 1);
    const hook = await receiver(200, probe.port);
    await ctx.sb.planeWebhooks.drain();

    expect(hook.received).toHaveLength(1);
    const { headers, raw, body } = hook.received[0]!;
    expect(headers['x-plane-event']).toBe('workitem.updated');
    expect(Object.keys(body)).toEqual([
      'version',
      'delivery_id',
      'event_id',
      'entity_id',
      'entity_type',
      'event',
      'webhook_id',
      'workspace_id',
      'data',
      'previous_attributes',
    ]);
    expect(body).toMatchObject({
      version: 'v2',
      event: 'workitem.updated',
      entity_id: issue.id,
      entity_type: 'issue',
      delivery_id: headers['x-plane-delivery'],
    });
    expect(body.data).toMatchObject({ id: issue.id, name: 'v2 name', state_id: ctx.project.states.Done });
    expect(body.previous_attributes).toEqual({ name: 'Login page', state_id: ctx.project.states.Backlog });
    expect(handler.verify(headerBag(headers), raw)).toEqual({ ok: true });
    expect(handler.normalize(headerBag(headers), body)).toEqual([
      { type: 'issue.changed', remoteId: issue.id, labels: undefined, action: 'updated' },
    ]);

    // Every attempt: a new delivery_id (so a different body), the same event_id, so one dedup key.
    const attempts = ctx.sb.planeWebhooks.deliveries();
    expect(attempts.length).toBeGreaterThanOrEqual(2);
    const parsed = attempts.map((a) => JSON.parse(a.body) as Record<string, string>);
    expect(new Set(parsed.map((p) => p.delivery_id)).size).toBe(attempts.length);
    expect(new Set(parsed.map((p) => p.event_id)).size).toBe(1);
    expect(new Set(attempts.map((a, i) => handler.dedupKey(a.headers, parsed[i], Buffer.from(a.body))))).toEqual(new Set([body.event_id]));

    hook.received.length = 0;
    const del = await ctx.call('DELETE', `${ctx.base}/work-items/${issue.id}/`);
    expect(del.status).toBe(204);
    await ctx.sb.planeWebhooks.drain();
    expect(hook.received).toHaveLength(1);
    const deleted = hook.received[0]!.body;
    expect(deleted).toMatchObject({
      event: 'workitem.deleted',
      entity_id: issue.id,
      data: {},
      previous_attributes: { id: issue.id, name: 'v2 name', deleted_at: null },
    });
    expect(handler.normalize({}, deleted)).toEqual([{ type: 'issue.deleted', remoteId: issue.id }]);
  });

  it('sends workitem.comment.created with the comment nested in the work item', async () => {
    const ctx = await start();
    const hook = await receiver();
    const issue = await createIssue(ctx);
    ctx.sb.planeWebhooks.register({ url: hook.url, secret: SECRET, version: 'v2' });
    const comment = ctx.sb.plane.commentAsPerson(issue.id, '<p>Ship it</p>');
    await ctx.sb.planeWebhooks.drain();

    expect(hook.received).toHaveLength(1);
    const { body } = hook.received[0]!;
    expect(body).toMatchObject({
      event: 'workitem.comment.created',
      entity_id: issue.id,
      data: { id: issue.id, comment: { id: comment.id, issue_id: issue.id, comment_stripped: 'Ship it' } },
    });
    expect(handler.normalize({}, body)).toEqual([
      { type: 'comment.created', remoteId: issue.id, commentId: comment.id, body: 'Ship it', fromTrackline: false },
    ]);
  });
});
