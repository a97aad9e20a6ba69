// In-memory Jira Cloud: users, projects (issue types, a workflow), issues with ADF descriptions,
// labels, priorities, entity properties and comments. The store validates writes the way Jira's
// REST v3 does for the fields Trackline uses (serialize.ts renders them in Jira's JSON shapes), so the
// routes stay thin and tests can drive the same code paths directly (editAsPerson and friends
// simulate a person working in Jira's UI). Every change is announced to listeners (the webhook
// sender) with a changelog like Jira's (trackers.md §4.4).

import { randomUUID } from 'node:crypto';
import { DEFAULT_WORKFLOW, buildWorkflow, transitionsFrom, type SandboxStatus, type SandboxTransition } from './workflow.ts';
import type { JqlSubject } from './jql.ts';
import { JiraRemoteLinks } from './remote-links.ts';
import {
  CustomFieldRefusal,
  DEFAULT_CUSTOM_FIELDS,
  applyCustomOperations,
  customChangeStrings,
  parseCustomValue,
  sameCustomValue,
  type CustomFieldDef,
  type CustomValue,
  type SeedCustomField,
} from './custom-fields.ts';
import {
  Adf,
  ChangeItem,
  DEFAULT_PRIORITIES,
  IssueFieldsInput,
  JiraApiError,
  JiraChangeEvent,
  JiraCommentRec,
  JiraIssueRec,
  JiraIssueType,
  JiraPriorityRec,
  JiraProjectRec,
  JiraStoreOptions,
  JiraUser,
  JiraVersionRec,
  SeedJiraProjectInput,
  SeedJiraUser,
  SeededJiraProject,
  errorCollection,
} from './model.ts';

const ISSUE_NOT_FOUND = () => new JiraApiError(404, errorCollection(['Issue does not exist or you do not have permission to see it.']));
const NOT_ADF = 'Operation value must be an Atlassian Document (see the Atlassian Document Format)';

