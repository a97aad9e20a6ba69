import type { GhUser } from './wire.ts';

/** GitHub's pull request and review shapes (only the fields Trackline reads). REST "Pulls". */
export interface GhPullRequest {
  id: number;
  number: number;
  html_url: string;
  title: string;
  body?: string | null;
  state: 'open' | 'closed' | string;
  draft?: boolean;
  /** Only on the single pull request (GET /pulls/{n}) and webhook payloads, not on lists. */
  merged?: boolean;
  merged_at?: string | null;
  /** Only on the single pull request and webhook payloads: who merged it. */
  merged_by?: GhUser | null;
  head: { ref: string; label?: string; sha?: string };
  base: { ref: string };
  user?: GhUser | null;
  requested_reviewers?: GhUser[] | null;
  updated_at: string;
}

export interface GhReview {
  id: number;
  user?: GhUser | null;
  /** APPROVED | CHANGES_REQUESTED | COMMENTED | DISMISSED | PENDING */
  state: string;
  submitted_at?: string;
  /** The commit the review was given on. */
  commit_id?: string | null;
}
