import type { GitHubConnectionConfig } from '../../config/schema.ts';
import { applySetDelta, setDelta, type FieldName, type FieldValues } from '../../sync/fields.ts';
import { PartialUpdateError, TrackerError, createRequest } from '../../sync/port/errors.ts';
import type { CallContext, CheckLine, OutgoingComment, PollPage, RemoteIssue, RemoteRef, TrackerAdapter } from '../../sync/port/tracker.ts';
import { GitHubApi } from './api.ts';
import { GitHubPullRequests } from './pull-requests.ts';
import { GitHubCatalog } from './catalog.ts';
import {
  CLOSED,
  CLOSED_NOT_PLANNED,
  StateModel,
  commentBody,
  composeLabels,
  hasCommentMarker,
  issueKey,
  issueToFields,
  itemKeyOf,
  itemMarker,
  labelNames,
  parseIssueRef,
  sameLabelSet,
  withItemMarker,
  type GitHubState,
} from './transform.ts';
import type { GitHubTransport } from './transport.ts';
import type { GhIssue } from './wire.ts';

/** Pages of the token's newest issues read before falling back to search (see findByItemKey). */
const RECENT_PAGES = 5;
/** How far back addComment looks for a comment already posted (a resend follows a crash closely). */
const COMMENT_LOOKBACK_MS = 24 * 3600_000;

export class GitHubAdapter implements TrackerAdapter {
  readonly connectionId: string;
  // GitHub issues have no priority field: see README "Field support".
  readonly supportedFields: readonly FieldName[] = ['title', 'body', 'state', 'labels', 'assignees', 'milestone'];
  readonly pullRequests: GitHubPullRequests;
  private readonly api: GitHubApi;
  private readonly catalog: GitHubCatalog;
  private readonly model: StateModel;

  constructor(
    private readonly config: GitHubConnectionConfig,
    private readonly transport: GitHubTransport,
  ) {
    this.connectionId = config.id;
    this.api = new GitHubApi(transport, config.owner, config.repo);
    this.pullRequests = new GitHubPullRequests(transport, config.owner, config.repo);
    this.catalog = new GitHubCatalog(this.api);
    this.model = new StateModel(config.state_map);
  }

  private get repoName(): string {
    return `${this.config.owner}/${this.config.repo}`;
  }

  /**
   * Finds the issue whose body carries the item's marker. Called only when a create may have
   * happened without being recorded, so it is rare, and it must not miss: a miss creates a second
   * issue. So it first lists the token's own issues, newest created first (`creator` = the token's
   * login, `sort=created&direction=desc`): that list is read from the database and strongly
   * consistent, and the issue of an interrupted create is at its top. Only when the first pages
   * hold no match does it ask the search API (repo-scoped, the marker as a phrase), which reaches
   * older issues but is eventually consistent and has a smaller budget. Either way the marker is
   * then checked exactly in the body, since search matches words, not strings.
   */
  async findByItemKey(itemKey: string, ctx: CallContext): Promise<RemoteIssue | null> {
    return this.transport.run(ctx, async () => {
      const marker = itemMarker(itemKey);
      const creator = await this.catalog.login();
      let url: string | undefined;
      for (let page = 0; page < RECENT_PAGES; page++) {
        const res = await this.api.pageIssues({ url, sort: 'created', direction: 'desc', creator });
        const hit = res.issues.find((i) => !i.pull_request && (i.body ?? '').includes(marker));
        if (hit) return this.toRemote(hit);
        if (!res.next) return null;
        url = res.next;
      }
      const found = await this.api.searchIssues(`repo:${this.repoName} "${marker.slice(5, -4)}" in:body is:issue`);
      const hit = found.find((i) => (i.body ?? '').includes(marker));
      return hit ? this.toRemote(hit) : null;
    });
  }

