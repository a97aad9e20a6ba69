import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { HeaderBag, InboundChange, WebhookHandler } from '../../sync/port/tracker.ts';
import { closingIssueNumbers } from './pulls-transform.ts';
import { hasCommentMarker, issueKey, labelNames, stripCommentMarker } from './transform.ts';

/**
 * GitHub's webhook rules (docs/trackers.md 3.1–3.3):
 * - `X-Hub-Signature-256: sha256=<hex>`, an HMAC-SHA256 of the raw body keyed with the secret;
 *   checked over the bytes as received, in constant time, before anything is parsed;
 * - `X-GitHub-Delivery` is the same on a redelivery, so it is the dedup key;
 * - `X-GitHub-Event` plus the payload's `action` name the event (`issues.labeled`).
 */
export interface GitHubWebhookConfig {
  id: string;
  owner: string;
  repo: string;
  webhook_secret?: string;
  /** Set: pull_request and pull_request_review deliveries are followed. */
  pull_requests?: unknown;
}

// Actions that change nothing Trackline follows. `synchronize` (new commits) is not one: after a
// request for changes, new commits are what asking the reviewer again waits for.
const QUIET_PULL_REQUEST_ACTIONS = new Set([
  'labeled',
  'unlabeled',
  'assigned',
  'unassigned',
  'locked',
  'unlocked',
  'auto_merge_enabled',
  'auto_merge_disabled',
  'enqueued',
  'dequeued',
  'milestoned',
  'demilestoned',
]);

const ISSUE_CHANGES = new Set([
  'opened',
  'edited',
  'closed',
  'reopened',
  'labeled',
  'unlabeled',
  'assigned',
  'unassigned',
  'milestoned',
  'demilestoned',
]);

export function header(headers: HeaderBag, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [k, v] of Object.entries(headers)) if (k.toLowerCase() === wanted) return v;
  return undefined;
}

