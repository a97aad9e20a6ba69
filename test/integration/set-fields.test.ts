import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GITHUB, JIRA, startHarness, waitFor, type Harness } from '../support/harness.ts';

/**
 * Set-valued fields keep what people added (issue 15). The case, in each tracker: a person adds
 * the label `customer-x` in the tracker, and before that change's webhook reaches Trackline the
 * orchestrator changes the item's labels from [backend, sync] to [backend, frontend]. Trackline
 * must write only its own additions and removals (frontend in, sync out), leave customer-x in
 * place, and once the webhook arrives bring customer-x back to the item as a change.
 */

const PLANE_SECRET = 'plane_wh_set_fields_0123456789';
let h: Harness;
beforeAll(async () => {
  // One connection per tracker, each carrying its own kind of item.
  h = await startHarness('set_fields', {
    plane: { webhook_secret: PLANE_SECRET, kinds: ['p'] },
    github: { kinds: ['g'] },
    jira: { kinds: ['j'] },
  });
  const api = await h.listenApi();
  h.sandbox.planeWebhooks.register({ url: `${api}/webhooks/plane-main`, secret: PLANE_SECRET });
  h.sandbox.github.webhooks.register(GITHUB.owner, GITHUB.repo, { url: `${api}/webhooks/gh-main`, secret: GITHUB.webhookSecret });
  h.sandbox.jiraWebhooks.register({ url: `${api}/webhooks/jira-main`, secret: JIRA.webhookSecret });
});
afterAll(async () => h?.close());

const upsert = (key: string, fields: Record<string, unknown>) =>
  h.postEvents({ type: 'item.upserted', item: { key, ...fields }, actor: 'agent:planner' });

async function synced(key: string, connection: string, minVersion = 1) {
  return waitFor(
    () =>
      h.sql`select remote_id, remote_key from mappings where item_key = ${key} and connection_id = ${connection}
        and status = 'synced' and synced_version >= ${minVersion}`.then((r) => r[0]),
    15_000,
  );
}

/** Every webhook already sent has been taken in and every job it made has run. */
async function quiet() {
  await Promise.all([h.sandbox.planeWebhooks.drain(), h.sandbox.github.webhooks.drain(), h.sandbox.jiraWebhooks.drain()]);
  await waitFor(() =>
    h.sql`select count(*)::int as n from deliveries where kind = 'webhook' and status in ('received', 'processing', 'queued')`.then(
      (r) => r[0].n === 0,
    ),
  );
  await waitFor(() =>
    h.runtime.queues.reconcile
      .getJobCounts('active', 'waiting', 'delayed', 'prioritized', 'waiting-children')
      .then((c) => Object.values(c).every((n) => n === 0)),
  );
}

const itemLabels = async (key: string) =>
  ((await h.sql`select desired from items where key = ${key}`)[0].desired.labels as string[]).sort();

/**
 * The shared second half: the person's webhook arrives late; customer-x comes back to the item as
 * the connection's change (feed and trail), and the tracker keeps all three labels.
 */
async function personsLabelComesBack(key: string, connection: string, trackerLabels: () => string[]) {
  await waitFor(async () => (await itemLabels(key)).includes('customer-x'), 15_000);
  expect(await itemLabels(key)).toEqual(['backend', 'customer-x', 'frontend']);
  const [change] =
    await h.sql`select fields, connection_id from changes where item_key = ${key} and type = 'item.changed' order by id desc limit 1`;
  expect(change.connection_id).toBe(connection);
  expect(change.fields.labels).toEqual({ from: ['backend', 'frontend'], to: ['backend', 'customer-x', 'frontend'] });
  const pulled = await h.sql`select actor from activity where item_key = ${key} and action = 'field.pulled' and field = 'labels'`;
  expect(pulled.map((r) => r.actor)).toEqual([`sync:${connection}`]);
  await quiet();
  expect(trackerLabels()).toEqual(['backend', 'customer-x', 'frontend']);
}

