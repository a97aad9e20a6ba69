// Plane's webhook rules (trackers.md §1): signature over the raw bytes, dedup keys for v1 and v2,
// and normalization of both payload versions.
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { pyFloat, pythonJsonDumps } from '../../sandbox/plane/python-json.ts';
import { createPlaneWebhookHandler } from '../../src/trackers/plane/webhook.ts';
import type { HeaderBag } from '../../src/sync/port/tracker.ts';

const SECRET = 'plane_wh_0123456789abcdef0123456789abcdef';
const handler = createPlaneWebhookHandler({ webhook_secret: SECRET });

const ACTOR = {
  id: 'c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f',
  first_name: 'Alex',
  last_name: 'Rivera',
  email: 'alex@example.com',
  avatar: '',
  avatar_url: '',
  display_name: 'alex',
};
const ISSUE_ID = '8d3f4c2a-6b1e-4f7a-9c0d-2e5b8a1f3c6d';

function v1Payload(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    event: 'issue',
    action: 'updated',
    webhook_id: '5b1c7a52-3f0e-4d7e-9a55-0c8f1f0d2a11',
    workspace_id: '0e6f8a3c-1b2d-4c5e-8f90-a1b2c3d4e5f6',
    data: {
      id: ISSUE_ID,
      name: 'Café ☕ crash',
      sequence_id: 12,
      sort_order: pyFloat(65535),
      labels: [{ id: 'a7c1e9d2-4b3f-4e8a-b6c5-d0f1e2a3b4c5', name: 'backend', color: '#ff0000' }],
    },
    activity: {
      field: 'name',
      new_value: 'Café ☕ crash',
      old_value: 'Cafe crash',
      actor: ACTOR,
      old_identifier: null,
      new_identifier: null,
    },
    ...overrides,
  };
}

const sign = (body: string | Buffer) => createHmac('sha256', SECRET).update(body).digest('hex');
const plainHeaders = (signature: string | undefined, extra: HeaderBag = {}): HeaderBag => ({
  'content-type': 'application/json',
  'user-agent': 'Autopilot',
  'x-plane-delivery': crypto.randomUUID(),
  'x-plane-event': 'issue',
  ...(signature === undefined ? {} : { 'x-plane-signature': signature }),
  ...extra,
});

