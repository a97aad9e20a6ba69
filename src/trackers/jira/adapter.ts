import type { JiraConnectionConfig } from '../../config/schema.ts';
import { setDelta, type FieldName, type FieldValues } from '../../sync/fields.ts';
import type { HttpClient } from '../http-client.ts';
import {
  CreateRefusedError,
  createRequest,
  PartialUpdateError,
  REFUSAL_KINDS,
  RefusedFieldsError,
  TrackerError,
} from '../../sync/port/errors.ts';
import type { CallContext, CheckLine, OutgoingComment, PollPage, RemoteIssue, RemoteRef, TrackerAdapter } from '../../sync/port/tracker.ts';
import { JiraPullRequestLinks } from './pull-request-links.ts';
import { JiraApi, openWriteGate, type IssueWriteGate } from './api.ts';
import { JiraCatalog } from './catalog.ts';
import { JiraCustomFields, type CustomWrite, type FieldRefusal } from './custom-fields.ts';
import { walkTo, type WalkResult } from './transitions.ts';
import {
  commentToAdf,
  descriptionFor,
  isMarkerLabel,
  jqlQuote,
  laterCursor,
  markerLabel,
  pollJql,
  readCommentBody,
  summaryFor,
  toRemoteIssue,
  visibleLabels,
} from './transform.ts';
import { ISSUE_FIELDS, ITEM_PROPERTY, type JiraIssue, type JiraStatusRef } from './wire.ts';

/**
 * The state change could not be made, but every other changed field was written first. Thrown by
 * update() (and create()) after those writes, so one impossible transition never blocks the rest.
 * `partial` is the issue as Jira now has it: its actual status, and the other fields as written.
 * The engine is expected to record the message on the delivery and the mapping, take
 * `partial.fields` as the remote base for every pushed field but `state` (whose base stays as it
 * was), and open a conflict for `state` rather than retry: retrying repeats the same refusal.
 */
export class TransitionUnavailableError extends PartialUpdateError {
  constructor(
    message: string,
    partial: RemoteIssue,
    readonly transition: { from: string; to: string; taken: string[] },
  ) {
    super(message, partial, 'state');
    this.name = 'TransitionUnavailableError';
  }
}

const ISSUE_KEY = /^[A-Za-z][A-Za-z0-9_]*-\d+$/;
/** Jira account ids: 24 hex characters (older accounts) or `<digits>:<uuid>`. */
const ACCOUNT_ID = /^(?:[0-9a-f]{24}|\d+:[0-9a-f-]{36})$/i;
/** Page size for search/jql; Jira answers up to 5000 ids but fewer with fields, and 100 is safe. */
const PAGE_SIZE = 100;

type EditFields = {
  summary?: string;
  description?: ReturnType<typeof descriptionFor>;
  assignee?: { accountId: string } | null;
  priority?: { id: string };
};

/**
 * Jira's search (/rest/api/3/search/jql) is eventually consistent (docs/trackers.md 4.5: recent
 * updates "might not be immediately visible"); Atlassian's search-and-reconcile guide says "the
 * majority of modifications are shown within seconds", some operations take minutes, and
 * `reconcileIssues` needs the ids of the issues, which a lost create answer never gave. A retried
 * create waits this long after the last create call before trusting that the marker search found
 * nothing; an index lag beyond it can still let the retry make a second issue (README, Jira).
 */
const SEARCH_LAG_MS = 10_000;

/** A create request Jira answered with a refusal made nothing: say so to the engine. */
function refusedCreate(error: unknown): unknown {
  return error instanceof TrackerError && REFUSAL_KINDS.has(error.kind) ? new CreateRefusedError(error) : error;
}

export class JiraAdapter implements TrackerAdapter {
  readonly markerLookupLagMs = SEARCH_LAG_MS;
  readonly connectionId: string;
  readonly supportedFields: readonly FieldName[];
  readonly api: JiraApi;
  readonly catalog: JiraCatalog;
  /** The item's custom fields that field_map carries into Jira fields. */
  readonly customFields: JiraCustomFields;
  readonly pullRequestLinks: JiraPullRequestLinks;
  private readonly knownAccounts: Set<string>;

