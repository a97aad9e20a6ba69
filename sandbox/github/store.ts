// The sandbox GitHub's data: users and tokens, repositories with issues (and pull requests, which
// share the issue numbers), labels, milestones, comments, and Projects v2 boards. Every write goes
// through here, from the REST routes, the GraphQL mutations or a test acting "as a person", and
// emits the change events the webhook sender turns into `issues` / `issue_comment` deliveries, one
// per action as GitHub sends them (a PATCH that swaps a label is an `unlabeled` and a `labeled`).

import { createHash, randomBytes } from 'node:crypto';

export interface GhUserRec {
  id: number;
  login: string;
  node_id: string;
  type: 'User' | 'Organization' | 'Bot';
}

export interface GhTokenRec {
  token: string;
  login: string;
  /** Classic token scopes (sent as x-oauth-scopes); null for a fine-grained token (no header). */
  scopes: string[] | null;
}

export interface GhLabelRec {
  id: number;
  node_id: string;
  name: string;
  color: string;
  description: string | null;
  default: boolean;
}

export interface GhMilestoneRec {
  id: number;
  node_id: string;
  number: number;
  title: string;
  description: string | null;
  state: 'open' | 'closed';
  creator: string;
  created_at: string;
  updated_at: string;
}

export interface GhRepoRec {
  id: number;
  node_id: string;
  owner: string;
  name: string;
  private: boolean;
  /** Logins with push access: they may set labels, assignees and milestones, and be assigned. */
  collaborators: Set<string>;
  labels: Map<string, GhLabelRec>;
  milestones: Map<number, GhMilestoneRec>;
  nextNumber: number;
  nextMilestone: number;
  created_at: string;
  /** Branch name -> commits it has that the default branch lacks (0: nothing to merge). */
  /** Branch name -> commits ahead of the default branch, and its head commit (a push changes it). */
  branches: Map<string, { ahead: number; sha?: string }>;
  default_branch: string;
}

export interface GhIssueRec {
  id: number;
  node_id: string;
  repo: string;
  number: number;
  title: string;
  body: string | null;
  state: 'open' | 'closed';
  state_reason: 'completed' | 'not_planned' | 'duplicate' | 'reopened' | null;
  /** Lower-cased label names (keys of the repository's label map). */
  labels: string[];
  assignees: string[];
  milestone: number | null;
  user: string;
  comments: number;
  created_at: string;
  updated_at: string;
  closed_at: string | null;
  locked: boolean;
  pull_request: boolean;
  /** Deleted issues answer 410 Gone. */
  deleted: boolean;
}

export interface GhCommentRec {
  id: number;
  node_id: string;
  issue: string;
  body: string;
  user: string;
  created_at: string;
  updated_at: string;
}

export type ProjectFieldType =
  | 'TEXT'
  | 'NUMBER'
  | 'DATE'
  | 'SINGLE_SELECT'
  | 'TITLE'
  | 'ASSIGNEES'
  | 'LABELS'
  | 'MILESTONE'
  | 'REPOSITORY'
  | 'ITERATION';

export interface GhProjectFieldRec {
  id: string;
  name: string;
  dataType: ProjectFieldType;
  options?: { id: string; name: string; color: string; description: string }[];
  /** An iteration field's iterations (GitHub: `configuration { iterations completedIterations }`). */
  iterations?: GhIterationRec[];
}

export interface GhIterationRec {
  id: string;
  title: string;
  /** YYYY-MM-DD. */
  startDate: string;
  /** Days. */
  duration: number;
  completed: boolean;
}

export interface GhProjectItemRec {
  id: string;
  project: string;
  /** node_id of the issue. */
  content: string;
  /** field id → value (option id for single select). */
  values: Map<string, string | number>;
  created_at: string;
  updated_at: string;
}

export interface GhProjectRec {
  id: string;
  owner: string;
  number: number;
  title: string;
  fields: GhProjectFieldRec[];
  items: Map<string, GhProjectItemRec>;
}

/** An issue or comment change, for the webhook sender. `issue` is the record after the change. */
export interface GhChangeEvent {
  event: 'issues' | 'issue_comment' | 'pull_request' | 'pull_request_review';
  /** pull_request_review: the review. */
  review?: { id: number; user: string; body: string | null; state: string; submitted_at: string };
  /** pull_request review_requested: the login asked. */
  requestedReviewer?: string;
  action: string;
  repo: string;
  issue: GhIssueRec;
  sender: string;
  label?: GhLabelRec;
  assignee?: string;
  milestone?: GhMilestoneRec;
  comment?: GhCommentRec;
  changes?: Record<string, { from: unknown }>;
}

