// In-memory Plane: workspaces → projects → states, labels, members, issues (work items), comments.
// The store validates writes the way Plane's serializers do and renders objects in Plane's JSON
// shapes, so the REST routes stay thin and tests can drive the same code paths directly
// (editAsPerson and friends simulate a human working in Plane's UI).
//
// Sources for the behaviour copied here: trackers.md §2 and makeplane/plane
// apps/api/plane/api/serializers/issue.py (IssueSerializer.validate), api/views/issue.py,
// api/views/state.py, api/views/member.py.

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

// Plane creates these for every new project (the brief adds "In Review"); Backlog is the default.
const DEFAULT_STATES: SeedStateInput[] = [
  { name: 'Backlog', group: 'backlog', color: '#60646C', default: true },
  { name: 'Todo', group: 'unstarted', color: '#60646C' },
  { name: 'In Progress', group: 'started', color: '#F59E0B' },
  { name: 'In Review', group: 'started', color: '#8B5CF6' },
  { name: 'Done', group: 'completed', color: '#46A758' },
  { name: 'Cancelled', group: 'cancelled', color: '#9AA4BC' },
];

const DEFAULT_PERSON: SeedMemberInput = {
  display_name: 'alex',
  email: 'alex@example.com',
  first_name: 'Alex',
  last_name: 'Rivera',
};

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_RE.test(value);
}

export class PlaneStore {
  readonly workspaces = new Map<string, PlaneWorkspace>();
  readonly projects = new Map<string, PlaneProject>();
  readonly states = new Map<string, PlaneState>();
  readonly labels = new Map<string, PlaneLabel>();
  readonly members = new Map<string, PlaneMember>();
  readonly issues = new Map<string, PlaneIssue>();
  readonly comments = new Map<string, PlaneComment>();
  /** Valid API keys → the user each acts as. */
  readonly apiKeys = new Map<string, string>();

  #clock: () => number;
  #lastMicros = 0;
  #listeners = new Set<Listener>();
  #activityBump: 'off' | 'sync' | number;
  #timers = new Set<NodeJS.Timeout>();

  constructor(options: PlaneStoreOptions = {}) {
    this.#clock = options.now ?? Date.now;
    this.#activityBump = options.activityBump ?? 'off';
  }

  // ---------------------------------------------------------------- time and events

  /**
   * Current time as Plane serialises it (DRF: isoformat with microseconds, "+00:00" → "Z").
   * Strictly increasing, so every write moves updated_at even within one millisecond.
   */
  timestamp(): string {
    const micros = Math.max(this.#clock() * 1000, this.#lastMicros + 1);
    this.#lastMicros = micros;
    return formatIsoMicros(micros);
  }

  /** Subscribes to change events; returns the unsubscribe function. */
  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: Omit<PlaneChangeEvent, 'at' | 'workspaceSlug' | 'workspaceId'>): void {
    const project = this.projects.get(event.projectId);
    const full: PlaneChangeEvent = {
      ...event,
      workspaceId: project?.workspace ?? '',
      workspaceSlug: project?.workspaceSlug ?? '',
      at: this.timestamp(),
    };
    for (const listener of this.#listeners) {
      try {
        listener(full);
      } catch {
        // A broken listener must not turn a successful API write into a 500.
      }
    }
  }

  /** Cancels pending activity bumps; call when the sandbox shuts down. */
  dispose(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #scheduleActivityBump(issueId: string): void {
    const bump = () => {
      const issue = this.issues.get(issueId);
      if (issue && !issue.deleted_at) issue.updated_at = this.timestamp();
    };
    if (this.#activityBump === 'off') return;
    // A microtask runs once the current handler has rendered its answer, so the client still gets
    // the pre-bump value, as it does from Plane.
    if (this.#activityBump === 'sync') return queueMicrotask(bump);
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      bump();
    }, this.#activityBump);
    timer.unref?.();
    this.#timers.add(timer);
  }

  // ---------------------------------------------------------------- seeding and lookups

  seedProject(input: SeedProjectInput): SeededProject {
    const identifier = input.identifier.toUpperCase();
    if (!/^[A-Z0-9]{1,12}$/.test(identifier)) throw new Error(`invalid project identifier "${input.identifier}"`);
    const workspace = this.#ensureWorkspace(input.workspace);
    for (const p of this.projects.values()) {
      if (p.workspace === workspace.id && p.identifier === identifier) {
        throw new Error(`project identifier ${identifier} already exists in workspace ${workspace.slug}`);
      }
    }
    const now = this.timestamp();
    const project: PlaneProject = {
      id: crypto.randomUUID(),
      workspace: workspace.id,
      workspaceSlug: workspace.slug,
      identifier,
      name: input.name ?? identifier,
      description: '',
      default_state: null,
      created_at: now,
      updated_at: now,
      created_by: null,
      members: new Set(),
      lastSequence: 0,
    };
    this.projects.set(project.id, project);

    const apiUsers: Record<string, string> = {};
    for (const key of input.apiKeys) {
      let userId = this.apiKeys.get(key);
      if (!userId) {
        const n = this.apiKeys.size + 1;
        userId = this.#addMember({
          display_name: `api-bot-${n}`,
          email: `api-bot-${n}@sandbox.invalid`,
          first_name: 'API',
          last_name: `Bot ${n}`,
          is_bot: true,
        }).id;
        this.apiKeys.set(key, userId);
      }
      project.members.add(userId);
      apiUsers[key] = userId;
    }
    project.created_by = Object.values(apiUsers)[0] ?? null;