describe('verify', () => {
  // Body and digest printed by CPython: json.dumps(payload) and hmac.new(secret, body, sha256).
  const PYTHON_BODY =
    '{"event": "issue", "action": "updated", "webhook_id": "5b1c7a52-3f0e-4d7e-9a55-0c8f1f0d2a11", "workspace_id": "0e6f8a3c-1b2d-4c5e-8f90-a1b2c3d4e5f6", ' +
    '"data": {"id": "8d3f4c2a-6b1e-4f7a-9c0d-2e5b8a1f3c6d", "name": "Caf\\u00e9 \\u2615 crash", "sequence_id": 12, "sort_order": 65535.0, ' +
    '"labels": [{"id": "a7c1e9d2-4b3f-4e8a-b6c5-d0f1e2a3b4c5", "name": "backend", "color": "#ff0000"}]}, ' +
    '"activity": {"field": "name", "new_value": "Caf\\u00e9 \\u2615 crash", "old_value": "Cafe crash", "actor": {"id": "c3d4e5f6-a7b8-4c9d-8e0f-1a2b3c4d5e6f", ' +
    '"first_name": "Alex", "last_name": "Rivera", "email": "alex@example.com", "avatar": "", "avatar_url": "", "display_name": "alex"}, ' +
    '"old_identifier": null, "new_identifier": null}}';
  const PYTHON_SIGNATURE = '447bbc412b892727d51701c270f14f245ac0cc643f80a8b950e24be8affea88c';

  it('accepts a body and signature exactly as CPython produced them', () => {
    expect(pythonJsonDumps(v1Payload())).toBe(PYTHON_BODY);
    expect(handler.verify(plainHeaders(PYTHON_SIGNATURE), Buffer.from(PYTHON_BODY))).toEqual({ ok: true });
  });

  it('accepts a Plane-style body signed the way Plane signs it (spaces, \\u00e9 escapes)', () => {
    const body = pythonJsonDumps(v1Payload());
    expect(body).toContain('"action": "updated", ');
    expect(body).toContain('Caf\\u00e9');
    expect(handler.verify(plainHeaders(sign(body)), Buffer.from(body))).toEqual({ ok: true });
  });

  it('reads the header whatever its case', () => {
    const body = pythonJsonDumps(v1Payload());
    expect(handler.verify({ 'X-Plane-Signature': sign(body) }, Buffer.from(body))).toEqual({ ok: true });
  });

  it('rejects the same payload re-serialised by JSON.stringify with the original signature', () => {
    const body = pythonJsonDumps(v1Payload());
    const reserialised = JSON.stringify(JSON.parse(body));
    expect(reserialised).not.toBe(body);
    const verdict = handler.verify(plainHeaders(sign(body)), Buffer.from(reserialised));
    expect(verdict.ok).toBe(false);
  });

  it('rejects a one-byte change', () => {
    const body = Buffer.from(pythonJsonDumps(v1Payload()));
    const signature = sign(body);
    const tampered = Buffer.from(body);
    tampered[tampered.indexOf('updated')] = 'U'.charCodeAt(0);
    expect(handler.verify(plainHeaders(signature), tampered)).toEqual({ ok: false, reason: 'X-Plane-Signature does not match the body' });
  });

  it('rejects a missing header, and says so', () => {
    const body = Buffer.from(pythonJsonDumps(v1Payload()));
    const verdict = handler.verify(plainHeaders(undefined), body);
    expect(verdict).toEqual({ ok: false, reason: expect.stringMatching(/missing X-Plane-Signature/) });
  });

  it('treats a prefixed, short or non-hex header as invalid without throwing', () => {
    const body = Buffer.from(pythonJsonDumps(v1Payload()));
    const good = sign(body);
    for (const bad of [`sha256=${good}`, good.slice(0, 62), `${good}00`, `${good.slice(0, 63)}z`, '']) {
      expect(handler.verify(plainHeaders(bad), body).ok).toBe(false);
    }
    // Uppercase hex is the same digest.
    expect(handler.verify(plainHeaders(good.toUpperCase()), body)).toEqual({ ok: true });
  });

  it('refuses everything when no secret is configured, without leaking anything', () => {
    const body = Buffer.from(pythonJsonDumps(v1Payload()));
    const verdict = createPlaneWebhookHandler({}).verify(plainHeaders(sign(body)), body);
    expect(verdict).toEqual({ ok: false, reason: expect.stringMatching(/no webhook_secret configured/) });
  });

  it('rejects a signature made with another secret', () => {
    const body = Buffer.from(pythonJsonDumps(v1Payload()));
    const other = createHmac('sha256', 'plane_wh_other').update(body).digest('hex');
    expect(handler.verify(plainHeaders(other), body).ok).toBe(false);
  });
});