  constructor(
    private readonly config: JiraConnectionConfig,
    http: HttpClient,
    writeGate: IssueWriteGate = openWriteGate,
  ) {
    this.connectionId = config.id;
    this.api = new JiraApi(http, writeGate);
    this.catalog = new JiraCatalog(this.api, config.project_key, config.issue_type, JiraCustomFields.customEntries(config.field_map));
    this.customFields = new JiraCustomFields(this.catalog, config.field_map);
    // The milestone is a fix version of the project; custom fields are the ones field_map names.
    this.supportedFields = ['title', 'body', 'state', 'labels', 'assignees', 'priority', 'milestone', ...this.customFields.supported];
    this.pullRequestLinks = new JiraPullRequestLinks(this.api);
    this.knownAccounts = new Set(Object.values(config.user_map));
  }

  private get projectKey(): string {
    return this.config.project_key;
  }

  /**
   * The issue created for this item. Searched by the marker label, because JQL can search labels
   * but not entity properties unless an app indexed them (an API-token client cannot); the
   * `trackline` property set at create then confirms it (a person copying the label onto another
   * issue does not fool it). Where the property happens to be indexed, it is a second way in.
   * Caveat (docs/trackers.md 4.5): search results may lag a very recent write.
   */
  async findByItemKey(itemKey: string, ctx: CallContext): Promise<RemoteIssue | null> {
    const page = await this.api.search(
      {
        jql: `project = ${jqlQuote(this.projectKey)} AND labels = ${jqlQuote(markerLabel(itemKey))} ORDER BY created ASC`,
        fields: await this.readFields(ctx),
        properties: [ITEM_PROPERTY],
        maxResults: 10,
      },
      ctx.deliveryId,
    );
    const hits = page.issues.filter((i) => {
      const item = propertyItem(i);
      return item === undefined || item === itemKey;
    });
    if (hits.length > 1)
      ctx.warn?.(`${hits.length} Jira issues carry the marker of ${itemKey} (${hits.map((h) => h.key).join(', ')}); using the oldest`);
    if (hits.length) return this.toRemote(hits[0]);
    try {
      const byProperty = await this.api.search(
        {
          jql: `project = ${jqlQuote(this.projectKey)} AND issue.property[${ITEM_PROPERTY}].item = ${jqlQuote(itemKey)} ORDER BY created ASC`,
          fields: await this.readFields(ctx),
          maxResults: 1,
        },
        ctx.deliveryId,
      );
      return byProperty.issues[0] ? this.toRemote(byProperty.issues[0]) : null;
    } catch (error) {
      // Jira refuses JQL on an unindexed property (400): nothing more to find.
      if (error instanceof TrackerError && error.kind === 'client') return null;
      throw error;
    }
  }

  /**
   * Creates the issue with every field it can carry. A custom field Jira could not take (see
   * custom-fields.ts) and a released version are left out and reported once the issue exists
   * (throwRefusals).
   */
  async create(itemKey: string, fields: FieldValues, ctx: CallContext): Promise<RemoteIssue> {
    const edit = await this.editFields(fields, ctx);
    const labels = fields.labels ? checkLabels(fields.labels) : [];
    const type = await this.catalog.issueType(ctx);
    const version = fields.milestone ? await this.catalog.version(fields.milestone, ctx) : null;
    const custom = await this.customFields.write(fields, ctx);
    const refused: FieldRefusal[] = [...custom.refused];
    const createBody = (withCustom: boolean) => ({
      fields: {
        project: { key: this.projectKey },
        issuetype: { id: type.id },
        summary: summaryFor(fields.title ?? itemKey),
        ...(edit.description ? { description: edit.description } : {}),
        ...(edit.assignee ? { assignee: edit.assignee } : {}),
        ...(edit.priority ? { priority: edit.priority } : {}),
        ...(version && !version.released ? { fixVersions: [{ id: version.id }] } : {}),
        ...(withCustom ? custom.fields : {}),
        // The marker label goes in with the create itself: there is no moment when the issue
        // exists without it, so findByItemKey finds any issue a crashed attempt created.
        labels: [...labels, markerLabel(itemKey)],
      },
      properties: [{ key: ITEM_PROPERTY, value: { item: itemKey } }],
    });
    let created: { id: string; key: string };
    try {
      created = await createRequest(() => this.api.createIssue(createBody(true), ctx.deliveryId));
    } catch (error) {
      // As in update(): a refusal Jira alone could make, of the one custom field sent, leaves it out.
      const blamed = this.customFields.jiraRefusal(custom, error);
      if (!blamed) throw refusedCreate(error);
      refused.push(blamed);
      created = await createRequest(() => this.api.createIssue(createBody(false), ctx.deliveryId)).catch((retryError: unknown) => {
        throw refusedCreate(retryError);
      });
    }
    // Fields the create screen lacks go in an edit right after (the edit screen may have them).
    const afterCreate = Object.keys(custom.afterCreate).length
      ? await this.api.editIssue(created.id, { fields: custom.afterCreate }, ctx.deliveryId)
      : null;
    let issue = afterCreate ?? (await this.readIssue(created.id, ctx));
    if (fields.state !== undefined) issue = await this.moveOrThrow(issue, fields.state, ctx);
    this.throwRefusals(issue, refused, version?.released ? releasedMessage(version.name, this.projectKey) : null);
    return this.toRemote(issue);
  }

