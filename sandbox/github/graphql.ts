// The part of GitHub's GraphQL API that Projects v2 automation uses (trackers.md 3.6), executed
// by graphql-js against a schema subset written with GitHub's own type, field and argument names.
// A query that asks for something GitHub's schema lacks therefore fails here as it would there,
// with GitHub's error shape: HTTP 200, `errors: [{type, path, locations, message}]`.

import { GraphQLError, buildSchema, getOperationAST, graphql, parse, type DocumentNode } from 'graphql';
import type { Urls } from './json.ts';
import type {
  GhIssueRec,
  GhProjectFieldRec,
  GhProjectItemRec,
  GhProjectRec,
  GhRepoRec,
  GhTokenRec,
  GhUserRec,
  GitHubStore,
} from './store.ts';
import { ghTime } from './store.ts';

const SDL = /* GraphQL */ `
  scalar URI
  scalar Date
  scalar DateTime

  interface Node { id: ID! }
  interface RepositoryOwner { id: ID! login: String! }
  interface ProjectV2Owner { id: ID! projectV2(number: Int!): ProjectV2 }

  type User implements Node & RepositoryOwner & ProjectV2Owner { id: ID! login: String! projectV2(number: Int!): ProjectV2 }
  type Organization implements Node & RepositoryOwner & ProjectV2Owner { id: ID! login: String! projectV2(number: Int!): ProjectV2 }

  type PageInfo { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }

  type Repository implements Node {
    id: ID!
    name: String!
    nameWithOwner: String!
    owner: RepositoryOwner!
    issue(number: Int!): Issue
  }

  enum IssueState { OPEN CLOSED }
  type Issue implements Node {
    id: ID!
    number: Int!
    title: String!
    body: String!
    url: URI!
    state: IssueState!
    repository: Repository!
    projectItems(first: Int, after: String, includeArchived: Boolean = true): ProjectV2ItemConnection!
  }
  type PullRequest implements Node { id: ID! number: Int! title: String! url: URI! }
  type DraftIssue implements Node { id: ID! title: String! }

  enum ProjectV2FieldType {
    ASSIGNEES DATE ISSUE_TYPE ITERATION LABELS LINKED_PULL_REQUESTS MILESTONE NUMBER PARENT_ISSUE
    REPOSITORY REVIEWERS SINGLE_SELECT SUB_ISSUES_PROGRESS TEXT TITLE TRACKED_BY TRACKS
  }
  enum ProjectV2SingleSelectFieldOptionColor { BLUE GRAY GREEN ORANGE PINK PURPLE RED YELLOW }

  interface ProjectV2FieldCommon { id: ID! name: String! dataType: ProjectV2FieldType! project: ProjectV2! }
  type ProjectV2Field implements Node & ProjectV2FieldCommon { id: ID! name: String! dataType: ProjectV2FieldType! project: ProjectV2! }
  type ProjectV2IterationField implements Node & ProjectV2FieldCommon {
    id: ID!
    name: String!
    dataType: ProjectV2FieldType!
    project: ProjectV2!
    configuration: ProjectV2IterationFieldConfiguration!
  }
  type ProjectV2IterationFieldConfiguration {
    completedIterations: [ProjectV2IterationFieldIteration!]!
    duration: Int!
    iterations: [ProjectV2IterationFieldIteration!]!
    startDay: Int!
  }
  type ProjectV2IterationFieldIteration { duration: Int! id: String! startDate: Date! title: String! titleHTML: String! }
  type ProjectV2SingleSelectFieldOption {
    id: String!
    name: String!
    nameHTML: String!
    color: ProjectV2SingleSelectFieldOptionColor!
    description: String!
    descriptionHTML: String!
  }
  type ProjectV2SingleSelectField implements Node & ProjectV2FieldCommon {
    id: ID!
    name: String!
    dataType: ProjectV2FieldType!
    project: ProjectV2!
    options(names: [String!]): [ProjectV2SingleSelectFieldOption!]!
  }
  union ProjectV2FieldConfiguration = ProjectV2Field | ProjectV2IterationField | ProjectV2SingleSelectField
  type ProjectV2FieldConfigurationConnection { nodes: [ProjectV2FieldConfiguration] totalCount: Int! pageInfo: PageInfo! }

  type ProjectV2 implements Node {
    id: ID!
    number: Int!
    title: String!
    url: URI!
    closed: Boolean!
    owner: ProjectV2Owner!
    field(name: String!): ProjectV2FieldConfiguration
    fields(first: Int, after: String): ProjectV2FieldConfigurationConnection!
    items(first: Int, after: String): ProjectV2ItemConnection!
  }

  enum ProjectV2ItemType { DRAFT_ISSUE ISSUE PULL_REQUEST REDACTED }
  union ProjectV2ItemContent = DraftIssue | Issue | PullRequest
  type ProjectV2Item implements Node {
    id: ID!
    type: ProjectV2ItemType!
    isArchived: Boolean!
    project: ProjectV2!
    content: ProjectV2ItemContent
    fieldValueByName(name: String!): ProjectV2ItemFieldValue
    fieldValues(first: Int, after: String): ProjectV2ItemFieldValueConnection!
    createdAt: DateTime!
    updatedAt: DateTime!
  }
  type ProjectV2ItemConnection { nodes: [ProjectV2Item] totalCount: Int! pageInfo: PageInfo! }

  interface ProjectV2ItemFieldValueCommon { id: ID! field: ProjectV2FieldConfiguration! item: ProjectV2Item! }
  type ProjectV2ItemFieldSingleSelectValue implements Node & ProjectV2ItemFieldValueCommon {
    id: ID! field: ProjectV2FieldConfiguration! item: ProjectV2Item! name: String optionId: String
  }
  type ProjectV2ItemFieldTextValue implements Node & ProjectV2ItemFieldValueCommon {
    id: ID! field: ProjectV2FieldConfiguration! item: ProjectV2Item! text: String
  }
  type ProjectV2ItemFieldNumberValue implements Node & ProjectV2ItemFieldValueCommon {
    id: ID! field: ProjectV2FieldConfiguration! item: ProjectV2Item! number: Float
  }
  type ProjectV2ItemFieldDateValue implements Node & ProjectV2ItemFieldValueCommon {
    id: ID! field: ProjectV2FieldConfiguration! item: ProjectV2Item! date: Date
  }
  type ProjectV2ItemFieldIterationValue implements Node & ProjectV2ItemFieldValueCommon {
    id: ID! field: ProjectV2FieldConfiguration! item: ProjectV2Item!
    duration: Int! iterationId: String! startDate: Date! title: String! titleHTML: String!
  }
  union ProjectV2ItemFieldValue =
    ProjectV2ItemFieldDateValue | ProjectV2ItemFieldIterationValue | ProjectV2ItemFieldNumberValue
    | ProjectV2ItemFieldSingleSelectValue | ProjectV2ItemFieldTextValue
  type ProjectV2ItemFieldValueConnection { nodes: [ProjectV2ItemFieldValue] totalCount: Int! pageInfo: PageInfo! }

  type Query {
    node(id: ID!): Node
    viewer: User!
    repositoryOwner(login: String!): RepositoryOwner
    user(login: String!): User
    organization(login: String!): Organization
    repository(owner: String!, name: String!): Repository
  }

  input AddProjectV2ItemByIdInput { projectId: ID! contentId: ID! clientMutationId: String }
  type AddProjectV2ItemByIdPayload { item: ProjectV2Item clientMutationId: String }
  input ProjectV2FieldValue { text: String number: Float date: Date singleSelectOptionId: String iterationId: String }
  input UpdateProjectV2ItemFieldValueInput { projectId: ID! itemId: ID! fieldId: ID! value: ProjectV2FieldValue! clientMutationId: String }
  type UpdateProjectV2ItemFieldValuePayload { projectV2Item: ProjectV2Item clientMutationId: String }
  input ClearProjectV2ItemFieldValueInput { projectId: ID! itemId: ID! fieldId: ID! clientMutationId: String }
  type ClearProjectV2ItemFieldValuePayload { projectV2Item: ProjectV2Item clientMutationId: String }

  type Mutation {
    addProjectV2ItemById(input: AddProjectV2ItemByIdInput!): AddProjectV2ItemByIdPayload
    updateProjectV2ItemFieldValue(input: UpdateProjectV2ItemFieldValueInput!): UpdateProjectV2ItemFieldValuePayload
    clearProjectV2ItemFieldValue(input: ClearProjectV2ItemFieldValueInput!): ClearProjectV2ItemFieldValuePayload
  }
`;