  async create(itemKey: string, fields: FieldValues, ctx: CallContext): Promise<RemoteIssue> {
    return this.transport.run(ctx, async () => {
      const state = fields.state !== undefined ? this.parseState(fields.state) : ({ open: true, label: null } as const);
      const labels = composeLabels(await this.catalog.spell(fields.labels ?? []), state.open ? state.label : null, this.model);
      const assignees = fields.assignees?.length ? await this.catalog.assignableOnly(fields.assignees, ctx) : [];
      const closed = fields.milestone ? await this.catalog.closedMilestone(fields.milestone) : false;
      const milestone = fields.milestone && !closed ? await this.catalog.milestoneNumber(fields.milestone, ctx) : undefined;
      let issue = await createRequest(() =>
        this.api.createIssue({
          title: fields.title ?? itemKey,
          body: withItemMarker(fields.body ?? '', itemKey),
          ...(labels.length ? { labels } : {}),
          ...(assignees.length ? { assignees } : {}),
          ...(milestone !== undefined ? { milestone } : {}),
        }),
      );
      await this.catalog.learnLabels(labels);
      // An issue is always created open; closing is a second write.
      if (!state.open) issue = await this.api.updateIssue(issue.number, { state: 'closed', state_reason: state.reason });
      this.warnDropped(issue, assignees, ctx);
      if (closed) throw new PartialUpdateError(closedMessage(fields.milestone!, this.repoName), this.toRemote(issue), 'milestone');
      return this.toRemote(issue);
    });
  }

  async update(ref: RemoteRef, changes: FieldValues, ctx: CallContext, since: FieldValues = {}): Promise<RemoteIssue> {
    return this.transport.run(ctx, async () => {
      const number = this.numberOf(ref);
      // The body keeps its marker, and a PATCH replaces the label and assignee sets whole, so they
      // need the issue as it is now (Trackline's additions and removals since `since` are applied
      // to it, keeping what a person added meanwhile); title and milestone alone do not.
      const assigneeDelta = changes.assignees !== undefined && since.assignees !== undefined;
      const current =
        changes.body !== undefined || changes.labels !== undefined || changes.state !== undefined || assigneeDelta
          ? await this.api.getIssue(number)
          : null;
      const patch: Parameters<GitHubApi['updateIssue']>[1] = {};
      if (changes.title !== undefined) patch.title = changes.title;
      if (changes.body !== undefined) {
        // An issue linked by a person (not created by Trackline) has no marker, and gets none.
        const key = itemKeyOf(current!.body);
        patch.body = key ? withItemMarker(changes.body, key) : changes.body;
      }
      if (changes.state !== undefined || changes.labels !== undefined) {
        const now = this.currentState(current!);
        const target = changes.state !== undefined ? this.parseState(changes.state) : now;
        const have = labelNames(current!.labels);
        const haveNonStatus = have.filter((n) => !this.model.isStatusLabel(n));
        const nonStatus =
          changes.labels === undefined
            ? haveNonStatus
            : await this.catalog.spell(
                since.labels === undefined
                  ? changes.labels
                  : applySetDelta(haveNonStatus, setDelta(since.labels, changes.labels, foldCase), foldCase),
              );
        const statusLabel = target.open && target.label ? (await this.catalog.spell([target.label]))[0]! : null;
        const labels = composeLabels(nonStatus, statusLabel, this.model);
        if (!sameLabelSet(labels, have)) patch.labels = labels;
        if (!target.open && (current!.state !== 'closed' || stateReason(current!) !== target.reason)) {
          // GitHub ignores state_reason unless the state changes (trackers.md 3.4), so a closed
          // issue's reason is only set on the way from open.
          patch.state = 'closed';
          patch.state_reason = target.reason;
        } else if (target.open && current!.state === 'closed') {
          patch.state = 'open';
          patch.state_reason = 'reopened';
        }
      }
      let assignees: string[] | undefined;
      if (changes.assignees !== undefined) {
        const logins = assigneeDelta
          ? applySetDelta(
              (current!.assignees ?? []).map((a) => a.login),
              setDelta(since.assignees!, changes.assignees, foldCase),
              foldCase,
            )
          : changes.assignees;
        patch.assignees = assignees = await this.catalog.assignableOnly(logins, ctx);
      }
      // Clearing sends null; a closed milestone takes no new issue (held as a conflict below).
      const closedMilestone = changes.milestone ? await this.catalog.closedMilestone(changes.milestone) : false;
      if (changes.milestone !== undefined && !closedMilestone)
        patch.milestone = changes.milestone ? await this.catalog.milestoneNumber(changes.milestone, ctx) : null;

      const refuse = (issue: GhIssue) =>
        new PartialUpdateError(closedMessage(changes.milestone!, this.repoName), this.toRemote(issue), 'milestone');
      if (Object.keys(patch).length === 0) {
        const now = current ?? (await this.api.getIssue(number));
        if (closedMilestone) throw refuse(now);
        return this.toRemote(now);
      }
      const issue = await this.api.updateIssue(number, patch);
      if (closedMilestone) {
        if (patch.labels) await this.catalog.learnLabels(patch.labels);
        throw refuse(issue);
      }
      if (patch.labels) await this.catalog.learnLabels(patch.labels);
      if (assignees) this.warnDropped(issue, assignees, ctx);
      return this.toRemote(issue);
    });
  }

