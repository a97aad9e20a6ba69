import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createJiraWebhookHandler, verifyHubSignature } from '../../src/trackers/jira/webhook.ts';
import { commentToAdf } from '../../src/trackers/jira/transform.ts';

const SECRET = "It's a Secret to Everybody";
const handler = createJiraWebhookHandler({ webhook_secret: SECRET, project_key: 'ET' });

/**
 * A jira:issue_updated delivery in the documented shape (docs/trackers.md 4.4: webhookEvent,
 * issue_event_type_name, user, issue {id, key, fields}, changelog.items of ChangeDetails).
 */
const issueUpdated = {
  timestamp: 1_767_225_600_000,
  webhookEvent: 'jira:issue_updated',
  issue_event_type_name: 'issue_generic',
  user: { accountId: '5b10ac8d82e05b22cc7d4ef5', displayName: 'Alice', active: true },
  issue: {
    id: '10002',
    key: 'ET-3',
    self: 'https://acme.atlassian.net/rest/api/3/issue/10002',
    fields: {
      summary: 'WP02: Models layer',
      labels: ['backend', 'trackline:user-auth/WP02'],
      status: { id: '10001', name: 'In Progress', statusCategory: { key: 'indeterminate' } },
      project: { id: '10000', key: 'ET' },
    },
  },
  changelog: {
    id: '10104',
    items: [
      { field: 'status', fieldtype: 'jira', fieldId: 'status', from: '10000', fromString: 'To Do', to: '10001', toString: 'In Progress' },
    ],
  },
};

const sign = (body: string | Buffer, method = 'sha256', secret = SECRET) =>
  `${method}=${createHmac(method, secret).update(body).digest('hex')}`;

describe('X-Hub-Signature', () => {
  const raw = Buffer.from(JSON.stringify(issueUpdated));

  it('accepts the HMAC-SHA256 of the raw bytes', () => {
    expect(handler.verify({ 'x-hub-signature': sign(raw) }, raw)).toEqual({ ok: true });
    // Header names arrive in any case.
    expect(handler.verify({ 'X-Hub-Signature': sign(raw) }, raw)).toEqual({ ok: true });
  });

  it('the vector from GitHub’s X-Hub-Signature-256 docs (same HMAC, same key and message)', () => {
    // The same key and message as GitHub's documented X-Hub-Signature-256 example: the algorithm
    // is identical, only Jira's header name differs.
    const body = Buffer.from('Hello, World!');
    expect(verifyHubSignature(SECRET, 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17', body)).toEqual({
      ok: true,
    });
  });

  it('refuses a body with one byte changed', () => {
    const tampered = Buffer.from(raw);
    tampered[tampered.length - 2] ^= 1;
    expect(handler.verify({ 'x-hub-signature': sign(raw) }, tampered)).toEqual({
      ok: false,
      reason: 'X-Hub-Signature does not match the body',
    });
  });

  it('refuses a signature with one hex digit changed', () => {
    const good = sign(raw);
    const bad = good.slice(0, -1) + (good.endsWith('0') ? '1' : '0');
    expect(handler.verify({ 'x-hub-signature': bad }, raw).ok).toBe(false);
  });

  it('reads the method from the header: sha512 and sha1 work, an unknown one is refused', () => {
    expect(handler.verify({ 'x-hub-signature': sign(raw, 'sha512') }, raw)).toEqual({ ok: true });
    expect(handler.verify({ 'x-hub-signature': sign(raw, 'sha1') }, raw)).toEqual({ ok: true });
    expect(handler.verify({ 'x-hub-signature': `md5=${'0'.repeat(32)}` }, raw)).toEqual({
      ok: false,
      reason: 'X-Hub-Signature method "md5" is not supported (sha256, sha512, sha1)',
    });
    expect(handler.verify({ 'x-hub-signature': sign(raw).replace('sha256=', '') }, raw).ok).toBe(false);
    expect(handler.verify({ 'x-hub-signature': 'sha256=abc' }, raw)).toEqual({
      ok: false,
      reason: 'X-Hub-Signature is not a sha256 hex digest',
    });
  });

  it('refuses a missing header, a wrong secret, and every delivery when no secret is configured', () => {
    expect(handler.verify({}, raw).ok).toBe(false);
    expect(handler.verify({ 'x-hub-signature': sign(raw, 'sha256', 'other') }, raw).ok).toBe(false);
    const open = createJiraWebhookHandler({ project_key: 'ET' });
    expect(open.verify({ 'x-hub-signature': sign(raw) }, raw)).toEqual({ ok: false, reason: expect.stringContaining('no webhook_secret') });
  });
});

