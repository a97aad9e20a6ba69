import { createRequire } from 'node:module';
import { sign } from '@octokit/webhooks-methods';
import { describe, expect, it } from 'vitest';
import { GitHubWebhookHandler, signGitHubPayload, verifyGitHubSignature } from '../../src/trackers/github/webhook.ts';
import { GitHubProjectWebhookHandler } from '../../src/trackers/github-project/webhook.ts';
import type { InboundChange } from '../../src/sync/port/tracker.ts';

interface Definition {
  name: string;
  actions: string[];
  examples: Array<
    Record<string, unknown> & { action?: string; repository?: { full_name: string }; issue?: { number: number; pull_request?: unknown } }
  >;
}

const definitions = createRequire(import.meta.url)('@octokit/webhooks-examples/api.github.com/index.json') as Definition[];
const SECRET = 'whsec-github-test-secret';

const handlerFor = (fullName: string) => {
  const [owner, repo] = fullName.split('/');
  return new GitHubWebhookHandler({ id: 'gh-main', owner: owner!, repo: repo!, webhook_secret: SECRET });
};

/** GitHub's headers for one delivery of `body`. */
const headersFor = (event: string, body: string, signature = signGitHubPayload(SECRET, body)) => ({
  'x-github-event': event,
  'x-github-delivery': '72d3162e-cc78-11e3-81ab-4c9367dc0958',
  'x-hub-signature-256': signature,
  'user-agent': 'GitHub-Hookshot/044aadd',
  'content-type': 'application/json',
});

describe('GitHub webhook signatures', () => {
  it('matches the test vector in GitHub’s docs (validating-webhook-deliveries.md)', async () => {
    const expected = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(signGitHubPayload("It's a Secret to Everybody", 'Hello, World!')).toBe(expected);
    expect(verifyGitHubSignature("It's a Secret to Everybody", Buffer.from('Hello, World!'), expected)).toEqual({ ok: true });
    // Octokit's own signer (used by the sandbox sender) agrees.
    expect(await sign("It's a Secret to Everybody", 'Hello, World!')).toBe(expected);
  });

  it('refuses a missing, malformed, sha1-only or wrong signature, and a connection without a secret', () => {
    const body = Buffer.from('{"action":"opened"}');
    const handler = handlerFor('o/r');
    expect(handler.verify({}, body)).toMatchObject({ ok: false, reason: expect.stringContaining('no X-Hub-Signature-256') });
    expect(handler.verify({ 'x-hub-signature-256': 'sha256=abc' }, body)).toMatchObject({ ok: false });
    expect(handler.verify({ 'x-hub-signature': 'sha1=0000000000000000000000000000000000000000' }, body)).toMatchObject({ ok: false });
    expect(handler.verify({ 'x-hub-signature-256': signGitHubPayload('other secret', body) }, body)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('does not match'),
    });
    const noSecret = new GitHubWebhookHandler({ id: 'gh', owner: 'o', repo: 'r' });
    expect(noSecret.verify({ 'x-hub-signature-256': signGitHubPayload(SECRET, body) }, body)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('webhook_secret'),
    });
  });

  it('reads header names in any case', () => {
    const body = Buffer.from('{}');
    expect(handlerFor('o/r').verify({ 'X-Hub-Signature-256': signGitHubPayload(SECRET, body) }, body)).toEqual({ ok: true });
  });
});

describe('every issues.* and issue_comment.* example of @octokit/webhooks-examples', () => {
  const cases = definitions
    .filter((d) => d.name === 'issues' || d.name === 'issue_comment')
    .flatMap((d) => d.examples.map((example, i) => ({ event: d.name, example, label: `${d.name}.${example.action} #${i}` })));

  it('covers the examples it should', () => {
    expect(cases.filter((c) => c.event === 'issues').length).toBeGreaterThanOrEqual(29);
    expect(cases.filter((c) => c.event === 'issue_comment').length).toBeGreaterThanOrEqual(9);
  });

  it.each(cases)('$label: accepted when signed, refused with one byte changed, normalized', ({ event, example }) => {
    // GitHub signs the bytes it sends; the receiver must check those bytes, not a re-serialization.
    const raw = Buffer.from(JSON.stringify(example, null, 2));
    const handler = handlerFor(example.repository!.full_name);
    const headers = headersFor(event, raw.toString('utf8'));
    expect(handler.verify(headers, raw)).toEqual({ ok: true });

    const tampered = Buffer.from(raw);
    const at = tampered.indexOf('"action"') + 2;
    tampered[at] = tampered[at]! ^ 0x01;
    expect(handler.verify(headers, tampered)).toMatchObject({ ok: false });

    expect(handler.dedupKey(headers, example, raw)).toBe('72d3162e-cc78-11e3-81ab-4c9367dc0958');
    expect(handler.eventName(headers, example)).toBe(`${event}.${example.action}`);

    const [change, ...rest] = handler.normalize(headers, JSON.parse(raw.toString('utf8')));
    expect(rest).toEqual([]);
    const number = String(example.issue!.number);
    const expected = expectedChange(event, example);
    expect(change).toMatchObject(expected);
    if (change!.type !== 'ignored') expect(change).toMatchObject({ remoteId: number, remoteKey: `#${number}` });
  });
});

