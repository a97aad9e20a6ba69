// Plane's objects as the sandbox keeps them (workspaces, projects, states, labels, members, work items,
// comments), the change events the store emits, its error type and its seed inputs.

export type StateGroup = 'backlog' | 'unstarted' | 'started' | 'completed' | 'cancelled' | 'triage';
export const STATE_GROUPS: readonly StateGroup[] = ['backlog', 'unstarted', 'started', 'completed', 'cancelled', 'triage'];

export type Priority = 'urgent' | 'high' | 'medium' | 'low' | 'none';
export const PRIORITIES: readonly Priority[] = ['urgent', 'high', 'medium', 'low', 'none'];

export interface PlaneWorkspace {
  id: string;
  slug: string;
  name: string;
  created_at: string;
}

export interface PlaneMember {
  id: string;
  display_name: string;
  email: string;
  first_name: string;
  last_name: string;
  avatar: string;
  avatar_url: string;
  /** The user behind an API key (Plane tokens belong to a user); false for people. */
  is_bot: boolean;
}

export interface PlaneProject {
  id: string;
  workspace: string;
  workspaceSlug: string;
  identifier: string;
  name: string;
  description: string;
  default_state: string | null;
  created_at: string;
  updated_at: string;
  created_by: string | null;
  /** Member ids; an API key only works on projects its user is a member of. */
  members: Set<string>;
  /** Highest sequence_id handed out; deleted issues never give theirs back. */
  lastSequence: number;
}

export interface PlaneState {
  id: string;
  name: string;
  color: string;
  group: StateGroup;
  description: string;
  sequence: number;
  default: boolean;
  is_triage: boolean;
  slug: string;
  external_id: string | null;
  external_source: string | null;
  project: string;
  workspace: string;
  created_at: string;
  updated_at: string;
  created_by: string | null;
  updated_by: string | null;
  deleted_at: string | null;
}

export interface PlaneLabel {
  id: string;
  name: string;
  color: string;
  description: string;
  parent: string | null;
  sort_order: number;
  external_id: string | null;
  external_source: string | null;
  project: string;
  workspace: string;
  created_at: string;
  updated_at: string;
  created_by: string | null;
  updated_by: string | null;
  deleted_at: string | null;
}

export interface PlaneIssue {
  id: string;
  name: string;
  description_html: string;
  /** Plain text of description_html; Plane keeps it but the REST serializer does not return it. */
  description_stripped: string;
  priority: Priority;
  state: string | null;
  labels: string[];
  assignees: string[];
  sequence_id: number;
  sort_order: number;
  project: string;
  workspace: string;
  parent: string | null;
  start_date: string | null;
  target_date: string | null;
  completed_at: string | null;
  archived_at: string | null;
  is_draft: boolean;
  point: number | null;
  estimate_point: string | null;
  type: string | null;
  external_id: string | null;
  external_source: string | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
  created_by: string | null;
  updated_by: string | null;
}

export interface PlaneComment {
  id: string;
  comment_html: string;
  comment_stripped: string;
  access: 'INTERNAL' | 'EXTERNAL';
  external_id: string | null;
  external_source: string | null;
  issue: string;
  project: string;
  workspace: string;
  actor: string | null;
  created_at: string;
  updated_at: string;
  created_by: string | null;
  updated_by: string | null;
  deleted_at: string | null;
}

/** Who made a change: a request with an API key, or a person in Plane's UI (tests). */
export interface Actor {
  id: string;
  kind: 'api' | 'person';
}

export interface FieldChange {
  field: string;
  oldValue: unknown;
  newValue: unknown;
}

/**
 * Emitted after every issue or comment write, for a webhook sender to turn into deliveries.
 * `fieldsChanged` follows Plane's model_activity (trackers.md §1.3): the keys of the request body
 * whose value differs from the stored representation before the write; Plane sends one webhook per
 * such key. Issue and comment deletes are emitted too, although Plane CE sends no webhook for them.
 */
export interface PlaneChangeEvent {
  entity: 'issue' | 'issue_comment';
  action: 'created' | 'updated' | 'deleted';
  id: string;
  /** For comments, the issue they belong to. */
  issueId: string | null;
  projectId: string;
  workspaceId: string;
  workspaceSlug: string;
  fieldsChanged: string[];
  changes: FieldChange[];
  /** Member id of the user who made the change. */
  actor: string;
  actorKind: Actor['kind'];
  at: string;
}

/** An error Plane would answer with: HTTP status and the exact JSON body. */
export class PlaneApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`Plane ${status}: ${JSON.stringify(body)}`);
    this.name = 'PlaneApiError';
  }
}

/** Plane's generic 404, from BaseAPIView.handle_exception catching ObjectDoesNotExist. */
export const NOT_FOUND_BODY = { error: 'The requested resource does not exist.' };

export interface SeedStateInput {
  name: string;
  group: StateGroup;
  color?: string;
  default?: boolean;
}

export interface SeedLabelInput {
  name: string;
  color?: string;
}

export interface SeedMemberInput {
  display_name: string;
  email: string;
  first_name?: string;
  last_name?: string;
}

export interface SeedProjectInput {
  workspace: string;
  identifier: string;
  name?: string;
  /** Keys that may use this project; each gets a bot user who is a project member. */
  apiKeys: string[];
  states?: SeedStateInput[];
  labels?: (SeedLabelInput | string)[];
  /** People in the project. When omitted one person is created so editAsPerson has someone. */
  members?: SeedMemberInput[];
}

export interface SeededProject {
  workspaceId: string;
  workspaceSlug: string;
  projectId: string;
  identifier: string;
  /** State name → id. */
  states: Record<string, string>;
  defaultStateId: string;
  /** Label name → id. */
  labels: Record<string, string>;
  /** Person email → member id. */
  members: Record<string, string>;
  /** API key → id of the bot user acting for it. */
  apiUsers: Record<string, string>;
}

export interface PlaneStoreOptions {
  /** Clock in epoch ms; timestamps are made strictly increasing on top of it. */
  now?: () => number;
  /**
   * Plane's issue_activity task bumps an issue's updated_at again after every write to the issue
   * or its comments (trackers.md §2.2, "Side effect on updated_at"), so the value a client got
   * back is already stale. 'off' (default) skips this; 'sync' bumps as soon as the write's answer
   * has been rendered (deterministic for tests); a number bumps after that many ms. The bump emits
   * no change event (Plane sends no webhook for it).
   */
  activityBump?: 'off' | 'sync' | number;
}

/** DRF serializer input for an issue (request body of POST/PATCH). */
export type IssueInput = Record<string, unknown>;

export interface SerializeOptions {
  /** Plane's ?expand=: labels, assignees, state, parent, project. */
  expand?: Iterable<string>;
  /** Plane's ?fields=: only these keys are returned. */
  fields?: string[];
}

export type Listener = (event: PlaneChangeEvent) => void;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}