export class GitHubApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
    readonly headers: Record<string, string> = {},
  ) {
    super(String(body.message ?? status));
  }
}

export const DOCS = 'https://docs.github.com/rest';

export function validationFailed(errors: Record<string, unknown>[], docs = `${DOCS}/issues/issues`): GitHubApiError {
  return new GitHubApiError(422, { message: 'Validation Failed', errors, documentation_url: docs, status: '422' });
}

export function notFound(): GitHubApiError {
  return new GitHubApiError(404, { message: 'Not Found', documentation_url: DOCS, status: '404' });
}

export interface SeedRepoInput {
  owner: string;
  repo: string;
  private?: boolean;
  /** @defaultValue 'User' */
  ownerType?: 'User' | 'Organization';
  /** API tokens; `scopes: null` makes a fine-grained token. @defaultValue none */
  tokens?: { token: string; login: string; scopes?: string[] | null }[];
  /** Logins with push access (token logins are added). */
  collaborators?: string[];
  labels?: Array<string | { name: string; color?: string }>;
  milestones?: string[];
}

export interface SeedProjectInput {
  owner: string;
  number: number;
  title?: string;
  /** Options of the Status field. @defaultValue ['Todo', 'In Progress', 'Done'] */
  statusOptions?: string[];
  /** More fields (Status is always there, as on GitHub). */
  fields?: SeedProjectField[];
}

/** A project field to seed: options for a single select, iteration titles for an iteration field. */
export interface SeedProjectField {
  name: string;
  dataType: 'TEXT' | 'NUMBER' | 'DATE' | 'SINGLE_SELECT' | 'ITERATION';
  options?: string[];
  /** Two-week iterations from 2026-01-05, in order; `completed` ones are in the past. */
  iterations?: { title: string; completed?: boolean }[];
}

/**
 * The custom fields of the sandbox's default board (`trackline sandbox`, the tests): the ones
 * README's field_map example names, a date and an iteration field.
 */
export const SANDBOX_PROJECT_FIELDS: SeedProjectField[] = [
  { name: 'Estimated Hours', dataType: 'NUMBER' },
  { name: 'Risk Level', dataType: 'SINGLE_SELECT', options: ['Low', 'Medium', 'High'] },
  { name: 'Blocked By', dataType: 'TEXT' },
  { name: 'Due', dataType: 'DATE' },
  {
    name: 'Sprint',
    dataType: 'ITERATION',
    iterations: [{ title: 'Sprint 0', completed: true }, { title: 'Sprint 1' }, { title: 'Sprint 2' }],
  },
];

export type IssuePatch = {
  title?: string;
  body?: string | null;
  state?: 'open' | 'closed';
  state_reason?: string | null;
  /** Replaces the set (names). */
  labels?: string[];
  assignees?: string[];
  /** Milestone number, or null to clear. */
  milestone?: number | null;
};

type Listener = (event: GhChangeEvent) => void;

/** GitHub's timestamps: ISO 8601, whole seconds, UTC. */
export function ghTime(ms = Date.now()): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function nodeId(prefix: string, ...parts: Array<string | number>): string {
  return `${prefix}_${createHash('sha1').update(parts.join(':')).digest('base64url').slice(0, 16)}`;
}

export class GitHubStore {
  readonly users = new Map<string, GhUserRec>();
  readonly tokens = new Map<string, GhTokenRec>();
  readonly repos = new Map<string, GhRepoRec>();
  /** Key `${repoKey}#${number}`. */
  readonly issues = new Map<string, GhIssueRec>();
  readonly comments = new Map<number, GhCommentRec>();
  readonly projects = new Map<string, GhProjectRec>();
  #nextId = 1000;
  #listeners = new Set<Listener>();

  id(): number {
    return this.#nextId++;
  }