  /**
   * Writes the given fields in one PUT (labels and multi-value custom fields as add/remove
   * operations against `since`, so values a person adds meanwhile survive), then walks the
   * workflow to the state, if it changed. A state the workflow cannot reach throws
   * TransitionUnavailableError after the fields are written; custom fields Jira cannot take are
   * left out and reported after the rest is written (throwRefusals).
   */
  async update(ref: RemoteRef, changes: FieldValues, ctx: CallContext, since: FieldValues = {}): Promise<RemoteIssue> {
    // Everything that can be refused for config reasons is checked before anything is written.
    const edit = await this.editFields(changes, ctx);
    const targetLabels = changes.labels ? checkLabels(changes.labels) : undefined;
    // Custom fields: set whole, or (lists) as additions and removals against `since`, like labels.
    const custom = await this.customFields.write(changes, ctx, since);
    // Labels go as the additions and removals since what Trackline last saw (`since`), so a label
    // a person added in Jira meanwhile stays; only without it (a create being adopted) is the
    // issue read first to work them out.
    const readFirst = changes.state !== undefined || (targetLabels !== undefined && since.labels === undefined);
    let current: JiraIssue | null = null;

    const body: Record<string, unknown> = {};
    if (Object.keys(edit).length) body.fields = edit;
    if (Object.keys(custom.fields).length) body.fields = { ...(body.fields as object), ...custom.fields };
    if (Object.keys(custom.update).length) body.update = { ...custom.update };
    // The milestone is one fix version: the old one (as Trackline last saw it) goes, the new one
    // comes, and other versions a person set stay. A released version takes no new work: the
    // other fields are written, and the milestone is refused after them (held as a conflict).
    let refusedVersion: string | null = null;
    if (changes.milestone !== undefined) {
      const version = changes.milestone === null ? null : await this.catalog.version(changes.milestone, ctx);
      if (version?.released) refusedVersion = releasedMessage(version.name, this.projectKey);
      else if (since.milestone === undefined) {
        body.fields = { ...(body.fields as object), fixVersions: version ? [{ id: version.id }] : [] };
      } else {
        const ops: unknown[] = [];
        if (since.milestone) ops.push({ remove: { name: since.milestone } });
        if (version) ops.push({ add: { id: version.id } });
        if (ops.length) body.update = { ...(body.update as object), fixVersions: ops };
      }
    }
    const refused: FieldRefusal[] = [...custom.refused];
    if (readFirst) current = await this.readIssue(ref.id, ctx);
    if (targetLabels) {
      const have = since.labels ?? visibleLabels(current?.fields.labels ?? []);
      const delta = setDelta(have, targetLabels);
      const ops = [...delta.add.map((l) => ({ add: l })), ...delta.remove.map((l) => ({ remove: l }))];
      if (ops.length) body.update = { ...(body.update as object), labels: ops };
    }
    let issue = current;
    if (Object.keys(body).length) {
      try {
        issue = (await this.api.editIssue(ref.id, body, ctx.deliveryId)) ?? (await this.readIssue(ref.id, ctx));
      } catch (error) {
        // Jira refused a value Trackline could not check (its own validation): with one custom
        // field in the request, the rest is sent again without it and that field is refused.
        const blamed = this.customFields.jiraRefusal(custom, error);
        if (!blamed) throw error;
        refused.push(blamed);
        const rest = withoutCustom(body, custom);
        if (Object.keys(rest).length)
          issue = (await this.api.editIssue(ref.id, rest, ctx.deliveryId)) ?? (await this.readIssue(ref.id, ctx));
      }
    }
    issue ??= await this.readIssue(ref.id, ctx);
    if (changes.state !== undefined) issue = await this.moveOrThrow(issue, changes.state, ctx);
    this.throwRefusals(issue, refused, refusedVersion);
    return this.toRemote(issue);
  }