  async get(ref: RemoteRef, ctx: CallContext): Promise<RemoteIssue> {
    return this.transport.run(ctx, async () => this.toRemote(await this.api.getIssue(this.numberOf(ref))));
  }

  /** Accepts `42`, `#42`, `owner/repo#42` or the issue's URL (of this connection's repository). */
  async resolveLink(link: string, ctx: CallContext): Promise<RemoteIssue> {
    const ref = parseIssueRef(link);
    if (!ref)
      throw new TrackerError('client', `"${link}" is not a GitHub issue reference (use 42, #42, ${this.repoName}#42 or the issue URL)`);
    if (ref.repo && ref.repo.toLowerCase() !== this.repoName.toLowerCase()) {
      throw new TrackerError('config', `"${link}" is an issue of ${ref.repo}, but connection ${this.connectionId} syncs ${this.repoName}`);
    }
    return this.get({ id: String(ref.number) }, ctx);
  }

  /**
   * GitHub has no duplicate guard for comments, so the comment's marker is looked for among the
   * issue's recent comments first: a resend after a crash is then a no-op.
   */
  async addComment(ref: RemoteRef, comment: OutgoingComment, ctx: CallContext): Promise<void> {
    await this.transport.run(ctx, async () => {
      const number = this.numberOf(ref);
      const recent = await this.api.listComments(
        number,
        new Date(Date.now() - COMMENT_LOOKBACK_MS).toISOString().replace(/\.\d{3}Z$/, 'Z'),
      );
      if (recent.some((c) => hasCommentMarker(c.body, comment.id))) return;
      await this.api.createComment(number, commentBody(comment.id, comment.body, comment.actor));
    });
  }

  /**
   * Issues changed since the cursor, oldest change first (`sort=updated&direction=asc&since=`,
   * trackers.md 3.4), pull requests left out. The cursor is JSON `{since, etag}`: `since` is the
   * newest `updated_at` processed, and `etag` is kept when the last poll's single page would be asked
   * again unchanged, so a quiet repository answers 304, which costs no primary budget (3.5).
   */
  async *poll(cursor: string | null, ctx: CallContext): AsyncGenerator<PollPage> {
    const start = parsePollCursor(cursor);
    // `since` has one-second precision and GitHub does not say whether it is inclusive: ask from a
    // second before, and let the engine drop what it has seen.
    const since = start.since ? new Date(Date.parse(start.since) - 1000).toISOString().replace(/\.\d{3}Z$/, 'Z') : undefined;
    let newest = start.since;
    let url: string | undefined;
    for (let page = 0; ; page++) {
      const res = await this.transport.run(ctx, () => this.api.pageIssues({ url, since, etag: page === 0 ? start.etag : undefined }));
      if (res.notModified) {
        yield { issues: [], cursor: pollCursor(start) };
        return;
      }
      for (const issue of res.issues) if (!newest || issue.updated_at > newest) newest = issue.updated_at;
      const issues = res.issues.filter((i) => !i.pull_request).map((i) => this.toRemote(i));
      const last = !res.next;
      // Pages run oldest change first, so once this page is processed everything up to `newest` is.
      const etag = last && page === 0 && newest === start.since ? (res.etag ?? undefined) : undefined;
      yield { issues, cursor: pollCursor({ since: newest, etag }) };
      if (last) return;
      url = res.next!;
    }
  }