    const members: Record<string, string> = {};
    for (const m of input.members ?? [DEFAULT_PERSON]) {
      const existing = [...this.members.values()].find((x) => x.email === m.email);
      const member = existing ?? this.#addMember({ ...m, is_bot: false });
      project.members.add(member.id);
      members[m.email] = member.id;
    }

    const stateInputs = input.states ?? DEFAULT_STATES;
    if (stateInputs.length === 0) throw new Error('a project needs at least one state');
    const states: Record<string, string> = {};
    const hasDefault = stateInputs.some((s) => s.default);
    stateInputs.forEach((s, i) => {
      const state = this.#insertState(project, {
        name: s.name,
        group: s.group,
        color: s.color ?? '#60646C',
        default: hasDefault ? Boolean(s.default) : i === 0,
      });
      states[s.name] = state.id;
      if (state.default) project.default_state = state.id;
    });

    const labels: Record<string, string> = {};
    for (const l of input.labels ?? []) {
      const spec = typeof l === 'string' ? { name: l } : l;
      labels[spec.name] = this.#insertLabel(project, { name: spec.name, color: spec.color ?? '' }).id;
    }

    return {
      workspaceId: workspace.id,
      workspaceSlug: workspace.slug,
      projectId: project.id,
      identifier,
      states,
      defaultStateId: project.default_state!,
      labels,
      members,
      apiUsers,
    };
  }

  #ensureWorkspace(slug: string): PlaneWorkspace {
    for (const w of this.workspaces.values()) if (w.slug === slug) return w;
    const workspace: PlaneWorkspace = { id: crypto.randomUUID(), slug, name: slug, created_at: this.timestamp() };
    this.workspaces.set(workspace.id, workspace);
    return workspace;
  }

  #addMember(m: SeedMemberInput & { is_bot: boolean }): PlaneMember {
    const member: PlaneMember = {
      id: crypto.randomUUID(),
      display_name: m.display_name,
      email: m.email,
      first_name: m.first_name ?? '',
      last_name: m.last_name ?? '',
      avatar: '',
      avatar_url: '',
      is_bot: m.is_bot,
    };
    this.members.set(member.id, member);
    return member;
  }

  workspaceBySlug(slug: string): PlaneWorkspace | undefined {
    for (const w of this.workspaces.values()) if (w.slug === slug) return w;
    return undefined;
  }

  /** The project if it exists in that workspace. */
  project(slug: string, projectId: string): PlaneProject | undefined {
    const p = this.projects.get(projectId);
    return p && p.workspaceSlug === slug ? p : undefined;
  }

  projectByIdentifier(slug: string, identifier: string): PlaneProject | undefined {
    for (const p of this.projects.values()) if (p.workspaceSlug === slug && p.identifier === identifier) return p;
    return undefined;
  }

  /** Live (not deleted) issue in that project. */
  issue(projectId: string, issueId: string): PlaneIssue | undefined {
    const i = this.issues.get(issueId);
    return i && i.project === projectId && !i.deleted_at ? i : undefined;
  }

  issuesOf(projectId: string): PlaneIssue[] {
    return [...this.issues.values()].filter((i) => i.project === projectId && !i.deleted_at);
  }

  statesOf(projectId: string): PlaneState[] {
    return [...this.states.values()]
      .filter((s) => s.project === projectId && !s.deleted_at)
      .sort((a, b) => a.sequence - b.sequence);
  }

  labelsOf(projectId: string): PlaneLabel[] {
    return [...this.labels.values()].filter((l) => l.project === projectId && !l.deleted_at);
  }

  membersOf(projectId: string): PlaneMember[] {
    const p = this.projects.get(projectId);
    return p ? [...p.members].map((id) => this.members.get(id)!).filter(Boolean) : [];
  }

  commentsOf(issueId: string): PlaneComment[] {
    return [...this.comments.values()].filter((c) => c.issue === issueId && !c.deleted_at);
  }

  /** A person (not an API bot) in the project, for simulated human edits. */
  person(projectId: string, personId?: string): PlaneMember {
    const p = this.projects.get(projectId);
    if (!p) throw new Error(`no project ${projectId}`);
    const candidates = [...p.members].map((id) => this.members.get(id)!).filter((m) => m && !m.is_bot);
    const person = personId ? candidates.find((m) => m.id === personId) : candidates[0];
    if (!person) throw new Error(personId ? `${personId} is not a person in project ${p.identifier}` : `project ${p.identifier} has no people`);
    return person;
  }

  // ---------------------------------------------------------------- issues

  /**
   * POST …/work-items/. Validates like IssueSerializer, then the 409 on a duplicate
   * (external_id, external_source) pair in the project (trackers.md §2.2).
   */
  createIssue(projectId: string, input: IssueInput, actor: Actor): PlaneIssue {
    const project = this.#projectOrThrow(projectId);
    const data = this.#validateIssue(project, input, { partial: false, current: undefined });
    const externalId = input.external_id;
    const externalSource = input.external_source;
    if (externalId && externalSource) {
      const existing = this.issuesOf(projectId).find(
        (i) => i.external_id === String(externalId) && i.external_source === String(externalSource),
      );
      if (existing) {
        throw new PlaneApiError(409, {
          error: 'Issue with the same external id and external source already exists',
          id: existing.id,
        });
      }
    }

    const now = this.timestamp();
    // Plane lets importers set created_at on create (api/views/issue.py post()).
    const createdAt = typeof input.created_at === 'string' && !Number.isNaN(Date.parse(input.created_at)) ? input.created_at : now;
    project.lastSequence += 1;
    const issue: PlaneIssue = {
      id: crypto.randomUUID(),
      name: data.name as string,
      description_html: '<p></p>',
      description_stripped: '',
      priority: 'none',
      state: project.default_state,
      labels: [],
      assignees: [],
      sequence_id: project.lastSequence,
      sort_order: 65535 * project.lastSequence,
      project: project.id,
      workspace: project.workspace,
      parent: null,
      start_date: null,
      target_date: null,
      completed_at: null,
      archived_at: null,
      is_draft: false,
      point: null,
      estimate_point: null,
      type: null,
      external_id: null,
      external_source: null,
      created_at: createdAt,
      updated_at: now,
      deleted_at: null,
      created_by: actor.id,
      updated_by: actor.id,
    };
    this.#apply(issue, data, now);
    this.issues.set(issue.id, issue);
    this.#emit({
      entity: 'issue',
      action: 'created',
      id: issue.id,
      issueId: null,
      projectId,
      fieldsChanged: Object.keys(input),
      changes: Object.keys(input).map((field) => ({ field, oldValue: null, newValue: input[field] })),
      actor: actor.id,
      actorKind: actor.kind,
    });
    this.#scheduleActivityBump(issue.id);
    return issue;
  }

  /** PATCH …/work-items/{id}/. Every PATCH bumps updated_at, even one that changes nothing. */
  updateIssue(projectId: string, issueId: string, input: IssueInput, actor: Actor): PlaneIssue {
    const project = this.#projectOrThrow(projectId);
    const issue = this.issue(projectId, issueId);
    if (!issue) throw new PlaneApiError(404, NOT_FOUND_BODY);
    const data = this.#validateIssue(project, input, { partial: true, current: issue });

    // Plane's PATCH conflict check compares against the request's external_id only when it
    // differs from the issue's own, and answers with the id of the issue being PATCHED, not of the
    // one holding the pair (api/views/issue.py patch()).
    const externalId = input.external_id;
    if (externalId && issue.external_id !== String(externalId)) {
      const source = 'external_source' in input ? input.external_source : issue.external_source;
      const clash = this.issuesOf(projectId).some(
        (i) => i.external_id === String(externalId) && i.external_source === (source === null || source === undefined ? null : String(source)),
      );
      if (clash) {
        throw new PlaneApiError(409, {
          error: 'Issue with the same external id and external source already exists',
          id: issue.id,
        });
      }
    }

    const before = issueToJson(this, issue);
    const now = this.timestamp();
    this.#apply(issue, data, now);
    issue.updated_at = now;
    issue.updated_by = actor.id;

    const changes = diffRequested(before, input);
    this.#emit({
      entity: 'issue',
      action: 'updated',
      id: issue.id,
      issueId: null,
      projectId,
      fieldsChanged: changes.map((c) => c.field),
      changes,
      actor: actor.id,
      actorKind: actor.kind,
    });
    this.#scheduleActivityBump(issue.id);
    return issue;
  }

  /** DELETE …/work-items/{id}/: Plane soft-deletes (deleted_at) and hides the row everywhere. */
  deleteIssue(projectId: string, issueId: string, actor: Actor): void {
    const issue = this.issue(projectId, issueId);
    if (!issue) throw new PlaneApiError(404, NOT_FOUND_BODY);
    issue.deleted_at = this.timestamp();
    this.#emit({
      entity: 'issue',
      action: 'deleted',
      id: issue.id,
      issueId: null,
      projectId,
      fieldsChanged: [],
      changes: [],
      actor: actor.id,
      actorKind: actor.kind,
    });
  }

  /** A person edits an issue in Plane's UI: same validation and events as a PATCH. */
  editAsPerson(issueId: string, patch: IssueInput, personId?: string): PlaneIssue {
    const issue = this.issues.get(issueId);
    if (!issue || issue.deleted_at) throw new PlaneApiError(404, NOT_FOUND_BODY);
    const person = this.person(issue.project, personId);
    return this.updateIssue(issue.project, issueId, patch, { id: person.id, kind: 'person' });
  }

  /** A person creates an issue in Plane's UI. */
  createAsPerson(projectId: string, input: IssueInput, personId?: string): PlaneIssue {
    const person = this.person(projectId, personId);
    return this.createIssue(projectId, input, { id: person.id, kind: 'person' });
  }

  /** A person deletes an issue in Plane's UI. */
  deleteAsPerson(issueId: string, personId?: string): void {
    const issue = this.issues.get(issueId);
    if (!issue || issue.deleted_at) throw new PlaneApiError(404, NOT_FOUND_BODY);
    const person = this.person(issue.project, personId);
    this.deleteIssue(issue.project, issueId, { id: person.id, kind: 'person' });
  }

  /** A person comments in Plane's UI. */
  commentAsPerson(issueId: string, commentHtml: string, personId?: string): PlaneComment {
    const issue = this.issues.get(issueId);
    if (!issue || issue.deleted_at) throw new PlaneApiError(404, NOT_FOUND_BODY);
    const person = this.person(issue.project, personId);
    return this.createComment(issue.project, issueId, { comment_html: commentHtml }, { id: person.id, kind: 'person' });
  }

  #projectOrThrow(projectId: string): PlaneProject {
    const project = this.projects.get(projectId);
    if (!project) throw new PlaneApiError(404, NOT_FOUND_BODY);
    return project;
  }

  /**
   * IssueSerializer validation. Field errors first (DRF's to_internal_value), all reported at once
   * in DRF's `{field: [messages]}` shape; then validate(), which stops at the first problem and
   * reports it under non_field_errors. Unknown and read-only keys are ignored, as DRF does.
   */
  #validateIssue(
    project: PlaneProject,
    input: IssueInput,
    { partial, current }: { partial: boolean; current: PlaneIssue | undefined },
  ): Partial<PlaneIssue> {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new PlaneApiError(400, { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
    }
    const errors: Record<string, unknown> = {};
    const out: Partial<PlaneIssue> = {};
    const has = (k: string) => Object.prototype.hasOwnProperty.call(input, k);

    if (has('name')) {
      const name = input.name;
      if (name === null) errors.name = ['This field may not be null.'];
      else if (typeof name !== 'string' && typeof name !== 'number') errors.name = ['Not a valid string.'];
      else if (String(name).trim() === '') errors.name = ['This field may not be blank.'];
      else if (String(name).length > 255) errors.name = ['Ensure this field has no more than 255 characters.'];
      else out.name = String(name);
    } else if (!partial) {
      errors.name = ['This field is required.'];
    }

    if (has('description_html')) {
      const html = input.description_html;
      if (typeof html !== 'string') errors.description_html = ['Not a valid string.'];
      else out.description_html = normalizeHtml(html);
    }

    if (has('priority')) {
      const p = input.priority;
      if (typeof p !== 'string' || !PRIORITIES.includes(p as Priority)) errors.priority = [`"${String(p)}" is not a valid choice.`];
      else out.priority = p as Priority;
    }

    if (has('state')) {
      const s = input.state;
      if (s === null) out.state = null;
      else {
        const err = pkError(s, (id) => Boolean(this.states.get(id) && !this.states.get(id)!.deleted_at));
        if (err) errors.state = [err];
        else out.state = String(s).toLowerCase();
      }
    }

    if (has('parent')) {
      const p = input.parent;
      if (p === null) out.parent = null;
      else {
        const err = pkError(p, (id) => Boolean(this.issues.get(id) && !this.issues.get(id)!.deleted_at));
        if (err) errors.parent = [err];
        else out.parent = String(p).toLowerCase();
      }
    }

    for (const key of ['labels', 'assignees'] as const) {
      if (!has(key)) continue;
      const list = input[key];
      if (!Array.isArray(list)) {
        errors[key] = [`Expected a list of items but got type "${pyTypeName(list)}".`];
        continue;
      }
      const exists =
        key === 'labels'
          ? (id: string) => Boolean(this.labels.get(id) && !this.labels.get(id)!.deleted_at)
          : (id: string) => this.members.has(id);
      const itemErrors: Record<string, string[]> = {};
      list.forEach((item, idx) => {
        const err = pkError(item, exists);
        if (err) itemErrors[String(idx)] = [err];
      });
      if (Object.keys(itemErrors).length > 0) errors[key] = itemErrors;
      else out[key] = list as string[];
    }

    for (const key of ['start_date', 'target_date'] as const) {
      if (!has(key)) continue;
      const d = input[key];
      if (d === null) out[key] = null;
      else if (typeof d !== 'string' || !DATE_RE.test(d) || Number.isNaN(Date.parse(d))) {
        errors[key] = ['Date has wrong format. Use one of these formats instead: YYYY-MM-DD.'];
      } else out[key] = d;
    }

    for (const key of ['external_id', 'external_source'] as const) {
      if (!has(key)) continue;
      const v = input[key];
      if (v === null) out[key] = null;
      else if (typeof v !== 'string' && typeof v !== 'number') errors[key] = ['Not a valid string.'];
      else if (String(v).length > 255) errors[key] = ['Ensure this field has no more than 255 characters.'];
      else out[key] = String(v);
    }

    if (Object.keys(errors).length > 0) throw new PlaneApiError(400, errors);

    // validate(): the order below is the order of the checks in IssueSerializer.validate.
    const nonField = (message: string) => new PlaneApiError(400, { non_field_errors: [message] });
    if (out.start_date && out.target_date && out.start_date > out.target_date) {
      throw nonField('Start date cannot exceed target date');
    }
    if (out.assignees) {
      // Only active project members are kept; anyone else is dropped without an error.
      out.assignees = unique(out.assignees).filter((id) => project.members.has(id));
    }
    if (out.labels) {
      // Labels from another project are dropped without an error (trackers.md §2.2).
      out.labels = unique(out.labels).filter((id) => this.labels.get(id)?.project === project.id);
    }
    if (out.state && this.states.get(out.state)?.project !== project.id) {
      throw nonField('State is not valid please pass a valid state_id');
    }
    if (out.parent) {
      const parent = this.issues.get(out.parent);
      if (!parent || parent.project !== project.id || parent.workspace !== project.workspace || parent.id === current?.id) {
        throw nonField('Parent is not valid issue_id please pass a valid issue_id');
      }
    }
    return out;
  }

  #apply(issue: PlaneIssue, data: Partial<PlaneIssue>, now: string): void {
    const previousGroup = issue.state ? this.states.get(issue.state)?.group : undefined;
    Object.assign(issue, data);
    if ('state' in data && data.state === null) issue.state = this.projects.get(issue.project)?.default_state ?? null;
    if (data.description_html !== undefined) issue.description_stripped = stripHtml(data.description_html);
    // Plane's Issue.save() stamps completed_at on entering a completed state and clears it on leaving.
    const group = issue.state ? this.states.get(issue.state)?.group : undefined;
    if (group === 'completed') {
      if (previousGroup !== 'completed' || !issue.completed_at) issue.completed_at = now;
    } else {
      issue.completed_at = null;
    }
  }

  // ---------------------------------------------------------------- comments

  /** POST …/comments/: the 409 check on the external pair runs before any validation. */
  createComment(projectId: string, issueId: string, input: Record<string, unknown>, actor: Actor): PlaneComment {
    const project = this.#projectOrThrow(projectId);
    if (typeof input !== 'object' || input === null || Array.isArray(input)) {
      throw new PlaneApiError(400, { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
    }
    const { external_id: externalId, external_source: externalSource } = input;
    if (externalId && externalSource) {
      const existing = [...this.comments.values()].find(
        (c) => c.project === projectId && !c.deleted_at && c.external_id === String(externalId) && c.external_source === String(externalSource),
      );
      if (existing) {
        throw new PlaneApiError(409, {
          error: 'Work item comment with the same external id and external source already exists',
          id: existing.id,
        });
      }
    }
    const fields = validateCommentFields(input);
    // Saving a comment for an issue that is not there trips the foreign key; Plane turns the
    // IntegrityError into this 400 (BaseAPIView.handle_exception).
    if (!this.issue(projectId, issueId)) throw new PlaneApiError(400, { error: 'The payload is not valid' });

    const now = this.timestamp();
    const comment: PlaneComment = {
      id: crypto.randomUUID(),
      comment_html: '<p></p>',
      comment_stripped: '',
      access: 'INTERNAL',
      external_id: null,
      external_source: null,
      issue: issueId,
      project: project.id,
      workspace: project.workspace,
      actor: actor.id,
      created_at: now,
      updated_at: now,
      created_by: actor.id,
      updated_by: actor.id,
      deleted_at: null,
    };
    Object.assign(comment, fields);
    if (fields.comment_html !== undefined) comment.comment_stripped = stripHtml(fields.comment_html);
    this.comments.set(comment.id, comment);
    this.#emit({
      entity: 'issue_comment',
      action: 'created',
      id: comment.id,
      issueId,
      projectId,
      fieldsChanged: Object.keys(input),
      changes: Object.keys(input).map((field) => ({ field, oldValue: null, newValue: input[field] })),
      actor: actor.id,
      actorKind: actor.kind,
    });
    this.#scheduleActivityBump(issueId);
    return comment;
  }

  comment(projectId: string, issueId: string, commentId: string): PlaneComment | undefined {
    const c = this.comments.get(commentId);
    return c && c.project === projectId && c.issue === issueId && !c.deleted_at ? c : undefined;
  }

  updateComment(projectId: string, issueId: string, commentId: string, input: Record<string, unknown>, actor: Actor): PlaneComment {
    const comment = this.comment(projectId, issueId, commentId);
    if (!comment) throw new PlaneApiError(404, NOT_FOUND_BODY);
    const externalId = input.external_id;
    if (externalId && comment.external_id !== String(externalId)) {
      const source = 'external_source' in input ? input.external_source : comment.external_source;
      const clash = [...this.comments.values()].some(
        (c) => c.project === projectId && !c.deleted_at && c.external_id === String(externalId) && c.external_source === (source == null ? null : String(source)),
      );
      if (clash) {
        throw new PlaneApiError(409, {
          error: 'Work item comment with the same external id and external source already exists',
          id: comment.id,
        });
      }
    }
    const fields = validateCommentFields(input);
    const before = commentToJson(comment);
    Object.assign(comment, fields);
    if (fields.comment_html !== undefined) comment.comment_stripped = stripHtml(fields.comment_html);
    comment.updated_at = this.timestamp();
    comment.updated_by = actor.id;
    const changes = diffRequested(before, input);
    this.#emit({
      entity: 'issue_comment',
      action: 'updated',
      id: comment.id,
      issueId,
      projectId,
      fieldsChanged: changes.map((c) => c.field),
      changes,
      actor: actor.id,
      actorKind: actor.kind,
    });
    this.#scheduleActivityBump(issueId);
    return comment;
  }

  deleteComment(projectId: string, issueId: string, commentId: string, actor: Actor): void {
    const comment = this.comment(projectId, issueId, commentId);
    if (!comment) throw new PlaneApiError(404, NOT_FOUND_BODY);
    comment.deleted_at = this.timestamp();
    this.#emit({
      entity: 'issue_comment',
      action: 'deleted',
      id: comment.id,
      issueId,
      projectId,
      fieldsChanged: [],
      changes: [],
      actor: actor.id,
      actorKind: actor.kind,
    });
  }

  // ---------------------------------------------------------------- states and labels

  /** POST …/states/ (Plane answers 200, not 201, here). name and color are required. */
  createState(projectId: string, input: Record<string, unknown>, actor: Actor): PlaneState {
    const project = this.#projectOrThrow(projectId);
    const errors: Record<string, string[]> = {};
    const name = requiredString(input, 'name', errors);
    const color = requiredString(input, 'color', errors);
    const group = input.group ?? 'backlog';
    if (typeof group !== 'string' || !STATE_GROUPS.includes(group as StateGroup)) errors.group = [`"${String(group)}" is not a valid choice.`];
    if (Object.keys(errors).length > 0) throw new PlaneApiError(400, errors);
    this.#externalClash('State', this.statesOf(projectId), input);
    const dup = this.statesOf(projectId).find((s) => s.name === name);
    if (dup) throw new PlaneApiError(409, { error: 'State with the same name already exists in the project', id: dup.id });
    const state = this.#insertState(project, {
      name: name!,
      color: color!,
      group: group as StateGroup,
      default: false,
      description: typeof input.description === 'string' ? input.description : '',
    });
    state.external_id = input.external_id == null ? null : String(input.external_id);
    state.external_source = input.external_source == null ? null : String(input.external_source);
    state.created_by = state.updated_by = actor.id;
    return state;
  }

  /** POST …/labels/ (201). name is required; names are unique per project. */
  createLabel(projectId: string, input: Record<string, unknown>, actor: Actor): PlaneLabel {
    const project = this.#projectOrThrow(projectId);
    const errors: Record<string, string[]> = {};
    const name = requiredString(input, 'name', errors);
    if (Object.keys(errors).length > 0) throw new PlaneApiError(400, errors);
    this.#externalClash('Label', this.labelsOf(projectId), input);
    const dup = this.labelsOf(projectId).find((l) => l.name === name);
    if (dup) throw new PlaneApiError(409, { error: 'Label with the same name already exists in the project', id: dup.id });
    const label = this.#insertLabel(project, {
      name: name!,
      color: typeof input.color === 'string' ? input.color : '',
      description: typeof input.description === 'string' ? input.description : '',
    });
    label.external_id = input.external_id == null ? null : String(input.external_id);
    label.external_source = input.external_source == null ? null : String(input.external_source);
    label.created_by = label.updated_by = actor.id;
    return label;
  }

  #externalClash(kind: string, rows: { id: string; external_id: string | null; external_source: string | null }[], input: Record<string, unknown>): void {
    const { external_id: id, external_source: source } = input;
    if (!id || !source) return;
    const existing = rows.find((r) => r.external_id === String(id) && r.external_source === String(source));
    if (existing) {
      throw new PlaneApiError(409, { error: `${kind} with the same external id and external source already exists`, id: existing.id });
    }
  }

  #insertState(project: PlaneProject, s: { name: string; color: string; group: StateGroup; default: boolean; description?: string }): PlaneState {
    const now = this.timestamp();
    const sequence = (this.statesOf(project.id).at(-1)?.sequence ?? 5000) + 10000;
    const state: PlaneState = {
      id: crypto.randomUUID(),
      name: s.name,
      color: s.color,
      group: s.group,
      description: s.description ?? '',
      sequence,
      default: s.default,
      is_triage: s.group === 'triage',
      slug: s.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, ''),
      external_id: null,
      external_source: null,
      project: project.id,
      workspace: project.workspace,
      created_at: now,
      updated_at: now,
      created_by: null,
      updated_by: null,
      deleted_at: null,
    };
    this.states.set(state.id, state);
    return state;
  }

  #insertLabel(project: PlaneProject, l: { name: string; color: string; description?: string }): PlaneLabel {
    const now = this.timestamp();
    const label: PlaneLabel = {
      id: crypto.randomUUID(),
      name: l.name,
      color: l.color,
      description: l.description ?? '',
      parent: null,
      sort_order: 65535 * (this.labelsOf(project.id).length + 1),
      external_id: null,
      external_source: null,
      project: project.id,
      workspace: project.workspace,
      created_at: now,
      updated_at: now,
      created_by: null,
      updated_by: null,
      deleted_at: null,
    };
    this.labels.set(label.id, label);
    return label;
  }
}