export class JiraStore {
  readonly users = new Map<string, JiraUser>();
  readonly projects = new Map<string, JiraProjectRec>();
  readonly issues = new Map<string, JiraIssueRec>();
  readonly comments = new Map<string, JiraCommentRec>();
  /** Remote issue links (remote-links.ts). */
  readonly remoteLinks = new JiraRemoteLinks();
  readonly statuses = new Map<string, SandboxStatus>();
  readonly priorities: JiraPriorityRec[] = DEFAULT_PRIORITIES.map((name, i) => ({ id: String(i + 1), name }));
  readonly indexedProperties: Set<string>;
  /** See JiraStoreOptions.searchLagMs; settable, so a test can turn the lag on for a while. */
  searchLagMs: number;
  /** 429s the per-issue write limits have answered (routes.ts). */
  perIssueRefusals = 0;
  baseUrl: string;
  #now: () => number;
  #last = 0;
  #ids = {
    project: 10000,
    issue: 10000,
    comment: 10000,
    status: 10000,
    issueType: 10000,
    workflow: 1,
    changelog: 100000,
    version: 10000,
    customField: 10040,
    option: 10100,
  };
  readonly versions = new Map<string, JiraVersionRec>();
  /** Custom fields by id (`customfield_10040`): site-wide, each with the projects of its context. */
  readonly customFields = new Map<string, CustomFieldDef>();
  #listeners = new Set<(e: JiraChangeEvent) => void>();

  constructor(options: JiraStoreOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.baseUrl = options.baseUrl ?? 'https://sandbox.atlassian.net';
    this.indexedProperties = new Set(options.indexedProperties ?? []);
    this.searchLagMs = options.searchLagMs ?? 0;
  }

  /** Whether search/jql would find this issue yet (searchLagMs after its creation). */
  indexed(issue: { created: number }): boolean {
    return this.searchLagMs === 0 || issue.created <= this.#now() - this.searchLagMs;
  }

  /** Strictly increasing ms timestamps, so `updated` orders every change. */
  timestamp(): number {
    this.#last = Math.max(this.#last + 1, this.#now());
    return this.#last;
  }

  onChange(listener: (e: JiraChangeEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(event: JiraChangeEvent): void {
    for (const l of this.#listeners) l(event);
  }

  nextChangelogId(): string {
    return String(this.#ids.changelog++);
  }

  dispose(): void {
    this.#listeners.clear();
  }

  // ---------------------------------------------------------------- seeding and lookups

  seedProject(input: SeedJiraProjectInput): SeededJiraProject {
    const key = input.key.toUpperCase();
    if (!/^[A-Z][A-Z0-9_]{1,9}$/.test(key)) throw new Error(`invalid Jira project key "${input.key}"`);
    if ([...this.projects.values()].some((p) => p.key === key)) throw new Error(`project ${key} exists already`);
    const users: Record<string, string> = {};
    for (const u of input.users) users[u.email] = this.#ensureUser(u).accountId;
    const issueTypes = (input.issueTypes ?? ['Task', 'Bug', 'Story']).map((name) => ({
      id: String(this.#ids.issueType++),
      name,
      subtask: false,
    }));
    const workflow = buildWorkflow(
      input.workflow ?? DEFAULT_WORKFLOW,
      `wf-${this.#ids.workflow++}`,
      () => String(this.#ids.status++),
      this.statuses,
    );
    const project: JiraProjectRec = {
      id: String(this.#ids.project++),
      key,
      name: input.name ?? key,
      issueTypes,
      workflow,
      lastNumber: 0,
      lead: Object.values(users)[0] ?? '',
    };
    this.projects.set(project.id, project);
    const customFields = (input.customFields ?? DEFAULT_CUSTOM_FIELDS).map((f) => this.createCustomField(f, [project.id]));
    return {
      projectId: project.id,
      key,
      users,
      issueTypes: Object.fromEntries(issueTypes.map((t) => [t.name, t.id])),
      statuses: Object.fromEntries(workflow.statuses.map((s) => [s.name, s.id])),
      customFields: Object.fromEntries(customFields.map((f) => [f.name, f.id])),
    };
  }

  /**
   * A custom field (an admin's work in Jira's settings), with these projects added to its
   * context. A field of the same name and type is reused, as a site has each field once.
   */
  createCustomField(input: SeedCustomField, projectIds: string[] = []): CustomFieldDef {
    let def = [...this.customFields.values()].find((f) => f.name === input.name && f.kind === input.kind);
    if (!def) {
      const numericId = this.#ids.customField++;
      def = { id: `customfield_${numericId}`, numericId, name: input.name, kind: input.kind, options: [], projectIds: new Set() };
      this.customFields.set(def.id, def);
    }
    for (const value of input.options ?? []) if (!def.options.some((o) => o.value === value)) this.addOption(def.id, value);
    for (const id of projectIds) def.projectIds.add(id);
    return def;
  }

  /** A new option of a select or multi-select field (an admin editing the field's context). */
  addOption(fieldId: string, value: string): void {
    const def = this.customFields.get(fieldId);
    if (!def) throw new Error(`no custom field ${fieldId}`);
    def.options.push({ id: String(this.#ids.option++), value, disabled: false });
  }

  /** The custom fields an issue of the project carries. */
  customFieldsOf(projectId: string): CustomFieldDef[] {
    return [...this.customFields.values()].filter((f) => f.projectIds.has(projectId));
  }

  #ensureUser(u: SeedJiraUser): JiraUser {
    const existing = [...this.users.values()].find((x) => x.emailAddress === u.email);
    if (existing) {
      if (u.apiToken) existing.apiToken = u.apiToken;
      return existing;
    }
    const user: JiraUser = {
      accountId: u.accountId ?? randomUUID().replace(/-/g, '').slice(0, 24),
      displayName: u.displayName ?? u.email.split('@')[0],
      emailAddress: u.email,
      timeZone: u.timeZone ?? 'UTC',
      apiToken: u.apiToken,
      canReadWorkflow: u.canReadWorkflow ?? true,
      active: true,
    };
    this.users.set(user.accountId, user);
    return user;
  }

  /** The user for basic-auth credentials, or undefined. */
  authenticate(email: string, token: string): JiraUser | undefined {
    return [...this.users.values()].find((u) => u.emailAddress === email && u.apiToken !== undefined && u.apiToken === token && u.active);
  }

  userByEmail(email: string): JiraUser | undefined {
    return [...this.users.values()].find((u) => u.emailAddress === email);
  }

  project(idOrKey: string): JiraProjectRec | undefined {
    return this.projects.get(idOrKey) ?? [...this.projects.values()].find((p) => p.key === idOrKey.toUpperCase());
  }

  /** By id or key (case-insensitive key); deleted issues are gone. */
  issue(idOrKey: string): JiraIssueRec | undefined {
    const direct = this.issues.get(idOrKey);
    if (direct) return direct;
    const upper = idOrKey.toUpperCase();
    return [...this.issues.values()].find((i) => i.key === upper);
  }

  issuesOf(projectIdOrKey: string): JiraIssueRec[] {
    const project = this.project(projectIdOrKey);
    return project ? [...this.issues.values()].filter((i) => i.projectId === project.id) : [];
  }

  commentsOf(issueId: string): JiraCommentRec[] {
    return [...this.comments.values()]
      .filter((c) => c.issueId === issueId)
      .sort((a, b) => a.created - b.created || Number(a.id) - Number(b.id));
  }

  statusOf(issue: JiraIssueRec): SandboxStatus {
    return this.statuses.get(issue.statusId)!;
  }

  projectOf(issue: JiraIssueRec): JiraProjectRec {
    return this.projects.get(issue.projectId)!;
  }

  availableTransitions(issue: JiraIssueRec): SandboxTransition[] {
    return transitionsFrom(this.projectOf(issue).workflow, issue.statusId);
  }

  // ---------------------------------------------------------------- writes

  createIssue(body: { fields?: IssueFieldsInput; properties?: unknown; update?: unknown }, actor: string): JiraIssueRec {
    const fields = body.fields ?? {};
    const errors: Record<string, string> = {};
    const project = this.#projectRef(fields.project);
    if (!project) {
      errors.project = 'Specify a valid project ID or key';
      throw new JiraApiError(400, errorCollection([], errors));
    }
    const type = this.#issueTypeRef(project, fields.issuetype);
    if (!type) errors.issuetype = 'Specify an issue type';
    if (typeof fields.summary !== 'string' || fields.summary.trim() === '') errors.summary = 'You must specify a summary of the issue.';
    const values = this.#validateFields(fields, errors);
    const fixVersions = 'fixVersions' in fields ? this.#versionRefs(project.id, fields.fixVersions, errors) : [];
    const custom = this.#validateCustom(project.id, fields, body.update, new Map(), errors);
    const properties = this.#validateProperties(body.properties, errors);
    if (Object.keys(errors).length) throw new JiraApiError(400, errorCollection([], errors));
    const now = this.timestamp();
    project.lastNumber += 1;
    const issue: JiraIssueRec = {
      id: String(this.#ids.issue++),
      key: `${project.key}-${project.lastNumber}`,
      number: project.lastNumber,
      projectId: project.id,
      issueTypeId: type!.id,
      summary: String(fields.summary),
      description: values.description ?? null,
      statusId: project.workflow.initial,
      labels: values.labels ?? [],
      assignee: values.assignee ?? null,
      priorityId: values.priorityId ?? this.priorities.find((p) => p.name === 'Medium')!.id,
      fixVersions: fixVersions ?? [],
      reporter: actor,
      created: now,
      updated: now,
      properties,
      custom: new Map([...custom].filter(([, v]) => v !== null)),
    };
    this.issues.set(issue.id, issue);
    this.#emit({ kind: 'issue_created', issueId: issue.id, actor });
    return issue;
  }

  /** PUT /issue/{id}: `fields` set values, `update` applies operations (labels add/remove/set). */
  editIssue(idOrKey: string, body: { fields?: IssueFieldsInput; update?: unknown; properties?: unknown }, actor: string): JiraIssueRec {
    const issue = this.issue(idOrKey);
    if (!issue) throw ISSUE_NOT_FOUND();
    const fields = body.fields ?? {};
    const errors: Record<string, string> = {};
    if ('summary' in fields && (typeof fields.summary !== 'string' || fields.summary.trim() === ''))
      errors.summary = 'You must specify a summary of the issue.';
    const values = this.#validateFields(fields, errors);
    const ops = this.#validateUpdate(body.update, fields, errors);
    const versionOps = this.#validateVersionUpdate(issue.projectId, body.update, errors);
    const versionSet = 'fixVersions' in fields ? this.#versionRefs(issue.projectId, fields.fixVersions, errors) : undefined;
    const custom = this.#validateCustom(issue.projectId, fields, body.update, issue.custom, errors);
    const properties = this.#validateProperties(body.properties, errors);
    if (Object.keys(errors).length) throw new JiraApiError(400, errorCollection([], errors));
    if (body.fields === undefined && body.update === undefined && body.properties === undefined) {
      throw new JiraApiError(400, errorCollection(['No fields or update operations were provided.']));
    }

    let labels = values.labels ?? [...issue.labels];
    for (const op of ops) {
      if (op.set !== undefined) labels = [...op.set];
      for (const l of op.add) if (!labels.includes(l)) labels.push(l);
      for (const l of op.remove) labels = labels.filter((x) => x !== l);
    }
    const next: Partial<JiraIssueRec> = {};
    if (typeof fields.summary === 'string') next.summary = fields.summary;
    if ('description' in fields) next.description = values.description ?? null;
    if ('labels' in fields || ops.length) next.labels = labels;
    if ('assignee' in fields) next.assignee = values.assignee ?? null;
    if (values.priorityId !== undefined) next.priorityId = values.priorityId;
    if (versionSet || versionOps.length) {
      let versions = versionSet ?? [...issue.fixVersions];
      for (const op of versionOps) {
        if (op.set !== undefined) versions = [...op.set];
        for (const v of op.add) if (!versions.includes(v)) versions.push(v);
        for (const v of op.remove) versions = versions.filter((x) => x !== v);
      }
      next.fixVersions = versions;
    }
    if (custom.size) next.custom = custom;
    for (const [k, v] of properties) issue.properties.set(k, v);
    return this.#apply(issue, next, actor, 'issue_updated');
  }

  /** POST /issue/{id}/transitions: only a transition leaving the current status is valid. */
  transition(idOrKey: string, transitionId: unknown, actor: string): JiraIssueRec {
    const issue = this.issue(idOrKey);
    if (!issue) throw ISSUE_NOT_FOUND();
    if (transitionId === undefined || transitionId === null || transitionId === '') {
      throw new JiraApiError(400, errorCollection(['Missing transition id.']));
    }
    const t = this.availableTransitions(issue).find((x) => x.id === String(transitionId));
    if (!t) throw new JiraApiError(400, errorCollection([`Transition id '${String(transitionId)}' is not valid for this issue.`]));
    return this.#apply(issue, { statusId: t.to }, actor, 'issue_generic');
  }

  addComment(idOrKey: string, body: unknown, actor: string): JiraCommentRec {
    const issue = this.issue(idOrKey);
    if (!issue) throw ISSUE_NOT_FOUND();
    if (body === undefined || body === null)
      throw new JiraApiError(400, errorCollection([], { comment: 'Comment body can not be empty!' }));
    if (!isAdf(body)) throw new JiraApiError(400, errorCollection([], { comment: NOT_ADF }));
    const now = this.timestamp();
    const comment: JiraCommentRec = {
      id: String(this.#ids.comment++),
      issueId: issue.id,
      body: body as Adf,
      author: actor,
      created: now,
      updated: now,
    };
    this.comments.set(comment.id, comment);
    issue.updated = now;
    this.#emit({ kind: 'comment_created', issueId: issue.id, commentId: comment.id, actor });
    return comment;
  }

  /** Property writes leave no history and raise no issue webhook in Jira, so no actor is kept. */
  setProperty(idOrKey: string, key: string, value: unknown): 'created' | 'updated' {
    const issue = this.issue(idOrKey);
    if (!issue) throw ISSUE_NOT_FOUND();
    if (value === undefined) throw new JiraApiError(400, errorCollection(['The property value must be a valid, non-empty JSON.']));
    if (JSON.stringify(value).length > 32768)
      throw new JiraApiError(400, errorCollection(['The property value is too long (32768 bytes at most).']));
    const existed = issue.properties.has(key);
    issue.properties.set(key, value);
    return existed ? 'updated' : 'created';
  }

  deleteIssue(idOrKey: string, actor: string, snapshot: (i: JiraIssueRec) => Record<string, unknown>): void {
    const issue = this.issue(idOrKey);
    if (!issue) throw ISSUE_NOT_FOUND();
    const json = snapshot(issue);
    this.issues.delete(issue.id);
    for (const c of this.commentsOf(issue.id)) this.comments.delete(c.id);
    this.#emit({ kind: 'issue_deleted', issueId: issue.id, actor, snapshot: json });
  }

  // ---------------------------------------------------------------- a person in Jira's UI

  person(email?: string): JiraUser {
    const people = [...this.users.values()].filter((u) => !u.apiToken);
    const found = email ? this.userByEmail(email) : (people[0] ?? [...this.users.values()][0]);
    if (!found) throw new Error(`no such sandbox Jira user ${email ?? '(none seeded)'}`);
    return found;
  }

  /** A person edits fields (same validation and events as a PUT). */
  editAsPerson(idOrKey: string, fields: IssueFieldsInput, personEmail?: string): JiraIssueRec {
    return this.editIssue(idOrKey, { fields }, this.person(personEmail).accountId);
  }

  /** A person moves the issue with the transition leading to `statusName` (it must exist). */
  transitionAsPerson(idOrKey: string, statusName: string, personEmail?: string): JiraIssueRec {
    const issue = this.issue(idOrKey);
    if (!issue) throw ISSUE_NOT_FOUND();
    const t = this.availableTransitions(issue).find((x) => this.statuses.get(x.to)?.name.toLowerCase() === statusName.toLowerCase());
    if (!t) throw new Error(`no transition from "${this.statusOf(issue).name}" to "${statusName}" in the sandbox workflow`);
    return this.transition(issue.id, t.id, this.person(personEmail).accountId);
  }

  createAsPerson(projectKey: string, fields: IssueFieldsInput & { issueType?: string }, personEmail?: string): JiraIssueRec {
    const project = this.project(projectKey);
    if (!project) throw new Error(`no sandbox Jira project ${projectKey}`);
    const type = project.issueTypes.find((t) => t.name === (fields.issueType ?? 'Task')) ?? project.issueTypes[0];
    const { issueType: _t, ...rest } = fields;
    return this.createIssue(
      { fields: { ...rest, project: { key: project.key }, issuetype: { id: type.id } } },
      this.person(personEmail).accountId,
    );
  }

  commentAsPerson(idOrKey: string, body: Adf | string, personEmail?: string): JiraCommentRec {
    const doc =
      typeof body === 'string'
        ? { type: 'doc', version: 1, content: [{ type: 'paragraph', content: [{ type: 'text', text: body }] }] }
        : body;
    return this.addComment(idOrKey, doc, this.person(personEmail).accountId);
  }

  deleteAsPerson(idOrKey: string, snapshot: (i: JiraIssueRec) => Record<string, unknown>, personEmail?: string): void {
    this.deleteIssue(idOrKey, this.person(personEmail).accountId, snapshot);
  }

  // ---------------------------------------------------------------- internals

  #apply(issue: JiraIssueRec, next: Partial<JiraIssueRec>, actor: string, typeName: string): JiraIssueRec {
    const items: ChangeItem[] = [];
    const item = (
      fieldId: string,
      field: string,
      from: string | null,
      fromString: string | null,
      to: string | null,
      toText: string | null,
    ): ChangeItem => ({
      field,
      fieldtype: 'jira',
      fieldId,
      from,
      fromString,
      to,
      toString: toText,
    });
    if (next.summary !== undefined && next.summary !== issue.summary)
      items.push(item('summary', 'summary', null, issue.summary, null, next.summary));
    if (next.description !== undefined && JSON.stringify(next.description) !== JSON.stringify(issue.description)) {
      items.push(item('description', 'description', null, plain(issue.description), null, plain(next.description)));
    }
    if (next.labels !== undefined && [...next.labels].sort().join(' ') !== [...issue.labels].sort().join(' ')) {
      items.push(item('labels', 'labels', null, issue.labels.join(' '), null, next.labels.join(' ')));
    }
    if (next.assignee !== undefined && next.assignee !== issue.assignee) {
      const name = (id: string | null) => (id ? (this.users.get(id)?.displayName ?? id) : null);
      items.push(item('assignee', 'assignee', issue.assignee, name(issue.assignee), next.assignee, name(next.assignee)));
      if (typeName === 'issue_updated') typeName = 'issue_assigned';
    }
    if (next.priorityId !== undefined && next.priorityId !== issue.priorityId) {
      const name = (id: string) => this.priorities.find((p) => p.id === id)?.name ?? id;
      items.push(item('priority', 'priority', issue.priorityId, name(issue.priorityId), next.priorityId, name(next.priorityId)));
    }
    if (next.fixVersions !== undefined) {
      // Jira logs one "Fix Version" item per version added or removed.
      const name = (id: string) => this.versions.get(id)?.name ?? id;
      for (const id of issue.fixVersions.filter((v) => !next.fixVersions!.includes(v)))
        items.push(item('fixVersions', 'Fix Version', id, name(id), null, null));
      for (const id of next.fixVersions.filter((v) => !issue.fixVersions.includes(v)))
        items.push(item('fixVersions', 'Fix Version', null, null, id, name(id)));
    }
    const custom = next.custom;
    delete next.custom;
    for (const [id, value] of custom ?? []) {
      const def = this.customFields.get(id)!;
      const before = issue.custom.get(id);
      if (sameCustomValue(before, value)) continue;
      const from = customChangeStrings(def, before);
      const to = customChangeStrings(def, value);
      items.push({
        field: def.name,
        fieldtype: 'custom',
        fieldId: def.id,
        from: from.raw,
        fromString: from.text,
        to: to.raw,
        toString: to.text,
      });
      if (value === null) issue.custom.delete(id);
      else issue.custom.set(id, value);
    }
    if (next.statusId !== undefined && next.statusId !== issue.statusId) {
      items.push(
        item(
          'status',
          'status',
          issue.statusId,
          this.statuses.get(issue.statusId)?.name ?? null,
          next.statusId,
          this.statuses.get(next.statusId)?.name ?? null,
        ),
      );
    }
    Object.assign(issue, next);
    // Jira bumps `updated` on every successful edit, even one that changes nothing visible.
    issue.updated = this.timestamp();
    if (items.length) this.#emit({ kind: 'issue_updated', issueId: issue.id, actor, typeName, items });
    return issue;
  }

  #projectRef(ref: unknown): JiraProjectRec | undefined {
    const r = ref as { id?: unknown; key?: unknown } | undefined;
    if (!r || typeof r !== 'object') return undefined;
    if (r.id !== undefined) return this.projects.get(String(r.id));
    if (typeof r.key === 'string') return this.project(r.key);
    return undefined;
  }

  #issueTypeRef(project: JiraProjectRec, ref: unknown): JiraIssueType | undefined {
    const r = ref as { id?: unknown; name?: unknown } | undefined;
    if (!r || typeof r !== 'object') return undefined;
    if (r.id !== undefined) return project.issueTypes.find((t) => t.id === String(r.id));
    if (typeof r.name === 'string') return project.issueTypes.find((t) => t.name.toLowerCase() === String(r.name).toLowerCase());
    return undefined;
  }

  #validateFields(
    fields: IssueFieldsInput,
    errors: Record<string, string>,
  ): { description?: Adf | null; labels?: string[]; assignee?: string | null; priorityId?: string } {
    const out: { description?: Adf | null; labels?: string[]; assignee?: string | null; priorityId?: string } = {};
    if ('description' in fields) {
      // v3 takes ADF only; a plain string is what v2 took (trackers.md §4.5).
      if (fields.description === null) out.description = null;
      else if (!isAdf(fields.description)) errors.description = NOT_ADF;
      else out.description = fields.description as Adf;
    }
    if ('labels' in fields) {
      const labels = checkLabels(fields.labels, errors);
      if (labels) out.labels = labels;
    }
    if ('assignee' in fields) {
      const a = fields.assignee as { accountId?: unknown; id?: unknown } | null;
      if (a === null) out.assignee = null;
      else {
        const id = typeof a === 'object' ? (a.accountId ?? a.id) : undefined;
        if (typeof id !== 'string' || !this.users.has(id)) errors.assignee = `User '${String(id)}' does not exist.`;
        else out.assignee = id;
      }
    }
    if ('priority' in fields) {
      const p = fields.priority as { id?: unknown; name?: unknown } | null;
      const found =
        p && typeof p === 'object'
          ? p.id !== undefined
            ? this.priorities.find((x) => x.id === String(p.id))
            : this.priorities.find((x) => x.name === p.name)
          : undefined;
      if (!found)
        errors.priority =
          p && typeof p === 'object' && p.name !== undefined
            ? `Priority name '${String(p.name)}' is not valid`
            : 'The priority selected is invalid.';
      else out.priorityId = found.id;
    }
    return out;
  }

  #validateUpdate(
    update: unknown,
    fields: IssueFieldsInput,
    errors: Record<string, string>,
  ): Array<{ add: string[]; remove: string[]; set?: string[] }> {
    if (update === undefined || update === null) return [];
    if (typeof update !== 'object') {
      errors.update = 'update must be an object';
      return [];
    }
    const ops: Array<{ add: string[]; remove: string[]; set?: string[] }> = [];
    for (const [field, list] of Object.entries(update as Record<string, unknown>)) {
      if (field in fields) {
        // Jira: "fields included in here cannot be included in `fields`".
        errors[field] = `Field '${field}' cannot be set in both 'fields' and 'update'.`;
        continue;
      }
      if (field === 'fixVersions' || field.startsWith('customfield_')) continue; // #validateVersionUpdate, #validateCustom
      if (field !== 'labels') {
        errors[field] = `Field '${field}' cannot be set. It is not on the appropriate screen, or unknown.`;
        continue;
      }
      if (!Array.isArray(list)) {
        errors.labels = 'update.labels must be a list of operations';
        continue;
      }
      for (const op of list as Array<Record<string, unknown>>) {
        const one = { add: [] as string[], remove: [] as string[], set: undefined as string[] | undefined };
        for (const [verb, value] of Object.entries(op ?? {})) {
          if (verb === 'add' || verb === 'remove') {
            const l = checkLabels([value], errors);
            if (l) one[verb].push(...l);
          } else if (verb === 'set') {
            const l = checkLabels(value, errors);
            if (l) one.set = l;
          } else errors.labels = `Operation '${verb}' is not supported for labels.`;
        }
        ops.push(one);
      }
    }
    return ops;
  }

  /**
   * Custom field values in `fields` and operations in `update`, for an issue of the project that
   * holds `current`. A field outside the project's context, or unknown, is refused as Jira refuses
   * a field that is not on the screen; a wrong value is refused under the field's id.
   */
  #validateCustom(
    projectId: string,
    fields: IssueFieldsInput,
    update: unknown,
    current: ReadonlyMap<string, CustomValue>,
    errors: Record<string, string>,
  ): Map<string, CustomValue> {
    const out = new Map<string, CustomValue>();
    const ops = update && typeof update === 'object' ? (update as Record<string, unknown>) : {};
    const keys = [...Object.keys(fields), ...Object.keys(ops).filter((k) => !(k in fields))].filter((k) => k.startsWith('customfield_'));
    for (const id of keys) {
      const def = this.customFields.get(id);
      if (!def || !def.projectIds.has(projectId)) {
        errors[id] = `Field '${id}' cannot be set. It is not on the appropriate screen, or unknown.`;
        continue;
      }
      try {
        out.set(id, id in fields ? parseCustomValue(def, fields[id]) : applyCustomOperations(def, current.get(id), ops[id]));
      } catch (error) {
        if (!(error instanceof CustomFieldRefusal)) throw error;
        errors[id] = error.message;
      }
    }
    return out;
  }

  #validateProperties(properties: unknown, errors: Record<string, string>): Map<string, unknown> {
    const out = new Map<string, unknown>();
    if (properties === undefined) return out;
    if (!Array.isArray(properties)) {
      errors.properties = 'properties must be a list of {key, value}';
      return out;
    }
    for (const p of properties as Array<{ key?: unknown; value?: unknown }>) {
      if (typeof p?.key !== 'string' || p.key === '' || p.value === undefined) errors.properties = 'Each property needs a key and a value.';
      else out.set(p.key, p.value);
    }
    return out;
  }

  // ---------------------------------------------------------------- versions

  versionsOf(projectId: string): JiraVersionRec[] {
    return [...this.versions.values()].filter((v) => v.projectId === projectId);
  }

  /** POST /version: `name` and the project (`projectId`, or `project` as a key), unique per project. */
  createVersion(body: Record<string, unknown>): JiraVersionRec {
    const project =
      body.projectId !== undefined
        ? this.projects.get(String(body.projectId))
        : typeof body.project === 'string'
          ? this.project(body.project)
          : undefined;
    if (!project) throw new JiraApiError(400, errorCollection([], { project: 'Project must be specified to create a version.' }));
    if (typeof body.name !== 'string' || body.name.trim() === '')
      throw new JiraApiError(400, errorCollection([], { name: 'You must specify a valid version name' }));
    if (body.name.length > 255)
      throw new JiraApiError(400, errorCollection([], { name: 'The version name must not exceed 255 characters.' }));
    if (this.versionsOf(project.id).some((v) => v.name.toLowerCase() === String(body.name).toLowerCase())) {
      throw new JiraApiError(400, errorCollection([], { name: 'A version with this name already exists in this project.' }));
    }
    const version: JiraVersionRec = {
      id: String(this.#ids.version++),
      projectId: project.id,
      name: body.name,
      ...(typeof body.description === 'string' ? { description: body.description } : {}),
      released: body.released === true,
      archived: body.archived === true,
    };
    this.versions.set(version.id, version);
    return version;
  }

  /** A person releasing a version in Jira's UI (tests). */
  releaseVersion(id: string): void {
    const version = this.versions.get(id);
    if (!version) throw new Error(`no version ${id}`);
    version.released = true;
  }

  /** Version references (`{id}` or `{name}`) of one project; unknown ones are field errors. */
  #versionRefs(projectId: string, refs: unknown, errors: Record<string, string>): string[] | undefined {
    if (!Array.isArray(refs)) {
      errors.fixVersions = 'Fix Version/s must be a list of versions.';
      return undefined;
    }
    const out: string[] = [];
    for (const ref of refs as Array<{ id?: unknown; name?: unknown } | null>) {
      const found =
        ref && typeof ref === 'object'
          ? ref.id !== undefined
            ? this.versions.get(String(ref.id))
            : this.versionsOf(projectId).find((v) => v.name === ref.name)
          : undefined;
      if (!found || found.projectId !== projectId) {
        errors.fixVersions = `Version ${ref && typeof ref === 'object' ? JSON.stringify(ref.id ?? ref.name) : String(ref)} is not valid`;
        return undefined;
      }
      if (!out.includes(found.id)) out.push(found.id);
    }
    return out;
  }

  /** `update.fixVersions`: add / remove / set operations, each naming versions by id or name. */
  #validateVersionUpdate(
    projectId: string,
    update: unknown,
    errors: Record<string, string>,
  ): Array<{ add: string[]; remove: string[]; set?: string[] }> {
    const list = update && typeof update === 'object' ? (update as Record<string, unknown>).fixVersions : undefined;
    if (list === undefined) return [];
    if (!Array.isArray(list)) {
      errors.fixVersions = 'update.fixVersions must be a list of operations';
      return [];
    }
    const ops: Array<{ add: string[]; remove: string[]; set?: string[] }> = [];
    for (const op of list as Array<Record<string, unknown>>) {
      const one = { add: [] as string[], remove: [] as string[], set: undefined as string[] | undefined };
      for (const [verb, value] of Object.entries(op ?? {})) {
        if (verb === 'add' || verb === 'remove') one[verb].push(...(this.#versionRefs(projectId, [value], errors) ?? []));
        else if (verb === 'set') one.set = this.#versionRefs(projectId, value, errors);
        else errors.fixVersions = `Operation '${verb}' is not supported for fixVersions.`;
      }
      ops.push(one);
    }
    return ops;
  }

  // ---------------------------------------------------------------- JQL

  jqlSubject(issue: JiraIssueRec): JqlSubject {
    const project = this.projectOf(issue);
    const status = this.statusOf(issue);
    const type = project.issueTypes.find((t) => t.id === issue.issueTypeId)!;
    return {
      id: issue.id,
      key: issue.key,
      number: issue.number,
      projectKey: project.key,
      projectId: project.id,
      projectName: project.name,
      labels: issue.labels,
      statusId: status.id,
      statusName: status.name,
      issueTypeId: type.id,
      issueTypeName: type.name,
      assignee: issue.assignee,
      priorityName: this.priorities.find((p) => p.id === issue.priorityId)?.name ?? '',
      summary: issue.summary,
      created: issue.created,
      updated: issue.updated,
      property: (key) => issue.properties.get(key),
    };
  }
}

// ---------------------------------------------------------------- helpers

/**
 * The shape check Jira makes before storing ADF: a `doc` of version 1 whose nodes all have a
 * type, whose text nodes have non-empty text, and whose content, where present, is a list.
 */
export function isAdf(value: unknown): boolean {
  const doc = value as Adf | null;
  if (!doc || typeof doc !== 'object' || doc.type !== 'doc' || doc.version !== 1 || !Array.isArray(doc.content)) return false;
  const ok = (node: Adf): boolean => {
    if (!node || typeof node !== 'object' || typeof node.type !== 'string') return false;
    if (node.type === 'text' && (typeof node.text !== 'string' || node.text === '')) return false;
    if (node.content !== undefined && (!Array.isArray(node.content) || !node.content.every(ok))) return false;
    if (node.marks !== undefined && (!Array.isArray(node.marks) || !node.marks.every((m) => m && typeof m.type === 'string'))) return false;
    return true;
  };
  return doc.content.every(ok);
}

function checkLabels(value: unknown, errors: Record<string, string>): string[] | undefined {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    errors.labels = 'Labels must be a list of strings.';
    return undefined;
  }
  for (const l of value as string[]) {
    if (/\s/.test(l)) {
      errors.labels = `The label '${l}' contains spaces which is invalid.`;
      return undefined;
    }
    if (l.length > 255) {
      errors.labels = 'The label must not exceed 255 characters.';
      return undefined;
    }
  }
  return [...new Set(value as string[])];
}

function plain(doc: Adf | null | undefined): string | null {
  if (!doc) return null;
  const walk = (n: Adf): string => (n.type === 'text' ? (n.text ?? '') : (n.content ?? []).map(walk).join(n.type === 'doc' ? '\n' : ''));
  return walk(doc);
}