  onChange(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** For the pull request routes (pulls.ts), which write through this store and emit their own events. */
  emitChange(event: GhChangeEvent): void {
    this.#emit(event);
  }

  #emit(event: GhChangeEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch {
        // A broken listener must not fail the write.
      }
    }
  }

  // ---------------------------------------------------------------- seeding and lookups

  user(login: string, type: GhUserRec['type'] = 'User'): GhUserRec {
    let user = this.users.get(login.toLowerCase());
    if (!user) {
      const id = this.id();
      user = { id, login, node_id: nodeId(type === 'Organization' ? 'O' : 'U', login), type };
      this.users.set(login.toLowerCase(), user);
    }
    return user;
  }

  addToken(token: string, login: string, scopes: string[] | null = ['repo', 'project']): void {
    this.user(login);
    this.tokens.set(token, { token, login, scopes });
  }

  seedRepo(input: SeedRepoInput): GhRepoRec {
    const ownerUser = this.user(input.owner, input.ownerType ?? 'User');
    if (input.ownerType) ownerUser.type = input.ownerType;
    const key = repoKey(input.owner, input.repo);
    const existing = this.repos.get(key);
    const repo: GhRepoRec = existing ?? {
      id: this.id(),
      node_id: nodeId('R', key),
      owner: ownerUser.login,
      name: input.repo,
      private: input.private ?? true,
      collaborators: new Set(),
      labels: new Map(),
      milestones: new Map(),
      nextNumber: 1,
      nextMilestone: 1,
      created_at: ghTime(),
      branches: new Map([['main', { ahead: 0 }]]),
      default_branch: 'main',
    };
    this.repos.set(key, repo);
    for (const t of input.tokens ?? []) {
      this.addToken(t.token, t.login, t.scopes === undefined ? ['repo', 'project'] : t.scopes);
      repo.collaborators.add(t.login.toLowerCase());
    }
    for (const login of input.collaborators ?? []) {
      this.user(login);
      repo.collaborators.add(login.toLowerCase());
    }
    for (const l of input.labels ?? []) {
      const spec = typeof l === 'string' ? { name: l } : l;
      if (!repo.labels.has(spec.name.toLowerCase())) this.createLabel(key, { name: spec.name, color: spec.color });
    }
    for (const title of input.milestones ?? []) this.createMilestone(key, { title }, input.owner);
    return repo;
  }

  repo(owner: string, name: string): GhRepoRec | undefined {
    return this.repos.get(repoKey(owner, name));
  }

  issue(repo: string, number: number): GhIssueRec | undefined {
    return this.issues.get(`${repo}#${number}`);
  }

  issuesOf(repo: string): GhIssueRec[] {
    return [...this.issues.values()].filter((i) => i.repo === repo);
  }

  issueByNodeId(nodeIdValue: string): GhIssueRec | undefined {
    for (const i of this.issues.values()) if (i.node_id === nodeIdValue && !i.deleted) return i;
    return undefined;
  }

  commentsOf(issue: GhIssueRec): GhCommentRec[] {
    const key = `${issue.repo}#${issue.number}`;
    return [...this.comments.values()].filter((c) => c.issue === key).sort((a, b) => a.id - b.id);
  }

  canPush(repo: GhRepoRec, login: string): boolean {
    return repo.collaborators.has(login.toLowerCase()) || repo.owner.toLowerCase() === login.toLowerCase();
  }

  // ---------------------------------------------------------------- labels and milestones

  createLabel(repoKeyValue: string, input: { name?: unknown; color?: unknown; description?: unknown }): GhLabelRec {
    const repo = this.repos.get(repoKeyValue)!;
    if (typeof input.name !== 'string' || !input.name.trim())
      throw validationFailed([{ resource: 'Label', code: 'missing_field', field: 'name' }], `${DOCS}/issues/labels`);
    if (repo.labels.has(input.name.toLowerCase()))
      throw validationFailed([{ resource: 'Label', code: 'already_exists', field: 'name' }], `${DOCS}/issues/labels`);
    const id = this.id();
    const label: GhLabelRec = {
      id,
      node_id: nodeId('LA', id),
      name: input.name,
      color: typeof input.color === 'string' ? input.color.replace(/^#/, '') : 'ededed',
      description: typeof input.description === 'string' ? input.description : null,
      default: false,
    };
    repo.labels.set(label.name.toLowerCase(), label);
    return label;
  }

  createMilestone(
    repoKeyValue: string,
    input: { title?: unknown; description?: unknown; state?: unknown },
    creator: string,
  ): GhMilestoneRec {
    const repo = this.repos.get(repoKeyValue)!;
    if (typeof input.title !== 'string' || !input.title)
      throw validationFailed([{ resource: 'Milestone', code: 'missing_field', field: 'title' }], `${DOCS}/issues/milestones`);
    if ([...repo.milestones.values()].some((m) => m.title === input.title)) {
      throw validationFailed([{ resource: 'Milestone', code: 'already_exists', field: 'title' }], `${DOCS}/issues/milestones`);
    }
    const now = ghTime();
    const id = this.id();
    const m: GhMilestoneRec = {
      id,
      node_id: nodeId('MI', id),
      number: repo.nextMilestone++,
      title: input.title,
      description: typeof input.description === 'string' ? input.description : null,
      state: input.state === 'closed' ? 'closed' : 'open',
      creator,
      created_at: now,
      updated_at: now,
    };
    repo.milestones.set(m.number, m);
    return m;
  }

  // ---------------------------------------------------------------- issues

  /**
   * Creates an issue as `actor`. Without push access, labels, assignees and milestone are dropped
   * silently, as GitHub does (trackers.md 3.4); with it, an unknown label is created (grey, as
   * GitHub does) and an unassignable login is a 422.
   */
  createIssue(repoKeyValue: string, input: Record<string, unknown>, actor: string, options: { pullRequest?: boolean } = {}): GhIssueRec {
    const repo = this.repos.get(repoKeyValue)!;
    if (typeof input.title !== 'string' && typeof input.title !== 'number')
      throw validationFailed([{ resource: 'Issue', code: 'missing_field', field: 'title' }]);
    const push = this.canPush(repo, actor);
    const now = ghTime();
    const id = this.id();
    const issue: GhIssueRec = {
      id,
      node_id: nodeId(options.pullRequest ? 'PR' : 'I', id),
      repo: repoKeyValue,
      number: repo.nextNumber++,
      title: String(input.title),
      body: typeof input.body === 'string' ? input.body : null,
      state: 'open',
      state_reason: null,
      labels: [],
      assignees: [],
      milestone: null,
      user: this.user(actor).login,
      comments: 0,
      created_at: now,
      updated_at: now,
      closed_at: null,
      locked: false,
      pull_request: Boolean(options.pullRequest),
      deleted: false,
    };
    if (push) {
      if (input.labels !== undefined) issue.labels = this.#labelKeys(repo, input.labels);
      if (input.assignees !== undefined) issue.assignees = this.#assignees(repo, input.assignees);
      if (input.milestone !== undefined && input.milestone !== null) issue.milestone = this.#milestone(repo, input.milestone);
    }
    this.issues.set(`${repoKeyValue}#${issue.number}`, issue);
    if (!issue.pull_request) this.#emit({ event: 'issues', action: 'opened', repo: repoKeyValue, issue, sender: actor });
    return issue;
  }

  updateIssue(repoKeyValue: string, number: number, input: Record<string, unknown>, actor: string): GhIssueRec {
    const repo = this.repos.get(repoKeyValue)!;
    const issue = this.issue(repoKeyValue, number);
    if (!issue) throw notFound();
    if (issue.deleted) throw new GitHubApiError(410, { message: 'This issue was deleted', documentation_url: DOCS, status: '410' });
    const push = this.canPush(repo, actor);
    const events: Omit<GhChangeEvent, 'issue' | 'repo' | 'sender' | 'event'>[] = [];
    const changes: Record<string, { from: unknown }> = {};

    if (input.title !== undefined && String(input.title) !== issue.title) {
      changes.title = { from: issue.title };
      issue.title = String(input.title);
    }
    if (input.body !== undefined && (input.body ?? null) !== issue.body) {
      changes.body = { from: issue.body ?? '' };
      issue.body = typeof input.body === 'string' ? input.body : null;
    }
    if (Object.keys(changes).length) events.push({ action: 'edited', changes });

    if (input.state !== undefined) {
      if (input.state !== 'open' && input.state !== 'closed') {
        throw validationFailed([{ resource: 'Issue', code: 'invalid', field: 'state', value: input.state }]);
      }
      if (input.state !== issue.state) {
        issue.state = input.state;
        // "state_reason … Ignored unless state is changed" (trackers.md 3.4).
        if (input.state === 'closed') {
          const reason = input.state_reason;
          issue.state_reason = reason === 'not_planned' || reason === 'duplicate' ? reason : 'completed';
          issue.closed_at = ghTime();
          events.push({ action: 'closed' });
        } else {
          issue.state_reason = 'reopened';
          issue.closed_at = null;
          events.push({ action: 'reopened' });
        }
      }
    }
    if (push && input.labels !== undefined) {
      const next = this.#labelKeys(repo, input.labels);
      for (const k of issue.labels.filter((k) => !next.includes(k))) events.push({ action: 'unlabeled', label: repo.labels.get(k) });
      for (const k of next.filter((k) => !issue.labels.includes(k))) events.push({ action: 'labeled', label: repo.labels.get(k) });
      issue.labels = next;
    }
    if (push && input.assignees !== undefined) {
      const next = this.#assignees(repo, input.assignees);
      for (const a of issue.assignees.filter((a) => !next.includes(a))) events.push({ action: 'unassigned', assignee: a });
      for (const a of next.filter((a) => !issue.assignees.includes(a))) events.push({ action: 'assigned', assignee: a });
      issue.assignees = next;
    }
    if (push && input.milestone !== undefined) {
      const next = input.milestone === null ? null : this.#milestone(repo, input.milestone);
      if (next !== issue.milestone) {
        const before = issue.milestone;
        issue.milestone = next;
        if (before !== null) events.push({ action: 'demilestoned', milestone: repo.milestones.get(before) });
        if (next !== null) events.push({ action: 'milestoned', milestone: repo.milestones.get(next) });
      }
    }
    if (events.length) issue.updated_at = ghTime();
    for (const e of events) if (!issue.pull_request) this.#emit({ event: 'issues', repo: repoKeyValue, issue, sender: actor, ...e });
    return issue;
  }

  deleteIssue(repoKeyValue: string, number: number, actor: string): void {
    const issue = this.issue(repoKeyValue, number);
    if (!issue || issue.deleted) throw notFound();
    issue.deleted = true;
    for (const p of this.projects.values()) for (const [id, item] of p.items) if (item.content === issue.node_id) p.items.delete(id);
    this.#emit({ event: 'issues', action: 'deleted', repo: repoKeyValue, issue, sender: actor });
  }

  createComment(repoKeyValue: string, number: number, body: unknown, actor: string): GhCommentRec {
    const issue = this.issue(repoKeyValue, number);
    if (!issue) throw notFound();
    if (issue.deleted) throw new GitHubApiError(410, { message: 'This issue was deleted', documentation_url: DOCS, status: '410' });
    if (typeof body !== 'string' || !body)
      throw validationFailed([{ resource: 'IssueComment', code: 'missing_field', field: 'body' }], `${DOCS}/issues/comments`);
    const now = ghTime();
    const id = this.id();
    const comment: GhCommentRec = {
      id,
      node_id: nodeId('IC', id),
      issue: `${repoKeyValue}#${number}`,
      body,
      user: this.user(actor).login,
      created_at: now,
      updated_at: now,
    };
    this.comments.set(id, comment);
    issue.comments += 1;
    issue.updated_at = now;
    this.#emit({ event: 'issue_comment', action: 'created', repo: repoKeyValue, issue, sender: actor, comment });
    return comment;
  }

  /** Label names to keys; unknown names become new labels (GitHub creates them, github/docs#35718). */
  #labelKeys(repo: GhRepoRec, value: unknown): string[] {
    if (!Array.isArray(value)) throw validationFailed([{ resource: 'Issue', code: 'invalid', field: 'labels' }]);
    const keys: string[] = [];
    for (const l of value) {
      const name = typeof l === 'string' ? l : (l as { name?: unknown })?.name;
      if (typeof name !== 'string' || !name) continue;
      const key = name.toLowerCase();
      if (!repo.labels.has(key)) this.createLabel(repoKey(repo.owner, repo.name), { name });
      if (!keys.includes(key)) keys.push(key);
    }
    return keys;
  }

  #assignees(repo: GhRepoRec, value: unknown): string[] {
    if (!Array.isArray(value)) throw validationFailed([{ resource: 'Issue', code: 'invalid', field: 'assignees' }]);
    const out: string[] = [];
    for (const a of value) {
      if (typeof a !== 'string' || !this.canPush(repo, a))
        throw validationFailed([{ value: a, resource: 'Issue', field: 'assignees', code: 'invalid' }]);
      const login = this.user(a).login;
      if (!out.includes(login)) out.push(login);
    }
    return out;
  }

  #milestone(repo: GhRepoRec, value: unknown): number {
    const n = Number(value);
    if (!Number.isInteger(n) || !repo.milestones.has(n))
      throw validationFailed([{ value, resource: 'Issue', field: 'milestone', code: 'invalid' }]);
    return n;
  }

  // ---------------------------------------------------------------- as a person (tests, demo)

  /**
   * Edits an issue the way a person does in the web UI, and fires the same webhooks. `labels`
   * replaces the set; `addLabels`/`removeLabels` change it; `milestone` is a title.
   */
  editAsPerson(
    owner: string,
    repo: string,
    number: number,
    patch: Omit<IssuePatch, 'milestone'> & { addLabels?: string[]; removeLabels?: string[]; milestone?: string | null },
    login = 'monalisa',
  ): GhIssueRec {
    const key = repoKey(owner, repo);
    const repoRec = this.repos.get(key);
    if (!repoRec) throw notFound();
    this.user(login);
    repoRec.collaborators.add(login.toLowerCase());
    const issue = this.issue(key, number);
    if (!issue) throw notFound();
    const input: Record<string, unknown> = { ...patch };
    delete input.addLabels;
    delete input.removeLabels;
    if (patch.addLabels || patch.removeLabels) {
      const names = new Map(issue.labels.map((k) => [k, repoRec.labels.get(k)!.name]));
      for (const n of patch.addLabels ?? []) names.set(n.toLowerCase(), n);
      for (const n of patch.removeLabels ?? []) names.delete(n.toLowerCase());
      input.labels = [...names.values()];
    }
    if (patch.milestone !== undefined) {
      input.milestone =
        patch.milestone === null
          ? null
          : (
              [...repoRec.milestones.values()].find((m) => m.title === patch.milestone) ??
              this.createMilestone(key, { title: patch.milestone }, login)
            ).number;
    }
    // The web UI saves CRLF line ends in bodies.
    if (typeof input.body === 'string') input.body = input.body.replace(/\r?\n/g, '\r\n');
    return this.updateIssue(key, number, input, login);
  }

  createAsPerson(owner: string, repo: string, input: { title: string; body?: string; labels?: string[] }, login = 'monalisa'): GhIssueRec {
    const key = repoKey(owner, repo);
    if (!this.repos.has(key)) throw notFound();
    this.user(login);
    this.repos.get(key)!.collaborators.add(login.toLowerCase());
    return this.createIssue(key, input, login);
  }

  createPullRequest(owner: string, repo: string, title: string, login = 'monalisa'): GhIssueRec {
    const key = repoKey(owner, repo);
    if (!this.repos.has(key)) throw notFound();
    return this.createIssue(key, { title }, this.user(login).login, { pullRequest: true });
  }

  commentAsPerson(owner: string, repo: string, number: number, body: string, login = 'monalisa'): GhCommentRec {
    return this.createComment(repoKey(owner, repo), number, body, this.user(login).login);
  }

  deleteAsPerson(owner: string, repo: string, number: number, login = 'monalisa'): void {
    this.deleteIssue(repoKey(owner, repo), number, this.user(login).login);
  }

  // ---------------------------------------------------------------- Projects v2

  seedProject(input: SeedProjectInput): GhProjectRec {
    const owner = this.user(input.owner);
    const id = nodeId('PVT', owner.login, input.number);
    const option = (name: string, i: number) => ({
      id: randomBytes(4).toString('hex'),
      name,
      color: ['GRAY', 'BLUE', 'GREEN', 'YELLOW', 'ORANGE', 'RED', 'PINK', 'PURPLE'][i % 8]!,
      description: '',
    });
    const iteration = (it: { title: string; completed?: boolean }, i: number): GhIterationRec => ({
      id: randomBytes(4).toString('hex'),
      title: it.title,
      startDate: new Date(Date.UTC(2026, 0, 5 + 14 * i)).toISOString().slice(0, 10),
      duration: 14,
      completed: it.completed ?? false,
    });
    const field = (
      name: string,
      dataType: ProjectFieldType,
      options?: string[],
      iterations?: { title: string; completed?: boolean }[],
    ): GhProjectFieldRec => ({
      id: nodeId(dataType === 'SINGLE_SELECT' ? 'PVTSSF' : dataType === 'ITERATION' ? 'PVTIF' : 'PVTF', id, name),
      name,
      dataType,
      ...(options ? { options: options.map(option) } : {}),
      ...(dataType === 'ITERATION' ? { iterations: (iterations ?? []).map(iteration) } : {}),
    });
    const project: GhProjectRec = {
      id,
      owner: owner.login,
      number: input.number,
      title: input.title ?? `Project ${input.number}`,
      fields: [
        field('Title', 'TITLE'),
        field('Assignees', 'ASSIGNEES'),
        field('Status', 'SINGLE_SELECT', input.statusOptions ?? ['Todo', 'In Progress', 'Done']),
        field('Labels', 'LABELS'),
        field('Milestone', 'MILESTONE'),
        field('Repository', 'REPOSITORY'),
        ...(input.fields ?? []).map((f) =>
          field(f.name, f.dataType, f.dataType === 'SINGLE_SELECT' ? (f.options ?? []) : undefined, f.iterations),
        ),
      ],
      items: new Map(),
    };
    this.projects.set(id, project);
    return project;
  }

  projectOf(owner: string, number: number): GhProjectRec | undefined {
    for (const p of this.projects.values()) if (p.owner.toLowerCase() === owner.toLowerCase() && p.number === number) return p;
    return undefined;
  }

  /** Adds an issue to a board; an issue already there answers its existing item (trackers.md 3.6). */
  addProjectItem(projectId: string, contentId: string): GhProjectItemRec {
    const project = this.projects.get(projectId);
    if (!project) throw new Error(`Could not resolve to a node with the global id of '${projectId}'`);
    if (!this.issueByNodeId(contentId)) throw new Error(`Could not resolve to a node with the global id of '${contentId}'`);
    for (const item of project.items.values()) if (item.content === contentId) return item;
    const now = ghTime();
    const item: GhProjectItemRec = {
      id: nodeId('PVTI', projectId, contentId),
      project: projectId,
      content: contentId,
      values: new Map(),
      created_at: now,
      updated_at: now,
    };
    project.items.set(item.id, item);
    return item;
  }

  projectItemsOf(issueNodeId: string): GhProjectItemRec[] {
    const out: GhProjectItemRec[] = [];
    for (const p of this.projects.values()) for (const item of p.items.values()) if (item.content === issueNodeId) out.push(item);
    return out;
  }

  /** The board's value of a field by name, as people read it (an option's name, an iteration's title). */
  itemValue(item: GhProjectItemRec, fieldName: string): string | number | undefined {
    const project = this.projects.get(item.project)!;
    const field = project.fields.find((f) => f.name === fieldName);
    if (!field) return undefined;
    const raw = item.values.get(field.id);
    if (raw === undefined) return undefined;
    if (field.dataType === 'SINGLE_SELECT') return field.options?.find((o) => o.id === raw)?.name;
    if (field.dataType === 'ITERATION') return field.iterations?.find((o) => o.id === raw)?.title;
    return raw;
  }

  /** The project item that carries an issue (by repository and number), if it is on a board. */
  projectItemOfIssue(owner: string, repo: string, number: number): GhProjectItemRec | undefined {
    const issue = this.issue(repoKey(owner, repo), number);
    return issue ? this.projectItemsOf(issue.node_id)[0] : undefined;
  }

  /**
   * A person edits a board value in GitHub's UI: by option name for single selects, by title for
   * iterations, null clears it. The item's updatedAt moves, as GitHub's does.
   */
  editProjectItemAsPerson(item: GhProjectItemRec, fieldName: string, value: string | number | null): void {
    const project = this.projects.get(item.project)!;
    const field = project.fields.find((f) => f.name === fieldName);
    if (!field) throw new Error(`project ${project.title} has no field ${fieldName}`);
    if (value === null) item.values.delete(field.id);
    else if (field.dataType === 'SINGLE_SELECT') {
      const option = field.options?.find((o) => o.name === value);
      if (!option) throw new Error(`${fieldName} has no option ${value}`);
      item.values.set(field.id, option.id);
    } else if (field.dataType === 'ITERATION') {
      const it = field.iterations?.find((o) => o.title === value);
      if (!it) throw new Error(`${fieldName} has no iteration ${value}`);
      item.values.set(field.id, it.id);
    } else item.values.set(field.id, value);
    item.updated_at = ghTime();
  }
}

export function repoKey(owner: string, repo: string): string {
  return `${owner}/${repo}`.toLowerCase();
}
