import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCheck } from '../../src/cli/check-command.ts';
import { JIRA, NO_REDIS_URL, REDIS_URL, startHarness, waitFor, type Harness } from '../support/harness.ts';
import { loadSpecValidator, specMissing } from '../support/openapi-validator.ts';

/**
 * An item's custom fields in Jira (issue 15): `field_map` maps them to Jira fields by name or id,
 * resolved once through GET /rest/api/3/field (options from createmeta); each type is written in
 * Jira's format in the one create or edit request of the change and read back; a person's change
 * to a mapped field comes back (webhook changelog, JQL polling); a wrong type, a missing option
 * or an unknown Jira field is refused on the first attempt naming the Jira field and why, while
 * the title still syncs. Every request is checked against Jira's OpenAPI description.
 */

const FIELD_MAP = {
  complexity: 'Estimated Hours',
  risk: 'Risk Level',
  dependencies: 'Blocked By',
  due: 'customfield_10043', // Target Date, by id
  review: 'Review Due',
  areas: 'Areas',
  'fields.tags': 'Tags', // a key may name the item's field with its prefix
  ghost: 'Story Points', // no such field in the sandbox's Jira
};

let h: Harness;
beforeAll(async () => {
  h = await startHarness('jira_fields', { plane: false, jira: { field_map: FIELD_MAP } });
  const api = await h.listenApi();
  h.sandbox.jiraWebhooks.register({ url: `${api}/webhooks/jira-main`, secret: JIRA.webhookSecret });
});
afterAll(async () => h?.close());

const jira = () => h.sandbox.jira;
/** Every Jira request of the file, for the spec check at the end (the log is cleared between tests). */
const seen: ReturnType<Harness['sandbox']['log']['entries']> = [];
function clearLog() {
  seen.push(...h.sandbox.log.entries({ tracker: 'jira' }));
  h.sandbox.log.clear();
}
const id = (name: string) => [...jira().customFields.values()].find((f) => f.name === name)!.id;
const upsert = (key: string, item: Record<string, unknown>) =>
  h.postEvents({ type: 'item.upserted', item: { key, ...item }, actor: 'agent:planner' });
const custom = async (key: string) => (await h.sql`select custom from items where key = ${key}`)[0].custom as Record<string, unknown>;
const version = async (key: string) => Number((await h.sql`select version from items where key = ${key}`)[0].version);
/** The issue's custom field values as Jira's GET issue shows them. */
async function issueFields(remoteId: string): Promise<Record<string, unknown>> {
  const auth = `Basic ${Buffer.from(`${JIRA.email}:${JIRA.token}`).toString('base64')}`;
  const res = await h.sandbox.app.request(`/rest/api/3/issue/${remoteId}`, { headers: { authorization: auth } });
  return ((await res.json()) as { fields: Record<string, unknown> }).fields;
}
const optionValues = (v: unknown) => (v as Array<{ value: string }>).map((o) => o.value);

async function settled(key: string, minVersion = 1) {
  return waitFor(
    () =>
      h.sql`select remote_id, remote_key, status, last_error from mappings where item_key = ${key} and connection_id = 'jira-main'
        and status in ('synced', 'conflict') and synced_version >= ${minVersion} and pending_push is null`.then((r) => r[0]),
    20_000,
  );
}

