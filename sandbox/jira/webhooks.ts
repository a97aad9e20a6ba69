// The sandbox Jira's outbound webhooks (admin webhooks with a secret, trackers.md §4.1-4.4): the
// store's change events become the HTTP deliveries Jira Cloud sends, so Trackline's receiver is
// tested against the real wire format:
//  - `X-Hub-Signature: sha256=<hex>`: HMAC-SHA256 of the body bytes keyed with the secret (only
//    when the webhook has a secret);
//  - `X-Atlassian-Webhook-Identifier`: unique per event and the same on every retry;
//  - `X-Atlassian-Webhook-Retry`: absent on the first attempt, the retry count after;
//  - `X-Atlassian-Webhook-Flow: Primary`;
//  - retried on 408, 409, 425, 429, 5xx and network failures, up to five times; any other answer
//    (2xx, 400, 401, 404...) is final;
//  - payloads `{timestamp, webhookEvent, issue_event_type_name, user, issue, changelog}`; a comment
//    raises both `comment_created` and `jira:issue_updated` (issue_commented) (§4.4).

import { createHmac, randomUUID } from 'node:crypto';
import { DeliveryQueue } from '../delivery-queue.ts';
import { commentJson, issueJson, userJson } from './serialize.ts';
import { type JiraChangeEvent } from './model.ts';
import { type JiraStore } from './store.ts';

export const JIRA_WEBHOOK_EVENTS = ['jira:issue_created', 'jira:issue_updated', 'jira:issue_deleted', 'comment_created'] as const;
export type JiraWebhookEvent = (typeof JIRA_WEBHOOK_EVENTS)[number];

export interface JiraWebhookTargetInput {
  url: string;
  /** Empty: deliveries go out unsigned, as for a Jira webhook saved without a secret. */
  secret: string;
  /** @defaultValue every event in JIRA_WEBHOOK_EVENTS */
  events?: JiraWebhookEvent[];
  /** Only issues of this project key. @defaultValue every project */
  projectKey?: string | null;
}

export interface JiraWebhookTarget extends Required<Omit<JiraWebhookTargetInput, 'projectKey'>> {
  id: number;
  projectKey: string | null;
  enabled: boolean;
}

export interface JiraWebhookDelivery {
  at: string;
  webhookId: number;
  url: string;
  event: string;
  /** X-Atlassian-Webhook-Identifier. */
  identifier: string;
  /** 0 for the first attempt. */
  attempt: number;
  headers: Record<string, string>;
  body: string;
  /** 0 when there was no answer. */
  status: number;
  error?: string;
}

export interface JiraWebhookSenderOptions {
  /** Wait before a retry (Jira waits minutes; tests cannot). @defaultValue 100 */
  retryDelayMs?: number;
  /** Retries after the first attempt. @defaultValue 5 */
  maxRetries?: number;
  /** Per-attempt timeout (Jira's response timeout is about 20 s, §4.3). @defaultValue 20000 */
  timeoutMs?: number;
}

const RETRY_STATUSES = new Set([408, 409, 425, 429]);

export class JiraWebhookSender {
  readonly #store: JiraStore;
  readonly #options: Required<JiraWebhookSenderOptions>;
  readonly #targets = new Map<number, JiraWebhookTarget>();
  readonly #log: JiraWebhookDelivery[] = [];
  readonly #queue = new DeliveryQueue('jira');
  readonly #unsubscribe: () => void;
  #nextId = 1;

