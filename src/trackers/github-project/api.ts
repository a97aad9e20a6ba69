import { TrackerError } from '../../sync/port/errors.ts';
import type { GitHubTransport } from '../github/transport.ts';
import type { GhIssue, GhSearchResult } from '../github/wire.ts';

/**
 * The GitHub Projects v2 calls Trackline makes (docs/trackers.md 3.6), all GraphQL (`POST
 * /graphql`) through the token's shared transport, plus the REST issue search that finds an item's
 * issue by its marker.
 */

export type ProjectFieldType = 'TEXT' | 'NUMBER' | 'DATE' | 'SINGLE_SELECT' | string;

export interface ProjectField {
  id: string;
  name: string;
  dataType: ProjectFieldType;
  options?: { id: string; name: string }[];
}

export interface ProjectInfo {
  id: string;
  title: string;
  url: string;
  ownerType: 'Organization' | 'User' | string;
  fields: ProjectField[];
}

export interface ProjectItemInfo {
  id: string;
  projectId: string;
  issue: { number: number; url: string; repo: string } | null;
  /** Field name → value (single-select option name, text, number or date). */
  values: Map<string, string | number>;
}

const PROJECT_QUERY = /* GraphQL */ `
  query TracklineProject($owner: String!, $number: Int!) {
    repositoryOwner(login: $owner) {
      __typename
      ... on ProjectV2Owner {
        projectV2(number: $number) {
          id
          title
          url
          fields(first: 100) {
            nodes {
              __typename
              ... on ProjectV2FieldCommon { id name dataType }
              ... on ProjectV2SingleSelectField { options { id name } }
            }
          }
        }
      }
    }
  }`;

const FIELD_COMMON = '... on ProjectV2FieldCommon { name }';
const ITEM_QUERY = /* GraphQL */ `
  query TracklineProjectItem($id: ID!) {
    node(id: $id) {
      __typename
      ... on ProjectV2Item {
        id
        project { id }
        content {
          __typename
          ... on Issue { number url repository { nameWithOwner } }
        }
        fieldValues(first: 50) {
          nodes {
            __typename
            ... on ProjectV2ItemFieldSingleSelectValue { name field { ${FIELD_COMMON} } }
            ... on ProjectV2ItemFieldTextValue { text field { ${FIELD_COMMON} } }
            ... on ProjectV2ItemFieldNumberValue { number field { ${FIELD_COMMON} } }
            ... on ProjectV2ItemFieldDateValue { date field { ${FIELD_COMMON} } }
          }
        }
      }
    }
  }`;

const ISSUE_ITEMS_QUERY = /* GraphQL */ `
  query TracklineIssueItems($id: ID!) {
    node(id: $id) {
      ... on Issue { projectItems(first: 50) { nodes { id project { id } } } }
    }
  }`;

const ISSUE_BY_NUMBER_QUERY = /* GraphQL */ `
  query TracklineIssueByNumber($owner: String!, $name: String!, $number: Int!) {
    repository(owner: $owner, name: $name) { issue(number: $number) { id } }
  }`;

const VIEWER_QUERY = /* GraphQL */ `
  query TracklineViewer { viewer { login } }`;

// "If you try to add an item that already exists, the existing item ID is returned instead."
const ADD_ITEM = /* GraphQL */ `
  mutation TracklineAddItem($projectId: ID!, $contentId: ID!) {
    addProjectV2ItemById(input: { projectId: $projectId, contentId: $contentId }) { item { id } }
  }`;

const SET_FIELD = /* GraphQL */ `
  mutation TracklineSetField($projectId: ID!, $itemId: ID!, $fieldId: ID!, $value: ProjectV2FieldValue!) {
    updateProjectV2ItemFieldValue(input: { projectId: $projectId, itemId: $itemId, fieldId: $fieldId, value: $value }) {
      projectV2Item { id }
    }
  }`;

const CLEAR_FIELD = /* GraphQL */ `
  mutation TracklineClearField($projectId: ID!, $itemId: ID!, $fieldId: ID!) {
    clearProjectV2ItemFieldValue(input: { projectId: $projectId, itemId: $itemId, fieldId: $fieldId }) {
      projectV2Item { id }
    }
  }`;

export type FieldValueInput = { text: string } | { number: number } | { date: string } | { singleSelectOptionId: string };

interface RawFieldValue {
  __typename?: string;
  name?: string | null;
  text?: string | null;
  number?: number | null;
  date?: string | null;
  field?: { name?: string } | null;
}

