import { TrackerError } from '../../sync/port/errors.ts';
import type { GitHubTransport } from './transport.ts';
import type { GhComment, GhIssue, GhLabel, GhMilestone, GhSearchResult, GhUser } from './wire.ts';

/**
 * GitHub's REST routes, one method per call Trackline makes (docs/trackers.md 3.4), for one
 * repository. Octokit builds the requests; the transport paces and records them.
 */
export class GitHubApi {
  constructor(
    private readonly transport: GitHubTransport,
    readonly owner: string,
    readonly repo: string,
  ) {}

  private get gh() {
    return this.transport.octokit;
  }

  private get where() {
    return { owner: this.owner, repo: this.repo };
  }

  /** The token's user, with the classic token's scopes (absent for fine-grained tokens). */
  async me(): Promise<{ user: GhUser; scopes: string | undefined }> {
    const res = await this.gh.rest.users.getAuthenticated();
    return { user: res.data as GhUser, scopes: res.headers['x-oauth-scopes'] as string | undefined };
  }

  async getRepo(): Promise<{ full_name: string; private: boolean; permissions?: { push?: boolean; admin?: boolean } }> {
    return (await this.gh.rest.repos.get(this.where)).data;
  }

  async listLabels(): Promise<GhLabel[]> {
    return (await this.gh.paginate(this.gh.rest.issues.listLabelsForRepo, { ...this.where, per_page: 100 })) as GhLabel[];
  }

  async listMilestones(): Promise<GhMilestone[]> {
    return (await this.gh.paginate(this.gh.rest.issues.listMilestones, { ...this.where, state: 'all', per_page: 100 })) as GhMilestone[];
  }

  async createMilestone(title: string): Promise<GhMilestone> {
    return (await this.gh.rest.issues.createMilestone({ ...this.where, title })).data as GhMilestone;
  }

  /** 204 when the login can be assigned to issues here, 404 when not (trackers.md 3.4). */
  async isAssignable(login: string): Promise<boolean> {
    try {
      await this.gh.rest.issues.checkUserCanBeAssigned({ ...this.where, assignee: login });
      return true;
    } catch (error) {
      if (error instanceof TrackerError && error.kind === 'not_found') return false;
      throw error;
    }
  }

  async createIssue(body: { title: string; body: string; labels?: string[]; assignees?: string[]; milestone?: number }): Promise<GhIssue> {
    return (await this.gh.rest.issues.create({ ...this.where, ...body })).data as GhIssue;
  }

  async getIssue(number: number): Promise<GhIssue> {
    return (await this.gh.rest.issues.get({ ...this.where, issue_number: number })).data as GhIssue;
  }

  async updateIssue(
    number: number,
    patch: {
      title?: string;
      body?: string;
      state?: 'open' | 'closed';
      state_reason?: 'completed' | 'not_planned' | 'reopened';
      labels?: string[];
      assignees?: string[];
      milestone?: number | null;
    },
  ): Promise<GhIssue> {
    return (await this.gh.rest.issues.update({ ...this.where, issue_number: number, ...patch })).data as GhIssue;
  }

  /**
   * One page of the repository's issues (and pull requests: the route lists both). With an ETag,
   * an unchanged page answers 304, which costs no primary budget (trackers.md 3.5).
   */
  async pageIssues(args: {
    url?: string;
    since?: string;
    etag?: string;
    sort?: 'updated' | 'created';
    direction?: 'asc' | 'desc';
    creator?: string;
  }): Promise<{ notModified: boolean; issues: GhIssue[]; next: string | null; etag: string | null }> {
    const headers = args.etag ? { 'if-none-match': args.etag } : {};
    const res = args.url
      ? await this.gh.request(`GET ${args.url}`, { headers })
      : await this.gh.rest.issues.listForRepo({
          ...this.where,
          state: 'all',
          sort: args.sort ?? 'updated',
          direction: args.direction ?? 'asc',
          per_page: 100,
          ...(args.since ? { since: args.since } : {}),
          ...(args.creator ? { creator: args.creator } : {}),
          headers,
        });
    const etag = (res.headers.etag as string | undefined) ?? null;
    if ((res.status as number) === 304) return { notModified: true, issues: [], next: null, etag: args.etag ?? etag };
    return { notModified: false, issues: res.data as GhIssue[], next: nextLink(res.headers.link as string | undefined), etag };
  }

  /** Issue search (its own, smaller budget: trackers.md 3.5); results are eventually consistent. */
  async searchIssues(q: string): Promise<GhIssue[]> {
    const res = await this.gh.rest.search.issuesAndPullRequests({ q, per_page: 100 });
    return (res.data as GhSearchResult).items;
  }

  /** Comments updated since `since` (ISO), all pages. */
  async listComments(number: number, since?: string): Promise<GhComment[]> {
    return (await this.gh.paginate(this.gh.rest.issues.listComments, {
      ...this.where,
      issue_number: number,
      per_page: 100,
      ...(since ? { since } : {}),
    })) as GhComment[];
  }

  async createComment(number: number, body: string): Promise<GhComment> {
    return (await this.gh.rest.issues.createComment({ ...this.where, issue_number: number, body })).data as GhComment;
  }
}

/** The `rel="next"` URL of a `link` header (follow it rather than building URLs: trackers.md 3.4). */
export function nextLink(link: string | undefined): string | null {
  if (!link) return null;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="([^"]+)"/.exec(part);
    if (m && m[2]!.split(/\s+/).includes('next')) return m[1]!;
  }
  return null;
}
