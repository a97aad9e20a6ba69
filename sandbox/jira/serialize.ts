// Jira's JSON shapes: what REST v3 renders for the stored objects.

import { statusJson, type SandboxTransition } from './workflow.ts';
import { JiraCommentRec, JiraIssueRec, JiraIssueType, JiraPriorityRec, JiraProjectRec, JiraVersionRec } from './model.ts';
import type { JiraStore } from './store.ts';
import { customFieldOperations, customFieldSchema, customValueJson, optionJson, type CustomFieldDef } from './custom-fields.ts';

/** Jira's timestamp format: `2026-05-01T10:00:00.000+0000`. */
export function jiraTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

export function userJson(store: JiraStore, accountId: string | null): Record<string, unknown> | null {
  if (!accountId) return null;
  const u = store.users.get(accountId);
  if (!u) return null;
  return {
    self: `${store.baseUrl}/rest/api/3/user?accountId=${u.accountId}`,
    accountId: u.accountId,
    emailAddress: u.emailAddress,
    avatarUrls: { '48x48': `${store.baseUrl}/avatar/${u.accountId}.png` },
    displayName: u.displayName,
    active: u.active,
    timeZone: u.timeZone,
    accountType: 'atlassian',
  };
}

export function projectRefJson(store: JiraStore, p: JiraProjectRec): Record<string, unknown> {
  return {
    self: `${store.baseUrl}/rest/api/3/project/${p.id}`,
    id: p.id,
    key: p.key,
    name: p.name,
    projectTypeKey: 'software',
    simplified: false,
  };
}

export function issueTypeJson(store: JiraStore, t: JiraIssueType): Record<string, unknown> {
  return {
    self: `${store.baseUrl}/rest/api/3/issuetype/${t.id}`,
    id: t.id,
    description: '',
    iconUrl: `${store.baseUrl}/images/icons/issuetypes/${t.name.toLowerCase()}.svg`,
    name: t.name,
    subtask: t.subtask,
    hierarchyLevel: 0,
  };
}

export function priorityJson(store: JiraStore, p: JiraPriorityRec): Record<string, unknown> {
  return {
    self: `${store.baseUrl}/rest/api/3/priority/${p.id}`,
    iconUrl: `${store.baseUrl}/images/icons/priorities/${p.name.toLowerCase()}.svg`,
    name: p.name,
    id: p.id,
  };
}

/** Every field Jira would return for `*all` (the ones the sandbox keeps). */
export function issueFieldsJson(store: JiraStore, issue: JiraIssueRec): Record<string, unknown> {
  const project = store.projectOf(issue);
  const type = project.issueTypes.find((t) => t.id === issue.issueTypeId)!;
  const priority = store.priorities.find((p) => p.id === issue.priorityId)!;
  return {
    summary: issue.summary,
    description: issue.description,
    status: statusJson(store.baseUrl, store.statusOf(issue)),
    labels: [...issue.labels],
    assignee: userJson(store, issue.assignee),
    reporter: userJson(store, issue.reporter),
    creator: userJson(store, issue.reporter),
    priority: priorityJson(store, priority),
    fixVersions: issue.fixVersions.map((id) => versionJson(store, store.versions.get(id)!)),
    issuetype: issueTypeJson(store, type),
    project: projectRefJson(store, project),
    created: jiraTime(issue.created),
    updated: jiraTime(issue.updated),
    statuscategorychangedate: jiraTime(issue.updated),
    // Jira lists every custom field of the issue's context, null where it has no value.
    ...Object.fromEntries(store.customFieldsOf(project.id).map((f) => [f.id, customValueJson(store.baseUrl, f, issue.custom.get(f.id))])),
  };
}

/** The system fields the sandbox keeps, as GET /field lists them: [id, name, schema, clause names]. */
const SYSTEM_FIELDS: Array<[string, string, Record<string, unknown>]> = [
  ['summary', 'Summary', { type: 'string', system: 'summary' }],
  ['description', 'Description', { type: 'string', system: 'description' }],
  ['status', 'Status', { type: 'status', system: 'status' }],
  ['labels', 'Labels', { type: 'array', items: 'string', system: 'labels' }],
  ['assignee', 'Assignee', { type: 'user', system: 'assignee' }],
  ['reporter', 'Reporter', { type: 'user', system: 'reporter' }],
  ['priority', 'Priority', { type: 'priority', system: 'priority' }],
  ['fixVersions', 'Fix versions', { type: 'array', items: 'version', system: 'fixVersions' }],
  ['issuetype', 'Issue Type', { type: 'issuetype', system: 'issuetype' }],
  ['project', 'Project', { type: 'project', system: 'project' }],
  ['created', 'Created', { type: 'datetime', system: 'created' }],
  ['updated', 'Updated', { type: 'datetime', system: 'updated' }],
];

