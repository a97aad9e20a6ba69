import type { HeaderBag, InboundChange, WebhookHandler } from '../../sync/port/tracker.ts';
import { GitHubWebhookHandler } from '../github/webhook.ts';

/**
 * A project connection reads the board by polling (GitHub sends `projects_v2_item` webhooks only
 * to organizations and apps), so it reads no webhook. A delivery pointed at it is still checked
 * like any GitHub delivery (a wrong secret is an answer worth seeing in the delivery log) and
 * then recorded as ignored.
 */
export class GitHubProjectWebhookHandler implements WebhookHandler {
  private readonly github: GitHubWebhookHandler;

  constructor(config: { id: string; owner: string; webhook_secret?: string }) {
    this.github = new GitHubWebhookHandler({ id: config.id, owner: config.owner, repo: '', webhook_secret: config.webhook_secret });
  }

  verify(headers: HeaderBag, rawBody: Buffer) {
    return this.github.verify(headers, rawBody);
  }

  dedupKey(headers: HeaderBag, payload: unknown, rawBody: Buffer): string {
    return this.github.dedupKey(headers, payload, rawBody);
  }

  eventName(headers: HeaderBag, payload: unknown): string {
    return this.github.eventName(headers, payload);
  }

  normalize(headers: HeaderBag, payload: unknown): InboundChange[] {
    return [{ type: 'ignored', reason: `${this.eventName(headers, payload)}: github-project connections read the board by polling` }];
  }
}