describe('a label a person adds before its webhook arrives', () => {
  it('Jira: the edit sends only add frontend / remove sync, and customer-x comes back to the item', async () => {
    const key = 'sets/jira';
    await upsert(key, { kind: 'j', title: 'Labels in Jira', labels: ['backend', 'sync'] });
    const mapping = await synced(key, 'jira-main');
    await quiet();
    const issue = () => h.sandbox.jira.issues.get(String(mapping.remote_id))!;
    const visible = () =>
      issue()
        .labels.filter((l) => !l.startsWith('trackline:'))
        .sort();
    h.sandbox.jiraWebhooks.hold();
    try {
      h.sandbox.jira.editAsPerson(mapping.remote_key, { labels: [...issue().labels, 'customer-x'] }, JIRA.people.bob.email);
      h.sandbox.log.clear();
      await upsert(key, { labels: ['backend', 'frontend'] });
      await synced(key, 'jira-main', 2);
      const edits = h.sandbox.log.entries({ tracker: 'jira', method: 'PUT', pathIncludes: '/rest/api/3/issue/' });
      expect(edits.map((e) => e.body)).toEqual([{ update: { labels: [{ add: 'frontend' }, { remove: 'sync' }] } }]);
      expect(visible()).toEqual(['backend', 'customer-x', 'frontend']);
      // Until the webhook arrives the item has not heard of customer-x.
      expect(await itemLabels(key)).toEqual(['backend', 'frontend']);
    } finally {
      h.sandbox.jiraWebhooks.release();
    }
    await personsLabelComesBack(key, 'jira-main', visible);
  });

  it('GitHub: the PATCH keeps customer-x beside frontend, and customer-x comes back to the item', async () => {
    const key = 'sets/github';
    await upsert(key, { kind: 'g', title: 'Labels on GitHub', labels: ['backend', 'sync'] });
    const mapping = await synced(key, 'gh-main');
    await quiet();
    const store = h.sandbox.github.store;
    const repo = store.repo(GITHUB.owner, GITHUB.repo)!;
    const labels = () =>
      store
        .issue(`${GITHUB.owner}/${GITHUB.repo}`, Number(mapping.remote_id))!
        .labels.map((k) => repo.labels.get(k)!.name)
        .sort();
    h.sandbox.github.webhooks.hold();
    try {
      store.editAsPerson(GITHUB.owner, GITHUB.repo, Number(mapping.remote_id), { addLabels: ['customer-x'] }, 'bob');
      h.sandbox.log.clear();
      await upsert(key, { labels: ['backend', 'frontend'] });
      await synced(key, 'gh-main', 2);
      const patches = h.sandbox.log.entries({ tracker: 'github', method: 'PATCH', pathIncludes: '/issues/' });
      expect(patches).toHaveLength(1);
      expect(((patches[0].body as { labels: string[] }).labels ?? []).sort()).toEqual(['backend', 'customer-x', 'frontend']);
      expect(labels()).toEqual(['backend', 'customer-x', 'frontend']);
    } finally {
      h.sandbox.github.webhooks.release();
    }
    await personsLabelComesBack(key, 'gh-main', labels);
  });

  it('Plane: the PATCH keeps customer-x beside frontend, and customer-x comes back to the item', async () => {
    const key = 'sets/plane';
    const pid = h.project.projectId;
    await upsert(key, { kind: 'p', title: 'Labels in Plane', labels: ['backend', 'sync'] });
    const mapping = await synced(key, 'plane-main');
    await quiet();
    const plane = h.sandbox.plane;
    const nameOf = (id: string) => plane.labelsOf(pid).find((l) => l.id === id)!.name;
    const labels = () => plane.issue(pid, String(mapping.remote_id))!.labels.map(nameOf).sort();
    h.sandbox.planeWebhooks.hold();
    try {
      const customer = plane.createLabel(pid, { name: 'customer-x' }, { kind: 'person' } as never);
      plane.editAsPerson(String(mapping.remote_id), { labels: [...plane.issue(pid, String(mapping.remote_id))!.labels, customer.id] });
      h.sandbox.log.clear();
      await upsert(key, { labels: ['backend', 'frontend'] });
      await synced(key, 'plane-main', 2);
      const patches = h.sandbox.log.entries({ tracker: 'plane', method: 'PATCH', pathIncludes: '/work-items/' });
      expect(patches).toHaveLength(1);
      expect(((patches[0].body as { labels: string[] }).labels ?? []).map(nameOf).sort()).toEqual(['backend', 'customer-x', 'frontend']);
      expect(labels()).toEqual(['backend', 'customer-x', 'frontend']);
      expect(await itemLabels(key)).toEqual(['backend', 'frontend']);
    } finally {
      h.sandbox.planeWebhooks.release();
    }
    await personsLabelComesBack(key, 'plane-main', labels);
  });
});