/** FieldDetails for GET /rest/api/3/field: the system fields, then every custom field of the site. */
export function fieldListJson(store: JiraStore): Array<Record<string, unknown>> {
  const system = SYSTEM_FIELDS.map(([id, name, schema]) => ({
    id,
    key: id,
    name,
    custom: false,
    orderable: id !== 'status' && id !== 'created' && id !== 'updated',
    navigable: true,
    searchable: true,
    clauseNames: [id === 'fixVersions' ? 'fixVersion' : id],
    schema,
  }));
  const custom = [...store.customFields.values()].map((f) => ({
    id: f.id,
    key: f.id,
    name: f.name,
    custom: true,
    orderable: true,
    navigable: true,
    searchable: true,
    clauseNames: [`cf[${f.numericId}]`, f.name],
    schema: customFieldSchema(f),
  }));
  return [...system, ...custom];
}

/**
 * A field's metadata as createmeta and editmeta give it: its schema, the operations it takes and,
 * for select and multi-select fields, the options it allows (disabled ones left out).
 */
export function customFieldMetaJson(store: JiraStore, f: CustomFieldDef): Record<string, unknown> {
  return {
    required: false,
    schema: customFieldSchema(f),
    name: f.name,
    key: f.id,
    operations: customFieldOperations(f),
    ...(f.kind === 'select' || f.kind === 'multiselect'
      ? { allowedValues: f.options.filter((o) => !o.disabled).map((o) => optionJson(store.baseUrl, o)) }
      : {}),
    hasDefaultValue: false,
  };
}

/** Jira's Version bean as an issue's fixVersions and the versions routes show it. */
export function versionJson(store: JiraStore, v: JiraVersionRec): Record<string, unknown> {
  return {
    self: `${store.baseUrl}/rest/api/3/version/${v.id}`,
    id: v.id,
    ...(v.description !== undefined ? { description: v.description } : {}),
    name: v.name,
    archived: v.archived,
    released: v.released,
    projectId: Number(v.projectId),
  };
}

/**
 * IssueBean. `fields`: a set of names, `*all`/`*navigable`, `-name` exclusions; an empty list
 * means none (search/jql's default is `id` only). `properties`: keys to include.
 */
export function issueJson(
  store: JiraStore,
  issue: JiraIssueRec,
  opts: { fields?: string[]; properties?: string[] } = {},
): Record<string, unknown> {
  const all = issueFieldsJson(store, issue);
  const requested = (opts.fields ?? ['*all'])
    .flatMap((f) => f.split(','))
    .map((f) => f.trim())
    .filter(Boolean);
  const include = new Set<string>();
  const exclude = new Set<string>();
  for (const f of requested) {
    if (f === '*all' || f === '*navigable') Object.keys(all).forEach((k) => include.add(k));
    else if (f.startsWith('-')) exclude.add(f.slice(1));
    else include.add(f);
  }
  const fields: Record<string, unknown> = {};
  for (const k of Object.keys(all)) if (include.has(k) && !exclude.has(k)) fields[k] = all[k];
  const json: Record<string, unknown> = {
    expand: 'renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations',
    id: issue.id,
    self: `${store.baseUrl}/rest/api/3/issue/${issue.id}`,
    key: issue.key,
    fields,
  };
  const props = (opts.properties ?? [])
    .flatMap((p) => p.split(','))
    .map((p) => p.trim())
    .filter(Boolean);
  if (props.length) {
    json.properties = Object.fromEntries(props.filter((p) => issue.properties.has(p)).map((p) => [p, issue.properties.get(p)]));
  }
  return json;
}

export function commentJson(store: JiraStore, c: JiraCommentRec): Record<string, unknown> {
  const issue = store.issues.get(c.issueId);
  return {
    self: `${store.baseUrl}/rest/api/3/issue/${issue?.id ?? c.issueId}/comment/${c.id}`,
    id: c.id,
    author: userJson(store, c.author),
    body: c.body,
    updateAuthor: userJson(store, c.author),
    created: jiraTime(c.created),
    updated: jiraTime(c.updated),
    jsdPublic: true,
  };
}

export function transitionJson(store: JiraStore, t: SandboxTransition): Record<string, unknown> {
  return {
    id: t.id,
    name: t.name,
    to: statusJson(store.baseUrl, store.statuses.get(t.to)!),
    hasScreen: false,
    isGlobal: t.from === 'any',
    isInitial: false,
    isAvailable: true,
    isConditional: false,
    isLooped: false,
  };
}
