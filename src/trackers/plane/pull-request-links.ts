import type { PullRequestLink, PullRequestLinkHost } from '../../sync/port/pull-requests.ts';
import type { CallContext, RemoteRef } from '../../sync/port/tracker.ts';
import type { PlaneApi } from './api.ts';

/**
 * A pull request shown on a Plane work item as a link ("PR #123: title (state)"). Plane refuses a
 * second link with the same URL on one work item, so the link written before is found again by its
 * URL and renamed rather than added: written once, updated when the title or state changes.
 */
export class PlanePullRequestLinks implements PullRequestLinkHost {
  constructor(private readonly api: PlaneApi) {}

  async upsertLink(ref: RemoteRef, link: PullRequestLink, existingId: string | null, ctx: CallContext): Promise<string> {
    const title = pullRequestLinkTitle(link);
    if (existingId) {
      const updated = await this.api.updateLink(ref.id, existingId, { title }, ctx.deliveryId);
      if (updated) return updated.id;
    }
    const found = (await this.api.listLinks(ref.id, ctx.deliveryId)).find((l) => l.url === link.url);
    if (found) {
      if (found.title !== title) await this.api.updateLink(ref.id, found.id, { title }, ctx.deliveryId);
      return found.id;
    }
    return (await this.api.createLink(ref.id, { title, url: link.url }, ctx.deliveryId)).id;
  }

  /** DELETE …/links/{id}/ (Plane answers 204); the id written before, else the link found by its URL. */
  async removeLink(ref: RemoteRef, url: string, existingId: string | null, ctx: CallContext): Promise<void> {
    if (existingId && (await this.api.deleteLink(ref.id, existingId, ctx.deliveryId))) return;
    const found = (await this.api.listLinks(ref.id, ctx.deliveryId)).find((l) => l.url === url);
    if (found) await this.api.deleteLink(ref.id, found.id, ctx.deliveryId);
  }
}

const STATE_WORDS: Record<PullRequestLink['state'], string> = {
  draft: 'draft',
  open: 'open',
  approved: 'approved',
  changes_requested: 'changes requested',
  merged: 'merged',
  closed: 'closed',
};

export function pullRequestLinkTitle(link: PullRequestLink): string {
  return `PR #${link.number}: ${link.title} (${STATE_WORDS[link.state]})`.slice(0, 255);
}