// ---------------------------------------------------------------- Plane JSON shapes

/**
 * IssueSerializer output (api/serializers/issue.py): every model field except description_json and
 * description_stripped; labels and assignees as uuid lists unless expanded (labels expand to full
 * LabelSerializer objects, assignees to UserLite).
 */
export function issueToJson(store: PlaneStore, issue: PlaneIssue, options: SerializeOptions = {}): Record<string, unknown> {
  const expand = new Set(options.expand ?? []);
  const state = issue.state ? store.states.get(issue.state) : undefined;
  const parent = issue.parent ? store.issues.get(issue.parent) : undefined;
  const project = store.projects.get(issue.project);
  const json: Record<string, unknown> = {
    id: issue.id,
    type_id: issue.type,
    created_at: issue.created_at,
    updated_at: issue.updated_at,
    deleted_at: issue.deleted_at,
    point: issue.point,
    name: issue.name,
    description_html: issue.description_html,
    description_binary: null,
    priority: issue.priority,
    start_date: issue.start_date,
    target_date: issue.target_date,
    sequence_id: issue.sequence_id,
    sort_order: issue.sort_order,
    completed_at: issue.completed_at,
    archived_at: issue.archived_at,
    is_draft: issue.is_draft,
    external_source: issue.external_source,
    external_id: issue.external_id,
    created_by: issue.created_by,
    updated_by: issue.updated_by,
    project: expand.has('project') && project ? projectLiteToJson(project) : issue.project,
    workspace: issue.workspace,
    parent: expand.has('parent') && parent ? { id: parent.id, sequence_id: parent.sequence_id, project_id: parent.project } : issue.parent,
    state: expand.has('state') && state ? stateLiteToJson(state) : issue.state,
    estimate_point: issue.estimate_point,
    type: issue.type,
    assignees: expand.has('assignees')
      ? issue.assignees.map((id) => store.members.get(id)).filter(Boolean).map((m) => memberToJson(m!))
      : [...issue.assignees],
    labels: expand.has('labels')
      ? issue.labels.map((id) => store.labels.get(id)).filter(Boolean).map((l) => labelToJson(l!))
      : [...issue.labels],
  };
  return pick(json, options.fields);
}

