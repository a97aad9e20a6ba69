// The sandbox GitHub's pull requests, with GitHub's rules (REST "Pulls"): a pull request is an
// issue (the same number space) with a head and a base branch. Opening one needs both branches to
// exist, commits on the head that the base lacks ("No commits between main and x"), and no open
// pull request from the same head to the same base ("A pull request already exists for
// owner:branch."): each a 422 "Validation Failed". Reviews decide nothing on their own; merging
// closes the issues the body closes by keyword when the base is the default branch. Every change
// is emitted for the `pull_request` / `pull_request_review` webhooks.

import { createHash } from 'node:crypto';
import { userJson, type Urls } from './json.ts';
import { DOCS, GitHubApiError, type GitHubStore, type GhIssueRec, type GhRepoRec, ghTime, notFound, repoKey } from './store.ts';

export interface GhReviewRec {
  id: number;
  node_id: string;
  user: string;
  body: string | null;
  /** APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED */
  state: string;
  submitted_at: string;
  commit_id: string;
}

export interface GhPullRec {
  head: string;
  base: string;
  draft: boolean;
  merged_at: string | null;
  merged_by: string | null;
  merge_commit_sha: string | null;
  requested_reviewers: string[];
  requested_teams: string[];
  reviews: GhReviewRec[];
}

const PULLS_DOCS = `${DOCS}/pulls/pulls#create-a-pull-request`;

function invalid(errors: Record<string, unknown>[], docs = PULLS_DOCS): GitHubApiError {
  return new GitHubApiError(422, { message: 'Validation Failed', errors, documentation_url: docs, status: '422' });
}

function unprocessable(message: string, docs = PULLS_DOCS): GitHubApiError {
  return new GitHubApiError(422, { message, documentation_url: docs, status: '422' });
}

export class GitHubPulls {
  /** Key `${repoKey}#${number}`, beside the issue record of the same key. */
  readonly pulls = new Map<string, GhPullRec>();

  constructor(private readonly store: GitHubStore) {}

  pull(repo: string, number: number): { issue: GhIssueRec; pull: GhPullRec } | undefined {
    const issue = this.store.issue(repo, number);
    const pull = this.pulls.get(`${repo}#${number}`);
    return issue && pull && !issue.deleted ? { issue, pull } : undefined;
  }

  pullsOf(repo: string): { issue: GhIssueRec; pull: GhPullRec }[] {
    return this.store
      .issuesOf(repo)
      .filter((i) => i.pull_request && !i.deleted)
      .map((issue) => ({ issue, pull: this.pulls.get(`${repo}#${issue.number}`)! }));
  }

  /**
   * A branch pushed to the repository, `ahead` commits ahead of the default branch. Each push is a
   * new head commit; an open pull request from the branch gets GitHub's `synchronize` event.
   */
  pushBranch(owner: string, repo: string, name: string, ahead = 1): void {
    const r = this.store.repo(owner, repo);
    if (!r) throw notFound();
    const before = r.branches.get(name);
    const sha = createHash('sha1')
      .update(`${repoKey(owner, repo)}:${name}:${before?.sha ?? ''}:${ahead}`)
      .digest('hex');
    r.branches.set(name, { ahead, sha });
    if (!before) return;
    for (const { issue, pull } of this.pullsOf(repoKey(owner, repo))) {
      if (pull.head !== name || issue.state !== 'open') continue;
      issue.updated_at = ghTime();
      this.#emit(issue, 'synchronize', owner);
    }
  }