describe('dedup and event name', () => {
  it('uses X-Atlassian-Webhook-Identifier, the same on every retry', () => {
    const raw = Buffer.from('{}');
    const first = handler.dedupKey({ 'x-atlassian-webhook-identifier': 'abc-1' }, {}, raw);
    const retry = handler.dedupKey({ 'X-Atlassian-Webhook-Identifier': 'abc-1', 'x-atlassian-webhook-retry': '2' }, {}, raw);
    expect(first).toBe('jira:abc-1');
    expect(retry).toBe(first);
    expect(handler.dedupKey({}, {}, raw)).toMatch(/^body:[0-9a-f]{64}$/);
    expect(handler.eventName({}, issueUpdated)).toBe('jira:issue_updated');
  });
});

describe('normalize', () => {
  it('jira:issue_updated -> issue.changed with id, key, labels (marker left out) and actor', () => {
    expect(handler.normalize({}, issueUpdated)).toEqual([
      { type: 'issue.changed', remoteId: '10002', remoteKey: 'ET-3', labels: ['backend'], actor: 'Alice', action: 'updated' },
    ]);
  });

  it('jira:issue_created -> issue.changed (created)', () => {
    const created = {
      ...issueUpdated,
      webhookEvent: 'jira:issue_created',
      issue_event_type_name: 'issue_created',
      changelog: undefined,
      issue: { ...issueUpdated.issue, fields: { ...issueUpdated.issue.fields, labels: ['backend'] } },
    };
    expect(handler.normalize({}, created)).toEqual([
      expect.objectContaining({ type: 'issue.changed', remoteId: '10002', action: 'created' }),
    ]);
  });

  it('Trackline’s own create (marker label) is ignored: the create records its mapping itself', () => {
    const ours = { ...issueUpdated, webhookEvent: 'jira:issue_created', changelog: undefined };
    expect(handler.normalize({}, ours)).toEqual([
      { type: 'ignored', reason: 'ET-3 was created by Trackline (it carries the marker label)' },
    ]);
  });

  it('an update touching only unsynced fields is ignored with the reason', () => {
    const rank = {
      ...issueUpdated,
      changelog: { id: '1', items: [{ field: 'Rank', fieldtype: 'custom', fieldId: 'customfield_10019', from: '', to: '' }] },
    };
    expect(handler.normalize({}, rank)).toEqual([{ type: 'ignored', reason: 'ET-3: only unsynced fields changed (customfield_10019)' }]);
  });

  it('the jira:issue_updated copy of a comment is ignored (comment_created carries it)', () => {
    const commented = { ...issueUpdated, issue_event_type_name: 'issue_commented', changelog: undefined, comment: { id: '1' } };
    expect(handler.normalize({}, commented)).toEqual([{ type: 'ignored', reason: expect.stringContaining('issue_commented') }]);
  });

  it('jira:issue_deleted -> issue.deleted', () => {
    const deleted = {
      timestamp: 1,
      webhookEvent: 'jira:issue_deleted',
      user: { displayName: 'Bob' },
      issue: { id: '10002', key: 'ET-3', fields: {} },
    };
    expect(handler.normalize({}, deleted)).toEqual([{ type: 'issue.deleted', remoteId: '10002', remoteKey: 'ET-3', actor: 'Bob' }]);
  });

  it('comment_created -> comment.created with the body as markdown; Trackline’s own is marked', () => {
    const person = {
      webhookEvent: 'comment_created',
      comment: {
        id: '10040',
        author: { accountId: 'x', displayName: 'Bob' },
        body: {
          type: 'doc',
          version: 1,
          content: [
            {
              type: 'paragraph',
              content: [
                { type: 'text', text: 'Ship ' },
                { type: 'text', text: 'it', marks: [{ type: 'strong' }] },
              ],
            },
          ],
        },
      },
      issue: { id: '10002', key: 'ET-3', fields: { summary: 'x' } },
    };
    expect(handler.normalize({}, person)).toEqual([
      {
        type: 'comment.created',
        remoteId: '10002',
        remoteKey: 'ET-3',
        commentId: '10040',
        body: 'Ship **it**',
        actor: 'Bob',
        fromTrackline: false,
      },
    ]);
    const ours = { ...person, comment: { ...person.comment, body: commentToAdf('Stage: done', 9, 'agent:planner') } };
    expect(handler.normalize({}, ours)).toEqual([expect.objectContaining({ body: 'Stage: done', fromTrackline: true })]);
  });

  it('other projects, other events and odd payloads are ignored with a reason', () => {
    expect(handler.normalize({}, { ...issueUpdated, issue: { ...issueUpdated.issue, key: 'OPS-1' } })).toEqual([
      { type: 'ignored', reason: 'OPS-1 is not in project ET' },
    ]);
    expect(handler.normalize({}, { webhookEvent: 'worklog_created', issue: { id: '1', key: 'ET-1' } })).toEqual([
      { type: 'ignored', reason: 'Jira "worklog_created" events are not synced' },
    ]);
    expect(handler.normalize({}, [])).toEqual([{ type: 'ignored', reason: 'payload is not a JSON object' }]);
    expect(handler.normalize({}, {})).toEqual([{ type: 'ignored', reason: 'payload has no webhookEvent' }]);
  });
});