/**
 * The webhook `data` shape (IssueExpandSerializer, trackers.md §1.3): state, labels and assignees
 * expanded, and description_stripped included. For the webhook sender that comes later.
 */
export function issueExpandToJson(store: PlaneStore, issue: PlaneIssue): Record<string, unknown> {
  const json = issueToJson(store, issue, { expand: ['state', 'labels', 'assignees'] });
  json.labels = issue.labels.map((id) => store.labels.get(id)).filter(Boolean).map((l) => ({ id: l!.id, name: l!.name, color: l!.color }));
  json.description_stripped = issue.description_stripped;
  return json;
}

export function stateToJson(s: PlaneState): Record<string, unknown> {
  return {
    id: s.id,
    created_at: s.created_at,
    updated_at: s.updated_at,
    deleted_at: s.deleted_at,
    name: s.name,
    description: s.description,
    color: s.color,
    slug: s.slug,
    sequence: s.sequence,
    group: s.group,
    is_triage: s.is_triage,
    default: s.default,
    external_source: s.external_source,
    external_id: s.external_id,
    created_by: s.created_by,
    updated_by: s.updated_by,
    project: s.project,
    workspace: s.workspace,
  };
}

export function stateLiteToJson(s: PlaneState): Record<string, unknown> {
  return { id: s.id, name: s.name, color: s.color, group: s.group };
}

