import type { PullRequestState } from '../../config/schema.ts';
import type { CallContext, RemoteRef } from './tracker.ts';

/**
 * What the engine needs of a tracker that hosts pull requests (GitHub), and of one that can show a
 * link to a pull request on its issue (Plane, Jira). Wire formats stay in the trackers' folders.
 */
export interface RemotePullRequest {
  number: number;
  url: string;
  title: string;
  state: PullRequestState;
  head: string;
  base: string;
  /** Who opened it (reviews are never requested from the author). */
  author: string | null;
  /** Issue numbers (as the mapping's remote ids) its body closes with a keyword. */
  closes: string[];
  updatedAt: string;
  /** Who merged it, when GitHub says (the single pull request does, lists do not). */
  mergedBy: string | null;
  /** The head commit (new commits change it). */
  headSha: string | null;
  /** Logins asked to review and not yet done so (GitHub drops a reviewer from it once they review). */
  requestedReviewers: string[];
  /**
   * Reviewers whose latest deciding review asks for changes, with when and on which commit; only
   * when the reviews were read (an open pull request that is not a draft).
   */
  changesRequested: { reviewer: string; at: string; commit: string | null }[];
}

export interface OpenPullRequest {
  head: string;
  /** Absent: the repository's default branch. */
  base?: string;
  title: string;
  /** The item's body (markdown). */
  body: string;
  /** The item's issue on the same tracker: the pull request closes it when merged. */
  closesIssue: string | null;
  draft: boolean;
}

export interface PullRequestHost {
  /**
   * Opens a pull request. When one is already open from the head (a retry after a crash, or a
   * person's), GitHub refuses with 422 and the existing one is answered instead (`adopted`).
   */
  open(request: OpenPullRequest, ctx: CallContext): Promise<{ pullRequest: RemotePullRequest; adopted: boolean }>;
  /** The open pull request from `head`, if any (looked up before opening again after a crash). */
  findOpen(head: string, ctx: CallContext): Promise<RemotePullRequest | null>;
  /** The pull request with its review decision. */
  get(number: number, ctx: CallContext): Promise<RemotePullRequest>;
  /** The branch a pull request merges into when no `base` is configured. */
  defaultBase(ctx: CallContext): Promise<string>;
  requestReviewers(number: number, reviewers: string[], teamReviewers: string[], ctx: CallContext): Promise<void>;
  /**
   * Pull requests updated since the cursor, newest first, without reviews (the reconcile reads
   * those); a quiet repository answers from a conditional request at no cost.
   */
  pollUpdated(cursor: string | null, ctx: CallContext): Promise<{ pullRequests: RemotePullRequest[]; cursor: string }>;
}

/** A link to a pull request, as it should read on another tracker's issue. */
export interface PullRequestLink {
  url: string;
  number: number;
  title: string;
  state: PullRequestState;
}

export interface PullRequestLinkHost {
  /**
   * Writes the link on the issue, or updates the one written before (`existingId`, else found by
   * its URL): never a second link for one pull request. Answers the link's id.
   */
  upsertLink(ref: RemoteRef, link: PullRequestLink, existingId: string | null, ctx: CallContext): Promise<string>;
  /**
   * Removes the link to `url` from the issue (the one written before, `existingId`, else found by
   * its URL). One already gone (a person removed it) is no error.
   */
  removeLink(ref: RemoteRef, url: string, existingId: string | null, ctx: CallContext): Promise<void>;
}

/** What an adapter offers beyond issues (src/sync/port/connection.ts hands the engine both). */
export interface PullRequestCapabilities {
  /** Pull requests, where the tracker hosts them (GitHub). */
  readonly pullRequests?: PullRequestHost;
  /** Links to pull requests on this tracker's issues, where it can show them (Plane, Jira). */
  readonly pullRequestLinks?: PullRequestLinkHost;
}

/**
 * The head a refused `links.pull_request` is kept under (a row without a number): GitHub's own ref
 * for a pull request's head, `pull/N/head`.
 */
export const refusedLinkHead = (number: number) => `pull/${number}/head`;
export const isRefusedLinkHead = (head: string) => /^pull\/\d+\/head$/.test(head);
