import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GITHUB, startHarness, waitFor, type Harness } from '../support/harness.ts';
import { loadSpecValidator, specMissing } from '../support/openapi-validator.ts';

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

describe('an item with no pull request', () => {
  it('costs its reconciles no query about pull requests beyond the pair’s own load', async () => {
    // Every statement the service sends (postgres.js reads its debug hook at each query).
    const options = (h.runtime.db.sql as unknown as { options: { debug?: unknown } }).options;
    const sent: string[] = [];
    options.debug = (_connection: number, query: string) => sent.push(query);
    try {
      await h.postEvents({ type: 'item.upserted', item: { key: 'plain/1', title: 'No branch, no pull request', state: 'doing' } });
      await waitFor(() =>
        h.sql`select count(*)::int as n from mappings m join items i on i.key = m.item_key
          where m.item_key = 'plain/1' and m.status = 'synced' and m.synced_version = i.version`.then((r) => r[0].n === 3),
      );
      await h.postEvents({ type: 'item.upserted', item: { key: 'plain/1', title: 'Renamed' } });
      await waitFor(() => h.sandbox.plane.issuesOf(h.project.projectId).find((i) => i.external_id === 'plain/1')?.name === 'Renamed');
    } finally {
      options.debug = undefined;
    }
    const reconciles = await h.sql`select count(*)::int as n from deliveries where kind = 'reconcile' and item_key = 'plain/1'`;
    expect(reconciles[0].n).toBeGreaterThanOrEqual(4);
    const loads = sent.filter((q) => q.includes('has_pull_requests'));
    expect(loads.length).toBeGreaterThanOrEqual(4);
    expect(sent.filter((q) => /\bpull_requests\b/.test(q) && !q.includes('has_pull_requests'))).toEqual([]);
  });
});

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

  it('links.pull_request moved to another pull request: the old one’s Plane link and Jira remote link are removed, the new one’s written, none twice', async () => {
    const pulls = h.sandbox.github.pulls;
    pulls.pushBranch(GITHUB.owner, GITHUB.repo, 'alice/a', 1);
    pulls.pushBranch(GITHUB.owner, GITHUB.repo, 'alice/b', 1);
    const a = pulls.create(repo, { title: 'Fix A', head: 'alice/a', base: 'main' }, 'alice').issue;
    const b = pulls.create(repo, { title: 'Fix B', head: 'alice/b', base: 'main' }, 'alice').issue;
    const urlOf = (n: number) => `${h.sandboxUrl}/acme/app/pull/${n}`;
    await h.postEvents({
      type: 'item.upserted',
      item: { key: 'links/L1', title: 'L1', state: 'doing', links: { pull_request: `#${a.number}` } },
    });
    const [planeId, jiraId] = [await mapped('links/L1', 'plane-main'), await mapped('links/L1', 'jira-main')];
    await waitFor(() => planeLinks(planeId).length === 1 && jiraLinks(jiraId).length === 1);
    expect(planeLinks(planeId)[0]!.url).toBe(urlOf(a.number));

    await h.postEvents({ type: 'item.upserted', item: { key: 'links/L1', links: { pull_request: `#${b.number}` } } });
    await waitFor(
      () =>
        planeLinks(planeId)
          .map((l) => l.url)
          .join() === urlOf(b.number) &&
        jiraLinks(jiraId)
          .map((l) => l.globalId)
          .join() === urlOf(b.number),
    );
    expect(planeLinks(planeId)[0]!.title).toBe(`PR #${b.number}: Fix B (open)`);
    // Removed with the vendors' DELETEs: Plane's link by id, Jira's remote link by its global id.
    const deletes = h.sandbox.log
      .entries()
      .filter((e) => e.method === 'DELETE' && (e.path.includes('/links/') || e.path.endsWith('/remotelink')));
    expect(deletes.map((e) => [e.tracker, e.status])).toEqual(
      expect.arrayContaining([
        ['plane', 204],
        ['jira', 204],
      ]),
    );
    expect(deletes.find((e) => e.tracker === 'jira')!.query).toEqual({ globalId: urlOf(a.number) });
    // Only B is the item's; A's row is gone once no tracker shows it.
    const view = (await (await h.api('GET', '/v1/items/links%2FL1')).json()) as { pullRequests: { number: number }[] };
    expect(view.pullRequests.map((p) => p.number)).toEqual([b.number]);
    await waitFor(() => h.sql`select 1 from pull_requests where number = ${a.number}`.then((r) => r.length === 0));
    const trail = await h.sql`select detail from activity where item_key = 'links/L1' and action = 'pull_request.detached'`;
    expect(trail.map((r) => r.detail)).toEqual([
      expect.objectContaining({ number: a.number, reason: `links.pull_request names #${b.number} now` }),
    ]);
  });

  it('a person’s pull request that said Fixes #N, edited to drop it: its links on Plane and Jira are removed', async () => {
    await h.postEvents({ type: 'item.upserted', item: { key: 'links/L2', title: 'L2', state: 'doing' } });
    const [issue, planeId, jiraId] = [
      await mapped('links/L2', 'gh-main'),
      await mapped('links/L2', 'plane-main'),
      await mapped('links/L2', 'jira-main'),
    ];
    h.sandbox.github.pulls.pushBranch(GITHUB.owner, GITHUB.repo, 'alice/c', 1);
    const c = h.sandbox.github.pulls.create(
      repo,
      { title: 'Fix C', head: 'alice/c', base: 'main', body: `Fixes #${issue}` },
      'alice',
    ).issue;
    await waitFor(() => planeLinks(planeId).length === 1 && jiraLinks(jiraId).length === 1);

    h.sandbox.github.pulls.update(repo, c.number, { body: 'Something else after all.' }, 'alice');
    await waitFor(() => planeLinks(planeId).length === 0 && jiraLinks(jiraId).length === 0);
    const view = (await (await h.api('GET', '/v1/items/links%2FL2')).json()) as { pullRequests: unknown[] };
    expect(view.pullRequests).toEqual([]);
    // Saying it again makes it the item's again.
    h.sandbox.github.pulls.update(repo, c.number, { body: `Fixes #${issue} after all.` }, 'alice');
    await waitFor(() => planeLinks(planeId).length === 1 && jiraLinks(jiraId).length === 1);
    expect(planeLinks(planeId)[0]!.title).toBe(`PR #${c.number}: Fix C (open)`);
  });

  it.skipIf(specMissing('plane') || specMissing('jira'))('every links request validates against Plane’s and Jira’s specs', async () => {
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
    expect(plane.map((r) => r.method)).toEqual(expect.arrayContaining(['GET', 'POST', 'PATCH', 'DELETE']));
    expect(jira.map((r) => r.method)).toEqual(expect.arrayContaining(['POST', 'DELETE']));
    (await loadSpecValidator('plane')).assertAll(plane);
    (await loadSpecValidator('jira')).assertAll(jira);
  });
});