export function labelToJson(l: PlaneLabel): Record<string, unknown> {
  return {
    id: l.id,
    created_at: l.created_at,
    updated_at: l.updated_at,
    deleted_at: l.deleted_at,
    name: l.name,
    description: l.description,
    color: l.color,
    sort_order: l.sort_order,
    external_source: l.external_source,
    external_id: l.external_id,
    created_by: l.created_by,
    updated_by: l.updated_by,
    workspace: l.workspace,
    project: l.project,
    parent: l.parent,
  };
}

/** UserLite, which is what the members endpoint and expanded assignees return. */
export function memberToJson(m: PlaneMember): Record<string, unknown> {
  return {
    id: m.id,
    first_name: m.first_name,
    last_name: m.last_name,
    email: m.email,
    avatar: m.avatar,
    avatar_url: m.avatar_url,
    display_name: m.display_name,
  };
}

/** IssueCommentSerializer output; `is_member` only appears when the view annotated it (lists). */
export function commentToJson(c: PlaneComment, options: { isMember?: boolean } = {}): Record<string, unknown> {
  const json: Record<string, unknown> = {
    id: c.id,
    created_at: c.created_at,
    updated_at: c.updated_at,
    deleted_at: c.deleted_at,
    comment_html: c.comment_html,
    attachments: [],
    access: c.access,
    external_source: c.external_source,
    external_id: c.external_id,
    created_by: c.created_by,
    updated_by: c.updated_by,
    project: c.project,
    workspace: c.workspace,
    issue: c.issue,
    actor: c.actor,
  };
  if (options.isMember !== undefined) json.is_member = options.isMember;
  return json;
}

