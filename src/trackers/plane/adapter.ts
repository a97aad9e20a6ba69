import type { PlaneConnectionConfig } from '../../config/schema.ts';
import { applySetDelta, customName, setDelta, type FieldName, type FieldValues } from '../../sync/fields.ts';
import type { HttpClient } from '../http-client.ts';
import { PartialUpdateError, TrackerError, createRequest } from '../../sync/port/errors.ts';
import type { CallContext, CheckLine, OutgoingComment, PollPage, RemoteIssue, RemoteRef, TrackerAdapter } from '../../sync/port/tracker.ts';
import { PlaneApi } from './api.ts';
import { PlaneCatalog } from './catalog.ts';
import { PlaneMilestones } from './milestones.ts';
import { PlanePullRequestLinks } from './pull-request-links.ts';
import { labelFields, labelsOfField, readLabelFields, type LabelField } from './label-fields.ts';
import { defaultWebUrl, issueToFields, issueWebUrl, markdownToHtml, planeIdentifier } from './transform.ts';
import { EXTERNAL_SOURCE, type PlaneIssue } from './wire.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class PlaneAdapter implements TrackerAdapter {
  readonly connectionId: string;
  // The milestone is a cycle or a module (milestone_as): see milestones.ts. Custom fields are
  // prefixed labels (field_map "label:<prefix>"): see label-fields.ts.
  readonly supportedFields: readonly FieldName[];
  private readonly labelFields: LabelField[];
  readonly pullRequestLinks: PlanePullRequestLinks;
  private readonly api: PlaneApi;
  private readonly catalog: PlaneCatalog;
  private readonly milestones: PlaneMilestones;
  private readonly webUrl: string;

  constructor(
    private readonly config: PlaneConnectionConfig,
    http: HttpClient,
  ) {
    this.connectionId = config.id;
    this.api = new PlaneApi(http, config.workspace, config.project);
    this.catalog = new PlaneCatalog(this.api);
    this.milestones = new PlaneMilestones(this.api, config.milestone_as);
    this.pullRequestLinks = new PlanePullRequestLinks(this.api);
    this.webUrl = config.web_url ?? defaultWebUrl(config.base_url);
    this.labelFields = labelFields(config.field_map);
    this.supportedFields = [
      'title',
      'body',
      'state',
      'labels',
      'assignees',
      'priority',
      'milestone',
      ...this.labelFields.map((m) => m.field),
    ];
  }

  async findByItemKey(itemKey: string, ctx: CallContext): Promise<RemoteIssue | null> {
    const issue = await this.api.findByExternalId(itemKey, EXTERNAL_SOURCE, ctx.deliveryId);
    return issue ? this.toRemote(issue, ctx) : null;
  }

  async create(itemKey: string, fields: FieldValues, ctx: CallContext): Promise<RemoteIssue> {
    const withFields = this.labelFields.some((m) => fields[m.field] !== undefined)
      ? {
          ...fields,
          labels: [...(fields.labels ?? []), ...this.labelFields.flatMap((m) => labelsOfField(m, fields[m.field], undefined, undefined))],
        }
      : fields;
    const body = {
      name: fields.title ?? itemKey,
      ...(await this.writeBody(withFields, ctx)),
      // The external pair is the duplicate guard: Plane refuses a second issue with it (409).
      external_id: itemKey,
      external_source: EXTERNAL_SOURCE,
    };
    const result = await createRequest(() => this.api.createIssue(body, ctx.deliveryId));
    if ('existingId' in result) {
      // Created before (a retry after a crash mid-create): adopt it and bring it up to date.
      return this.update({ id: result.existingId }, fields, ctx);
    }
    // Membership is not a work item field: joining the cycle (or module) is a call of its own. A
    // new work item is in none yet, so its membership is not read (milestones.ts, `move`).
    if (fields.milestone) return this.withMilestone(result.created, undefined, fields.milestone, ctx, true);
    return this.toRemote(result.created, ctx, null);
  }

  async update(ref: RemoteRef, changes: FieldValues, ctx: CallContext, since: FieldValues = {}): Promise<RemoteIssue> {
    const body = await this.writeBody(await this.withSetDeltas(ref, changes, since, ctx), ctx);
    if (changes.title !== undefined) body.name = changes.title;
    const issue = Object.keys(body).length
      ? await this.api.updateIssue(ref.id, body, ctx.deliveryId)
      : await this.api.getIssue(ref.id, ctx.deliveryId);
    if (changes.milestone !== undefined) return this.withMilestone(issue, since.milestone, changes.milestone, ctx);
    return this.toRemote(issue, ctx);
  }

  /**
   * Moves the work item to the milestone's cycle or module after its other fields are written. A
   * refusal (a completed cycle takes no new work items) keeps those writes: the milestone alone is
   * held as a conflict, with Plane's reason and the cycle's name.
   */
  private async withMilestone(
    issue: PlaneIssue,
    from: string | null | undefined,
    to: string | null,
    ctx: CallContext,
    created = false,
  ): Promise<RemoteIssue> {
    const { refused, milestone } = await this.milestones.move(issue, from, to, ctx, created);
    const remote = await this.toRemote(issue, ctx, milestone);
    if (refused) throw new PartialUpdateError(refused, remote, 'milestone');
    return remote;
  }

  async get(ref: RemoteRef, ctx: CallContext): Promise<RemoteIssue> {
    return this.toRemote(await this.api.getIssue(ref.id, ctx.deliveryId), ctx);
  }

  /** Accepts `ET-12`, a bare sequence number `12`, or the work item's uuid. */
  async resolveLink(link: string, ctx: CallContext): Promise<RemoteIssue> {
    const value = link.trim();
    if (UUID.test(value)) return this.get({ id: value }, ctx);
    const project = await this.catalog.getProject(ctx);
    const identifier = /^\d+$/.test(value) ? planeIdentifier(project.identifier, Number(value)) : value.toUpperCase();
    return this.toRemote(await this.api.getIssueByIdentifier(identifier, ctx.deliveryId), ctx);
  }

  async addComment(ref: RemoteRef, comment: OutgoingComment, ctx: CallContext): Promise<void> {
    const prefix = comment.actor ? `<p><em>${escapeHtml(comment.actor)}</em>:</p>` : '';
    await this.api.addComment(
      ref.id,
      {
        comment_html: prefix + markdownToHtml(comment.body),
        // A resend of the same comment answers 409 instead of posting it twice.
        external_id: `trackline-comment-${comment.id}`,
        external_source: EXTERNAL_SOURCE,
      },
      ctx.deliveryId,
    );
  }

  /**
   * Plane has no "updated since" filter: list by `-updated_at` and page until past the watermark
   * (docs/trackers.md 2.2). Pages arrive newest first, so the new watermark is only handed out
   * with the last page: a crash part-way re-polls from the old one instead of skipping changes.
   * Equal timestamps are kept (>=): the engine ignores what it has already seen.
   */
  async *poll(cursor: string | null, ctx: CallContext): AsyncGenerator<PollPage> {
    const since = cursor ? Date.parse(cursor) : Number.NEGATIVE_INFINITY;
    let newest = cursor ?? new Date(0).toISOString();
    let pageCursor: string | undefined;
    for (;;) {
      const page = await this.api.pageIssuesByUpdate(pageCursor, ctx.deliveryId);
      const fresh = page.results.filter((i) => Date.parse(i.updated_at ?? '') >= since);
      // Compared as instants: DRF drops a zero fraction, so "…:12Z" and "…:12.5Z" do not sort as text.
      for (const issue of fresh) if (issue.updated_at && Date.parse(issue.updated_at) > Date.parse(newest)) newest = issue.updated_at;
      const reachedOld = fresh.length < page.results.length || !page.next_page_results;
      const issues = await Promise.all(fresh.map((i) => this.toRemote(i, ctx)));
      if (reachedOld) {
        // A move between cycles leaves updated_at as it was, so the listing above cannot see it:
        // the work items whose membership moved are handed over too, without a timestamp so the
        // engine reads them whatever it saw last.
        const seen = new Set(issues.map((i) => i.id));
        const moved = (await this.milestones.movedSincePoll(ctx)).filter((id) => !seen.has(id));
        const extra = (
          await Promise.all(
            moved.map(async (id) => {
              try {
                return { ...(await this.get({ id }, ctx)), updatedAt: undefined };
              } catch (error) {
                // Deleted meanwhile: the id listing below notices it.
                if (error instanceof TrackerError && error.kind === 'not_found') return null;
                throw error;
              }
            }),
          )
        ).filter((i) => i !== null);
        yield { issues: [...issues, ...extra], cursor: newest };
        return;
      }
      yield { issues, cursor: cursor ?? new Date(0).toISOString() };
      pageCursor = page.next_cursor;
    }
  }

  /** Plane CE sends no webhook for deletes (docs/trackers.md 1.3): polling compares id lists. */
  async listIds(ctx: CallContext): Promise<Set<string>> {
    return new Set(await this.api.listIssueIds(ctx.deliveryId));
  }

  /** The catalog's lookups, loaded or refreshed in the background (the worker's warming). */
  async warm(ctx: CallContext): Promise<void> {
    await Promise.all([this.catalog.warm(ctx), this.milestones.warm(ctx)]);
  }

  async check(): Promise<CheckLine[]> {
    const ctx: CallContext = {};
    const lines: CheckLine[] = [];
    try {
      const project = await this.catalog.getProject(ctx);
      lines.push({ ok: true, message: `Connected to workspace ${this.config.workspace}, project ${project.name} (${project.identifier})` });
    } catch (error) {
      lines.push({
        ok: false,
        message: `Cannot reach project ${this.config.project} in workspace ${this.config.workspace}: ${(error as Error).message}`,
        hint: hintFor(error),
      });
      return lines;
    }
    for (const [local, remote] of Object.entries(this.config.state_map)) {
      try {
        await this.catalog.stateId(remote, ctx);
        lines.push({ ok: true, message: `State "${local}" maps to Plane state "${remote}"` });
      } catch (error) {
        lines.push({ ok: false, message: (error as Error).message, hint: 'fix [connections.state_map] or add the state in Plane' });
      }
    }
    for (const m of this.labelFields) {
      lines.push({
        ok: true,
        message: `Field "${customName(m.field)}" maps to labels "${m.prefix}<value>" (label prefixes are always available; missing labels are created)`,
      });
    }
    return lines;
  }

  /**
   * Plane's PATCH replaces a work item's labels and assignees whole, and its API has no add or
   * remove for them. So when one of them changes, the work item is read first and only
   * Trackline's additions and removals since `since` are applied to what it holds now: a label or
   * assignee a person added meanwhile stays (one read; the write is still one PATCH).
   */
  private async withSetDeltas(ref: RemoteRef, changes: FieldValues, since: FieldValues, ctx: CallContext): Promise<FieldValues> {
    const fields = (['labels', 'assignees'] as const).filter((f) => changes[f] !== undefined && since[f] !== undefined);
    // A label-mapped custom field is part of the work item's labels, which the PATCH replaces whole.
    const changedLabelFields = this.labelFields.filter((m) => changes[m.field] !== undefined);
    if (fields.length === 0 && changedLabelFields.length === 0) return changes;
    const current = await this.get(ref, ctx);
    const out = { ...changes };
    for (const f of fields) {
      const delta = setDelta(since[f]!, changes[f]!, foldCase);
      out[f] = applySetDelta(current.fields[f] ?? [], delta, foldCase);
    }
    if (changedLabelFields.length || (out.labels !== undefined && this.labelFields.length)) {
      // The whole label set: the plain labels (changed or as they are) and every mapped field's
      // labels (its new value, or what the work item holds).
      out.labels = [
        ...(out.labels ?? current.fields.labels ?? []),
        ...this.labelFields.flatMap((m) =>
          changes[m.field] !== undefined
            ? labelsOfField(m, changes[m.field], since[m.field], current.fields[m.field])
            : labelsOfField(m, current.fields[m.field], undefined, undefined),
        ),
      ];
    }
    for (const m of this.labelFields) delete out[m.field];
    return out;
  }

  /** The Plane body for the given fields: names resolved to ids through the catalog. */
  private async writeBody(fields: FieldValues, ctx: CallContext): Promise<Record<string, unknown>> {
    const body: Record<string, unknown> = {};
    if (fields.body !== undefined) body.description_html = markdownToHtml(fields.body);
    if (fields.state !== undefined) body.state = await this.catalog.stateId(fields.state, ctx);
    if (fields.labels !== undefined) body.labels = await this.catalog.labelIds(fields.labels, ctx);
    if (fields.assignees !== undefined) body.assignees = await this.catalog.memberIds(fields.assignees, ctx);
    if (fields.priority !== undefined) body.priority = normalizePriority(fields.priority);
    return body;
  }

  /** `known`: the work item's milestone when this process knows it already (it has just set it). */
  private async toRemote(issue: PlaneIssue, ctx: CallContext, known?: string | null): Promise<RemoteIssue> {
    const idOf = (v: string | { id: string }) => (typeof v === 'string' ? v : v.id);
    await this.catalog.ensureKnown(
      {
        states: issue.state ? [issue.state] : [],
        labels: (issue.labels ?? []).filter((l) => typeof l === 'string').map(idOf),
        members: (issue.assignees ?? []).map(idOf),
      },
      ctx,
    );
    const project = await this.catalog.getProject(ctx);
    const key = planeIdentifier(project.identifier, issue.sequence_id);
    const milestone = known !== undefined ? known : await this.milestones.milestoneOf(issue.id, ctx);
    const fields = issueToFields(issue, {
      stateName: (id) => this.catalog.stateNames.get(id),
      labelName: (id) => this.catalog.labelNames.get(id),
      memberName: (id) => this.catalog.memberNames.get(id),
    });
    // Labels with a mapped prefix are custom fields' values, not labels.
    const split = this.labelFields.length ? readLabelFields(fields.labels ?? [], this.labelFields) : null;
    return {
      id: issue.id,
      key,
      url: issueWebUrl(this.webUrl, this.config.workspace, key),
      fields: {
        ...fields,
        ...(split ? { labels: split.labels, ...split.fields } : {}),
        // Not in the work item's JSON: read from the cycle (or module) endpoints, cached.
        milestone,
      },
      updatedAt: issue.updated_at,
    };
  }
}

/** Plane finds labels and members by name case-insensitively (catalog.ts). */
const foldCase = (v: string) => v.toLowerCase();

const PRIORITIES = new Set(['urgent', 'high', 'medium', 'low', 'none']);

function normalizePriority(priority: string | null): string {
  if (priority === null) return 'none';
  const value = priority.toLowerCase();
  if (!PRIORITIES.has(value)) {
    throw new TrackerError(
      'config',
      `Plane has no priority "${priority}" (it has: urgent, high, medium, low, none); map it in priority_map`,
    );
  }
  return value;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function hintFor(error: unknown): string | undefined {
  if (error instanceof TrackerError && error.kind === 'auth')
    return 'check api_key: Plane answers 401 without a key and 403 for a wrong one';
  if (error instanceof TrackerError && error.kind === 'not_found')
    return 'check workspace (the slug in the URL) and project (the project uuid)';
  if (error instanceof TrackerError && (error.kind === 'network' || error.kind === 'timeout'))
    return 'check base_url and that Plane is reachable from here';
  return undefined;
}