export class ProjectApi {
  constructor(
    private readonly transport: GitHubTransport,
    readonly owner: string,
    readonly number: number,
  ) {}

  async viewer(): Promise<{ login: string; scopes: string | undefined }> {
    const { data, headers } = await this.transport.graphql<{ viewer: { login: string } }>(VIEWER_QUERY, {});
    return { login: data.viewer.login, scopes: headers['x-oauth-scopes'] };
  }

  async project(): Promise<ProjectInfo> {
    type Raw = {
      repositoryOwner: {
        __typename: string;
        projectV2?: { id: string; title: string; url: string; fields: { nodes: Array<ProjectField | null> } } | null;
      } | null;
    };
    const { data } = await this.transport.graphql<Raw>(PROJECT_QUERY, { owner: this.owner, number: this.number });
    const project = data.repositoryOwner?.projectV2;
    if (!data.repositoryOwner || !project)
      throw new TrackerError('not_found', `${this.owner} has no project number ${this.number} the token can see`);
    return {
      id: project.id,
      title: project.title,
      url: project.url,
      ownerType: data.repositoryOwner.__typename,
      fields: project.fields.nodes.filter((f): f is ProjectField => Boolean(f?.id)),
    };
  }

  async item(id: string): Promise<ProjectItemInfo> {
    type Raw = {
      node: {
        __typename: string;
        id: string;
        project: { id: string };
        content: { __typename: string; number?: number; url?: string; repository?: { nameWithOwner: string } } | null;
        fieldValues: { nodes: Array<RawFieldValue | null> };
      } | null;
    };
    const { data } = await this.transport.graphql<Raw>(ITEM_QUERY, { id });
    const node = data.node;
    if (!node || node.__typename !== 'ProjectV2Item') throw new TrackerError('not_found', `no project item ${id}`);
    const values = new Map<string, string | number>();
    for (const v of node.fieldValues.nodes) {
      const field = v?.field?.name;
      if (!v || !field) continue;
      const value = v.name ?? v.text ?? v.number ?? v.date;
      if (value !== null && value !== undefined) values.set(field, value);
    }
    const c = node.content;
    return {
      id: node.id,
      projectId: node.project.id,
      issue:
        c && c.__typename === 'Issue' && c.number ? { number: c.number, url: c.url ?? '', repo: c.repository?.nameWithOwner ?? '' } : null,
      values,
    };
  }

  async itemsOfIssue(issueNodeId: string): Promise<{ id: string; projectId: string }[]> {
    type Raw = { node: { projectItems?: { nodes: Array<{ id: string; project: { id: string } } | null> } } | null };
    const { data } = await this.transport.graphql<Raw>(ISSUE_ITEMS_QUERY, { id: issueNodeId });
    return (data.node?.projectItems?.nodes ?? [])
      .filter((n): n is { id: string; project: { id: string } } => Boolean(n))
      .map((n) => ({ id: n.id, projectId: n.project.id }));
  }

  async issueNodeId(repo: string, number: number): Promise<string> {
    const [owner, name] = repo.split('/');
    type Raw = { repository: { issue: { id: string } | null } | null };
    const { data } = await this.transport.graphql<Raw>(ISSUE_BY_NUMBER_QUERY, { owner, name, number });
    const id = data.repository?.issue?.id;
    if (!id) throw new TrackerError('not_found', `${repo}#${number} does not exist or the token cannot see it`);
    return id;
  }

  async addItem(projectId: string, contentId: string): Promise<string> {
    const { data } = await this.transport.graphql<{ addProjectV2ItemById: { item: { id: string } } }>(ADD_ITEM, { projectId, contentId });
    return data.addProjectV2ItemById.item.id;
  }

  async setField(projectId: string, itemId: string, fieldId: string, value: FieldValueInput): Promise<void> {
    await this.transport.graphql(SET_FIELD, { projectId, itemId, fieldId, value });
  }

  async clearField(projectId: string, itemId: string, fieldId: string): Promise<void> {
    await this.transport.graphql(CLEAR_FIELD, { projectId, itemId, fieldId });
  }

  /** Issues (not pull requests) under the owner whose body holds `phrase`: issue search, REST. */
  async searchIssues(phrase: string, ownerType: string): Promise<GhIssue[]> {
    const qualifier = ownerType === 'Organization' ? 'org' : 'user';
    const res = await this.transport.octokit.rest.search.issuesAndPullRequests({
      q: `"${phrase}" in:body is:issue ${qualifier}:${this.owner}`,
      per_page: 100,
    });
    return (res.data as GhSearchResult).items;
  }
}