export function projectToJson(store: PlaneStore, p: PlaneProject): Record<string, unknown> {
  return {
    id: p.id,
    total_members: p.members.size,
    total_cycles: 0,
    total_modules: 0,
    is_member: true,
    sort_order: 65535,
    member_role: 20,
    is_deployed: false,
    cover_image_url: null,
    created_at: p.created_at,
    updated_at: p.updated_at,
    deleted_at: null,
    name: p.name,
    description: p.description,
    description_text: null,
    description_html: null,
    network: 2,
    identifier: p.identifier,
    emoji: null,
    icon_prop: null,
    module_view: true,
    cycle_view: true,
    issue_views_view: true,
    page_view: true,
    intake_view: false,
    is_time_tracking_enabled: false,
    is_issue_type_enabled: false,
    guest_view_all_features: false,
    cover_image: null,
    archive_in: 0,
    close_in: 0,
    logo_props: {},
    archived_at: null,
    timezone: 'UTC',
    created_by: p.created_by,
    updated_by: p.created_by,
    workspace: p.workspace,
    default_assignee: null,
    project_lead: null,
    cover_image_asset: null,
    estimate: null,
    default_state: p.default_state,
    total_issues: store.issuesOf(p.id).length,
  };
}

function projectLiteToJson(p: PlaneProject): Record<string, unknown> {
  return { id: p.id, identifier: p.identifier, name: p.name, cover_image: null, icon_prop: null, emoji: null, description: p.description };
}

