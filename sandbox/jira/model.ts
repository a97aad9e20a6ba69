// Jira's objects as the sandbox keeps them (users, projects, issue types, priorities, issues,
// versions, comments), the change events the store emits, its error type and its seed inputs.

import { type SandboxWorkflow, type WorkflowInput } from './workflow.ts';
import type { CustomValue, SeedCustomField } from './custom-fields.ts';

/** An ADF node, as stored. */
export interface Adf {
  type: string;
  version?: number;
  content?: Adf[];
  text?: string;
  attrs?: Record<string, unknown>;
  marks?: Array<{ type: string; attrs?: Record<string, unknown> }>;
}

export interface JiraUser {
  accountId: string;
  displayName: string;
  emailAddress: string;
  timeZone: string;
  /** API token; people without one only act through the *AsPerson helpers. */
  apiToken?: string;
  /** "View (read-only) workflow": needed for POST /workflows/preview. */
  canReadWorkflow: boolean;
  active: boolean;
}

export interface JiraIssueType {
  id: string;
  name: string;
  subtask: boolean;
}

export interface JiraPriorityRec {
  id: string;
  name: string;
}

export interface JiraProjectRec {
  id: string;
  key: string;
  name: string;
  issueTypes: JiraIssueType[];
  workflow: SandboxWorkflow;
  lastNumber: number;
  lead: string;
}

export interface JiraIssueRec {
  id: string;
  key: string;
  number: number;
  projectId: string;
  issueTypeId: string;
  summary: string;
  description: Adf | null;
  statusId: string;
  labels: string[];
  assignee: string | null;
  priorityId: string;
  /** Fix version ids, in the order they were added. */
  fixVersions: string[];
  reporter: string;
  created: number;
  updated: number;
  properties: Map<string, unknown>;
  /** Custom field values by field id (`customfield_10042`); a field never set is absent. */
  custom: Map<string, CustomValue>;
}

/** A project version (Jira's Version bean): what an issue's fixVersions point at. */
export interface JiraVersionRec {
  id: string;
  projectId: string;
  name: string;
  description?: string;
  released: boolean;
  archived: boolean;
}

export interface JiraCommentRec {
  id: string;
  issueId: string;
  body: Adf;
  author: string;
  created: number;
  updated: number;
}

export interface ChangeItem {
  /** The field as Jira's history names it: `summary`, "Fix Version", a custom field's name. */
  field: string;
  fieldtype: 'jira' | 'custom';
  fieldId: string;
  from: string | null;
  fromString: string | null;
  to: string | null;
  toString: string | null;
}

export type JiraChangeEvent =
  | { kind: 'issue_created'; issueId: string; actor: string }
  | { kind: 'issue_updated'; issueId: string; actor: string; typeName: string; items: ChangeItem[] }
  | { kind: 'issue_deleted'; issueId: string; actor: string; snapshot: Record<string, unknown> }
  | { kind: 'comment_created'; issueId: string; commentId: string; actor: string };

/** A Jira REST error: status plus an ErrorCollection body (or Jira's plain-text 401). */
export class JiraApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: { errorMessages: string[]; errors: Record<string, string> } | string,
  ) {
    super(typeof body === 'string' ? body : [...body.errorMessages, ...Object.values(body.errors)].join('; '));
  }
}

export const errorCollection = (errorMessages: string[], errors: Record<string, string> = {}) => ({ errorMessages, errors });

export const DEFAULT_PRIORITIES = ['Highest', 'High', 'Medium', 'Low', 'Lowest'];

export interface SeedJiraUser {
  email: string;
  displayName?: string;
  /** Present for API users (basic auth `email:apiToken`). */
  apiToken?: string;
  timeZone?: string;
  accountId?: string;
  /** @defaultValue true */
  canReadWorkflow?: boolean;
}

export interface SeedJiraProjectInput {
  key: string;
  name?: string;
  users: SeedJiraUser[];
  /** @defaultValue ['Task', 'Bug', 'Story'] */
  issueTypes?: string[];
  /** @defaultValue DEFAULT_WORKFLOW (see workflow.ts) */
  workflow?: WorkflowInput;
  /**
   * Custom fields whose context takes in this project: a field of the same name the site has
   * already is shared (Jira's fields are site-wide), else it is created.
   * @defaultValue DEFAULT_CUSTOM_FIELDS (see custom-fields.ts)
   */
  customFields?: SeedCustomField[];
}

export interface SeededJiraProject {
  projectId: string;
  key: string;
  /** Email -> accountId. */
  users: Record<string, string>;
  /** Issue type name -> id. */
  issueTypes: Record<string, string>;
  /** Status name -> id. */
  statuses: Record<string, string>;
  /** Custom field name -> id (`customfield_10040`). */
  customFields: Record<string, string>;
}

export interface JiraStoreOptions {
  /** Clock in epoch ms; timestamps are made strictly increasing on top of it. */
  now?: () => number;
  /** The site URL used in `self` links. @defaultValue 'https://sandbox.atlassian.net' */
  baseUrl?: string;
  /** Property keys an app has indexed, so JQL can search them. @defaultValue none */
  indexedProperties?: string[];
  /**
   * How long a new issue stays out of search/jql results, unless named in `reconcileIssues`: Jira
   * Cloud's search is eventually consistent (most writes show within seconds, per Atlassian's
   * search-and-reconcile guide). @defaultValue 0 (searches see every issue at once)
   */
  searchLagMs?: number;
}

export interface IssueFieldsInput {
  summary?: unknown;
  description?: unknown;
  labels?: unknown;
  assignee?: unknown;
  priority?: unknown;
  issuetype?: unknown;
  project?: unknown;
  [k: string]: unknown;
}