  constructor(store: JiraStore, options: JiraWebhookSenderOptions = {}) {
    this.#store = store;
    this.#options = {
      retryDelayMs: options.retryDelayMs ?? 100,
      maxRetries: options.maxRetries ?? 5,
      timeoutMs: options.timeoutMs ?? 20_000,
    };
    this.#unsubscribe = store.onChange((e) => this.#onChange(e));
  }

  register(input: JiraWebhookTargetInput): JiraWebhookTarget {
    const url = new URL(input.url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`webhook url must be http(s): ${input.url}`);
    const target: JiraWebhookTarget = {
      id: this.#nextId++,
      url: input.url,
      secret: input.secret,
      events: input.events ?? [...JIRA_WEBHOOK_EVENTS],
      projectKey: input.projectKey ?? null,
      enabled: true,
    };
    this.#targets.set(target.id, target);
    return target;
  }

  unregister(id: number): boolean {
    return this.#targets.delete(id);
  }

  targets(): JiraWebhookTarget[] {
    return [...this.#targets.values()];
  }

  setEnabled(id: number, enabled: boolean): void {
    const t = this.#targets.get(id);
    if (!t) throw new Error(`no webhook ${id}`);
    t.enabled = enabled;
  }

  deliveries(filter: { event?: string; webhookId?: number } = {}): JiraWebhookDelivery[] {
    return this.#log.filter(
      (d) => (!filter.event || d.event === filter.event) && (filter.webhookId === undefined || d.webhookId === filter.webhookId),
    );
  }

  clearLog(): void {
    this.#log.length = 0;
  }

  /** Keeps webhooks back (as a slow sender would) until release(). */
  hold(): void {
    this.#queue.hold();
  }

  /** Sends the webhooks hold() kept back. */
  release(): void {
    this.#queue.release();
  }

  /** Resolves once every queued delivery has been answered or has given up. */
  drain(): Promise<void> {
    return this.#queue.drain();
  }

  dispose(): void {
    if (this.#queue.disposed) return;
    this.#unsubscribe();
    this.#queue.dispose();
  }

  // ---------------------------------------------------------------- events

  #onChange(event: JiraChangeEvent): void {
    if (this.#queue.disposed) return;
    const payloads = this.#payloads(event);
    for (const target of this.#targets.values()) {
      if (!target.enabled) continue;
      for (const { name, body, projectKey } of payloads) {
        if (!target.events.includes(name)) continue;
        if (target.projectKey && target.projectKey !== projectKey) continue;
        // One identifier per event and webhook, kept across retries (§4.3).
        this.#enqueue(`${target.id}:${event.issueId}`, target, name, body, randomUUID());
      }
    }
  }

  /** Rendered when the change happens: a delivery shows the issue as it was right after it. */
  #payloads(event: JiraChangeEvent): Array<{ name: JiraWebhookEvent; body: string; projectKey: string }> {
    const store = this.#store;
    const timestamp = Date.now();
    const user = userJson(store, event.actor);
    if (event.kind === 'issue_deleted') {
      const issue = event.snapshot as { key?: string };
      return [
        {
          name: 'jira:issue_deleted',
          projectKey: String(issue.key ?? '').split('-')[0],
          body: JSON.stringify({
            timestamp,
            webhookEvent: 'jira:issue_deleted',
            issue_event_type_name: 'issue_deleted',
            user,
            issue: event.snapshot,
          }),
        },
      ];
    }
    const issue = store.issues.get(event.issueId);
    if (!issue) return [];
    const projectKey = store.projectOf(issue).key;
    const issueBody = issueJson(store, issue);
    if (event.kind === 'issue_created') {
      return [
        {
          name: 'jira:issue_created',
          projectKey,
          body: JSON.stringify({
            timestamp,
            webhookEvent: 'jira:issue_created',
            issue_event_type_name: 'issue_created',
            user,
            issue: issueBody,
          }),
        },
      ];
    }
    if (event.kind === 'issue_updated') {
      return [
        {
          name: 'jira:issue_updated',
          projectKey,
          body: JSON.stringify({
            timestamp,
            webhookEvent: 'jira:issue_updated',
            issue_event_type_name: event.typeName,
            user,
            issue: issueBody,
            changelog: { id: store.nextChangelogId(), items: event.items },
          }),
        },
      ];
    }
    const comment = store.comments.get(event.commentId);
    if (!comment) return [];
    const commentBody = commentJson(store, comment);
    // Comment events carry a slimmer issue (§4.4).
    const slim = issueJson(store, issue, { fields: ['summary', 'status', 'priority', 'assignee', 'issuetype', 'project'] });
    return [
      {
        name: 'comment_created',
        projectKey,
        body: JSON.stringify({ timestamp, webhookEvent: 'comment_created', comment: commentBody, issue: slim }),
      },
      {
        name: 'jira:issue_updated',
        projectKey,
        body: JSON.stringify({
          timestamp,
          webhookEvent: 'jira:issue_updated',
          issue_event_type_name: 'issue_commented',
          user,
          issue: issueBody,
          comment: commentBody,
        }),
      },
    ];
  }

  #enqueue(key: string, target: JiraWebhookTarget, event: string, body: string, identifier: string): void {
    this.#queue.enqueue(key, () => this.#deliver(target, event, body, identifier));
  }

  async #deliver(target: JiraWebhookTarget, event: string, body: string, identifier: string): Promise<void> {
    for (let attempt = 0; !this.#queue.disposed; attempt++) {
      const headers: Record<string, string> = {
        'Content-Type': 'application/json; charset=utf-8',
        'User-Agent': 'Atlassian Webhook HTTP Client',
        'X-Atlassian-Webhook-Identifier': identifier,
        'X-Atlassian-Webhook-Flow': 'Primary',
      };
      if (attempt > 0) headers['X-Atlassian-Webhook-Retry'] = String(attempt);
      if (target.secret) headers['X-Hub-Signature'] = signJiraWebhook(target.secret, body);
      let status = 0;
      let error: string | undefined;
      try {
        status = await this.#queue.withAbort(async (signal) => {
          const res = await fetch(target.url, { method: 'POST', headers, body, signal });
          await res.arrayBuffer().catch(() => undefined);
          return res.status;
        }, this.#options.timeoutMs);
      } catch (e) {
        if (this.#queue.disposed) return;
        error = (e as Error).message;
      }
      this.#log.push({
        at: new Date().toISOString(),
        webhookId: target.id,
        url: target.url,
        event,
        identifier,
        attempt,
        headers,
        body,
        status,
        ...(error ? { error } : {}),
      });
      const retry = status === 0 || status >= 500 || RETRY_STATUSES.has(status);
      if (!retry || attempt >= this.#options.maxRetries) return;
      await this.#queue.sleep(this.#options.retryDelayMs);
    }
  }
}

/** `X-Hub-Signature: sha256=<hex>`: HMAC-SHA256 of the body, keyed with the secret (§4.2). */
export function signJiraWebhook(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', Buffer.from(secret, 'utf8')).update(body).digest('hex')}`;
}