describe('dedupKey', () => {
  it('is the same for a v1 retry (same body, new X-Plane-Delivery) and differs between events', () => {
    const body = pythonJsonDumps(v1Payload());
    const first = handler.dedupKey(plainHeaders(sign(body)), JSON.parse(body), Buffer.from(body));
    const retry = handler.dedupKey(plainHeaders(sign(body)), JSON.parse(body), Buffer.from(body));
    expect(first).toMatch(/^body:[0-9a-f]{64}$/);
    expect(retry).toBe(first);

    // The next field of the same PATCH: a separate delivery with its own key.
    const other = pythonJsonDumps(
      v1Payload({
        activity: { field: 'priority', new_value: 'high', old_value: 'none', actor: ACTOR, old_identifier: null, new_identifier: null },
      }),
    );
    expect(handler.dedupKey(plainHeaders(sign(other)), JSON.parse(other), Buffer.from(other))).not.toBe(first);
  });

  it('is event_id for v2, whatever the delivery_id', () => {
    const eventId = crypto.randomUUID();
    const v2 = (deliveryId: string, id = eventId) => {
      const body = pythonJsonDumps({
        version: 'v2',
        delivery_id: deliveryId,
        event_id: id,
        entity_id: ISSUE_ID,
        entity_type: 'issue',
        event: 'workitem.updated',
        data: { id: ISSUE_ID },
      });
      return handler.dedupKey(plainHeaders(sign(body), { 'x-plane-delivery': deliveryId }), JSON.parse(body), Buffer.from(body));
    };
    const first = v2(crypto.randomUUID());
    expect(first).toBe(eventId);
    expect(v2(crypto.randomUUID())).toBe(first);
    expect(v2(crypto.randomUUID(), crypto.randomUUID())).not.toBe(first);
  });
});

describe('eventName', () => {
  it('joins v1 event and action, normalising the old verb forms', () => {
    expect(handler.eventName({}, v1Payload())).toBe('issue.updated');
    expect(handler.eventName({}, v1Payload({ action: 'update' }))).toBe('issue.updated');
    expect(handler.eventName({}, { event: 'issue_comment', action: 'created' })).toBe('issue_comment.created');
  });

  it("uses the v2 event, mapping the docs' enum spelling", () => {
    expect(handler.eventName({}, { version: 'v2', event: 'workitem.comment.created' })).toBe('workitem.comment.created');
    expect(handler.eventName({}, { version: 'v2', event: 'WebhookScope.ScopeChoices.WORK_ITEM_UPDATED' })).toBe('workitem.updated');
  });
});

describe('normalize v1', () => {
  const norm = (p: unknown) => handler.normalize({ 'x-plane-event': 'issue' }, JSON.parse(pythonJsonDumps(p)));

  it('maps created and updated to issue.changed with label names and the actor', () => {
    for (const action of ['created', 'create', 'updated', 'update']) {
      expect(norm(v1Payload({ action }))).toEqual([
        {
          type: 'issue.changed',
          remoteId: ISSUE_ID,
          labels: ['backend'],
          actor: 'alex',
          action: action.startsWith('creat') ? 'created' : 'updated',
        },
      ]);
    }
  });

  it('falls back to the email when the actor has no display name', () => {
    const [change] = norm(v1Payload({ activity: { field: null, actor: { ...ACTOR, display_name: '' } } }));
    expect(change).toMatchObject({ type: 'issue.changed', actor: 'alex@example.com' });
  });

  it('maps deleted and delete (data is just the id) to issue.deleted', () => {
    for (const action of ['deleted', 'delete']) {
      expect(norm(v1Payload({ action, data: { id: ISSUE_ID } }))).toEqual([{ type: 'issue.deleted', remoteId: ISSUE_ID, actor: 'alex' }]);
    }
  });

  it("maps a new comment to comment.created with Markdown, and marks Trackline's own", () => {
    const comment = (external: Record<string, unknown>) => ({
      event: 'issue_comment',
      action: 'created',
      webhook_id: 'w',
      workspace_id: 'ws',
      data: {
        id: 'c1c1c1c1-0000-4000-8000-000000000001',
        comment_html: '<p>Looks <strong>good</strong> to me</p>',
        access: 'INTERNAL',
        issue: ISSUE_ID,
        actor: ACTOR.id,
        ...external,
      },
      activity: { field: null, new_value: null, old_value: null, actor: ACTOR, old_identifier: null, new_identifier: null },
    });
    expect(norm(comment({ external_source: null, external_id: null }))).toEqual([
      {
        type: 'comment.created',
        remoteId: ISSUE_ID,
        commentId: 'c1c1c1c1-0000-4000-8000-000000000001',
        body: 'Looks **good** to me',
        actor: 'alex',
        fromTrackline: false,
      },
    ]);
    const [own] = norm(comment({ external_source: 'trackline', external_id: 'trackline-comment-7' }));
    expect(own).toMatchObject({ type: 'comment.created', fromTrackline: true });
    const [github] = norm(comment({ external_source: 'github', external_id: '99' }));
    expect(github).toMatchObject({ fromTrackline: false });
  });

  it('ignores comment edits, other entities and junk, with a reason', () => {
    const ignoredOf = (p: unknown) => handler.normalize({}, p);
    expect(ignoredOf({ event: 'issue_comment', action: 'updated', data: { id: 'x', issue: ISSUE_ID } })).toEqual([
      { type: 'ignored', reason: expect.any(String) },
    ]);
    for (const event of ['project', 'cycle', 'module', 'cycle_issue', 'module_issue']) {
      expect(ignoredOf({ event, action: 'updated', data: { id: 'x' } })).toEqual([
        { type: 'ignored', reason: expect.stringContaining(event) },
      ]);
    }
    expect(ignoredOf({ event: 'issue', action: 'updated', data: {} })).toEqual([{ type: 'ignored', reason: expect.any(String) }]);
    expect(ignoredOf('nope')).toEqual([{ type: 'ignored', reason: expect.any(String) }]);
  });
});