const schema = buildSchema(SDL);

interface Ctx {
  store: GitHubStore;
  token: GhTokenRec;
  urls: Urls;
}

type Obj = Record<string, unknown>;

/** A GitHub-typed error (`NOT_FOUND`, `INSUFFICIENT_SCOPES`, `FORBIDDEN`); untyped ones are input errors. */
function ghError(type: string | undefined, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: type ? { type } : {} });
}

function requireScope(ctx: Ctx, field: string, accepted: string[]): void {
  const scopes = ctx.token.scopes;
  // Fine-grained tokens carry permissions, not scopes; the sandbox lets them through.
  if (scopes === null || accepted.some((s) => scopes.includes(s))) return;
  throw ghError(
    'INSUFFICIENT_SCOPES',
    `Your token has not been granted the required scopes to execute this query. The '${field}' field requires one of the following scopes: [${accepted.map((s) => `'${s}'`).join(', ')}], but your token has only been granted the: [${scopes.map((s) => `'${s}'`).join(', ')}] scopes. Please modify your token's scopes at: https://github.com/settings/tokens.`,
  );
}

function connection(nodes: Obj[], first: unknown, after?: unknown): Obj {
  if (first !== undefined && first !== null && (typeof first !== 'number' || first < 1 || first > 100)) {
    throw ghError(undefined, `Requesting ${first} records on the connection exceeds the \`first\` limit of 100 records.`);
  }
  // Cursors are opaque on GitHub; here the base64 of the last position served.
  const start = typeof after === 'string' && after ? Number(Buffer.from(after, 'base64').toString().replace('cursor:', '')) : 0;
  const page = nodes.slice(start, start + ((first as number | undefined) ?? 100));
  const cursor = (i: number) => Buffer.from(`cursor:${i}`).toString('base64');
  return {
    nodes: page,
    totalCount: nodes.length,
    pageInfo: {
      hasNextPage: start + page.length < nodes.length,
      hasPreviousPage: start > 0,
      startCursor: page.length ? cursor(start) : null,
      endCursor: page.length ? cursor(start + page.length) : null,
    },
  };
}