  async get(ref: RemoteRef, ctx: CallContext): Promise<RemoteIssue> {
    return this.toRemote(await this.readIssue(ref.id, ctx));
  }

  /** Accepts `ET-12`, a bare number `12` (in this project), an issue id, or a browse URL. */
  async resolveLink(link: string, ctx: CallContext): Promise<RemoteIssue> {
    let value = link.trim();
    const fromUrl = /\/browse\/([A-Za-z][A-Za-z0-9_]*-\d+)/.exec(value);
    if (fromUrl) value = fromUrl[1];
    let issue: JiraIssue;
    if (ISSUE_KEY.test(value)) {
      issue = await this.readIssue(value.toUpperCase(), ctx);
    } else if (/^\d+$/.test(value)) {
      try {
        issue = await this.readIssue(`${this.projectKey}-${value}`, ctx);
      } catch (error) {
        if (!(error instanceof TrackerError && error.kind === 'not_found')) throw error;
        issue = await this.readIssue(value, ctx);
      }
    } else {
      throw new TrackerError('config', `"${link}" is not a Jira issue key (like ${this.projectKey}-12), number or id`);
    }
    const project = issue.fields.project?.key ?? issue.key.split('-')[0];
    if (project.toUpperCase() !== this.projectKey.toUpperCase()) {
      throw new TrackerError(
        'config',
        `${issue.key} is in Jira project ${project}, but connection ${this.connectionId} syncs ${this.projectKey}`,
      );
    }
    return this.toRemote(issue);
  }

  /**
   * Posts a comment at most once. Jira keeps no external id on comments, so the comment carries
   * its Trackline id in its attribution line, and the newest comments are read first: a re-send
   * after a crash finds it there and posts nothing.
   */
  async addComment(ref: RemoteRef, comment: OutgoingComment, ctx: CallContext): Promise<void> {
    const recent = await this.api.recentComments(ref.id, ctx.deliveryId);
    if (recent.some((c) => readCommentBody(c.body).commentId === comment.id)) return;
    await this.api.addComment(ref.id, { body: commentToAdf(comment.body, comment.id, comment.actor) }, ctx.deliveryId);
  }

  /**
   * Issues changed since the cursor, oldest change first (ORDER BY updated ASC), so each page's
   * newest `updated` is a safe cursor to resume from. JQL compares dates at minute precision in
   * the API user's time zone; the window starts a minute before the cursor and the engine ignores
   * repeats (docs/trackers.md 4.5).
   */
  async *poll(cursor: string | null, ctx: CallContext): AsyncGenerator<PollPage> {
    const jql = pollJql(this.projectKey, cursor, await this.catalog.timeZone(ctx));
    let newest = cursor;
    let token: string | undefined;
    for (let page = 0; page < 10_000; page++) {
      const res = await this.api.search(
        { jql, fields: await this.readFields(ctx), maxResults: PAGE_SIZE, ...(token ? { nextPageToken: token } : {}) },
        ctx.deliveryId,
      );
      const issues = res.issues.map((i) => this.toRemote(i));
      for (const issue of issues) newest = laterCursor(newest, issue.updatedAt);
      yield { issues, cursor: newest ?? new Date(0).toISOString() };
      if (res.isLast !== false || !res.nextPageToken) return;
      token = res.nextPageToken;
    }
  }

  /** The catalog's lookups, loaded or refreshed in the background (the worker's warming). */
  warm(ctx: CallContext): Promise<void> {
    return this.catalog.warm(ctx);
  }

