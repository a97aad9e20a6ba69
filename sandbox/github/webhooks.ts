// The sandbox GitHub's repository webhooks: each `issues` / `issue_comment` / `pull_request` /
// `pull_request_review` change becomes one
// delivery per registered target, sent in order with GitHub's headers (trackers.md 3.1):
// X-GitHub-Event, X-GitHub-Delivery (a GUID, kept on a redelivery), X-GitHub-Hook-ID,
// X-GitHub-Hook-Installation-Target-ID/-Type, X-Hub-Signature (sha1) and X-Hub-Signature-256
// (sha256, signed with @octokit/webhooks-methods, so the receiver is checked against Octokit's own
// signer), User-Agent GitHub-Hookshot/…. GitHub does not redeliver by itself (3.2): a failed
// delivery stays failed until `redeliver` is called.

import { createHmac, randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { commentJson, issueJson, labelJson, milestoneJson, repoJson, userJson, type Urls } from './json.ts';
import { repoKey, type GhChangeEvent, type GitHubStore } from './store.ts';
import type { GitHubPulls } from './pulls.ts';

export interface GitHubHook {
  id: number;
  repo: string;
  url: string;
  secret: string;
  active: boolean;
}

export interface GitHubDelivery {
  id: string;
  hookId: number;
  event: string;
  action: string;
  url: string;
  /** HTTP status the target answered; 0 when it could not be reached or timed out. */
  status: number;
  error?: string;
  at: string;
  redelivery: boolean;
}

/** GitHub gives a receiver 10 s on github.com (trackers.md 3.2). */
const TIMEOUT_MS = 10_000;

interface Pending {
  hook: GitHubHook;
  id: string;
  event: string;
  action: string;
  body: string;
  redelivery: boolean;
}

export class GitHubWebhookSender {
  readonly hooks: GitHubHook[] = [];
  readonly deliveries: GitHubDelivery[] = [];
  #queue: Pending[] = [];
  #sent = new Map<string, Pending>();
  #running: Promise<void> | null = null;
  #closed = false;
  #holding = false;
  #unsubscribe: () => void;
  /** Where links in payloads point; set from the sandbox's address when known. */
  urls: Urls = { api: 'https://api.github.com', web: 'https://github.com' };

  constructor(
    private readonly store: GitHubStore,
    private readonly pulls?: GitHubPulls,
  ) {
    this.#unsubscribe = store.onChange((e) => this.#enqueue(e));
  }

  register(owner: string, repo: string, target: { url: string; secret: string }): GitHubHook {
    const hook: GitHubHook = { id: this.store.id(), repo: repoKey(owner, repo), url: target.url, secret: target.secret, active: true };
    this.hooks.push(hook);
    return hook;
  }

  /** Sends a delivery again with the same X-GitHub-Delivery, as GitHub's "Redeliver" does. */
  redeliver(deliveryId: string): void {
    const sent = this.#sent.get(deliveryId);
    if (!sent) throw new Error(`no delivery ${deliveryId}`);
    this.#queue.push({ ...sent, redelivery: true });
    this.#pump();
  }

  /** Keeps webhooks back (GitHub's deliveries can lag the change) until release(). */
  hold(): void {
    this.#holding = true;
  }

  /** Sends the webhooks hold() kept back, in order. */
  release(): void {
    this.#holding = false;
    this.#pump();
  }

  /** Resolves once everything queued so far has been sent (tests). */
  async drain(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  dispose(): void {
    this.#closed = true;
    this.#queue = [];
    this.#unsubscribe();
  }

  #enqueue(e: GhChangeEvent): void {
    const hooks = this.hooks.filter((h) => h.active && h.repo === e.repo);
    if (!hooks.length) return;
    const body = JSON.stringify(this.#payload(e));
    for (const hook of hooks) this.#queue.push({ hook, id: randomUUID(), event: e.event, action: e.action, body, redelivery: false });
    this.#pump();
  }

  #payload(e: GhChangeEvent): Record<string, unknown> {
    const { store, urls } = this;
    const repo = store.repos.get(e.repo)!;
    const pull = this.pulls?.pull(e.repo, e.issue.number);
    if ((e.event === 'pull_request' || e.event === 'pull_request_review') && pull) {
      // GitHub's pull_request and pull_request_review payloads: the pull request, not the issue.
      const payload: Record<string, unknown> = { action: e.action };
      if (e.event === 'pull_request') payload.number = e.issue.number;
      payload.pull_request = this.pulls!.json(pull.issue, pull.pull, urls, e.event === 'pull_request');
      if (e.review) {
        const rec = pull.pull.reviews.find((r) => r.id === e.review!.id);
        // The payload spells the state in lower case ("approved"), unlike the REST answer.
        if (rec) payload.review = { ...this.pulls!.reviewJson(rec, pull.issue, urls), state: e.review.state };
      }
      if (e.requestedReviewer) payload.requested_reviewer = userJson(store.user(e.requestedReviewer), urls);
      payload.repository = repoJson(store, repo, urls);
      payload.sender = userJson(store.user(e.sender), urls);
      return payload;
    }
    const payload: Record<string, unknown> = { action: e.action, issue: issueJson(store, e.issue, urls) };
    if (e.changes) payload.changes = e.changes;
    if (e.label) payload.label = labelJson(e.label, repo, urls);
    if (e.assignee) payload.assignee = userJson(store.user(e.assignee), urls);
    if (e.milestone) payload.milestone = milestoneJson(store, e.milestone, repo, urls);
    if (e.comment) payload.comment = commentJson(store, e.comment, urls);
    payload.repository = repoJson(store, repo, urls);
    payload.sender = userJson(store.user(e.sender), urls);
    return payload;
  }

  #pump(): void {
    if (this.#running !== null || this.#closed || this.#holding) return;
    this.#running = (async () => {
      while (this.#queue.length && !this.#closed && !this.#holding) await this.#send(this.#queue.shift()!);
      this.#running = null;
    })();
  }

  async #send(p: Pending): Promise<void> {
    const repo = this.store.repos.get(p.hook.repo)!;
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/7a3d3c4',
      'x-github-event': p.event,
      'x-github-delivery': p.id,
      'x-github-hook-id': String(p.hook.id),
      'x-github-hook-installation-target-id': String(repo.id),
      'x-github-hook-installation-target-type': 'repository',
    };
    if (p.hook.secret) {
      headers['x-hub-signature'] = `sha1=${createHmac('sha1', p.hook.secret).update(p.body).digest('hex')}`;
      headers['x-hub-signature-256'] = await sign(p.hook.secret, p.body);
    }
    const record: GitHubDelivery = {
      id: p.id,
      hookId: p.hook.id,
      event: p.event,
      action: p.action,
      url: p.hook.url,
      status: 0,
      at: '',
      redelivery: p.redelivery,
    };
    try {
      const res = await fetch(p.hook.url, { method: 'POST', headers, body: p.body, signal: AbortSignal.timeout(TIMEOUT_MS) });
      await res.arrayBuffer().catch(() => undefined);
      record.status = res.status;
    } catch (error) {
      record.error = (error as Error).message;
    }
    record.at = new Date().toISOString();
    this.#sent.set(p.id, p);
    this.deliveries.push(record);
  }
}
