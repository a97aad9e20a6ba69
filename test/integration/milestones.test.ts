import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JIRA, startHarness, waitFor, type Harness } from '../support/harness.ts';
import { loadSpecValidator, specMissing } from '../support/openapi-validator.ts';

/**
 * An item's milestone in Jira (issue 15): a fix version of the project, found by name and created
 * when missing (one lookup per process), written as add/remove operations, refused when the
 * version is released (the other fields still sync), and a person's change coming back. The
 * connection is `manual`, so a milestone both sides changed waits for an operator.
 */

let h: Harness;
beforeAll(async () => {
  h = await startHarness('milestones_jira', { plane: false, jira: { conflict_strategy: 'manual' } });
  const api = await h.listenApi();
  h.sandbox.jiraWebhooks.register({ url: `${api}/webhooks/jira-main`, secret: JIRA.webhookSecret });
});
afterAll(async () => h?.close());

const jira = () => h.sandbox.jira;
const upsert = (key: string, fields: Record<string, unknown>) =>
  h.postEvents({ type: 'item.upserted', item: { key, ...fields }, actor: 'agent:planner' });
const desired = async (key: string) => (await h.sql`select desired from items where key = ${key}`)[0].desired as Record<string, unknown>;
const version = async (key: string) => Number((await h.sql`select version from items where key = ${key}`)[0].version);

async function settled(key: string, minVersion = 1) {
  return waitFor(
    () =>
      h.sql`select remote_id, remote_key, status, last_error from mappings where item_key = ${key} and connection_id = 'jira-main'
        and status in ('synced', 'conflict') and synced_version >= ${minVersion} and pending_push is null`.then((r) => r[0]),
    15_000,
  );
}

