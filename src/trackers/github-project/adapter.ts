import type { GitHubProjectConnectionConfig } from '../../config/schema.ts';
import type { FieldName, FieldValues } from '../../sync/fields.ts';
import { RefusedFieldsError, TrackerError } from '../../sync/port/errors.ts';
import { itemMarker, parseIssueRef } from '../github/transform.ts';
import type { GitHubTransport } from '../github/transport.ts';
import type { CallContext, CheckLine, OutgoingComment, PollPage, RemoteIssue, RemoteRef, TrackerAdapter } from '../../sync/port/tracker.ts';
import { ProjectApi, type FieldWrite, type ProjectInfo, type ProjectItemInfo } from './api.ts';
import { checkFieldMap } from './check-fields.ts';
import { findField, findOption, itemToFields, projectSupportedFields } from './transform.ts';
import { planFieldWrites, type FieldWritePlan } from './field-writes.ts';

/**
 * A GitHub Projects v2 board: each item's issue is put on the board and its Status and the fields
 * of `field_map` (priority, milestone, custom fields) follow the item; a person's change of them
 * on the board comes back through the poll (the board's items are read page by page).
 *
 * Which issue? The connection has no repository (DESIGN 4.2: owner, project_number, token,
 * status_field), and a board can hold issues of many repositories. The issue is the one a `github`
 * connection created for the same item: its body carries the item marker, and the issue search
 * (`"trackline:item=…" in:body is:issue user:OWNER`) finds it across the owner's repositories.
 * An item can also name its issue itself with `links: {"<this connection>": "owner/repo#42"}`.
 * Until the issue exists (both connections sync the item at the same time; search can lag a few
 * seconds) the create fails as `not_ready`, which is retried with backoff.
 */
export class GitHubProjectAdapter implements TrackerAdapter {
  readonly connectionId: string;
  readonly supportedFields: readonly FieldName[];
  private readonly api: ProjectApi;
  private project?: Promise<ProjectInfo>;

  constructor(
    private readonly config: GitHubProjectConnectionConfig,
    private readonly transport: GitHubTransport,
  ) {
    this.connectionId = config.id;
    this.api = new ProjectApi(transport, config.owner, config.project_number);
    this.supportedFields = projectSupportedFields(config.field_map);
  }

  /** Project id and fields, looked up once (and again when an option is missing: it may be new). */
  private loadProject(fresh = false): Promise<ProjectInfo> {
    if (fresh || !this.project) {
      const pending = this.api.project();
      pending.catch(() => {
        if (this.project === pending) this.project = undefined;
      });
      this.project = pending;
    }
    return this.project;
  }

  async findByItemKey(itemKey: string, ctx: CallContext): Promise<RemoteIssue | null> {
    return this.transport.run(ctx, async () => {
      const project = await this.loadProject();
      const issue = await this.findIssue(itemKey, project, ctx);
      if (!issue) return null;
      const item = (await this.api.itemsOfIssue(issue.node_id)).find((i) => i.projectId === project.id);
      return item ? this.read(item.id) : null;
    });
  }

  async create(itemKey: string, fields: FieldValues, ctx: CallContext): Promise<RemoteIssue> {
    return this.transport.run(ctx, async () => {
      const project = await this.loadProject();
      // Resolved before the item is added: what the board cannot take is known without a call.
      const writes = await this.resolveWrites(fields);
      const issue = await this.findIssue(itemKey, project, ctx);
      if (!issue) {
        throw new TrackerError(
          'not_ready',
          `no issue under ${this.config.owner} carries item "${itemKey}" yet; a github connection creates it (or link one: links = { "${this.connectionId}": "owner/repo#42" })`,
        );
      }
      // "You cannot add and update an item in the same call" (trackers.md 3.6): add, then one write.
      const itemId = await this.api.addItem(writes.project.id, issue.node_id);
      return this.write(writes, itemId);
    });
  }

  async update(ref: RemoteRef, changes: FieldValues, ctx: CallContext): Promise<RemoteIssue> {
    return this.transport.run(ctx, async () => this.write(await this.resolveWrites(changes), ref.id));
  }

  async get(ref: RemoteRef, ctx: CallContext): Promise<RemoteIssue> {
    return this.transport.run(ctx, () => this.read(ref.id));
  }

  /** Accepts `owner/repo#42`, the issue URL, or the issue's node id; adds it to the board. */
  async resolveLink(link: string, ctx: CallContext): Promise<RemoteIssue> {
    return this.transport.run(ctx, async () => {
      const project = await this.loadProject();
      const value = link.trim();
      let contentId: string;
      if (/^I_[A-Za-z0-9_-]+$/.test(value)) contentId = value;
      else {
        const ref = parseIssueRef(value);
        if (!ref?.repo)
          throw new TrackerError('client', `"${link}" does not name an issue with its repository (use owner/repo#42 or the issue URL)`);
        contentId = await this.api.issueNodeId(ref.repo, ref.number);
      }
      // Idempotent: an issue already on the board answers its existing item (trackers.md 3.6).
      return this.read(await this.api.addItem(project.id, contentId));
    });
  }

  /** Comments belong to the issue, which the github connection carries. */
  async addComment(_ref: RemoteRef, _comment: OutgoingComment, _ctx: CallContext): Promise<void> {}