function expectedChange(event: string, example: Definition['examples'][number]): Partial<InboundChange> {
  const action = example.action!;
  if (event === 'issue_comment') {
    if (action !== 'created') return { type: 'ignored' };
    return { type: 'comment.created', commentId: String((example.comment as { id: number }).id), fromTrackline: false };
  }
  if (action === 'deleted' || action === 'transferred') return { type: 'issue.deleted' };
  if (
    ['opened', 'edited', 'closed', 'reopened', 'labeled', 'unlabeled', 'assigned', 'unassigned', 'milestoned', 'demilestoned'].includes(
      action,
    )
  ) {
    return { type: 'issue.changed', action };
  }
  return { type: 'ignored' };
}

describe('normalizing GitHub webhooks', () => {
  const example = (event: string, action: string) => {
    const d = definitions.find((x) => x.name === event)!;
    return structuredClone(d.examples.find((e) => e.action === action)!);
  };
  const handler = handlerFor('Codertocat/Hello-World');
  const headers = (event: string) => ({ 'x-github-event': event });

  it('an issues.labeled carries the labels, the action and who did it', () => {
    const payload = example('issues', 'labeled');
    expect(handler.normalize(headers('issues'), payload)).toEqual([
      { type: 'issue.changed', remoteId: '1', remoteKey: '#1', labels: ['bug'], actor: 'Codertocat', action: 'labeled' },
    ]);
  });

  it('a comment carrying Trackline’s marker comes back marked fromTrackline, without the marker', () => {
    const payload = example('issue_comment', 'created');
    (payload.comment as { body: string }).body = '_agent:planner_:\n\nStage moved\n\n<!-- trackline:comment=12 -->';
    expect(handler.normalize(headers('issue_comment'), payload)).toEqual([
      expect.objectContaining({ type: 'comment.created', fromTrackline: true, body: '_agent:planner_:\n\nStage moved' }),
    ]);
  });

  it('a comment on a pull request is ignored', () => {
    const payload = example('issue_comment', 'created');
    (payload.issue as Record<string, unknown>).pull_request = { url: 'https://api.github.com/repos/o/r/pulls/1' };
    expect(handler.normalize(headers('issue_comment'), payload)).toEqual([
      { type: 'ignored', reason: expect.stringContaining('pull request') },
    ]);
  });

  it('events of another repository, other events and pings are ignored with a reason', () => {
    expect(handlerFor('o/other').normalize(headers('issues'), example('issues', 'opened'))).toEqual([
      { type: 'ignored', reason: expect.stringContaining('Codertocat/Hello-World') },
    ]);
    expect(handler.normalize(headers('label'), { action: 'created' })).toEqual([
      { type: 'ignored', reason: 'label.created: not an issue event' },
    ]);
    expect(handler.normalize(headers('ping'), { zen: 'Design for failure.' })).toEqual([
      { type: 'ignored', reason: expect.stringContaining('ping') },
    ]);
    expect(handler.normalize(headers('issues'), example('issues', 'locked'))).toEqual([
      { type: 'ignored', reason: 'issues.locked: changes no synced field' },
    ]);
  });

  it('without X-GitHub-Delivery, the body’s hash is the dedup key', () => {
    const raw = Buffer.from('{"action":"opened"}');
    expect(handler.dedupKey({}, {}, raw)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('a github-project connection verifies the same way and ignores everything (the board is polled)', () => {
    const project = new GitHubProjectWebhookHandler({ id: 'board', owner: 'octo-org', webhook_secret: SECRET });
    const payload = definitions.find((d) => d.name === 'projects_v2_item')!.examples[0]!;
    const raw = Buffer.from(JSON.stringify(payload));
    const h = headersFor('projects_v2_item', raw.toString('utf8'));
    expect(project.verify(h, raw)).toEqual({ ok: true });
    expect(project.eventName(h, payload)).toBe('projects_v2_item.created');
    expect(project.normalize(h, payload)).toEqual([
      { type: 'ignored', reason: 'projects_v2_item.created: github-project connections read the board by polling' },
    ]);
  });
});
