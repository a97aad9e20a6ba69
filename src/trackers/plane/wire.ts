/** Plane REST v1 wire shapes (only the fields Trackline reads). docs/trackers.md section 2. */
export interface PlaneIssue {
  id: string;
  name: string;
  description_html?: string | null;
  priority?: 'urgent' | 'high' | 'medium' | 'low' | 'none' | null;
  state?: string | null;
  labels?: Array<string | { id: string; name: string }>;
  assignees?: Array<string | { id: string }>;
  sequence_id: number;
  project: string;
  external_id?: string | null;
  external_source?: string | null;
  updated_at?: string;
}

export interface PlaneState {
  id: string;
  name: string;
  group: string;
}

export interface PlaneLabel {
  id: string;
  name: string;
}

export interface PlaneMember {
  id: string;
  display_name?: string;
  email?: string;
  first_name?: string;
  last_name?: string;
  member?: { id: string; display_name?: string; email?: string };
}

export interface PlaneProject {
  id: string;
  identifier: string;
  name: string;
}

/** A cycle or a module (the fields Trackline reads); a cycle past its end_date is completed. */
export interface PlaneGroup {
  id: string;
  name: string;
  end_date?: string | null;
}

/** Which of Plane's groupings carries the item's milestone (`milestone_as`). */
export type MilestoneKind = 'cycle' | 'module';

/** Plane's page envelope (utils/paginator.py). Stop when next_page_results is false. */
export interface PlanePage<T> {
  results: T[];
  next_cursor: string;
  next_page_results: boolean;
  total_count?: number;
}

/** Marks issues Trackline created: the pair Plane keeps unique (409 on a second create). */
export const EXTERNAL_SOURCE = 'trackline';

/** A work item link (`IssueLink` in Plane's spec). */
export interface PlaneLink {
  id: string;
  title: string | null;
  url: string;
}
