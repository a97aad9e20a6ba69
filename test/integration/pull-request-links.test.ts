import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GITHUB, startHarness, waitFor, type Harness } from '../support/harness.ts';
import { loadSpecValidator } from '../support/openapi-validator.ts';

let h: Harness;
beforeAll(async () => {
  // One item on Plane, GitHub and Jira: its pull request shows as a link on the other two.
  h = await startHarness('pr_links', {
    github: { pull_requests: { auto_create: true, open_when: ['for_review'], state_map: { merged: 'done' } } },
    jira: {},
  });
  const api = await h.listenApi();
  h.sandbox.github.webhooks.register(GITHUB.owner, GITHUB.repo, { url: `${api}/webhooks/gh-main`, secret: GITHUB.webhookSecret });
});
afterAll(async () => h?.close());

const repo = `${GITHUB.owner}/${GITHUB.repo}`.toLowerCase();
const mapped = async (key: string, connection: string) =>
  (
    await waitFor(() =>
      h.sql`select remote_id from mappings where item_key = ${key} and connection_id = ${connection} and remote_id is not null`.then((r) =>
        r.length ? r : null,
      ),
    )
  )[0].remote_id as string;
const planeLinks = (issueId: string) => h.sandbox.plane.links.of(issueId);
const jiraLinks = (issueId: string) => h.sandbox.jira.remoteLinks.of(issueId);

describe('links to an item’s pull request on the other trackers', () => {
  it('Plane gets a work item link and Jira a remote link (globalId = the URL), once; both follow the title and the state', async () => {
    h.sandbox.github.pulls.pushBranch(GITHUB.owner, GITHUB.repo, 'feature/WP07', 2);
    await h.postEvents({
      type: 'item.upserted',
      item: { key: 'links/WP07', title: 'WP07: API', state: 'for_review', branch: 'feature/WP07' },
    });
    const [planeId, jiraId] = [await mapped('links/WP07', 'plane-main'), await mapped('links/WP07', 'jira-main')];
    const [{ number, url }] = await waitFor(() =>
      h.sql`select number, url from pull_requests where item_key = 'links/WP07' and state is not null`.then((r) => (r.length ? r : null)),
    );
    await waitFor(() => planeLinks(planeId).length === 1 && jiraLinks(jiraId).length === 1);
    expect(planeLinks(planeId)[0]).toMatchObject({ url, title: `PR #${number}: WP07: API (open)` });
    expect(jiraLinks(jiraId)[0]).toMatchObject({ globalId: url, object: { url, title: `PR #${number}`, status: { resolved: false } } });

    // A new title and a merge rewrite the same links; nothing is added.
    h.sandbox.github.pulls.update(repo, number, { title: 'WP07: API v2' }, 'alice');
    await waitFor(() => planeLinks(planeId)[0]?.title === `PR #${number}: WP07: API v2 (open)`);
    h.sandbox.github.pulls.merge(repo, number, {}, 'alice');
    await waitFor(() => planeLinks(planeId)[0]?.title === `PR #${number}: WP07: API v2 (merged)`);
    await waitFor(() => (jiraLinks(jiraId)[0]?.object as { status?: { resolved?: boolean } }).status?.resolved === true);
    expect(planeLinks(planeId)).toHaveLength(1);
    expect(jiraLinks(jiraId)).toHaveLength(1);
    // merged -> done reached Jira and Plane too.
    await waitFor(() => h.sandbox.jira.statusOf(h.sandbox.jira.issue(jiraId)!).name === 'Done');

    const [row] = await h.sql`select links from pull_requests where item_key = 'links/WP07'`;
    expect(Object.keys(row.links).sort()).toEqual(['jira-main', 'plane-main']);
  });

  it('a link written before a crash is found again by its URL instead of added twice', async () => {
    const [{ id, number }] = await h.sql`select id, number from pull_requests where item_key = 'links/WP07'`;
    const planeId = await mapped('links/WP07', 'plane-main');
    // Forget the links Trackline wrote (as if it died before recording them), then change the PR.
    await h.sql`update pull_requests set links = '{}' where id = ${id}`;
    h.sandbox.github.pulls.update(repo, number, { title: 'WP07: API v3' }, 'alice');
    await waitFor(() => planeLinks(planeId)[0]?.title === `PR #${number}: WP07: API v3 (merged)`);
    expect(planeLinks(planeId)).toHaveLength(1);
  });

  it('every links request validates against Plane’s and Jira’s specs', async () => {
    const toValidate = (tracker: string) =>
      h.sandbox.log
        .entries({ tracker })
        .filter((r) => r.path.includes('/links/') || r.path.endsWith('/remotelink'))
        .map((r) => {
          const query = new URLSearchParams(r.query).toString();
          return { method: r.method, url: `${r.path}${query ? `?${query}` : ''}`, body: r.body ?? undefined, headers: r.headers };
        });
    const plane = toValidate('plane');
    const jira = toValidate('jira');
    expect(plane.map((r) => r.method)).toEqual(expect.arrayContaining(['GET', 'POST', 'PATCH']));
    expect(jira.map((r) => r.method)).toContain('POST');
    (await loadSpecValidator('plane')).assertAll(plane);
    (await loadSpecValidator('jira')).assertAll(jira);
  });
});