  /** `closed` and `closed:not_planned` close the issue; `open` and status labels keep it open. */
  closesIssue(state: string): boolean {
    return state === CLOSED || state === CLOSED_NOT_PLANNED;
  }

  /** The catalog's lookups, loaded or refreshed in the background (the worker's warming). */
  warm(ctx: CallContext): Promise<void> {
    return this.transport.run(ctx, () => this.catalog.warm(ctx));
  }

  async check(): Promise<CheckLine[]> {
    const lines: CheckLine[] = [];
    const ctx: CallContext = {};
    await this.transport.run(ctx, async () => {
      try {
        const { user, scopes } = await this.api.me();
        lines.push({ ok: true, message: `Authenticated to GitHub as ${user.login}` });
        if (scopes === undefined) {
          lines.push({
            ok: true,
            message:
              'Token scopes: not listed (a fine-grained or GitHub App token has no x-oauth-scopes header); it needs Issues: read and write, and Metadata: read, on this repository',
          });
        } else {
          const granted = scopes
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
          const ok = granted.includes('repo') || granted.includes('public_repo');
          lines.push(
            ok
              ? { ok, message: `Token scopes: ${granted.join(', ')}` }
              : {
                  ok,
                  message: `Token scopes: ${granted.join(', ') || 'none'}; issues need "repo" (or "public_repo" for a public repository)`,
                  hint: 'create a token with the repo scope, or a fine-grained token with Issues: read and write',
                },
          );
        }
      } catch (error) {
        lines.push({ ok: false, message: `GitHub refused the token: ${(error as Error).message}`, hint: hintFor(error) });
        return;
      }
      try {
        const repo = await this.api.getRepo();
        const push = repo.permissions?.push;
        lines.push(
          push === false
            ? {
                ok: false,
                message: `Repository ${repo.full_name} is readable, but the token has no push access`,
                hint: 'GitHub silently drops labels, assignees and milestones from writes without push access; grant write access',
              }
            : { ok: true, message: `Connected to repository ${repo.full_name} (${repo.private ? 'private' : 'public'})` },
        );
      } catch (error) {
        lines.push({ ok: false, message: `Cannot reach repository ${this.repoName}: ${(error as Error).message}`, hint: hintFor(error) });
        return;
      }
      try {
        const labels = await this.catalog.labelNames(true);
        const wanted = [
          ...Object.entries(this.config.state_map)
            .filter(([, v]) => this.model.isStatusLabel(v))
            .map(([local, v]) => ({ label: v, why: `state_map.${local}` })),
          ...Object.entries(this.config.label_map).map(([local, v]) => ({ label: v, why: `label_map.${local}` })),
        ];
        for (const { label, why } of wanted) {
          lines.push(
            labels.has(label.toLowerCase())
              ? { ok: true, message: `Label "${label}" (${why}) exists` }
              : {
                  ok: false,
                  message: `Label "${label}" (${why}) does not exist in ${this.repoName}`,
                  hint: `create it under Issues → Labels (GitHub would otherwise create it grey on first use), or fix ${why}`,
                },
          );
        }
      } catch (error) {
        lines.push({ ok: false, message: `Cannot list labels of ${this.repoName}: ${(error as Error).message}`, hint: hintFor(error) });
      }
    });
    if (!this.config.webhook_secret && this.config.direction !== 'push') {
      lines.push({
        ok: true,
        message: `No webhook_secret: GitHub webhooks to /webhooks/${this.connectionId} are refused, changes arrive by polling (poll_interval ${this.config.poll_interval})`,
      });
    }
    return lines;
  }