async function quiet() {
  await h.sandbox.jiraWebhooks.drain();
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

const fixVersions = (remoteId: string) =>
  jira()
    .issues.get(remoteId)!
    .fixVersions.map((id) => jira().versions.get(id)!.name);
const projectId = () => jira().project(JIRA.projectKey)!.id;

describe('Jira: the milestone is a fix version', () => {
  it('is created in the project when missing, once, and set on the new issue', async () => {
    h.sandbox.log.clear();
    await upsert('ms/1', { title: 'First', milestone: 'Release 1' });
    await upsert('ms/2', { title: 'Second', milestone: 'Release 1' });
    const [a, b] = [await settled('ms/1'), await settled('ms/2')];
    expect(fixVersions(a.remote_id)).toEqual(['Release 1']);
    expect(fixVersions(b.remote_id)).toEqual(['Release 1']);
    expect(
      jira()
        .versionsOf(projectId())
        .map((v) => v.name),
    ).toEqual(['Release 1']);
    expect(h.sandbox.log.entries({ tracker: 'jira', method: 'POST', pathIncludes: '/rest/api/3/version' })).toHaveLength(1);
    // The versions are read once, and once more on the miss that leads to the create.
    expect(h.sandbox.log.entries({ tracker: 'jira', method: 'GET', pathIncludes: '/versions' }).length).toBeLessThanOrEqual(2);
  });

  it('an item naming a version another item is creating waits for that create instead of reading the versions again', async () => {
    await upsert('ms/slow1', { title: 'Slow first' });
    await settled('ms/slow1');
    // The version create is answered a second late: the second item's lookup lands inside it.
    h.sandbox.faults.inject({ tracker: 'jira', method: 'POST', pathIncludes: '/rest/api/3/version', delayAfterMs: 1_000, times: 1 });
    h.sandbox.log.clear();
    await upsert('ms/slow1', { milestone: 'Release 9' });
    await waitFor(() =>
      jira()
        .versionsOf(projectId())
        .some((v) => v.name === 'Release 9'),
    );
    await upsert('ms/slow2', { title: 'Slow second', milestone: 'Release 9' });
    const [a, b] = [await settled('ms/slow1', 2), await settled('ms/slow2')];
    expect(fixVersions(a.remote_id)).toEqual(['Release 9']);
    expect(fixVersions(b.remote_id)).toEqual(['Release 9']);
    const [create] = h.sandbox.log.entries({ tracker: 'jira', method: 'POST', pathIncludes: '/rest/api/3/version' });
    const during = h.sandbox.log
      .entries({ tracker: 'jira', method: 'GET', pathIncludes: '/versions' })
      .filter((e) => Date.parse(e.at) > Date.parse(create.at) && Date.parse(e.at) < Date.parse(create.answeredAt!));
    expect(during).toEqual([]);
  });

  it('a new milestone removes the old version and adds the new one; a version a person set stays', async () => {
    const m = await settled('ms/1');
    await quiet();
    jira().createVersion({ name: 'Hotfix', projectId: projectId() });
    jira().editAsPerson(m.remote_key, { fixVersions: [{ name: 'Hotfix' }, { name: 'Release 1' }] }, JIRA.people.bob.email);
    await quiet();
    h.sandbox.log.clear();
    await upsert('ms/1', { milestone: 'Release 2' });
    await settled('ms/1', await version('ms/1'));
    const edits = h.sandbox.log.entries({ tracker: 'jira', method: 'PUT', pathIncludes: '/rest/api/3/issue/' });
    const release2 = jira()
      .versionsOf(projectId())
      .find((v) => v.name === 'Release 2')!;
    expect(edits.map((e) => e.body)).toEqual([
      { update: { fixVersions: [{ remove: { name: 'Release 1' } }, { add: { id: release2.id } }] } },
    ]);
    expect(fixVersions(m.remote_id)).toEqual(['Hotfix', 'Release 2']);
    expect((await desired('ms/1')).milestone).toBe('Release 2');
  });

  it('a person’s new fix version comes back to the item through the webhook', async () => {
    const m = await settled('ms/2');
    await quiet();
    jira().createVersion({ name: 'Release 3', projectId: projectId() });
    jira().editAsPerson(m.remote_key, { fixVersions: [{ name: 'Release 3' }] }, JIRA.people.bob.email);
    await waitFor(async () => (await desired('ms/2')).milestone === 'Release 3');
    const [change] = await h.sql`select fields from changes where item_key = 'ms/2' and type = 'item.changed' order by id desc limit 1`;
    expect(change.fields.milestone).toEqual({ from: 'Release 1', to: 'Release 3' });
  });

  it('a released version is refused with its name; the title still syncs and the milestone is held as a conflict', async () => {
    const old = jira().createVersion({ name: 'Release 0', projectId: projectId() });
    jira().releaseVersion(old.id);
    await upsert('ms/3', { title: 'Third', milestone: 'Release 1' });
    const m = await settled('ms/3');
    await quiet();
    await upsert('ms/3', { title: 'Third, renamed', milestone: 'Release 0' });
    const message = `Jira version "Release 0" of ${JIRA.projectKey} is released`;
    const row = await waitFor(() =>
      h.sql`select status, last_error from mappings where item_key = 'ms/3' and last_error like ${`${message}%`}`.then((r) => r[0]),
    );
    expect(row.status).toBe('conflict');
    expect(jira().issues.get(m.remote_id)!.summary).toBe('Third, renamed');
    expect(fixVersions(m.remote_id)).toEqual(['Release 1']);
    const [conflict] = await h.sql`select field, local_value, status, reason from conflicts where item_key = 'ms/3'`;
    expect(conflict).toMatchObject({ field: 'milestone', local_value: 'Release 0', status: 'open' });
    expect(conflict.reason).toContain(message);
  });

  it('under manual, a milestone changed on both sides waits for an operator, then the chosen side is applied', async () => {
    await upsert('ms/4', { title: 'Fourth', milestone: 'Release 1' });
    const m = await settled('ms/4');
    await quiet();
    h.sandbox.jiraWebhooks.hold();
    try {
      jira().editAsPerson(m.remote_key, { fixVersions: [{ name: 'Release 3' }] }, JIRA.people.bob.email);
      await upsert('ms/4', { milestone: 'Release 2' });
      const [conflict] = await waitFor(() =>
        h.sql`select id, field, base_value, local_value, remote_value from conflicts where item_key = 'ms/4' and status = 'open'`.then(
          (r) => (r.length ? r : null),
        ),
      );
      expect(conflict).toMatchObject({ field: 'milestone', base_value: 'Release 1', local_value: 'Release 2', remote_value: 'Release 3' });
      expect(fixVersions(m.remote_id)).toEqual(['Release 3']);
      const res = await h.api('POST', `/v1/conflicts/${conflict.id}/resolve`, { use: 'local', actor: 'orchestrator' });
      expect(res.status).toBe(200);
      await waitFor(() => fixVersions(m.remote_id).join() === 'Release 2');
    } finally {
      h.sandbox.jiraWebhooks.release();
    }
    await quiet();
    expect((await desired('ms/4')).milestone).toBe('Release 2');
  });

  it.skipIf(specMissing('jira'))('every request validates against Jira’s OpenAPI description', async () => {
    const spec = await loadSpecValidator('jira');
    const requests = h.sandbox.log.entries({ tracker: 'jira' });
    expect(requests.some((r) => r.method === 'POST' && r.path === '/rest/api/3/version')).toBe(true);
    spec.assertAll(
      requests.map((r) => {
        const query = new URLSearchParams(r.query).toString();
        return { method: r.method, url: `${r.path}${query ? `?${query}` : ''}`, body: r.body ?? undefined, headers: r.headers };
      }),
    );
  });
});
