import { TrackerError } from '../../sync/port/errors.ts';
import type { OpenPullRequest, PullRequestHost, RemotePullRequest } from '../../sync/port/pull-requests.ts';
import type { CallContext } from '../../sync/port/tracker.ts';
import { nextLink } from './api.ts';
import { pullRequestBody, toRemotePullRequest } from './pulls-transform.ts';
import type { GhPullRequest, GhReview } from './pulls-wire.ts';
import type { GitHubTransport } from './transport.ts';

/** How many pages of recently updated pull requests one poll reads at most (100 each). */
const POLL_PAGES = 10;

/**
 * GitHub's pull requests for one repository (REST "Pulls"), through the connection's transport:
 * the same pacer, and creating a pull request or requesting reviewers are content-creating
 * requests, so they go one at a time and a second apart like every other write.
 */
export class GitHubPullRequests implements PullRequestHost {
  private defaultBranch: string | null = null;

  constructor(
    private readonly transport: GitHubTransport,
    private readonly owner: string,
    private readonly repo: string,
  ) {}

  private get gh() {
    return this.transport.octokit;
  }

  private get where() {
    return { owner: this.owner, repo: this.repo };
  }

  private get fullName() {
    return `${this.owner}/${this.repo}`;
  }

  /**
   * GitHub refuses a second open pull request from one head to one base with 422 "A pull request
   * already exists for owner:branch." That is how a retry after a crash between the call and its
   * answer finds the first one: any 422 is followed by a look for the open pull request from the
   * head, and only when there is none is the refusal GitHub's last word (unknown branch, "No
   * commits between main and branch"), which fails at once with GitHub's message.
   */
  async open(request: OpenPullRequest, ctx: CallContext): Promise<{ pullRequest: RemotePullRequest; adopted: boolean }> {
    return this.transport.run(ctx, async () => {
      const base = request.base ?? (await this.repositoryDefaultBranch());
      try {
        const res = await this.gh.rest.pulls.create({
          ...this.where,
          head: request.head,
          base,
          title: request.title,
          body: pullRequestBody(request.body, request.closesIssue),
          draft: request.draft,
        });
        return { pullRequest: toRemotePullRequest(res.data as GhPullRequest, [], this.fullName), adopted: false };
      } catch (error) {
        if (!(error instanceof TrackerError) || error.status !== 422) throw error;
        const existing = await this.openFrom(request.head, base);
        if (!existing) throw error;
        return { pullRequest: await this.withReviews(existing), adopted: true };
      }
    });
  }

  async findOpen(head: string, ctx: CallContext): Promise<RemotePullRequest | null> {
    return this.transport.run(ctx, async () => {
      const found = await this.openFrom(head);
      return found ? this.withReviews(found) : null;
    });
  }

  async get(number: number, ctx: CallContext): Promise<RemotePullRequest> {
    return this.transport.run(ctx, async () => {
      const pr = (await this.gh.rest.pulls.get({ ...this.where, pull_number: number })).data as GhPullRequest;
      return this.withReviews(pr);
    });
  }

  async defaultBase(ctx: CallContext): Promise<string> {
    return this.transport.run(ctx, () => this.repositoryDefaultBranch());
  }

  async requestReviewers(number: number, reviewers: string[], teamReviewers: string[], ctx: CallContext): Promise<void> {
    if (!reviewers.length && !teamReviewers.length) return;
    await this.transport.run(ctx, () =>
      this.gh.rest.pulls.requestReviewers({
        ...this.where,
        pull_number: number,
        ...(reviewers.length ? { reviewers } : {}),
        ...(teamReviewers.length ? { team_reviewers: teamReviewers } : {}),
      }),
    );
  }

  /**
   * Pull requests updated since the cursor, newest first (`state=all&sort=updated&direction=desc`:
   * the list route has no `since`, so pages are read until one reaches what was seen). The cursor
   * is JSON `{since, etag}`; the first page is asked with the last poll's ETag, so a quiet
   * repository answers 304 at no cost to the budget.
   */
  async pollUpdated(cursor: string | null, ctx: CallContext): Promise<{ pullRequests: RemotePullRequest[]; cursor: string }> {
    const start = parseCursor(cursor);
    return this.transport.run(ctx, async () => {
      const seen: GhPullRequest[] = [];
      let etag: string | undefined;
      let url: string | undefined;
      for (let page = 0; page < POLL_PAGES; page++) {
        const headers = page === 0 && start.etag ? { 'if-none-match': start.etag } : {};
        const res = url
          ? await this.gh.request(`GET ${url}`, { headers })
          : await this.gh.rest.pulls.list({ ...this.where, state: 'all', sort: 'updated', direction: 'desc', per_page: 100, headers });
        if ((res.status as number) === 304) return { pullRequests: [], cursor: JSON.stringify(start) };
        if (page === 0) etag = (res.headers.etag as string | undefined) ?? undefined;
        const list = res.data as GhPullRequest[];
        const fresh = list.filter((p) => !start.since || p.updated_at >= start.since);
        seen.push(...fresh);
        const next = nextLink(res.headers.link as string | undefined);
        if (!next || fresh.length < list.length) break;
        url = next;
      }
      const newest = seen.reduce<string | undefined>((max, p) => (!max || p.updated_at > max ? p.updated_at : max), start.since);
      return {
        pullRequests: seen.map((p) => toRemotePullRequest(p, null, this.fullName)),
        cursor: JSON.stringify({ ...(newest ? { since: newest } : {}), ...(etag ? { etag } : {}) }),
      };
    });
  }

  private async openFrom(head: string, base?: string): Promise<GhPullRequest | null> {
    const res = await this.gh.rest.pulls.list({
      ...this.where,
      state: 'open',
      head: `${this.owner}:${head}`,
      ...(base ? { base } : {}),
      per_page: 10,
    });
    return ((res.data as GhPullRequest[])[0] as GhPullRequest | undefined) ?? null;
  }

  /** The review decision only matters while it is open and ready: a draft, merged or closed one has its state already. */
  private async withReviews(pr: GhPullRequest): Promise<RemotePullRequest> {
    const decides = pr.state === 'open' && !pr.draft;
    const reviews = decides
      ? ((await this.gh.paginate(this.gh.rest.pulls.listReviews, { ...this.where, pull_number: pr.number, per_page: 100 })) as GhReview[])
      : null;
    return toRemotePullRequest(pr, reviews, this.fullName);
  }

  private async repositoryDefaultBranch(): Promise<string> {
    this.defaultBranch ??= (await this.gh.rest.repos.get(this.where)).data.default_branch;
    return this.defaultBranch;
  }
}

function parseCursor(cursor: string | null): { since?: string; etag?: string } {
  if (!cursor) return {};
  try {
    const parsed = JSON.parse(cursor) as { since?: unknown; etag?: unknown };
    return {
      ...(typeof parsed.since === 'string' ? { since: parsed.since } : {}),
      ...(typeof parsed.etag === 'string' ? { etag: parsed.etag } : {}),
    };
  } catch {
    return {};
  }
}