/** `sha256=` + the hex HMAC of `body` (what GitHub sends; also used by the sandbox and tests). */
export function signGitHubPayload(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** Verifies an `X-Hub-Signature-256` value over raw bytes, in constant time. */
export function verifyGitHubSignature(
  secret: string,
  rawBody: Buffer,
  signature: string | undefined,
): { ok: true } | { ok: false; reason: string } {
  if (!signature) return { ok: false, reason: 'no X-Hub-Signature-256 header' };
  const match = /^sha256=([0-9a-f]{64})$/i.exec(signature.trim());
  if (!match) return { ok: false, reason: 'X-Hub-Signature-256 is not "sha256=" followed by 64 hex digits' };
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const given = Buffer.from(match[1]!, 'hex');
  return timingSafeEqual(expected, given) ? { ok: true } : { ok: false, reason: 'X-Hub-Signature-256 does not match the body' };
}

export class GitHubWebhookHandler implements WebhookHandler {
  constructor(private readonly config: GitHubWebhookConfig) {}

  verify(headers: HeaderBag, rawBody: Buffer): { ok: true } | { ok: false; reason: string } {
    if (!this.config.webhook_secret)
      return { ok: false, reason: `connection ${this.config.id} has no webhook_secret; set it to the secret of the GitHub webhook` };
    return verifyGitHubSignature(this.config.webhook_secret, rawBody, header(headers, 'x-hub-signature-256'));
  }

  dedupKey(headers: HeaderBag, _payload: unknown, rawBody: Buffer): string {
    // Always present from GitHub; a hand-made delivery without it dedups on its bytes.
    return header(headers, 'x-github-delivery') ?? `sha256:${createHash('sha256').update(rawBody).digest('hex')}`;
  }

  eventName(headers: HeaderBag, payload: unknown): string {
    const event = header(headers, 'x-github-event') ?? 'unknown';
    const action = (payload as { action?: unknown } | null)?.action;
    return typeof action === 'string' ? `${event}.${action}` : event;
  }

  /** A pull_request or pull_request_review delivery must carry its pull request's number and branch. */
  check(headers: HeaderBag, payload: unknown): { ok: true } | { ok: false; reason: string } {
    const event = header(headers, 'x-github-event');
    if (event !== 'pull_request' && event !== 'pull_request_review') return { ok: true };
    const pr = (payload as GitHubPullRequestPayload | null)?.pull_request;
    if (!pr || typeof pr.number !== 'number' || !Number.isInteger(pr.number) || typeof pr.head?.ref !== 'string') {
      return { ok: false, reason: `${event} payload has no pull_request with a number and a head branch` };
    }
    return { ok: true };
  }

  private normalizePullRequest(name: string, body: GitHubPullRequestPayload): InboundChange[] {
    const repo = body.repository?.full_name;
    const full = `${this.config.owner}/${this.config.repo}`;
    if (repo && repo.toLowerCase() !== full.toLowerCase())
      return [{ type: 'ignored', reason: `${name} for ${repo}; connection ${this.config.id} syncs ${full}` }];
    const pr = body.pull_request;
    if (!pr || typeof pr.number !== 'number' || typeof pr.head?.ref !== 'string')
      return [{ type: 'ignored', reason: `${name}: payload has no pull request` }];
    if (!this.config.pull_requests)
      return [{ type: 'ignored', reason: `${name}: connection ${this.config.id} has no [connections.pull_requests]` }];
    // Labels, assignees and new commits change nothing Trackline reports; everything else may move its state, title or links.
    if (body.action && QUIET_PULL_REQUEST_ACTIONS.has(body.action))
      return [{ type: 'ignored', reason: `${name}: changes nothing Trackline follows` }];
    return [
      {
        type: 'pull_request.changed',
        number: pr.number,
        head: pr.head.ref,
        closes: closingIssueNumbers(pr.body, full).map(String),
        actor: body.sender?.login,
        action: body.action,
      },
    ];
  }

  normalize(headers: HeaderBag, payload: unknown): InboundChange[] {
    const event = header(headers, 'x-github-event');
    const body = (payload ?? {}) as GitHubIssuePayload;
    const name = this.eventName(headers, payload);
    if (event === 'ping') return [{ type: 'ignored', reason: 'ping: the webhook is set up' }];
    if (event === 'pull_request' || event === 'pull_request_review')
      return this.normalizePullRequest(name, payload as GitHubPullRequestPayload);
    if (event !== 'issues' && event !== 'issue_comment') return [{ type: 'ignored', reason: `${name}: not an issue event` }];
    const repo = body.repository?.full_name;
    if (repo && repo.toLowerCase() !== `${this.config.owner}/${this.config.repo}`.toLowerCase()) {
      // An organization webhook sends every repository's events to one URL.
      return [
        { type: 'ignored', reason: `${name} for ${repo}; connection ${this.config.id} syncs ${this.config.owner}/${this.config.repo}` },
      ];
    }
    const issue = body.issue;
    if (!issue || typeof issue.number !== 'number') return [{ type: 'ignored', reason: `${name}: payload has no issue` }];
    const remoteId = String(issue.number);
    const remoteKey = issueKey(issue.number);
    const actor = body.sender?.login;

    if (event === 'issue_comment') {
      // issue_comment fires for pull request comments too (trackers.md 3.3).
      if (issue.pull_request) return [{ type: 'ignored', reason: `${name}: a comment on pull request ${remoteKey}` }];
      if (body.action !== 'created' || !body.comment) return [{ type: 'ignored', reason: `${name}: only new comments are synced` }];
      return [
        {
          type: 'comment.created',
          remoteId,
          remoteKey,
          commentId: String(body.comment.id),
          body: stripCommentMarker(body.comment.body),
          actor,
          fromTrackline: hasCommentMarker(body.comment.body),
        },
      ];
    }
    // A deleted or transferred issue is gone from this repository (the new one has a new number).
    if (body.action === 'deleted' || body.action === 'transferred') return [{ type: 'issue.deleted', remoteId, remoteKey, actor }];
    if (body.action && ISSUE_CHANGES.has(body.action)) {
      return [{ type: 'issue.changed', remoteId, remoteKey, labels: labelNames(issue.labels), actor, action: body.action }];
    }
    return [{ type: 'ignored', reason: `${name}: changes no synced field` }];
  }
}

interface GitHubPullRequestPayload {
  action?: string;
  pull_request?: { number?: unknown; body?: string | null; head?: { ref?: unknown } };
  repository?: { full_name?: string };
  sender?: { login?: string };
}

interface GitHubIssuePayload {
  action?: string;
  issue?: { number?: number; labels?: Array<string | { name: string }>; pull_request?: unknown };
  comment?: { id: number; body?: string | null };
  repository?: { full_name?: string };
  sender?: { login?: string };
}
