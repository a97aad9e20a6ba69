import type { PullRequestState } from '../../config/schema.ts';
import type { RemotePullRequest } from '../../sync/port/pull-requests.ts';
import type { GhPullRequest, GhReview } from './pulls-wire.ts';

/**
 * Pure mapping of GitHub pull requests to what Trackline reports (README "Pull requests"): one
 * state out of GitHub's `state`, `draft`, `merged_at` and the reviews, and the issues a pull
 * request closes by its body's keywords.
 */

/** `123`, `#123`, or a pull request URL (`…/pull/123`): the number, or null. */
export function parsePullRequestRef(ref: string | number): number | null {
  if (typeof ref === 'number') return Number.isInteger(ref) && ref > 0 ? ref : null;
  const m = /^#?(\d{1,9})$/.exec(ref.trim()) ?? /^https?:\/\/[^\s]+\/pull\/(\d{1,9})\/?$/.exec(ref.trim());
  const n = m ? Number(m[1]) : Number.NaN;
  return n > 0 ? n : null;
}

/**
 * The review decision as GitHub shows it: each reviewer's latest review that decides something
 * (APPROVED, CHANGES_REQUESTED; DISMISSED withdraws theirs; COMMENTED and PENDING decide nothing).
 * One reviewer asking for changes outweighs approvals.
 */
export function reviewDecision(reviews: GhReview[]): 'approved' | 'changes_requested' | null {
  const states = [...latestDecisions(reviews).values()].map((r) => r.state);
  if (states.includes('CHANGES_REQUESTED')) return 'changes_requested';
  if (states.includes('APPROVED')) return 'approved';
  return null;
}

/** Each reviewer's latest review that decides something (a dismissal withdraws theirs). */
function latestDecisions(reviews: GhReview[]): Map<string, GhReview> {
  const latest = new Map<string, GhReview>();
  for (const r of [...reviews].sort((a, b) => (a.submitted_at ?? '').localeCompare(b.submitted_at ?? '') || a.id - b.id)) {
    const who = r.user?.login ?? String(r.id);
    if (r.state === 'APPROVED' || r.state === 'CHANGES_REQUESTED') latest.set(who, r);
    else if (r.state === 'DISMISSED') latest.delete(who);
  }
  return latest;
}

export function pullRequestState(pr: GhPullRequest, reviews: GhReview[] | null): PullRequestState {
  if (pr.merged_at || pr.merged) return 'merged';
  if (pr.state === 'closed') return 'closed';
  if (pr.draft) return 'draft';
  return (reviews && reviewDecision(reviews)) || 'open';
}

/**
 * Issue numbers of this repository that the body closes with GitHub's keywords (close, closes,
 * closed, fix, fixes, fixed, resolve, resolves, resolved; `#N` or `owner/repo#N`), as GitHub links
 * them when the pull request targets the default branch.
 */
export function closingIssueNumbers(body: string | null | undefined, repoFullName: string): number[] {
  if (!body) return [];
  const out = new Set<number>();
  const re = /\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+([\w.-]+\/[\w.-]+)?#(\d+)\b/gi;
  for (const m of body.matchAll(re)) {
    if (m[1] && m[1].toLowerCase() !== repoFullName.toLowerCase()) continue;
    out.add(Number(m[2]));
  }
  return [...out];
}

/** The body of a pull request Trackline opens: the item's body and the keyword that closes its issue on merge. */
export function pullRequestBody(itemBody: string | undefined, issueNumber: string | number | null): string {
  const parts = [itemBody?.trim() ?? ''].filter(Boolean);
  if (issueNumber !== null) parts.push(`Closes #${issueNumber}`);
  return parts.join('\n\n');
}

export function toRemotePullRequest(pr: GhPullRequest, reviews: GhReview[] | null, repoFullName: string): RemotePullRequest {
  return {
    number: pr.number,
    url: pr.html_url,
    title: pr.title,
    state: pullRequestState(pr, reviews),
    head: pr.head.ref,
    base: pr.base.ref,
    author: pr.user?.login ?? null,
    closes: closingIssueNumbers(pr.body, repoFullName).map(String),
    updatedAt: pr.updated_at,
    headSha: pr.head.sha ?? null,
    mergedBy: pr.merged_by?.login ?? null,
    requestedReviewers: (pr.requested_reviewers ?? []).map((u) => u.login),
    changesRequested: [...latestDecisions(reviews ?? []).entries()]
      .filter(([, r]) => r.state === 'CHANGES_REQUESTED')
      .map(([reviewer, r]) => ({ reviewer, at: r.submitted_at ?? '', commit: r.commit_id ?? null })),
  };
}
