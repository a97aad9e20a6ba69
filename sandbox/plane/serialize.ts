// Plane's JSON shapes: what each serializer of Plane's API renders for the stored objects.

import type { PlaneComment, PlaneIssue, PlaneLabel, PlaneMember, PlaneProject, PlaneState, SerializeOptions } from './model.ts';

/** What the renderers read of the store (the store itself: declared here so the two do not import each other). */
export interface StoreView {
  states: ReadonlyMap<string, PlaneState>;
  issues: ReadonlyMap<string, PlaneIssue>;
  projects: ReadonlyMap<string, PlaneProject>;
  members: ReadonlyMap<string, PlaneMember>;
  labels: ReadonlyMap<string, PlaneLabel>;
  issuesOf(projectId: string): PlaneIssue[];
}

/**
 * IssueSerializer output (api/serializers/issue.py): every model field except description_json and
 * description_stripped; labels and assignees as uuid lists unless expanded (labels expand to full
 * LabelSerializer objects, assignees to UserLite).
 */
export function issueToJson(store: StoreView, issue: PlaneIssue, options: SerializeOptions = {}): Record<string, unknown> {
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
      ? issue.assignees
          .map((id) => store.members.get(id))
          .filter(Boolean)
          .map((m) => memberToJson(m!))
      : [...issue.assignees],
    labels: expand.has('labels')
      ? issue.labels
          .map((id) => store.labels.get(id))
          .filter(Boolean)
          .map((l) => labelToJson(l!))
      : [...issue.labels],
  };
  return pick(json, options.fields);
}

/**
 * The webhook `data` shape (IssueExpandSerializer, trackers.md §1.3): state, labels and assignees
 * expanded, and description_stripped included. For the webhook sender that comes later.
 */
export function issueExpandToJson(store: StoreView, issue: PlaneIssue): Record<string, unknown> {
  const json = issueToJson(store, issue, { expand: ['state', 'labels', 'assignees'] });
  json.labels = issue.labels
    .map((id) => store.labels.get(id))
    .filter(Boolean)
    .map((l) => ({ id: l!.id, name: l!.name, color: l!.color }));
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

export function projectToJson(store: StoreView, p: PlaneProject): Record<string, unknown> {
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

/** Python's datetime.isoformat() for UTC with "Z": microseconds, dropped entirely when zero. */
export function formatIsoMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const base = new Date(ms).toISOString().slice(0, 19);
  const frac = Math.floor(micros % 1_000_000);
  return frac === 0 ? `${base}Z` : `${base}.${String(frac).padStart(6, '0')}Z`;
}

function pick(json: Record<string, unknown>, fields: string[] | undefined): Record<string, unknown> {
  if (!fields || fields.length === 0) return json;
  const out: Record<string, unknown> = {};
  for (const f of fields) if (f in json) out[f] = json[f];
  return out;
}