describe('normalize v2', () => {
  const envelope = (event: string, data: unknown, extra: Record<string, unknown> = {}) => ({
    version: 'v2',
    delivery_id: crypto.randomUUID(),
    event_id: crypto.randomUUID(),
    entity_id: ISSUE_ID,
    entity_type: 'issue',
    event,
    webhook_id: 'w',
    workspace_id: 'ws',
    data,
    previous_attributes: {},
    ...extra,
  });

  it('maps workitem.created / updated to issue.changed (label ids carry no names)', () => {
    expect(handler.normalize({}, envelope('workitem.created', { id: ISSUE_ID, label_ids: ['l1'] }))).toEqual([
      { type: 'issue.changed', remoteId: ISSUE_ID, labels: undefined, action: 'created' },
    ]);
    expect(handler.normalize({}, envelope('WebhookScope.ScopeChoices.WORK_ITEM_UPDATED', { id: ISSUE_ID }))).toEqual([
      { type: 'issue.changed', remoteId: ISSUE_ID, labels: undefined, action: 'updated' },
    ]);
  });

  it('maps workitem.deleted (data {}) to issue.deleted by entity_id', () => {
    expect(handler.normalize({}, envelope('workitem.deleted', {}, { previous_attributes: { id: ISSUE_ID } }))).toEqual([
      { type: 'issue.deleted', remoteId: ISSUE_ID },
    ]);
  });

  it('maps workitem.comment.created (comment nested in the work item) to comment.created', () => {
    const data = {
      id: ISSUE_ID,
      name: 'Webhook Test Work Item 2',
      comment: {
        id: 'c2',
        access: 'INTERNAL',
        actor_id: ACTOR.id,
        issue_id: ISSUE_ID,
        edited_at: null,
        comment_stripped: 'Webhook Test Comment',
      },
    };
    expect(handler.normalize({}, envelope('workitem.comment.created', data))).toEqual([
      { type: 'comment.created', remoteId: ISSUE_ID, commentId: 'c2', body: 'Webhook Test Comment', fromTrackline: false },
    ]);
  });

  it('ignores other v2 events', () => {
    expect(handler.normalize({}, envelope('workitem.link.created', { id: 'x' }))).toEqual([
      { type: 'ignored', reason: expect.stringContaining('workitem.link.created') },
    ]);
    expect(handler.normalize({}, envelope('cycle.updated', { id: 'x' }))).toEqual([{ type: 'ignored', reason: expect.any(String) }]);
  });
});
