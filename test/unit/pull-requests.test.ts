import { describe, expect, it } from 'vitest';
import { parse } from 'smol-toml';
import { parseConfig } from '../../src/config/load.ts';
import {
  closingIssueNumbers,
  parsePullRequestRef,
  pullRequestBody,
  pullRequestState,
  reviewDecision,
} from '../../src/trackers/github/pulls-transform.ts';
import type { GhPullRequest, GhReview } from '../../src/trackers/github/pulls-wire.ts';

const toml = (extra: string, id = 'gh-main') => `
[[connections]]
id = "${id}"
tracker = "github"
owner = "acme"
repo = "app"
token = "t"
${extra}`;

describe('[connections.pull_requests]', () => {
  it('parses every key with its defaults', () => {
    const [c] = parseConfig(
      parse(
        toml(
          '[connections.pull_requests]\nauto_create = true\nopen_when = ["for_review"]\n[connections.pull_requests.state_map]\nmerged = "done"',
        ),
      ),
      {},
    ).connections;
    expect(c.tracker === 'github' && c.pull_requests).toEqual({
      auto_create: true,
      draft: false,
      request_review: false,
      reviewers: [],
      team_reviewers: [],
      reviewers_from_assignees: false,
      open_when: ['for_review'],
      state_map: { merged: 'done' },
    });
  });

  it('refuses an unknown pull request state, an unknown key, and the reserved connection id', () => {
    expect(() => parseConfig(parse(toml('[connections.pull_requests.state_map]\nshipped = "done"')), {})).toThrow(/state_map/);
    expect(() => parseConfig(parse(toml('[connections.pull_requests]\nautocreate = true')), {})).toThrow(/autocreate/);
    expect(() => parseConfig(parse(toml('', 'pull_request')), {})).toThrow(/reserved/);
  });
});

const pr = (over: Partial<GhPullRequest> = {}): GhPullRequest => ({
  id: 1,
  number: 7,
  html_url: 'https://github.com/acme/app/pull/7',
  title: 'WP02',
  state: 'open',
  draft: false,
  merged_at: null,
  head: { ref: 'feature/WP02' },
  base: { ref: 'main' },
  updated_at: '2026-01-01T00:00:00Z',
  ...over,
});
const review = (id: number, login: string, state: string, at: string): GhReview => ({ id, user: { login, id }, state, submitted_at: at });

describe('pull request state', () => {
  it('merged, closed and draft come from the pull request; open ones from the reviews', () => {
    expect(pullRequestState(pr({ state: 'closed', merged_at: '2026-01-02T00:00:00Z' }), null)).toBe('merged');
    expect(pullRequestState(pr({ state: 'closed' }), null)).toBe('closed');
    expect(pullRequestState(pr({ draft: true }), null)).toBe('draft');
    expect(pullRequestState(pr(), [])).toBe('open');
    expect(pullRequestState(pr(), [review(1, 'bob', 'APPROVED', '2026-01-01T01:00:00Z')])).toBe('approved');
  });

  it('each reviewer’s latest deciding review counts; a request for changes outweighs approvals; a dismissal withdraws', () => {
    const t = (h: number) => `2026-01-01T0${h}:00:00Z`;
    expect(reviewDecision([review(1, 'bob', 'CHANGES_REQUESTED', t(1)), review(2, 'bob', 'APPROVED', t(2))])).toBe('approved');
    expect(reviewDecision([review(1, 'bob', 'APPROVED', t(1)), review(2, 'bob', 'COMMENTED', t(2))])).toBe('approved');
    expect(reviewDecision([review(1, 'bob', 'APPROVED', t(1)), review(2, 'eve', 'CHANGES_REQUESTED', t(2))])).toBe('changes_requested');
    expect(reviewDecision([review(1, 'eve', 'CHANGES_REQUESTED', t(1)), review(2, 'eve', 'DISMISSED', t(2))])).toBe(null);
  });
});

describe('references', () => {
  it('reads pull request references, and refuses what is not one', () => {
    expect(parsePullRequestRef('#123')).toBe(123);
    expect(parsePullRequestRef('123')).toBe(123);
    expect(parsePullRequestRef(45)).toBe(45);
    expect(parsePullRequestRef('https://github.com/acme/app/pull/9')).toBe(9);
    expect(parsePullRequestRef('PR-1')).toBe(null);
    expect(parsePullRequestRef('#0')).toBe(null);
  });

  it('finds the issues a body closes by GitHub’s keywords, of this repository only', () => {
    expect(closingIssueNumbers('Closes #4, fixes #5 and Resolved: #6. See #7', 'acme/app')).toEqual([4, 5, 6]);
    expect(closingIssueNumbers('fixes acme/app#8 and fixes other/repo#9', 'acme/app')).toEqual([8]);
    expect(closingIssueNumbers(null, 'acme/app')).toEqual([]);
  });

  it('the body of an opened pull request carries the item’s body and Closes #N', () => {
    expect(pullRequestBody('Build the models.', 12)).toBe('Build the models.\n\nCloses #12');
    expect(pullRequestBody(undefined, null)).toBe('');
  });
});
