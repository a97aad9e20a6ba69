import { TrackerError } from '../../sync/port/errors.ts';
import type { GitHubTransport } from '../github/transport.ts';
import type { GhIssue, GhSearchResult } from '../github/wire.ts';

/**
 * The GitHub Projects v2 calls Trackline makes (docs/trackers.md 3.6), all GraphQL (`POST
 * /graphql`) through the token's shared transport, plus the REST issue search that finds an item's
 * issue by its marker.
 */

export type ProjectFieldType = 'TEXT' | 'NUMBER' | 'DATE' | 'SINGLE_SELECT' | 'ITERATION' | string;

export interface ProjectField {
  id: string;
  name: string;
  dataType: ProjectFieldType;
  options?: { id: string; name: string }[];
  /** An iteration field's iterations, current and completed. */
  iterations?: { id: string; title: string }[];
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
  /** Field name → value (single-select option name, iteration title, text, number or date). */
  values: Map<string, string | number>;
  /** When the item last changed on the board (a person's edit of a field moves it). */
  updatedAt?: string;
}

/** One field's write in a multi-field mutation: a value, or null to clear the field. */
export interface FieldWrite {
  fieldId: string;
  value: FieldValueInput | null;
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
              ... on ProjectV2IterationField { configuration { iterations { id title } completedIterations { id title } } }
            }
          }
        }
      }
    }
  }`;

const FIELD_COMMON = '... on ProjectV2FieldCommon { name }';
/** What Trackline reads of a project item: its issue and every field value by field name. */
const ITEM_FIELDS = /* GraphQL */ `
        __typename
        id
        updatedAt
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
            ... on ProjectV2ItemFieldIterationValue { title field { ${FIELD_COMMON} } }
          }
        }`;
const ITEM_QUERY = /* GraphQL */ `
  query TracklineProjectItem($id: ID!) {
    node(id: $id) {
      __typename
      ... on ProjectV2Item { ${ITEM_FIELDS} }
    }
  }`;

const ITEMS_QUERY = /* GraphQL */ `
  query TracklineProjectItems($id: ID!, $after: String) {
    node(id: $id) {
      ... on ProjectV2 {
        items(first: 100, after: $after) {
          nodes { ${ITEM_FIELDS} }
          pageInfo { hasNextPage endCursor }
        }
      }
    }
  }`;

/**
 * Every field write of one item change in ONE request: a mutation document with one aliased
 * updateProjectV2ItemFieldValue or clearProjectV2ItemFieldValue per field (GitHub runs a
 * document's mutation fields one after the other), the last one answering the item as it then is,
 * so no read follows the write.
 */
export function fieldWritesMutation(writes: FieldWrite[]): { query: string; variables: Record<string, unknown> } {
  const params = ['$projectId: ID!', '$itemId: ID!'];
  const variables: Record<string, unknown> = {};
  const fields = writes.map((w, i) => {
    params.push(`$f${i}: ID!`);
    variables[`f${i}`] = w.fieldId;
    const answer = i === writes.length - 1 ? `projectV2Item { ${ITEM_FIELDS} }` : 'projectV2Item { id }';
    if (w.value === null) {
      return `w${i}: clearProjectV2ItemFieldValue(input: { projectId: $projectId, itemId: $itemId, fieldId: $f${i} }) { ${answer} }`;
    }
    params.push(`$v${i}: ProjectV2FieldValue!`);
    variables[`v${i}`] = w.value;
    return `w${i}: updateProjectV2ItemFieldValue(input: { projectId: $projectId, itemId: $itemId, fieldId: $f${i}, value: $v${i} }) { ${answer} }`;
  });
  return { query: `mutation TracklineSetFields(${params.join(', ')}) {\n  ${fields.join('\n  ')}\n}`, variables };
}

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

/** `ProjectV2FieldValue`: exactly one of its five members. */
export type FieldValueInput =
  | { text: string }
  | { number: number }
  | { date: string }
  | { singleSelectOptionId: string }
  | { iterationId: string };

interface RawFieldValue {
  __typename?: string;
  name?: string | null;
  text?: string | null;
  number?: number | null;
  date?: string | null;
  title?: string | null;
  field?: { name?: string } | null;
}

interface RawItem {
  __typename: string;
  id: string;
  updatedAt?: string;
  project: { id: string };
  content: { __typename: string; number?: number; url?: string; repository?: { nameWithOwner: string } } | null;
  fieldValues: { nodes: Array<RawFieldValue | null> };
}

type RawField = ProjectField & {
  configuration?: { iterations?: { id: string; title: string }[]; completedIterations?: { id: string; title: string }[] };
};

function toItem(node: RawItem): ProjectItemInfo {
  const values = new Map<string, string | number>();
  for (const v of node.fieldValues.nodes) {
    const field = v?.field?.name;
    if (!v || !field) continue;
    const value = v.name ?? v.text ?? v.number ?? v.date ?? v.title;
    if (value !== null && value !== undefined) values.set(field, value);
  }
  const c = node.content;
  return {
    id: node.id,
    projectId: node.project.id,
    issue:
      c && c.__typename === 'Issue' && c.number ? { number: c.number, url: c.url ?? '', repo: c.repository?.nameWithOwner ?? '' } : null,
    values,
    updatedAt: node.updatedAt,
  };
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
        projectV2?: { id: string; title: string; url: string; fields: { nodes: Array<RawField | null> } } | null;
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
      fields: project.fields.nodes
        .filter((f): f is RawField => Boolean(f?.id))
        .map(({ configuration, ...f }) =>
          configuration ? { ...f, iterations: [...(configuration.iterations ?? []), ...(configuration.completedIterations ?? [])] } : f,
        ),
    };
  }

  async item(id: string): Promise<ProjectItemInfo> {
    const { data } = await this.transport.graphql<{ node: RawItem | null }>(ITEM_QUERY, { id });
    const node = data.node;
    if (!node || node.__typename !== 'ProjectV2Item') throw new TrackerError('not_found', `no project item ${id}`);
    return toItem(node);
  }

  /** One page (100) of the board's items with their field values; `after` is the page cursor. */
  async items(projectId: string, after: string | null): Promise<{ items: ProjectItemInfo[]; next: string | null }> {
    type Raw = { node: { items?: { nodes: Array<RawItem | null>; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } | null };
    const { data } = await this.transport.graphql<Raw>(ITEMS_QUERY, { id: projectId, after });
    const page = data.node?.items;
    if (!page) throw new TrackerError('not_found', `no project ${projectId}`);
    return {
      items: page.nodes.filter((n): n is RawItem => Boolean(n)).map(toItem),
      next: page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null,
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

  /** Every write of one change in one request (fieldWritesMutation); answers the item as it now is. */
  async setFields(projectId: string, itemId: string, writes: FieldWrite[]): Promise<ProjectItemInfo> {
    const { query, variables } = fieldWritesMutation(writes);
    const { data } = await this.transport.graphql<Record<string, { projectV2Item: RawItem | null } | null>>(query, {
      projectId,
      itemId,
      ...variables,
    });
    const last = data[`w${writes.length - 1}`]?.projectV2Item;
    if (!last) throw new TrackerError('not_found', `no project item ${itemId}`);
    return toItem(last);
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
