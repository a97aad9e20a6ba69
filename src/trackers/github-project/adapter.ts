import type { GitHubProjectConnectionConfig } from '../../config/schema.ts';
import type { FieldName, FieldValues } from '../../sync/fields.ts';
import { TrackerError } from '../../sync/port/errors.ts';
import { itemMarker, parseIssueRef } from '../github/transform.ts';
import type { GitHubTransport } from '../github/transport.ts';
import type { CallContext, CheckLine, OutgoingComment, PollPage, RemoteIssue, RemoteRef, TrackerAdapter } from '../../sync/port/tracker.ts';
import { ProjectApi, type FieldValueInput, type ProjectField, type ProjectInfo } from './api.ts';
import { PROJECT_MAPPABLE, fieldInput, findField, findOption, itemToFields } from './transform.ts';

/**
 * A GitHub Projects v2 board, push only: each item's issue is put on the board and its Status
 * (and the fields of `field_map`) follow the item.
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
    this.supportedFields = ['state', ...PROJECT_MAPPABLE.filter((f) => f in config.field_map)];
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
      // Resolved before the item is added, so a missing option fails without touching the board.
      const writes = await this.resolveWrites(fields);
      const issue = await this.findIssue(itemKey, project, ctx);
      if (!issue) {
        throw new TrackerError(
          'not_ready',
          `no issue under ${this.config.owner} carries item "${itemKey}" yet; a github connection creates it (or link one: links = { "${this.connectionId}": "owner/repo#42" })`,
        );
      }
      const itemId = await this.api.addItem(writes.project.id, issue.node_id);
      await this.write(writes, itemId);
      return this.read(itemId);
    });
  }

  async update(ref: RemoteRef, changes: FieldValues, ctx: CallContext): Promise<RemoteIssue> {
    return this.transport.run(ctx, async () => {
      const writes = await this.resolveWrites(changes);
      await this.write(writes, ref.id);
      return this.read(ref.id);
    });
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
   * Push only: board changes are not read back. (GitHub sends `projects_v2_item` webhooks only to
   * organizations and apps, trackers.md 3.3, and a poll would cost a GraphQL query per page.)
   */
  async *poll(_cursor: string | null, _ctx: CallContext): AsyncGenerator<PollPage> {}

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
      for (const [local, name] of Object.entries(this.config.field_map)) {
        const field = findField(project.fields, name);
        if (!PROJECT_MAPPABLE.includes(local as FieldName)) {
          lines.push({
            ok: false,
            message: `field_map.${local}: only ${PROJECT_MAPPABLE.join(' and ')} can be mapped to project fields by this version`,
            hint: 'remove the entry',
          });
        } else if (!field) {
          lines.push({
            ok: false,
            message: `field_map.${local}: project "${project.title}" has no field "${name}"`,
            hint: 'fix field_map or add the field in the project',
          });
        } else {
          lines.push({ ok: true, message: `Field "${local}" maps to project field "${field.name}" (${field.dataType.toLowerCase()})` });
        }
      }
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

  private async resolveWrites(
    fields: FieldValues,
  ): Promise<{ project: ProjectInfo; writes: { field: ProjectField; value: FieldValueInput | null }[] }> {
    const wanted: { fieldName: string; value: string | null }[] = [];
    if (fields.state !== undefined) wanted.push({ fieldName: this.config.status_field, value: fields.state });
    for (const local of PROJECT_MAPPABLE) {
      const value = fields[local as 'priority' | 'milestone'];
      const fieldName = this.config.field_map[local];
      if (fieldName && value !== undefined) wanted.push({ fieldName, value });
    }
    let project = await this.loadProject();
    const resolve = (p: ProjectInfo) =>
      wanted.map(({ fieldName, value }) => {
        const field = findField(p.fields, fieldName);
        if (!field)
          throw new TrackerError(
            'config',
            `project "${p.title}" has no field "${fieldName}"; fix status_field or field_map, or add the field`,
          );
        return { field, value: value === null ? null : fieldInput(field, value, p.title) };
      });
    try {
      return { project, writes: resolve(project) };
    } catch (error) {
      if (!(error instanceof TrackerError) || error.kind !== 'config') throw error;
      // Someone may have added the field or option since the lookup: look once more.
      project = await this.loadProject(true);
      return { project, writes: resolve(project) };
    }
  }

  private async write(
    plan: { project: ProjectInfo; writes: { field: ProjectField; value: FieldValueInput | null }[] },
    itemId: string,
  ): Promise<void> {
    // "You cannot add and update an item in the same call" (trackers.md 3.6): one mutation each.
    for (const { field, value } of plan.writes) {
      if (value === null) await this.api.clearField(plan.project.id, itemId, field.id);
      else await this.api.setField(plan.project.id, itemId, field.id, value);
    }
  }

  private async read(itemId: string): Promise<RemoteIssue> {
    const item = await this.api.item(itemId);
    const key = item.issue ? `${item.issue.repo}#${item.issue.number}` : itemId;
    return {
      id: item.id,
      key,
      url: item.issue?.url ?? (await this.loadProject()).url,
      fields: itemToFields(item, this.config.status_field, this.config.field_map),
    };
  }
}