/** The delivery that failed naming refused fields (attempt 1, not retried), and the mapping it marked. */
async function refused(key: string) {
  const delivery = await waitFor(
    () =>
      h.sql`select attempts, last_error from deliveries where direction = 'out' and item_key = ${key} and connection_id = 'jira-main'
        and status = 'failed'`.then((r) => r[0]),
    20_000,
  );
  const [mapping] = await h.sql`select remote_id, status, last_error from mappings where item_key = ${key} and connection_id = 'jira-main'`;
  return { delivery, mapping };
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

const ALL = {
  complexity: 5,
  risk: 'High',
  dependencies: 'ET-1',
  due: '2026-12-24',
  review: '2026-12-20T08:30:00.000Z',
  areas: ['API', 'Sync'],
  tags: ['beta'],
};

describe('Jira custom fields through field_map', () => {
  it('a create writes every type in Jira’s format in the create request itself', async () => {
    clearLog();
    await upsert('cf/1', { title: 'Fields', fields: ALL });
    const m = await settled('cf/1');
    expect(m.status).toBe('synced');
    const f = await issueFields(m.remote_id);
    expect(f[id('Estimated Hours')]).toBe(5);
    expect(f[id('Risk Level')]).toMatchObject({ value: 'High' });
    expect(f[id('Blocked By')]).toBe('ET-1');
    expect(f[id('Target Date')]).toBe('2026-12-24');
    expect(f[id('Review Due')]).toBe('2026-12-20T08:30:00.000+0000');
    expect(optionValues(f[id('Areas')])).toEqual(['API', 'Sync']);
    expect(f[id('Tags')]).toEqual(['beta']);
    const [create] = h.sandbox.log.entries({ tracker: 'jira', method: 'POST', pathIncludes: '/rest/api/3/issue' });
    expect((create.body as { fields: Record<string, unknown> }).fields).toMatchObject({
      [id('Estimated Hours')]: 5,
      [id('Risk Level')]: { value: 'High' },
      [id('Areas')]: [{ value: 'API' }, { value: 'Sync' }],
      [id('Review Due')]: '2026-12-20T08:30:00.000+0000',
    });
    // No write after the create: everything went in with it.
    expect(h.sandbox.log.entries({ tracker: 'jira', method: 'PUT' })).toHaveLength(0);
    // Jira's read back is what the item holds: nothing comes back as a change.
    await quiet();
    expect(await h.sql`select 1 from changes where item_key = 'cf/1'`).toHaveLength(0);
  });

  it('the field list and the create metadata are read once per process, and once more for the entry Jira lacks', async () => {
    // field_map's "ghost" names a field Jira does not have: it is looked for again once (at most
    // once a minute), in case an admin has just added it; the changes below read neither again.
    expect(h.sandbox.log.entries({ tracker: 'jira', method: 'GET', pathIncludes: '/rest/api/3/field' }).length).toBeLessThanOrEqual(2);
    expect(h.sandbox.log.entries({ tracker: 'jira', method: 'GET', pathIncludes: '/createmeta/' }).length).toBeLessThanOrEqual(2);
  });

  it('changes go in one edit: values set whole, a multi-select as additions and removals; null clears', async () => {
    const m = await settled('cf/1');
    clearLog();
    await upsert('cf/1', {
      fields: {
        complexity: 8,
        risk: 'Low',
        areas: ['API', 'UI'],
        due: null,
        dependencies: 'ET-2',
        review: '2027-01-01T09:00:00+01:00',
        tags: ['beta', 'rc'],
      },
    });
    await settled('cf/1', await version('cf/1'));
    const edits = h.sandbox.log.entries({ tracker: 'jira', method: 'PUT', pathIncludes: '/rest/api/3/issue/' });
    expect(edits.map((e) => e.body)).toEqual([
      {
        fields: {
          [id('Estimated Hours')]: 8,
          [id('Risk Level')]: { value: 'Low' },
          [id('Target Date')]: null,
          [id('Blocked By')]: 'ET-2',
          [id('Review Due')]: '2027-01-01T08:00:00.000+0000',
        },
        update: { [id('Areas')]: [{ add: { value: 'UI' } }, { remove: { value: 'Sync' } }], [id('Tags')]: [{ add: 'rc' }] },
      },
    ]);
    const f = await issueFields(m.remote_id);
    expect(f[id('Estimated Hours')]).toBe(8);
    expect(f[id('Target Date')]).toBeNull();
    expect(optionValues(f[id('Areas')])).toEqual(['API', 'UI']);
    expect(f[id('Tags')]).toEqual(['beta', 'rc']);
    expect(f[id('Review Due')]).toBe('2027-01-01T08:00:00.000+0000');
    expect(h.sandbox.log.entries({ tracker: 'jira', method: 'GET', pathIncludes: '/rest/api/3/field' })).toHaveLength(0);
  });

  it('a person’s change to mapped fields comes back through the webhook like a summary change', async () => {
    const m = await settled('cf/1');
    await quiet();
    jira().editAsPerson(
      m.remote_key,
      {
        [id('Risk Level')]: { value: 'Medium' },
        [id('Estimated Hours')]: 13,
        [id('Tags')]: ['beta', 'customer-x', 'rc'],
        [id('Blocked By')]: 'ET-3',
        [id('Target Date')]: '2027-02-01',
        [id('Review Due')]: '2027-01-05T10:00:00.000+0100',
      },
      JIRA.people.bob.email,
    );
    await waitFor(async () => (await custom('cf/1')).risk === 'Medium', 15_000);
    const c = await custom('cf/1');
    expect(c).toMatchObject({
      complexity: 13,
      tags: ['beta', 'customer-x', 'rc'],
      dependencies: 'ET-3',
      due: '2027-02-01',
      review: '2027-01-05T09:00:00.000Z',
    });
    const [change] =
      await h.sql`select fields, actor from changes where item_key = 'cf/1' and type = 'item.changed' order by id desc limit 1`;
    expect(change.fields).toMatchObject({
      'fields.risk': { from: 'Low', to: 'Medium' },
      'fields.complexity': { from: 8, to: 13 },
      'fields.tags': { from: ['beta', 'rc'], to: ['beta', 'customer-x', 'rc'] },
      'fields.dependencies': { from: 'ET-2', to: 'ET-3' },
      'fields.due': { from: null, to: '2027-02-01' },
    });
  });

  it('a person’s value added to a multi-select before its webhook stays, and comes back', async () => {
    const m = await settled('cf/1');
    await quiet();
    h.sandbox.jiraWebhooks.hold();
    try {
      jira().editIssue(m.remote_key, { update: { [id('Areas')]: [{ add: { value: 'Database' } }] } }, JIRA.people.alice.accountId);
      clearLog();
      await upsert('cf/1', { fields: { areas: ['UI'] } });
      await settled('cf/1', await version('cf/1'));
      const edits = h.sandbox.log.entries({ tracker: 'jira', method: 'PUT', pathIncludes: '/rest/api/3/issue/' });
      expect(edits.map((e) => e.body)).toEqual([{ update: { [id('Areas')]: [{ remove: { value: 'API' } }] } }]);
      expect(optionValues((await issueFields(m.remote_id))[id('Areas')]).sort()).toEqual(['Database', 'UI']);
    } finally {
      h.sandbox.jiraWebhooks.release();
    }
    await waitFor(async () => JSON.stringify((await custom('cf/1')).areas) === JSON.stringify(['Database', 'UI']), 15_000);
  });

  it('JQL polling notices a person’s change when no webhook arrives', async () => {
    await upsert('cf/2', { title: 'Polled', fields: { risk: 'Low' } });
    const m = await settled('cf/2');
    await quiet();
    const [target] = h.sandbox.jiraWebhooks.targets();
    h.sandbox.jiraWebhooks.setEnabled(target.id, false);
    try {
      jira().editAsPerson(m.remote_key, { [id('Risk Level')]: { value: 'High' }, [id('Blocked By')]: 'ET-7' }, JIRA.people.bob.email);
      await waitFor(async () => {
        await h.runtime.queues.pollNow('jira-main');
        return (await custom('cf/2')).risk === 'High';
      }, 20_000);
      expect((await custom('cf/2')).dependencies).toBe('ET-7');
    } finally {
      h.sandbox.jiraWebhooks.setEnabled(target.id, true);
    }
  });

  it('a wrong type fails the delivery on its first attempt naming the Jira field; the title syncs; the next value goes out', async () => {
    await upsert('cf/3', { title: 'Typed', fields: { complexity: 2 } });
    const m = await settled('cf/3');
    await quiet();
    clearLog();
    await upsert('cf/3', { title: 'Typed, renamed', fields: { complexity: 'three' } });
    const message =
      'Jira field "Estimated Hours" (customfield_10040), mapped from fields.complexity: it is a number field; the text "three" is not a number';
    const { delivery, mapping } = await refused('cf/3');
    expect(delivery).toMatchObject({ attempts: 1, last_error: message });
    expect(mapping).toMatchObject({ status: 'error', last_error: message });
    expect(jira().issues.get(m.remote_id)!.summary).toBe('Typed, renamed');
    expect((await issueFields(m.remote_id))[id('Estimated Hours')]).toBe(2);
    // One edit (the title), never a retry of the refused value, and nothing held as a conflict.
    await quiet();
    expect(h.sandbox.log.entries({ tracker: 'jira', method: 'PUT' }).map((e) => e.body)).toEqual([
      { fields: { summary: 'Typed, renamed' } },
    ]);
    expect(await h.sql`select 1 from conflicts where item_key = 'cf/3'`).toHaveLength(0);
    // The item's next value goes out.
    await upsert('cf/3', { fields: { complexity: 3 } });
    await waitFor(async () => (await issueFields(m.remote_id))[id('Estimated Hours')] === 3);
    await settled('cf/3', await version('cf/3'));
  });

  it('a missing option is refused naming the options', async () => {
    await upsert('cf/4', { title: 'Risky', fields: { risk: 'Low' } });
    const m = await settled('cf/4');
    await quiet();
    await upsert('cf/4', { title: 'Risky, renamed', fields: { risk: 'Extreme' } });
    const { delivery, mapping } = await refused('cf/4');
    expect(delivery.attempts).toBe(1);
    expect(mapping.last_error).toBe(
      `Jira field "Risk Level" (${id('Risk Level')}), mapped from fields.risk: it has no option "Extreme" (its options: "Low", "Medium", "High")`,
    );
    expect(jira().issues.get(m.remote_id)!.summary).toBe('Risky, renamed');
    expect(((await issueFields(m.remote_id))[id('Risk Level')] as { value: string }).value).toBe('Low');
  });

  it('a value Jira itself refuses (an option disabled since the metadata was read): the edit goes again without it', async () => {
    await upsert('cf/7', { title: 'Stale', fields: { risk: 'Low' } });
    const m = await settled('cf/7');
    await quiet();
    const medium = jira()
      .customFields.get(id('Risk Level'))!
      .options.find((o) => o.value === 'Medium')!;
    medium.disabled = true;
    try {
      clearLog();
      await upsert('cf/7', { title: 'Stale, renamed', fields: { risk: 'Medium' } });
      const { delivery, mapping } = await refused('cf/7');
      expect(delivery.attempts).toBe(1);
      expect(mapping.last_error).toMatch(
        new RegExp(
          `^Jira field "Risk Level" \\(${id('Risk Level')}\\), mapped from fields.risk: Jira refused the value \\(.*Option value 'Medium' is not valid\\)$`,
        ),
      );
      expect(jira().issues.get(m.remote_id)!.summary).toBe('Stale, renamed');
      expect(((await issueFields(m.remote_id))[id('Risk Level')] as { value: string }).value).toBe('Low');
      expect(h.sandbox.log.entries({ tracker: 'jira', method: 'PUT' }).map((e) => e.body)).toEqual([
        { fields: { summary: 'Stale, renamed', [id('Risk Level')]: { value: 'Medium' } } },
        { fields: { summary: 'Stale, renamed' } },
      ]);
    } finally {
      medium.disabled = false;
    }
  });

  it('an unknown Jira field in field_map is refused at the create, which goes through with the rest', async () => {
    await upsert('cf/5', { title: 'Ghostly', fields: { ghost: 'boo', complexity: 1 } });
    const { delivery, mapping } = await refused('cf/5');
    expect(delivery.attempts).toBe(1);
    expect(mapping.last_error).toBe(
      'field_map.ghost = "Story Points": Jira has no field "Story Points" (by name or id) that this user can see',
    );
    expect(jira().issues.get(mapping.remote_id)!.summary).toBe('Ghostly');
    expect((await issueFields(mapping.remote_id))[id('Estimated Hours')]).toBe(1);
  });

  it('two refused fields in one change are both named; the other fields are still written', async () => {
    await upsert('cf/6', { title: 'Twice', fields: { complexity: 1, risk: 'Low' } });
    const m = await settled('cf/6');
    await quiet();
    clearLog();
    await upsert('cf/6', { title: 'Twice, renamed', fields: { complexity: 'x', risk: 'Extreme', dependencies: 'ET-9' } });
    const { delivery, mapping } = await refused('cf/6');
    expect(delivery.attempts).toBe(1);
    expect(mapping.last_error).toContain('Jira field "Estimated Hours"');
    expect(mapping.last_error).toContain('it has no option "Extreme"');
    expect(jira().issues.get(m.remote_id)!.summary).toBe('Twice, renamed');
    expect(h.sandbox.log.entries({ tracker: 'jira', method: 'PUT' }).map((e) => e.body)).toEqual([
      { fields: { summary: 'Twice, renamed', [id('Blocked By')]: 'ET-9' } },
    ]);
  });

  it('trackline check lists the mapped fields it finds and the ones it cannot', async () => {
    const lines = await h.runtime.connections.get('jira-main')!.adapter().check();
    const fieldLines = lines.filter((l) => l.message.startsWith('field_map.'));
    expect(fieldLines.filter((l) => l.ok).map((l) => l.message)).toEqual([
      `field_map.complexity maps to Jira field "Estimated Hours" (${id('Estimated Hours')}, number)`,
      `field_map.risk maps to Jira field "Risk Level" (${id('Risk Level')}, option) (options: Low, Medium, High)`,
      `field_map.dependencies maps to Jira field "Blocked By" (${id('Blocked By')}, text)`,
      `field_map.due maps to Jira field "Target Date" (${id('Target Date')}, date)`,
      `field_map.review maps to Jira field "Review Due" (${id('Review Due')}, datetime)`,
      `field_map.areas maps to Jira field "Areas" (${id('Areas')}, options) (options: API, UI, Database, Sync)`,
      `field_map.tags maps to Jira field "Tags" (${id('Tags')}, strings)`,
    ]);
    expect(fieldLines.filter((l) => !l.ok)).toEqual([
      {
        ok: false,
        message: 'field_map.ghost = "Story Points": Jira has no field "Story Points" (by name or id) that this user can see',
        hint: 'fix field_map (a Jira field name or id such as customfield_10042) or add the field in Jira',
      },
    ]);
  });

  it('trackline check prints them, ✓ for each field it finds and ✗ with the reason for the one it cannot', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'trackline-check-'));
    const file = join(dir, 'trackline.toml');
    const map = Object.entries(FIELD_MAP)
      .map(([k, v]) => `${JSON.stringify(k)} = ${JSON.stringify(v)}`)
      .join(', ');
    writeFileSync(
      file,
      [
        '[[connections]]',
        'id = "jira-main"',
        'tracker = "jira"',
        `base_url = "${h.sandboxUrl}"`,
        `project_key = "${JIRA.projectKey}"`,
        `email = "${JIRA.email}"`,
        `api_token = "${JIRA.token}"`,
        'rate_limit = "off"',
        `field_map = { ${map} }`,
        // The run's queue backend: on a machine without Redis the CLI must not look for one.
        '[queue]',
        `backend = "${h.queueBackend}"`,
        '',
      ].join('\n'),
    );
    const saved = { ...process.env };
    Object.assign(process.env, {
      TRACKLINE_CONFIG: file,
      DATABASE_URL: h.databaseUrl,
      REDIS_URL: h.queueBackend === 'redis' ? REDIS_URL : NO_REDIS_URL,
      TRACKLINE_REDIS_PREFIX: h.redisPrefix,
      LOG_LEVEL: 'silent',
    });
    const out: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void out.push(String(line)));
    try {
      expect(await runCheck('jira-main')).toBe(1);
    } finally {
      spy.mockRestore();
      process.env = saved;
      rmSync(dir, { recursive: true, force: true });
    }
    const text = out.join('\n');
    expect(text).toContain(`  ✓ field_map.risk maps to Jira field "Risk Level" (${id('Risk Level')}, option) (options: Low, Medium, High)`);
    expect(text).toContain(`  ✓ field_map.due maps to Jira field "Target Date" (${id('Target Date')}, date)`);
    expect(text).toContain(
      '  ✗ field_map.ghost = "Story Points": Jira has no field "Story Points" (by name or id) that this user can see\n    → fix field_map',
    );
  });

  it.skipIf(specMissing('jira'))('every request validates against Jira’s OpenAPI description', async () => {
    const spec = await loadSpecValidator('jira');
    const requests = [...seen, ...h.sandbox.log.entries({ tracker: 'jira' })];
    expect(requests.some((r) => r.path === '/rest/api/3/field')).toBe(true);
    spec.assertAll(
      requests.map((r) => {
        const query = new URLSearchParams(r.query).toString();
        return { method: r.method, url: `${r.path}${query ? `?${query}` : ''}`, body: r.body ?? undefined, headers: r.headers };
      }),
    );
  });
});