function canSee(ctx: Ctx, repo: GhRepoRec): boolean {
  return !repo.private || ctx.store.canPush(repo, ctx.token.login) || ctx.token.scopes === null;
}

function userObj(ctx: Ctx, u: GhUserRec): Obj {
  return {
    __typename: u.type === 'Organization' ? 'Organization' : 'User',
    id: u.node_id,
    login: u.login,
    projectV2: ({ number }: { number: number }) => {
      requireScope(ctx, 'projectV2', ['read:project', 'project']);
      const project = ctx.store.projectOf(u.login, number);
      if (!project) throw ghError('NOT_FOUND', `Could not resolve to a ProjectV2 with the number ${number}.`);
      return projectObj(ctx, project);
    },
  };
}

function repoObj(ctx: Ctx, r: GhRepoRec): Obj {
  return {
    __typename: 'Repository',
    id: r.node_id,
    name: r.name,
    nameWithOwner: `${r.owner}/${r.name}`,
    owner: () => userObj(ctx, ctx.store.user(r.owner)),
    issue: ({ number }: { number: number }) => {
      const issue = ctx.store.issue(`${r.owner}/${r.name}`.toLowerCase(), number);
      if (!issue || issue.deleted || issue.pull_request)
        throw ghError('NOT_FOUND', `Could not resolve to an Issue with the number of ${number}.`);
      return issueObj(ctx, issue);
    },
  };
}

