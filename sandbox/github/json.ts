// GitHub's REST JSON for the sandbox records: the fields of the real objects (api.github.com
// description, `issue`, `label`, `milestone`, `simple-user`, `issue-comment`, `repository`),
// with URLs built on the address the request came to, so links can be followed.

import type { GhCommentRec, GhIssueRec, GhLabelRec, GhMilestoneRec, GhRepoRec, GhUserRec, GitHubStore } from './store.ts';

export interface Urls {
  /** REST root, e.g. http://127.0.0.1:4000/api/v3 */
  api: string;
  /** Where people open things, e.g. http://127.0.0.1:4000 */
  web: string;
}

export function userJson(u: GhUserRec, urls: Urls): Record<string, unknown> {
  return {
    login: u.login,
    id: u.id,
    node_id: u.node_id,
    avatar_url: `https://avatars.githubusercontent.com/u/${u.id}?v=4`,
    gravatar_id: '',
    url: `${urls.api}/users/${u.login}`,
    html_url: `${urls.web}/${u.login}`,
    type: u.type,
    site_admin: false,
  };
}

export function labelJson(l: GhLabelRec, repo: GhRepoRec, urls: Urls): Record<string, unknown> {
  return {
    id: l.id,
    node_id: l.node_id,
    url: `${urls.api}/repos/${repo.owner}/${repo.name}/labels/${encodeURIComponent(l.name)}`,
    name: l.name,
    color: l.color,
    default: l.default,
    description: l.description,
  };
}

export function milestoneJson(store: GitHubStore, m: GhMilestoneRec, repo: GhRepoRec, urls: Urls): Record<string, unknown> {
  const issues = store.issuesOf(`${repo.owner}/${repo.name}`.toLowerCase()).filter((i) => !i.deleted && i.milestone === m.number);
  return {
    url: `${urls.api}/repos/${repo.owner}/${repo.name}/milestones/${m.number}`,
    html_url: `${urls.web}/${repo.owner}/${repo.name}/milestone/${m.number}`,
    labels_url: `${urls.api}/repos/${repo.owner}/${repo.name}/milestones/${m.number}/labels`,
    id: m.id,
    node_id: m.node_id,
    number: m.number,
    title: m.title,
    description: m.description,
    creator: userJson(store.user(m.creator), urls),
    open_issues: issues.filter((i) => i.state === 'open').length,
    closed_issues: issues.filter((i) => i.state === 'closed').length,
    state: m.state,
    created_at: m.created_at,
    updated_at: m.updated_at,
    due_on: null,
    closed_at: null,
  };
}

export function repoJson(store: GitHubStore, r: GhRepoRec, urls: Urls, viewer?: string): Record<string, unknown> {
  const owner = store.user(r.owner);
  const push = viewer ? store.canPush(r, viewer) : false;
  return {
    id: r.id,
    node_id: r.node_id,
    name: r.name,
    full_name: `${r.owner}/${r.name}`,
    private: r.private,
    owner: userJson(owner, urls),
    html_url: `${urls.web}/${r.owner}/${r.name}`,
    url: `${urls.api}/repos/${r.owner}/${r.name}`,
    visibility: r.private ? 'private' : 'public',
    has_issues: true,
    default_branch: r.default_branch,
    created_at: r.created_at,
    ...(viewer
      ? { permissions: { admin: r.owner.toLowerCase() === viewer.toLowerCase(), maintain: push, push, triage: push, pull: true } }
      : {}),
  };
}

export function issueJson(store: GitHubStore, i: GhIssueRec, urls: Urls): Record<string, unknown> {
  const repo = store.repos.get(i.repo)!;
  const base = `${urls.api}/repos/${repo.owner}/${repo.name}/issues/${i.number}`;
  const assignees = i.assignees.map((a) => userJson(store.user(a), urls));
  const milestone = i.milestone === null ? null : repo.milestones.get(i.milestone);
  return {
    url: base,
    repository_url: `${urls.api}/repos/${repo.owner}/${repo.name}`,
    labels_url: `${base}/labels{/name}`,
    comments_url: `${base}/comments`,
    events_url: `${base}/events`,
    html_url: `${urls.web}/${repo.owner}/${repo.name}/${i.pull_request ? 'pull' : 'issues'}/${i.number}`,
    id: i.id,
    node_id: i.node_id,
    number: i.number,
    title: i.title,
    user: userJson(store.user(i.user), urls),
    labels: i.labels
      .map((k) => repo.labels.get(k))
      .filter((l): l is GhLabelRec => Boolean(l))
      .map((l) => labelJson(l, repo, urls)),
    state: i.state,
    locked: i.locked,
    assignee: assignees[0] ?? null,
    assignees,
    milestone: milestone ? milestoneJson(store, milestone, repo, urls) : null,
    comments: i.comments,
    created_at: i.created_at,
    updated_at: i.updated_at,
    closed_at: i.closed_at,
    author_association: store.canPush(repo, i.user) ? 'COLLABORATOR' : 'NONE',
    active_lock_reason: null,
    body: i.body,
    timeline_url: `${base}/timeline`,
    performed_via_github_app: null,
    state_reason: i.state_reason,
    ...(i.pull_request
      ? {
          pull_request: {
            url: `${urls.api}/repos/${repo.owner}/${repo.name}/pulls/${i.number}`,
            html_url: `${urls.web}/${repo.owner}/${repo.name}/pull/${i.number}`,
            diff_url: null,
            patch_url: null,
            merged_at: null,
          },
        }
      : {}),
  };
}

export function commentJson(store: GitHubStore, c: GhCommentRec, urls: Urls): Record<string, unknown> {
  const [repoKeyValue, number] = c.issue.split('#');
  const repo = store.repos.get(repoKeyValue!)!;
  return {
    id: c.id,
    node_id: c.node_id,
    url: `${urls.api}/repos/${repo.owner}/${repo.name}/issues/comments/${c.id}`,
    html_url: `${urls.web}/${repo.owner}/${repo.name}/issues/${number}#issuecomment-${c.id}`,
    issue_url: `${urls.api}/repos/${repo.owner}/${repo.name}/issues/${number}`,
    body: c.body,
    user: userJson(store.user(c.user), urls),
    created_at: c.created_at,
    updated_at: c.updated_at,
    author_association: store.canPush(repo, c.user) ? 'COLLABORATOR' : 'NONE',
    performed_via_github_app: null,
  };
}
