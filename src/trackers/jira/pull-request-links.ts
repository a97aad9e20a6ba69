import type { PullRequestLink, PullRequestLinkHost } from '../../sync/port/pull-requests.ts';
import type { CallContext, RemoteRef } from '../../sync/port/tracker.ts';
import type { JiraApi } from './api.ts';

/**
 * A pull request shown on a Jira issue as a remote link whose `globalId` is the pull request's URL:
 * Jira updates the link with that global id instead of adding another, so writing it again (a
 * retry, a new title or state) never duplicates it. Merged and closed pull requests read as
 * resolved (Jira strikes the link through).
 */
export class JiraPullRequestLinks implements PullRequestLinkHost {
  constructor(private readonly api: JiraApi) {}

  async upsertLink(ref: RemoteRef, link: PullRequestLink, _existingId: string | null, ctx: CallContext): Promise<string> {
    const res = await this.api.upsertRemoteLink(ref.id, remoteLinkBody(link), ctx.deliveryId);
    return String(res.id);
  }

  /** By its global ID, the pull request's URL, as it was written (no id needed). */
  async removeLink(ref: RemoteRef, url: string, _existingId: string | null, ctx: CallContext): Promise<void> {
    await this.api.deleteRemoteLink(ref.id, url.slice(0, 255), ctx.deliveryId);
  }
}

export function remoteLinkBody(link: PullRequestLink): Record<string, unknown> {
  return {
    globalId: link.url.slice(0, 255),
    application: { type: 'com.github', name: 'GitHub' },
    relationship: 'pull request',
    object: {
      url: link.url,
      title: `PR #${link.number}`,
      summary: `${link.title} (${link.state.replace('_', ' ')})`,
      status: { resolved: link.state === 'merged' || link.state === 'closed', icon: { title: link.state.replace('_', ' ') } },
    },
  };
}