function issueObj(ctx: Ctx, i: GhIssueRec): Obj {
  const repo = ctx.store.repos.get(i.repo)!;
  return {
    __typename: i.pull_request ? 'PullRequest' : 'Issue',
    id: i.node_id,
    number: i.number,
    title: i.title,
    body: i.body ?? '',
    url: `${ctx.urls.web}/${repo.owner}/${repo.name}/${i.pull_request ? 'pull' : 'issues'}/${i.number}`,
    state: i.state === 'open' ? 'OPEN' : 'CLOSED',
    repository: () => repoObj(ctx, repo),
    projectItems: ({ first }: { first?: number }) => {
      requireScope(ctx, 'projectItems', ['read:project', 'project']);
      return connection(
        ctx.store.projectItemsOf(i.node_id).map((item) => itemObj(ctx, item)),
        first,
      );
    },
  };
}

function projectObj(ctx: Ctx, p: GhProjectRec): Obj {
  const owner = ctx.store.user(p.owner);
  return {
    __typename: 'ProjectV2',
    id: p.id,
    number: p.number,
    title: p.title,
    url: `${ctx.urls.web}/${owner.type === 'Organization' ? 'orgs' : 'users'}/${owner.login}/projects/${p.number}`,
    closed: false,
    owner: () => userObj(ctx, owner),
    field: ({ name }: { name: string }) => {
      const f = p.fields.find((x) => x.name === name);
      return f ? fieldObj(ctx, p, f) : null;
    },
    fields: ({ first }: { first?: number }) =>
      connection(
        p.fields.map((f) => fieldObj(ctx, p, f)),
        first,
      ),
    items: ({ first, after }: { first?: number; after?: string }) =>
      connection(
        [...p.items.values()].map((item) => itemObj(ctx, item)),
        first,
        after,
      ),
  };
}

function fieldObj(ctx: Ctx, p: GhProjectRec, f: GhProjectFieldRec): Obj {
  const typename =
    f.dataType === 'SINGLE_SELECT'
      ? 'ProjectV2SingleSelectField'
      : f.dataType === 'ITERATION'
        ? 'ProjectV2IterationField'
        : 'ProjectV2Field';
  return {
    __typename: typename,
    id: f.id,
    name: f.name,
    dataType: f.dataType,
    project: () => projectObj(ctx, p),
    configuration: () => {
      const it = (i: { id: string; title: string; startDate: string; duration: number }) => ({ ...i, titleHTML: i.title });
      return {
        iterations: (f.iterations ?? []).filter((i) => !i.completed).map(it),
        completedIterations: (f.iterations ?? []).filter((i) => i.completed).map(it),
        duration: 14,
        startDay: 1,
      };
    },
    options: ({ names }: { names?: string[] }) =>
      (f.options ?? [])
        .filter((o) => !names || names.includes(o.name))
        .map((o) => ({
          id: o.id,
          name: o.name,
          nameHTML: o.name,
          color: o.color,
          description: o.description,
          descriptionHTML: o.description,
        })),
  };
}

function itemObj(ctx: Ctx, item: GhProjectItemRec): Obj {
  const project = ctx.store.projects.get(item.project)!;
  const issue = ctx.store.issueByNodeId(item.content);
  const values = () => {
    const out: Obj[] = [];
    for (const f of project.fields) {
      if (f.dataType === 'TITLE' && issue) out.push(valueObj(ctx, project, item, f, issue.title));
      const raw = item.values.get(f.id);
      if (raw !== undefined) out.push(valueObj(ctx, project, item, f, raw));
    }
    return out;
  };
  return {
    __typename: 'ProjectV2Item',
    id: item.id,
    type: issue?.pull_request ? 'PULL_REQUEST' : 'ISSUE',
    isArchived: false,
    project: () => projectObj(ctx, project),
    content: () => (issue ? issueObj(ctx, issue) : null),
    fieldValueByName: ({ name }: { name: string }) => values().find((v) => (v.__field as GhProjectFieldRec).name === name) ?? null,
    fieldValues: ({ first, after }: { first?: number; after?: string }) => connection(values(), first, after),
    createdAt: item.created_at,
    updatedAt: item.updated_at,
  };
}