  private parseState(value: string): GitHubState {
    const parsed = this.model.parse(value);
    if (!parsed) {
      const labels = this.model.statusLabels.length ? `, or a status label of state_map (${this.model.statusLabels.join(', ')})` : '';
      throw new TrackerError(
        'config',
        `GitHub has no state "${value}": a state_map value is closed, closed:not_planned, open${labels}; map it in state_map`,
      );
    }
    return parsed;
  }

  private currentState(issue: GhIssue): GitHubState {
    if (issue.state === 'closed') return { open: false, reason: stateReason(issue) };
    const value = this.model.read(issue);
    return { open: true, label: this.model.statusLabel(value) ?? null };
  }

  private numberOf(ref: RemoteRef): number {
    const n = Number(ref.id);
    if (!Number.isInteger(n) || n <= 0) throw new TrackerError('client', `"${ref.id}" is not a GitHub issue number`);
    return n;
  }

  /** GitHub drops assignees silently without push access (trackers.md 3.4): say so. */
  private warnDropped(issue: GhIssue, asked: string[], ctx: CallContext): void {
    const got = new Set((issue.assignees ?? []).map((a) => a.login.toLowerCase()));
    const dropped = asked.filter((a) => !got.has(a.toLowerCase()));
    if (dropped.length)
      ctx.warn?.(
        `GitHub dropped assignees ${dropped.join(', ')} on ${this.repoName}${issueKey(issue.number)} (the token needs push access)`,
      );
  }

  private toRemote(issue: GhIssue): RemoteIssue {
    return {
      id: String(issue.number),
      key: issueKey(issue.number),
      url: issue.html_url,
      fields: issueToFields(issue, this.model),
      updatedAt: issue.updated_at,
    };
  }
}

function closedMessage(title: string, repo: string): string {
  return `GitHub milestone "${title}" of ${repo} is closed: Trackline adds no issue to a closed milestone; the milestone is held as a conflict (reopen it on GitHub, or resolve the conflict)`;
}

/** GitHub compares label names and logins case-insensitively. */
const foldCase = (v: string) => v.toLowerCase();

function stateReason(issue: GhIssue): 'completed' | 'not_planned' {
  return issue.state_reason === 'not_planned' || issue.state_reason === 'duplicate' ? 'not_planned' : 'completed';
}

interface PollCursor {
  since?: string;
  etag?: string;
}

export function parsePollCursor(cursor: string | null): PollCursor {
  if (!cursor) return {};
  try {
    const parsed = JSON.parse(cursor) as PollCursor;
    return {
      since: typeof parsed.since === 'string' ? parsed.since : undefined,
      etag: typeof parsed.etag === 'string' ? parsed.etag : undefined,
    };
  } catch {
    // A bare timestamp (what a watermark usually is) still works as a cursor.
    return Number.isFinite(Date.parse(cursor)) ? { since: cursor } : {};
  }
}

function pollCursor(c: PollCursor): string {
  return JSON.stringify({ ...(c.since ? { since: c.since } : {}), ...(c.etag ? { etag: c.etag } : {}) });
}

function hintFor(error: unknown): string | undefined {
  if (!(error instanceof TrackerError)) return undefined;
  if (error.status === 401) return 'the token is invalid or expired: create a new one and set token';
  if (error.kind === 'auth')
    return 'the token lacks access: a classic token needs the repo scope; a fine-grained one needs this repository with Issues: read and write';
  if (error.kind === 'not_found') return 'check owner and repo; GitHub answers 404 for a private repository the token cannot see';
  if (error.kind === 'network' || error.kind === 'timeout') return 'check base_url and that GitHub is reachable from here';
  return undefined;
}