// ---------------------------------------------------------------- helpers

/** Python's datetime.isoformat() for UTC with "Z": microseconds, dropped entirely when zero. */
function formatIsoMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = Math.floor(micros % 1_000_000);
  return frac === 0 ? `${base}Z` : `${base}.${String(frac).padStart(6, '0')}Z`;
}

/**
 * DRF PrimaryKeyRelatedField errors. A string that is not a UUID fails in Django's UUIDField with
 * its curly-quoted message; a UUID that matches nothing gives DRF's "Invalid pk".
 */
function pkError(value: unknown, exists: (id: string) => boolean): string | null {
  if (typeof value === 'boolean' || (typeof value !== 'string' && typeof value !== 'number')) {
    return `Incorrect type. Expected pk value, received ${pyTypeName(value)}.`;
  }
  const s = String(value);
  if (!isUuid(s)) return `“${s}” is not a valid UUID.`;
  return exists(s.toLowerCase()) ? null : `Invalid pk "${s}" - object does not exist.`;
}

function pyTypeName(value: unknown): string {
  if (value === null || value === undefined) return 'NoneType';
  if (Array.isArray(value)) return 'list';
  if (typeof value === 'string') return 'str';
  if (typeof value === 'boolean') return 'bool';
  if (typeof value === 'number') return Number.isInteger(value) ? 'int' : 'float';
  return 'dict';
}