  create(repoKeyValue: string, input: Record<string, unknown>, actor: string): { issue: GhIssueRec; pull: GhPullRec } {
    const repo = this.store.repos.get(repoKeyValue)!;
    for (const field of ['head', 'base'] as const) {
      if (typeof input[field] !== 'string' || !input[field]) throw invalid([{ resource: 'PullRequest', code: 'missing_field', field }]);
    }
    if (typeof input.title !== 'string' && input.issue === undefined)
      throw invalid([{ resource: 'PullRequest', code: 'missing_field', field: 'title' }]);
    const head = headRef(repo, String(input.head));
    const base = String(input.base);
    if (!repo.branches.has(base)) throw invalid([{ resource: 'PullRequest', field: 'base', code: 'invalid' }]);
    if (head === null || !repo.branches.has(head)) throw invalid([{ resource: 'PullRequest', field: 'head', code: 'invalid' }]);
    if ((repo.branches.get(head)?.ahead ?? 0) === 0 || head === base) {
      throw invalid([{ resource: 'PullRequest', code: 'custom', message: `No commits between ${base} and ${head}` }]);
    }
    const open = this.pullsOf(repoKeyValue).find((p) => p.issue.state === 'open' && p.pull.head === head && p.pull.base === base);
    if (open)
      throw invalid([{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${repo.owner}:${head}.` }]);
    const issue = this.store.createIssue(repoKeyValue, { title: input.title, body: input.body }, actor, { pullRequest: true });
    const pull: GhPullRec = {
      head,
      base,
      draft: input.draft === true,
      merged_at: null,
      merged_by: null,
      merge_commit_sha: null,
      requested_reviewers: [],
      requested_teams: [],
      reviews: [],
    };
    this.pulls.set(`${repoKeyValue}#${issue.number}`, pull);
    this.#emit(issue, 'opened', actor);
    return { issue, pull };
  }

  update(repoKeyValue: string, number: number, input: Record<string, unknown>, actor: string): GhIssueRec {
    const found = this.#mustFind(repoKeyValue, number);
    const { issue, pull } = found;
    if (input.state !== undefined && input.state !== 'open' && input.state !== 'closed') {
      throw invalid([{ resource: 'PullRequest', code: 'invalid', field: 'state' }], `${DOCS}/pulls/pulls#update-a-pull-request`);
    }
    if (input.state === 'open' && issue.state === 'closed' && pull.merged_at) throw unprocessable('Cannot reopen a merged pull request');
    const edited =
      (input.title !== undefined && String(input.title) !== issue.title) || (input.body !== undefined && input.body !== issue.body);
    const before = issue.state;
    this.store.updateIssue(repoKeyValue, number, { title: input.title, body: input.body, state: input.state }, actor);
    if (typeof input.base === 'string' && input.base !== pull.base) {
      const repo = this.store.repos.get(repoKeyValue)!;
      if (!repo.branches.has(input.base)) throw invalid([{ resource: 'PullRequest', field: 'base', code: 'invalid' }]);
      pull.base = input.base;
      this.#emit(issue, 'edited', actor);
    } else if (edited) this.#emit(issue, 'edited', actor);
    if (before !== issue.state) this.#emit(issue, issue.state === 'closed' ? 'closed' : 'reopened', actor);
    return issue;
  }

  requestReviewers(repoKeyValue: string, number: number, input: Record<string, unknown>, actor: string): GhIssueRec {
    const { issue, pull } = this.#mustFind(repoKeyValue, number);
    const repo = this.store.repos.get(repoKeyValue)!;
    const reviewers = Array.isArray(input.reviewers) ? input.reviewers.map(String) : [];
    const teams = Array.isArray(input.team_reviewers) ? input.team_reviewers.map(String) : [];
    const docs = `${DOCS}/pulls/review-requests#request-reviewers-for-a-pull-request`;
    if (reviewers.some((r) => r.toLowerCase() === issue.user.toLowerCase()))
      throw unprocessable('Review cannot be requested from pull request author.', docs);
    if (reviewers.some((r) => !this.store.canPush(repo, r))) {
      throw unprocessable(
        `Reviews may only be requested from collaborators. One or more of the users or teams you specified is not a collaborator of the ${repo.owner}/${repo.name} repository.`,
        docs,
      );
    }
    for (const r of reviewers) {
      const login = this.store.user(r).login;
      if (pull.requested_reviewers.includes(login)) continue;
      pull.requested_reviewers.push(login);
      this.#emit(issue, 'review_requested', actor, { requestedReviewer: login });
    }
    for (const t of teams) if (!pull.requested_teams.includes(t)) pull.requested_teams.push(t);
    return issue;
  }

  review(repoKeyValue: string, number: number, input: Record<string, unknown>, actor: string): GhReviewRec {
    const { issue, pull } = this.#mustFind(repoKeyValue, number);
    const docs = `${DOCS}/pulls/reviews#create-a-review-for-a-pull-request`;
    const event = input.event ?? 'COMMENT';
    const state =
      event === 'APPROVE' ? 'APPROVED' : event === 'REQUEST_CHANGES' ? 'CHANGES_REQUESTED' : event === 'COMMENT' ? 'COMMENTED' : null;
    if (!state) throw invalid([{ resource: 'PullRequestReview', code: 'invalid', field: 'event' }], docs);
    if (issue.state !== 'open') throw unprocessable('Can not review a closed pull request', docs);
    if (state !== 'COMMENTED' && actor.toLowerCase() === issue.user.toLowerCase()) {
      throw unprocessable(`Can not ${state === 'APPROVED' ? 'approve' : 'request changes on'} your own pull request`, docs);
    }
    if (state !== 'APPROVED' && (typeof input.body !== 'string' || !input.body))
      throw unprocessable('Body is required for this review event', docs);
    const id = this.store.id();
    const review: GhReviewRec = {
      id,
      node_id: `PRR_${id}`,
      user: this.store.user(actor).login,
      body: typeof input.body === 'string' ? input.body : null,
      state,
      submitted_at: ghTime(),
      commit_id: headSha(repoKeyValue, pull, this.store),
    };
    pull.reviews.push(review);
    pull.requested_reviewers = pull.requested_reviewers.filter((r) => r.toLowerCase() !== actor.toLowerCase());
    issue.updated_at = review.submitted_at;
    this.store.emitChange({
      event: 'pull_request_review',
      action: 'submitted',
      repo: repoKeyValue,
      issue,
      sender: actor,
      review: { id, user: review.user, body: review.body, state: state.toLowerCase(), submitted_at: review.submitted_at },
    });
    return review;
  }

  /** Ready for review (from draft) or back to draft: GraphQL-only on GitHub, a person's act here. */
  setDraft(owner: string, repo: string, number: number, draft: boolean, actor = 'monalisa'): GhIssueRec {
    const key = repoKey(owner, repo);
    const { issue, pull } = this.#mustFind(key, number);
    if (pull.draft === draft || issue.state !== 'open') return issue;
    pull.draft = draft;
    issue.updated_at = ghTime();
    this.#emit(issue, draft ? 'converted_to_draft' : 'ready_for_review', actor);
    return issue;
  }

  /** PUT …/merge: 405 unless open and not a draft; closes the issues its body closes when merged into the default branch. */
  merge(
    repoKeyValue: string,
    number: number,
    input: Record<string, unknown>,
    actor: string,
  ): { sha: string; merged: true; message: string } {
    const { issue, pull } = this.#mustFind(repoKeyValue, number);
    const docs = `${DOCS}/pulls/pulls#merge-a-pull-request`;
    if (issue.state !== 'open' || pull.draft)
      throw new GitHubApiError(405, { message: 'Pull Request is not mergeable', documentation_url: docs, status: '405' });
    if (typeof input.sha === 'string' && input.sha !== headSha(repoKeyValue, pull, this.store)) {
      throw new GitHubApiError(409, {
        message: 'Head branch was modified. Review and try the merge again.',
        documentation_url: docs,
        status: '409',
      });
    }
    const repo = this.store.repos.get(repoKeyValue)!;
    pull.merged_at = ghTime();
    pull.merged_by = this.store.user(actor).login;
    pull.merge_commit_sha = createHash('sha1').update(`${repoKeyValue}#${number}:merge`).digest('hex');
    repo.branches.set(pull.base, { ...repo.branches.get(pull.base), ahead: repo.branches.get(pull.base)?.ahead ?? 0 });
    repo.branches.set(pull.head, { ...repo.branches.get(pull.head), ahead: 0 });
    this.store.updateIssue(repoKeyValue, number, { state: 'closed' }, actor);
    this.#emit(issue, 'closed', actor);
    if (pull.base === repo.default_branch) {
      for (const n of closedByKeyword(issue.body, `${repo.owner}/${repo.name}`)) {
        const target = this.store.issue(repoKeyValue, n);
        if (target && !target.pull_request && !target.deleted && target.state === 'open')
          this.store.updateIssue(repoKeyValue, n, { state: 'closed', state_reason: 'completed' }, actor);
      }
    }
    return { sha: pull.merge_commit_sha, merged: true, message: 'Pull Request successfully merged' };
  }

  json(issue: GhIssueRec, pull: GhPullRec, urls: Urls, full: boolean): Record<string, unknown> {
    const repo = this.store.repos.get(issue.repo)!;
    const api = `${urls.api}/repos/${repo.owner}/${repo.name}`;
    const user = (login: string) => userJson(this.store.user(login), urls);
    const branch = (ref: string) => ({
      label: `${repo.owner}:${ref}`,
      ref,
      sha: headSha(issue.repo, { ...pull, head: ref }, this.store),
      user: user(repo.owner),
      repo: null,
    });
    return {
      url: `${api}/pulls/${issue.number}`,
      id: issue.id,
      node_id: issue.node_id,
      html_url: `${urls.web}/${repo.owner}/${repo.name}/pull/${issue.number}`,
      diff_url: `${urls.web}/${repo.owner}/${repo.name}/pull/${issue.number}.diff`,
      patch_url: `${urls.web}/${repo.owner}/${repo.name}/pull/${issue.number}.patch`,
      issue_url: `${api}/issues/${issue.number}`,
      number: issue.number,
      state: issue.state,
      locked: issue.locked,
      title: issue.title,
      user: user(issue.user),
      body: issue.body,
      labels: [],
      milestone: null,
      created_at: issue.created_at,
      updated_at: issue.updated_at,
      closed_at: issue.closed_at,
      merged_at: pull.merged_at,
      merge_commit_sha: pull.merge_commit_sha,
      assignee: null,
      assignees: [],
      requested_reviewers: pull.requested_reviewers.map(user),
      requested_teams: pull.requested_teams.map((slug) => ({ slug, name: slug })),
      head: branch(pull.head),
      base: branch(pull.base),
      author_association: this.store.canPush(repo, issue.user) ? 'COLLABORATOR' : 'NONE',
      draft: pull.draft,
      ...(full
        ? {
            merged: pull.merged_at !== null,
            mergeable: issue.state === 'open' ? !pull.draft : null,
            merged_by: pull.merged_by ? user(pull.merged_by) : null,
            comments: issue.comments,
            commits: this.store.repos.get(issue.repo)!.branches.get(pull.head)?.ahead ?? 0,
          }
        : {}),
    };
  }

  reviewJson(review: GhReviewRec, issue: GhIssueRec, urls: Urls): Record<string, unknown> {
    const repo = this.store.repos.get(issue.repo)!;
    return {
      id: review.id,
      node_id: review.node_id,
      user: userJson(this.store.user(review.user), urls),
      body: review.body ?? '',
      state: review.state,
      html_url: `${urls.web}/${repo.owner}/${repo.name}/pull/${issue.number}#pullrequestreview-${review.id}`,
      pull_request_url: `${urls.api}/repos/${repo.owner}/${repo.name}/pulls/${issue.number}`,
      submitted_at: review.submitted_at,
      commit_id: review.commit_id,
      author_association: 'COLLABORATOR',
    };
  }

  #mustFind(repoKeyValue: string, number: number): { issue: GhIssueRec; pull: GhPullRec } {
    const found = this.pull(repoKeyValue, number);
    if (!found) throw notFound();
    return found;
  }

  #emit(issue: GhIssueRec, action: string, actor: string, extra: { requestedReviewer?: string } = {}): void {
    this.store.emitChange({ event: 'pull_request', action, repo: issue.repo, issue, sender: actor, ...extra });
  }
}

/** `branch` or `owner:branch` (a head in this repository); null for another owner's fork. */
function headRef(repo: GhRepoRec, head: string): string | null {
  const i = head.indexOf(':');
  if (i < 0) return head;
  return head.slice(0, i).toLowerCase() === repo.owner.toLowerCase() ? head.slice(i + 1) : null;
}

function headSha(repo: string, pull: { head: string }, store?: GitHubStore): string {
  return store?.repos.get(repo)?.branches.get(pull.head)?.sha ?? createHash('sha1').update(`${repo}:${pull.head}`).digest('hex');
}

/** The issue numbers a body closes with GitHub's keywords (of this repository). */
export function closedByKeyword(body: string | null, fullName: string): number[] {
  if (!body) return [];
  const out: number[] = [];
  for (const m of body.matchAll(/\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+([\w.-]+\/[\w.-]+)?#(\d+)\b/gi)) {
    if (m[1] && m[1].toLowerCase() !== fullName.toLowerCase()) continue;
    out.push(Number(m[2]));
  }
  return out;
}
