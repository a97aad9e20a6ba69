// In-memory Plane: workspaces → projects → states, labels, members, issues (work items), comments.
// The store validates writes the way Plane's serializers do and renders objects in Plane's JSON
// shapes, so the REST routes stay thin and tests can drive the same code paths directly
// (editAsPerson and friends simulate a human working in Plane's UI).
//
// Sources for the behaviour copied here: trackers.md §2 and makeplane/plane
// apps/api/plane/api/serializers/issue.py (IssueSerializer.validate), api/views/issue.py,
// api/views/state.py, api/views/member.py.

import {
  Actor,
  FieldChange,
  IssueInput,
  Listener,
  NOT_FOUND_BODY,
  PRIORITIES,
  PlaneApiError,
  PlaneChangeEvent,
  PlaneComment,
  PlaneIssue,
  PlaneLabel,
  PlaneMember,
  PlaneProject,
  PlaneState,
  PlaneStoreOptions,
  PlaneWorkspace,
  Priority,
  STATE_GROUPS,
  SeedMemberInput,
  SeedProjectInput,
  SeedStateInput,
  SeededProject,
  StateGroup,
} from './model.ts';
import { commentToJson, formatIsoMicros, issueToJson } from './serialize.ts';
import { pkError, pyTypeName, requiredString, validateCommentFields } from './drf-validation.ts';
import { normalizeHtml, stripHtml } from './html.ts';
import { PlaneLinks } from './links.ts';

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

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

export class PlaneStore {
  readonly workspaces = new Map<string, PlaneWorkspace>();
  readonly projects = new Map<string, PlaneProject>();
  readonly states = new Map<string, PlaneState>();
  readonly labels = new Map<string, PlaneLabel>();
  readonly members = new Map<string, PlaneMember>();
  readonly issues = new Map<string, PlaneIssue>();
  readonly comments = new Map<string, PlaneComment>();
  /** Links on work items (`…/links/`). */
  readonly links = new PlaneLinks();
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
    return [...this.states.values()].filter((s) => s.project === projectId && !s.deleted_at).sort((a, b) => a.sequence - b.sequence);
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
    if (!person)
      throw new Error(personId ? `${personId} is not a person in project ${p.identifier}` : `project ${p.identifier} has no people`);
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
        (i) =>
          i.external_id === String(externalId) && i.external_source === (source === null || source === undefined ? null : String(source)),
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
        (c) =>
          c.project === projectId && !c.deleted_at && c.external_id === String(externalId) && c.external_source === String(externalSource),
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
        (c) =>
          c.project === projectId &&
          !c.deleted_at &&
          c.external_id === String(externalId) &&
          c.external_source === (source == null ? null : String(source)),
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
    if (typeof group !== 'string' || !STATE_GROUPS.includes(group as StateGroup))
      errors.group = [`"${String(group)}" is not a valid choice.`];
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

  #externalClash(
    kind: string,
    rows: { id: string; external_id: string | null; external_source: string | null }[],
    input: Record<string, unknown>,
  ): void {
    const { external_id: id, external_source: source } = input;
    if (!id || !source) return;
    const existing = rows.find((r) => r.external_id === String(id) && r.external_source === String(source));
    if (existing) {
      throw new PlaneApiError(409, { error: `${kind} with the same external id and external source already exists`, id: existing.id });
    }
  }

  #insertState(
    project: PlaneProject,
    s: { name: string; color: string; group: StateGroup; default: boolean; description?: string },
  ): PlaneState {
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
      slug: s.name
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, ''),
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
  if (a === null || b === null || a === undefined || b === undefined)
    return a === b || ((a === null || a === undefined) && (b === null || b === undefined));
  return String(a) === String(b);
}

function unique(ids: string[]): string[] {
  return [...new Set(ids.map((id) => id.toLowerCase()))];
}