  async check(): Promise<CheckLine[]> {
    const ctx: CallContext = {};
    const lines: CheckLine[] = [];
    try {
      const me = await this.catalog.myself(ctx);
      lines.push({
        ok: true,
        message: `Connected to ${this.config.base_url} as ${me.displayName ?? me.accountId}${me.emailAddress ? ` (${me.emailAddress})` : ''}`,
      });
    } catch (error) {
      lines.push({
        ok: false,
        message: `Cannot sign in to ${this.config.base_url}: ${(error as Error).message}`,
        hint: hintFor(
          error,
          'check email and api_token (an API token from id.atlassian.com, not the account password) and base_url (https://<site>.atlassian.net)',
        ),
      });
      return lines;
    }
    let project;
    try {
      project = await this.catalog.project(ctx);
      lines.push({ ok: true, message: `Project ${project.key} (${project.name}) is reachable` });
    } catch (error) {
      lines.push({
        ok: false,
        message: `Cannot open project ${this.projectKey}: ${(error as Error).message}`,
        hint: hintFor(error, 'check project_key, and that the user has "Browse projects" in it'),
      });
      return lines;
    }
    try {
      const type = await this.catalog.issueType(ctx);
      lines.push({ ok: true, message: `Issue type "${type.name}" exists in ${project.key}` });
    } catch (error) {
      lines.push({ ok: false, message: (error as Error).message, hint: 'set issue_type to one of the project’s issue types' });
      return lines;
    }
    let statuses: JiraStatusRef[] = [];
    try {
      statuses = await this.catalog.statuses(ctx);
    } catch (error) {
      lines.push({
        ok: false,
        message: `Cannot read the statuses of ${project.key}: ${(error as Error).message}`,
        hint: hintFor(error, 'the user needs "Browse projects"'),
      });
    }
    if (statuses.length) {
      for (const [local, remote] of Object.entries(this.config.state_map)) {
        const found = statuses.some((s) => s.name.toLowerCase() === remote.toLowerCase());
        lines.push(
          found
            ? { ok: true, message: `State "${local}" maps to Jira status "${remote}"` }
            : {
                ok: false,
                message: `State "${local}" maps to "${remote}", which the ${this.config.issue_type} workflow of ${project.key} does not have (it has: ${statuses.map((s) => s.name).join(', ')})`,
                hint: 'fix [connections.state_map] or add the status to the Jira workflow',
              },
        );
      }
    }
    const workflow = await this.catalog.workflow(ctx).catch(() => null);
    lines.push(
      workflow
        ? { ok: true, message: `Workflow readable: a state change walks through intermediate statuses when no direct transition exists` }
        : {
            ok: false,
            message: 'Cannot read the workflow: only direct transitions will be used for state changes',
            hint: 'grant the user "View (read-only) workflow" (or "Administer projects") in the project',
          },
    );
    for (const [local, remote] of Object.entries(this.config.priority_map)) {
      try {
        await this.catalog.priorityId(remote, ctx);
        lines.push({ ok: true, message: `Priority "${local}" maps to Jira priority "${remote}"` });
      } catch (error) {
        lines.push({ ok: false, message: (error as Error).message, hint: 'fix [connections.priority_map]' });
      }
    }
    lines.push(...(await this.customFields.checkLines(ctx, this.config.field_map)));
    return lines;
  }

  // ---------------------------------------------------------------- internals

  /** The `fields` part of a create or edit, with names resolved; config errors before any write. */
  private async editFields(changes: FieldValues, ctx: CallContext): Promise<EditFields> {
    const out: EditFields = {};
    if (changes.title !== undefined) out.summary = summaryFor(changes.title);
    if (changes.body !== undefined) out.description = descriptionFor(changes.body);
    if (changes.assignees !== undefined) {
      const accounts = changes.assignees.filter((a) => {
        if (this.knownAccounts.has(a) || ACCOUNT_ID.test(a)) return true;
        ctx.warn?.(`assignee "${a}" has no Jira accountId in user_map; left out`);
        return false;
      });
      if (accounts.length > 1) ctx.warn?.(`Jira takes one assignee; ${accounts[0]} is assigned, ${accounts.slice(1).join(', ')} left out`);
      if (accounts.length) out.assignee = { accountId: accounts[0] };
      else if (changes.assignees.length === 0) out.assignee = null;
    }
    if (changes.priority !== undefined) {
      if (changes.priority === null) ctx.warn?.('Jira issues always have a priority; an empty priority leaves it as it is');
      else out.priority = { id: await this.catalog.priorityId(changes.priority, ctx) };
    }
    return out;
  }