function requiredString(input: Record<string, unknown>, key: string, errors: Record<string, string[]>): string | undefined {
  const v = input[key];
  if (v === undefined) errors[key] = ['This field is required.'];
  else if (v === null) errors[key] = ['This field may not be null.'];
  else if (typeof v !== 'string') errors[key] = ['Not a valid string.'];
  else if (v.trim() === '') errors[key] = ['This field may not be blank.'];
  else return v;
  return undefined;
}

function validateCommentFields(input: Record<string, unknown>): Partial<PlaneComment> {
  const errors: Record<string, string[]> = {};
  const out: Partial<PlaneComment> = {};
  if ('comment_html' in input) {
    if (typeof input.comment_html !== 'string') errors.comment_html = ['Not a valid string.'];
    else out.comment_html = input.comment_html;
  }
  if ('access' in input) {
    if (input.access !== 'INTERNAL' && input.access !== 'EXTERNAL') errors.access = [`"${String(input.access)}" is not a valid choice.`];
    else out.access = input.access;
  }
  for (const key of ['external_id', 'external_source'] as const) {
    if (!(key in input)) continue;
    const v = input[key];
    if (v === null) out[key] = null;
    else if (typeof v !== 'string' && typeof v !== 'number') errors[key] = ['Not a valid string.'];
    else out[key] = String(v);
  }
  if (Object.keys(errors).length > 0) throw new PlaneApiError(400, errors);
  return out;
}

/**
 * Plane parses description_html with lxml (html.fromstring → tostring) before saving
 * (IssueSerializer.validate), which changes what a client reads back:
 *  - bare text is wrapped in a paragraph: "hi" → "<p>hi</p>";
 *  - several top-level block elements are wrapped in one container: "<p>a</p><p>b</p>" →
 *    "<div><p>a</p><p>b</p></div>".
 * Only these two cases are reproduced; anything else is stored as sent. An empty description is
 * stored as Plane's model default "<p></p>".
 */
export function normalizeHtml(html: string): string {
  const trimmed = html.trim();
  if (trimmed === '') return '<p></p>';
  if (!trimmed.includes('<')) return `<p>${trimmed}</p>`;
  const tops = topLevelElements(trimmed);
  if (tops && tops.length > 1 && tops.every((t) => BLOCK_TAGS.has(t))) return `<div>${trimmed}</div>`;
  return html;
}

const BLOCK_TAGS = new Set([
  'p', 'div', 'ul', 'ol', 'li', 'pre', 'blockquote', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'table', 'hr', 'section', 'article',
]);
const VOID_TAGS = new Set(['br', 'hr', 'img', 'input', 'meta', 'link', 'area', 'base', 'col', 'embed', 'source', 'track', 'wbr']);

/** Tag names of the top-level elements, or null if there is top-level text or the markup is odd. */
function topLevelElements(html: string): string[] | null {
  const tops: string[] = [];
  let depth = 0;
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    const text = html.slice(i, lt < 0 ? html.length : lt);
    if (depth === 0 && text.trim() !== '') return null;
    if (lt < 0) break;
    const gt = html.indexOf('>', lt);
    if (gt < 0) return null;
    const tag = html.slice(lt + 1, gt);
    const m = /^(\/?)([a-zA-Z][a-zA-Z0-9]*)/.exec(tag);
    if (m) {
      const name = m[2]!.toLowerCase();
      if (m[1]) depth -= 1;
      else {
        if (depth === 0) tops.push(name);
        if (!VOID_TAGS.has(name) && !tag.endsWith('/')) depth += 1;
      }
      if (depth < 0) return null;
    }
    i = gt + 1;
  }
  return depth === 0 ? tops : null;
}

/** Text content of HTML, roughly what Plane stores as description_stripped. */
export function stripHtml(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li|h[1-6]|blockquote|pre)>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
}

/**
 * Plane's model_activity rule: a key of the request body counts as changed when its requested value
 * differs from the stored representation. Lists are compared as sets (label order is not meaningful).
 */
function diffRequested(before: Record<string, unknown>, requested: Record<string, unknown>): FieldChange[] {
  const changes: FieldChange[] = [];
  for (const field of Object.keys(requested)) {
    if (!(field in before)) continue;
    if (!sameValue(before[field], requested[field])) changes.push({ field, oldValue: before[field], newValue: requested[field] });
  }
  return changes;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    const sa = new Set(a.map(String));
    const sb = new Set(b.map(String));
    return sa.size === sb.size && [...sa].every((x) => sb.has(x));
  }
  if (a === null || b === null || a === undefined || b === undefined) return a == b;
  return String(a) === String(b);
}

function unique(ids: string[]): string[] {
  return [...new Set(ids.map((id) => id.toLowerCase()))];
}

function pick(json: Record<string, unknown>, fields: string[] | undefined): Record<string, unknown> {
  if (!fields || fields.length === 0) return json;
  const out: Record<string, unknown> = {};
  for (const f of fields) if (f in json) out[f] = json[f];
  return out;
}