  /**
   * The board's items changed since the cursor (their updatedAt), read 100 to a GraphQL query: the
   * API orders items only by position, so every page is read and the changed ones kept. GitHub
   * sends `projects_v2_item` webhooks only to organizations and apps (trackers.md 3.3), so the poll
   * is how a person's edit on the board comes back.
   */
  async *poll(cursor: string | null, ctx: CallContext): AsyncGenerator<PollPage> {
    const changed: RemoteIssue[] = [];
    let newest = cursor ?? '';
    await this.transport.run(ctx, async () => {
      const project = await this.loadProject();
      let after: string | null = null;
      do {
        const page: { items: ProjectItemInfo[]; next: string | null } = await this.api.items(project.id, after);
        for (const item of page.items) {
          const at = item.updatedAt ?? '';
          // >=: GitHub's times have seconds, and an edit in the second of the last poll is not lost
          // (the engine drops what it has already seen at that time).
          if (cursor && at < cursor) continue;
          changed.push(this.toRemote(item, project));
          if (at > newest) newest = at;
        }
        after = page.next;
      } while (after);
    });
    changed.sort((a, b) => (a.updatedAt ?? '').localeCompare(b.updatedAt ?? ''));
    yield { issues: changed, cursor: newest || (cursor ?? '') };
  }

  async check(): Promise<CheckLine[]> {
    const lines: CheckLine[] = [];
    await this.transport.run({}, async () => {
      try {
        const { login, scopes } = await this.api.viewer();
        lines.push({ ok: true, message: `Authenticated to GitHub as ${login}` });
        if (scopes === undefined) {
          lines.push({
            ok: true,
            message:
              'Token scopes: not listed (fine-grained or app token); it needs Projects: read and write for the owner, and read access to the issues',
          });
        } else {
          const granted = scopes
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
          const ok = granted.includes('project');
          lines.push(
            ok
              ? { ok, message: `Token scopes: ${granted.join(', ')}` }
              : {
                  ok,
                  message: `Token scopes: ${granted.join(', ') || 'none'}; changing a project needs "project" (read:project only reads)`,
                  hint: 'add the project scope to the token',
                },
          );
        }
      } catch (error) {
        lines.push({ ok: false, message: `GitHub refused the token: ${(error as Error).message}` });
        return;
      }
      let project: ProjectInfo;
      try {
        project = await this.loadProject(true);
        lines.push({
          ok: true,
          message: `Connected to project "${project.title}" (#${this.config.project_number} of ${this.config.owner})`,
        });
      } catch (error) {
        lines.push({
          ok: false,
          message: `Cannot reach project ${this.config.project_number} of ${this.config.owner}: ${(error as Error).message}`,
          hint: 'check owner and project_number (the number in the project URL) and that the token has the project scope',
        });
        return;
      }
      const status = findField(project.fields, this.config.status_field);
      if (!status || status.dataType !== 'SINGLE_SELECT') {
        lines.push({
          ok: false,
          message: `Project "${project.title}" has no single-select field "${this.config.status_field}"`,
          hint: 'set status_field to the name of the board’s status column field',
        });
      } else {
        for (const [local, option] of Object.entries(this.config.state_map)) {
          lines.push(
            findOption(status, option)
              ? { ok: true, message: `State "${local}" maps to ${status.name} "${option}"` }
              : {
                  ok: false,
                  message: `State "${local}" maps to "${option}", which is not an option of ${status.name} (${(status.options ?? []).map((o) => o.name).join(', ')})`,
                  hint: 'fix state_map or add the option in the project',
                },
          );
        }
      }
      lines.push(...checkFieldMap(project, this.config.field_map));
    });
    return lines;
  }

  /** Finds the issue carrying the item's marker; search matches words, so the marker is checked exactly. */
  private async findIssue(itemKey: string, project: ProjectInfo, ctx: CallContext) {
    const marker = itemMarker(itemKey);
    const found = (await this.api.searchIssues(marker.slice(5, -4), project.ownerType)).filter(
      (i) => !i.pull_request && (i.body ?? '').includes(marker),
    );
    if (found.length > 1) {
      // Two github connections carrying one item: the first issue made goes on the board.
      found.sort((a, b) => a.id - b.id);
      ctx.warn?.(
        `${found.length} issues carry item "${itemKey}" (${found.map((i) => i.html_url).join(', ')}); the oldest goes on the board`,
      );
    }
    return found[0] ?? null;
  }

  /**
   * The writes for these changes, resolved against the project's fields (looked up once, and once
   * more when a field or option is missing: someone may have just added it).
   */
  private async resolveWrites(fields: FieldValues): Promise<FieldWritePlan> {
    let project = await this.loadProject();
    let plan = planFieldWrites(project, fields, this.config.status_field, this.config.field_map);
    if (plan.refused.length) {
      project = await this.loadProject(true);
      plan = planFieldWrites(project, fields, this.config.status_field, this.config.field_map);
    }
    return plan;
  }

  /**
   * Every write in one request (its answer is the item as it then is); the fields the board cannot
   * take fail the delivery by name once the others are written.
   */
  private async write(plan: FieldWritePlan, itemId: string): Promise<RemoteIssue> {
    const writes: FieldWrite[] = plan.writes.map((w) => ({ fieldId: w.field.id, value: w.value }));
    const item = writes.length ? await this.api.setFields(plan.project.id, itemId, writes) : await this.api.item(itemId);
    const remote = this.toRemote(item, plan.project);
    if (plan.refused.length) throw new RefusedFieldsError(remote, plan.refused);
    return remote;
  }

  private toRemote(item: ProjectItemInfo, project: ProjectInfo): RemoteIssue {
    const key = item.issue ? `${item.issue.repo}#${item.issue.number}` : item.id;
    return {
      id: item.id,
      key,
      url: item.issue?.url ?? project.url,
      fields: itemToFields(item, this.config.status_field, this.config.field_map),
      updatedAt: item.updatedAt,
    };
  }

  private async read(itemId: string): Promise<RemoteIssue> {
    const [item, project] = await Promise.all([this.api.item(itemId), this.loadProject()]);
    return this.toRemote(item, project);
  }
}