  /** Walks the issue to `state`; the issue comes back with its actual status, or the error. */
  private async moveOrThrow(issue: JiraIssue, state: string, ctx: CallContext): Promise<JiraIssue> {
    const from = issue.fields.status;
    if (!from || from.name.toLowerCase() === state.toLowerCase()) return issue;
    const result: WalkResult = await walkTo(
      {
        transitions: () => this.api.transitions(issue.id, ctx.deliveryId),
        perform: (t) => this.api.doTransition(issue.id, t.id, ctx.deliveryId),
        workflow: (fresh) => this.catalog.workflow(ctx, fresh),
      },
      from,
      state,
    );
    // After a transition the issue is read again: post-functions may change other fields
    // (resolution, assignee) and `updated` moved, which the poll compares.
    const after = result.taken.length ? await this.readIssue(issue.id, ctx) : issue;
    if (!result.ok) {
      throw new TransitionUnavailableError(result.message, this.toRemote(after), {
        from: from.name,
        to: state,
        taken: result.taken.map((t) => t.name),
      });
    }
    return after;
  }

  /**
   * After the other fields are written: custom fields Jira could not take fail the delivery on
   * its first attempt, each named with why (RefusedFieldsError: not retried, nothing held, the
   * item's next change tries them again); a released version alone is held as a conflict
   * (PartialUpdateError), and with refused custom fields it is named among them.
   */
  private throwRefusals(issue: JiraIssue, refused: FieldRefusal[], releasedVersion: string | null): void {
    const milestone = releasedVersion ? [{ field: 'milestone' as const, message: releasedVersion }] : [];
    if (refused.length) throw new RefusedFieldsError(this.toRemote(issue), [...milestone, ...refused]);
    if (releasedVersion) throw new PartialUpdateError(releasedVersion, this.toRemote(issue), 'milestone');
  }

  /** What every read asks for: the fields Trackline syncs and the mapped custom fields. */
  private async readFields(ctx: CallContext): Promise<string[]> {
    return [...ISSUE_FIELDS, ...(await this.customFields.readIds(ctx))];
  }

  private async readIssue(idOrKey: string, ctx: CallContext): Promise<JiraIssue> {
    return this.api.getIssue(idOrKey, ctx.deliveryId, await this.customFields.readIds(ctx));
  }

  private toRemote(issue: JiraIssue): RemoteIssue {
    const remote = toRemoteIssue(issue, this.config.base_url);
    return this.customFields.any ? { ...remote, fields: { ...remote.fields, ...this.customFields.read(issue) } } : remote;
  }
}

/** Jira refuses labels with spaces (400); the engine's label is a config problem, said clearly. */
function checkLabels(labels: string[]): string[] {
  const bad = labels.filter((l) => /\s/.test(l) || l === '');
  if (bad.length) {
    throw new TrackerError(
      'config',
      `Jira labels cannot contain spaces: ${bad.map((l) => `"${l}"`).join(', ')}; map them in label_map (e.g. "${bad[0]}" = "${bad[0].trim().replace(/\s+/g, '-')}")`,
    );
  }
  const marker = labels.filter(isMarkerLabel);
  if (marker.length)
    throw new TrackerError('config', `labels starting with "trackline:" are reserved for Trackline's marker: ${marker.join(', ')}`);
  return [...new Set(labels)];
}

/** An edit request without its custom fields (Jira refused one of them). */
function withoutCustom(body: Record<string, unknown>, custom: CustomWrite): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const strip = (part: unknown, ids: string[]) => {
    const rest = Object.fromEntries(Object.entries((part ?? {}) as Record<string, unknown>).filter(([k]) => !ids.includes(k)));
    return Object.keys(rest).length ? rest : undefined;
  };
  const fields = strip(body.fields, Object.keys(custom.fields));
  const update = strip(body.update, Object.keys(custom.update));
  if (fields) out.fields = fields;
  if (update) out.update = update;
  return out;
}

function releasedMessage(version: string, project: string): string {
  return `Jira version "${version}" of ${project} is released: Trackline adds no work to a released version; the milestone is held as a conflict (unrelease the version in Jira, or resolve the conflict)`;
}

function propertyItem(issue: JiraIssue): string | undefined {
  const value = issue.properties?.[ITEM_PROPERTY] as { item?: unknown } | undefined;
  return typeof value?.item === 'string' ? value.item : undefined;
}

function hintFor(error: unknown, fallback: string): string {
  if (error instanceof TrackerError && (error.kind === 'network' || error.kind === 'timeout'))
    return 'check base_url and that Jira is reachable from here';
  return fallback;
}
