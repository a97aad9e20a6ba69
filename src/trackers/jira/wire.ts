/**
 * Jira Cloud REST v3 wire shapes (only the fields Trackline reads or sends). docs/trackers.md
 * section 4; field names as in the v3 OpenAPI description (shared/specs/jira-platform-v3).
 */

/** An Atlassian Document Format node (docs/trackers.md 4.5 "ADF minimal"). */
export interface AdfNode {
  type: string;
  attrs?: Record<string, unknown>;
  content?: AdfNode[];
  text?: string;
  marks?: AdfMark[];
}

export interface AdfMark {
  type: string;
  attrs?: Record<string, unknown>;
}

export interface AdfDoc extends AdfNode {
  type: 'doc';
  version: 1;
  content: AdfNode[];
}

export interface JiraUserRef {
  accountId: string;
  displayName?: string;
  emailAddress?: string;
  timeZone?: string;
  active?: boolean;
}

export interface JiraStatusRef {
  id: string;
  name: string;
  statusCategory?: { key?: string; name?: string };
}

export interface JiraIssueFields {
  /** Custom fields (`customfield_10042`) asked for by id; their shape depends on the field's type. */
  [customField: `customfield_${string}`]: unknown;
  summary?: string;
  description?: AdfDoc | null;
  status?: JiraStatusRef;
  labels?: string[];
  assignee?: JiraUserRef | null;
  priority?: { id: string; name: string } | null;
  /** The issue's fix versions (several are allowed); the item's milestone is one of them. */
  fixVersions?: JiraVersion[];
  updated?: string;
  created?: string;
  issuetype?: { id: string; name: string };
  project?: { id: string; key: string; name?: string };
}

/** IssueBean, as GET /issue/{id} and search/jql answer it. */
export interface JiraIssue {
  id: string;
  key: string;
  self?: string;
  fields: JiraIssueFields;
  /** Entity properties asked for with `properties=` (search/jql, GET issue). */
  properties?: Record<string, unknown>;
}

export interface JiraTransition {
  id: string;
  name: string;
  to: JiraStatusRef;
  isAvailable?: boolean;
  hasScreen?: boolean;
}

export interface JiraComment {
  id: string;
  body?: AdfDoc;
  author?: JiraUserRef;
  created?: string;
}

export interface JiraProject {
  id: string;
  key: string;
  name: string;
  issueTypes?: Array<{ id: string; name: string; subtask?: boolean }>;
}

/** GET /project/{key}/statuses: the statuses each issue type's workflow uses. */
export interface JiraIssueTypeStatuses {
  id: string;
  name: string;
  statuses: JiraStatusRef[];
}

/** A project version (GET /project/{key}/versions, POST /version). */
export interface JiraVersion {
  id: string;
  name: string;
  released?: boolean;
  archived?: boolean;
}

export interface JiraPriority {
  id: string;
  name: string;
}

/** search/jql answer: token pagination, no total (docs/trackers.md 4.5). */
export interface JiraSearchPage {
  issues: JiraIssue[];
  nextPageToken?: string | null;
  isLast?: boolean;
}

/** POST /workflows/preview answer (WorkflowPreviewResponse), the parts the path finder reads. */
export interface JiraWorkflowPreview {
  statuses: Array<{ id?: string; name: string; statusReference: string; statusCategory?: string }>;
  workflows: Array<{
    id?: string;
    name?: string;
    transitions: Array<{
      id: string;
      name: string;
      type?: 'INITIAL' | 'DIRECTED' | 'GLOBAL' | string;
      toStatusReference: string;
      links?: Array<{ fromStatusReference?: string }>;
    }>;
  }>;
}

/** A field's data schema (JsonTypeBean): `type` plus, for custom fields, its type URI and id. */
export interface JiraFieldSchema {
  type: string;
  /** For arrays: the type of the items (`option`, `string`, `user`...). */
  items?: string;
  /** A custom field's type URI, e.g. `com.atlassian.jira.plugin.system.customfieldtypes:select`. */
  custom?: string;
  customId?: number;
  system?: string;
}

/** FieldDetails, as GET /rest/api/3/field lists the site's system and custom fields. */
export interface JiraField {
  id: string;
  key?: string;
  name: string;
  custom?: boolean;
  schema?: JiraFieldSchema;
}

/** A select option as issues and createmeta's allowedValues show it. */
export interface JiraOption {
  id?: string;
  value?: string;
  /** Some option-like values (versions, components) carry a name instead. */
  name?: string;
}

/** FieldCreateMetadata: what a create of one issue type in one project may set. */
export interface JiraCreateMetaField {
  fieldId: string;
  key?: string;
  name: string;
  schema?: JiraFieldSchema;
  operations?: string[];
  allowedValues?: unknown[];
}

/** GET /issue/createmeta/{project}/issuetypes/{type}: a page of field metadata. */
export interface JiraCreateMetaPage {
  fields?: JiraCreateMetaField[];
  /** Older answers put the page here. */
  results?: JiraCreateMetaField[];
  startAt?: number;
  maxResults?: number;
  total?: number;
}

/** Jira's ErrorCollection: `{errorMessages: [...], errors: {field: message}}`. */
export interface JiraErrorCollection {
  errorMessages?: string[];
  errors?: Record<string, string>;
}

/** The entity property that records which item an issue carries. */
export const ITEM_PROPERTY = 'trackline';

/** Prefix of the label that marks issues Trackline created (searchable by JQL, see adapter). */
export const MARKER_LABEL_PREFIX = 'trackline:';

/** Fields every read asks for: what transform.ts maps, plus project and type for checks. */
export const ISSUE_FIELDS = [
  'summary',
  'description',
  'status',
  'labels',
  'assignee',
  'priority',
  'fixVersions',
  'updated',
  'issuetype',
  'project',
];