function valueObj(ctx: Ctx, p: GhProjectRec, item: GhProjectItemRec, f: GhProjectFieldRec, raw: string | number): Obj {
  const common = { id: `${item.id}:${f.id}`, __field: f, field: () => fieldObj(ctx, p, f), item: () => itemObj(ctx, item) };
  switch (f.dataType) {
    case 'SINGLE_SELECT':
      return {
        ...common,
        __typename: 'ProjectV2ItemFieldSingleSelectValue',
        optionId: raw,
        name: f.options?.find((o) => o.id === raw)?.name ?? null,
      };
    case 'NUMBER':
      return { ...common, __typename: 'ProjectV2ItemFieldNumberValue', number: raw };
    case 'DATE':
      return { ...common, __typename: 'ProjectV2ItemFieldDateValue', date: raw };
    case 'ITERATION': {
      const it = f.iterations?.find((i) => i.id === raw);
      return {
        ...common,
        __typename: 'ProjectV2ItemFieldIterationValue',
        iterationId: raw,
        title: it?.title ?? '',
        titleHTML: it?.title ?? '',
        startDate: it?.startDate ?? '',
        duration: it?.duration ?? 0,
      };
    }
    default:
      return { ...common, __typename: 'ProjectV2ItemFieldTextValue', text: String(raw) };
  }
}

function nodeById(ctx: Ctx, id: string): Obj | null {
  const { store } = ctx;
  for (const u of store.users.values()) if (u.node_id === id) return userObj(ctx, u);
  for (const r of store.repos.values()) if (r.node_id === id) return canSee(ctx, r) ? repoObj(ctx, r) : null;
  const issue = store.issueByNodeId(id);
  if (issue) return canSee(ctx, store.repos.get(issue.repo)!) ? issueObj(ctx, issue) : null;
  for (const p of store.projects.values()) {
    if (p.id === id) return projectObj(ctx, p);
    const item = p.items.get(id);
    if (item) return itemObj(ctx, item);
    const field = p.fields.find((f) => f.id === id);
    if (field) return fieldObj(ctx, p, field);
  }
  return null;
}

function notResolved(id: string): GraphQLError {
  return ghError('NOT_FOUND', `Could not resolve to a node with the global id of '${id}'`);
}

function projectAndItem(ctx: Ctx, input: { projectId: string; itemId: string; fieldId: string }) {
  requireScope(ctx, 'projectV2', ['project']);
  const project = ctx.store.projects.get(input.projectId);
  if (!project) throw notResolved(input.projectId);
  const item = project.items.get(input.itemId);
  if (!item) throw notResolved(input.itemId);
  const field = project.fields.find((f) => f.id === input.fieldId);
  if (!field) throw notResolved(input.fieldId);
  return { project, item, field };
}

