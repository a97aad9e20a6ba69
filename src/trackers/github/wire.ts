/** GitHub REST wire shapes (only the fields Trackline reads). docs/trackers.md section 3.4. */
export interface GhUser {
  login: string;
  id: number;
  type?: string;
}

export interface GhLabel {
  id?: number;
  name: string;
  color?: string;
}

export interface GhMilestone {
  number: number;
  title: string;
  state?: 'open' | 'closed';
}

export interface GhIssue {
  id: number;
  node_id: string;
  number: number;
  title: string;
  body?: string | null;
  state: 'open' | 'closed' | string;
  /** completed | not_planned | duplicate | reopened | null */
  state_reason?: string | null;
  /** Objects on reads; the spec also allows plain names. */
  labels: Array<string | GhLabel>;
  assignees?: GhUser[] | null;
  milestone?: GhMilestone | null;
  html_url: string;
  updated_at: string;
  user?: GhUser | null;
  /** Present on pull requests: the issues routes list them too (trackers.md 3.4). */
  pull_request?: unknown;
  repository_url?: string;
}

export interface GhComment {
  id: number;
  body?: string | null;
  user?: GhUser | null;
  html_url?: string;
}

export interface GhSearchResult {
  total_count: number;
  incomplete_results: boolean;
  items: GhIssue[];
}

/** Pinned REST version (trackers.md 3.4): responses keep the shape this code was written for. */
export const GITHUB_API_VERSION = '2022-11-28';