function rootValue(ctx: Ctx): Obj {
  const { store } = ctx;
  return {
    node: ({ id }: { id: string }) => {
      const node = nodeById(ctx, id);
      if (!node) throw notResolved(id);
      return node;
    },
    viewer: () => userObj(ctx, store.user(ctx.token.login)),
    repositoryOwner: ({ login }: { login: string }) => {
      const u = store.users.get(login.toLowerCase());
      return u ? userObj(ctx, u) : null;
    },
    user: ({ login }: { login: string }) => {
      const u = store.users.get(login.toLowerCase());
      if (!u || u.type === 'Organization') throw ghError('NOT_FOUND', `Could not resolve to a User with the login of '${login}'.`);
      return userObj(ctx, u);
    },
    organization: ({ login }: { login: string }) => {
      const u = store.users.get(login.toLowerCase());
      if (!u || u.type !== 'Organization') throw ghError('NOT_FOUND', `Could not resolve to an Organization with the login of '${login}'.`);
      return userObj(ctx, u);
    },
    repository: ({ owner, name }: { owner: string; name: string }) => {
      const r = store.repo(owner, name);
      if (!r || !canSee(ctx, r)) throw ghError('NOT_FOUND', `Could not resolve to a Repository with the name '${owner}/${name}'.`);
      return repoObj(ctx, r);
    },
    addProjectV2ItemById: ({ input }: { input: { projectId: string; contentId: string; clientMutationId?: string } }) => {
      requireScope(ctx, 'addProjectV2ItemById', ['project']);
      if (!store.projects.has(input.projectId)) throw notResolved(input.projectId);
      if (!store.issueByNodeId(input.contentId)) throw notResolved(input.contentId);
      const item = store.addProjectItem(input.projectId, input.contentId);
      return { item: itemObj(ctx, item), clientMutationId: input.clientMutationId ?? null };
    },
    updateProjectV2ItemFieldValue: ({
      input,
    }: {
      input: { projectId: string; itemId: string; fieldId: string; value: Record<string, unknown>; clientMutationId?: string };
    }) => {
      const { item, field } = projectAndItem(ctx, input);
      const given = Object.entries(input.value).filter(([, v]) => v !== null && v !== undefined);
      if (given.length !== 1)
        throw ghError(undefined, 'Exactly one of text, number, date, singleSelectOptionId or iterationId must be given.');
      const [kind, value] = given[0]!;
      const expected = { SINGLE_SELECT: 'singleSelectOptionId', TEXT: 'text', NUMBER: 'number', DATE: 'date', ITERATION: 'iterationId' }[
        field.dataType as string
      ];
      if (!expected) throw ghError(undefined, `The field of type ${field.dataType} is currently not supported.`);
      if (kind !== expected) throw ghError(undefined, `Did not receive a ${expected} value to update a field of type ${field.dataType}.`);
      if (kind === 'singleSelectOptionId' && !field.options?.some((o) => o.id === value)) {
        throw ghError(undefined, `The single select option Id does not belong to the field`);
      }
      if (kind === 'iterationId' && !field.iterations?.some((o) => o.id === value)) {
        throw ghError(undefined, `The iteration Id does not belong to the field`);
      }
      // The Date scalar: a calendar date, as GitHub's ISO-8601 "YYYY-MM-DD".
      if (kind === 'date' && (typeof value !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(value) || !Number.isFinite(Date.parse(value)))) {
        throw ghError(
          undefined,
          `Argument 'value' on InputObject 'UpdateProjectV2ItemFieldValueInput' has an invalid value. Expected type 'Date'.`,
        );
      }
      if (kind === 'text' && typeof value !== 'string') throw ghError(undefined, 'Expected a String for text.');
      item.values.set(field.id, value as string | number);
      item.updated_at = ghTime();
      return { projectV2Item: itemObj(ctx, item), clientMutationId: input.clientMutationId ?? null };
    },
    clearProjectV2ItemFieldValue: ({
      input,
    }: {
      input: { projectId: string; itemId: string; fieldId: string; clientMutationId?: string };
    }) => {
      const { item, field } = projectAndItem(ctx, input);
      item.values.delete(field.id);
      item.updated_at = ghTime();
      return { projectV2Item: itemObj(ctx, item), clientMutationId: input.clientMutationId ?? null };
    },
  };
}

/** 'mutation' | 'query' for a document, or null when it does not parse (graphql answers why). */
export function operationType(query: string, operationName?: string): 'query' | 'mutation' | 'subscription' | null {
  let doc: DocumentNode;
  try {
    doc = parse(query);
  } catch {
    return null;
  }
  return getOperationAST(doc, operationName)?.operation ?? null;
}

export async function runGraphql(
  store: GitHubStore,
  token: GhTokenRec,
  urls: Urls,
  body: { query?: unknown; variables?: unknown; operationName?: unknown },
): Promise<Record<string, unknown>> {
  if (typeof body.query !== 'string') return { errors: [{ message: 'A query attribute must be specified and must be a string.' }] };
  const ctx: Ctx = { store, token, urls };
  const root = rootValue(ctx);
  const result = await graphql({
    schema,
    source: body.query,
    rootValue: root,
    contextValue: ctx,
    variableValues: (body.variables ?? {}) as Record<string, unknown>,
    operationName: typeof body.operationName === 'string' ? body.operationName : undefined,
  });
  const out: Record<string, unknown> = {};
  if (result.data !== undefined) out.data = result.data;
  if (result.errors?.length) {
    out.errors = result.errors.map((e) => ({
      ...(e.extensions?.type ? { type: e.extensions.type } : {}),
      ...(e.path ? { path: e.path } : {}),
      ...(e.locations ? { locations: e.locations } : {}),
      message: e.message,
    }));
  }
  return out;
}
