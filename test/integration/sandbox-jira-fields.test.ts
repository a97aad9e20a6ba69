import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSandbox } from '../../sandbox/server.ts';
import { JIRA, seedJira, waitFor } from '../support/harness.ts';
import { loadSpecValidator, specMissing } from '../support/openapi-validator.ts';

/**
 * The sandbox Jira's custom fields on their own: GET /field in Jira's shape, createmeta and
 * editmeta with the options, values written through `fields` and `update` and read back in
 * Jira's JSON, Jira's 400s for a wrong value, and the changelog of the jira:issue_updated webhook.
 */

const sandbox = createSandbox({ jira: { webhooks: { retryDelayMs: 20 } } });
const seeded = seedJira(sandbox);
const auth = `Basic ${Buffer.from(`${JIRA.email}:${JIRA.token}`).toString('base64')}`;
const call = async (method: string, path: string, body?: unknown) => {
  const res = await sandbox.app.request(path, {
    method,
    headers: { authorization: auth, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : null };
};
const sent: Array<{ method: string; url: string; body?: unknown }> = [];
const logged = async (method: string, path: string, body?: unknown) => {
  sent.push({ method, url: path, body });
  return call(method, path, body);
};

const id = (name: string) => seeded.customFields[name];
const base = { project: { key: 'ET' }, issuetype: { id: seeded.issueTypes.Task }, summary: 'with fields' };

describe('GET /rest/api/3/field', () => {
  it('lists system fields and the custom fields with Jira’s schema', async () => {
    const { status, json } = await logged('GET', '/rest/api/3/field');
    expect(status).toBe(200);
    const byName = new Map((json as Array<{ name: string }>).map((f) => [f.name, f]));
    expect(byName.get('Summary')).toMatchObject({ id: 'summary', custom: false, schema: { type: 'string', system: 'summary' } });
    expect(byName.get('Estimated Hours')).toMatchObject({
      id: id('Estimated Hours'),
      custom: true,
      clauseNames: [`cf[${id('Estimated Hours').replace('customfield_', '')}]`, 'Estimated Hours'],
      schema: { type: 'number', custom: 'com.atlassian.jira.plugin.system.customfieldtypes:float' },
    });
    expect(byName.get('Risk Level')).toMatchObject({ schema: { type: 'option', customId: Number(id('Risk Level').slice(12)) } });
    expect(byName.get('Areas')).toMatchObject({ schema: { type: 'array', items: 'option' } });
    expect(byName.get('Tags')).toMatchObject({ schema: { type: 'array', items: 'string' } });
    expect(byName.get('Target Date')).toMatchObject({ schema: { type: 'date' } });
    expect(byName.get('Review Due')).toMatchObject({ schema: { type: 'datetime' } });
    expect(id('Blocked By')).toMatch(/^customfield_\d+$/);
  });

  it('createmeta and editmeta give each option field its allowed values', async () => {
    const meta = await logged('GET', `/rest/api/3/issue/createmeta/ET/issuetypes/${seeded.issueTypes.Task}?maxResults=200`);
    expect(meta.status).toBe(200);
    const risk = (meta.json.fields as Array<{ fieldId: string }>).find((f) => f.fieldId === id('Risk Level'));
    expect(risk).toMatchObject({
      name: 'Risk Level',
      operations: ['set'],
      allowedValues: [{ value: 'Low' }, { value: 'Medium' }, { value: 'High' }],
    });
    const created = await logged('POST', '/rest/api/3/issue', { fields: base });
    const edit = await logged('GET', `/rest/api/3/issue/${created.json.key}/editmeta`);
    expect(edit.json.fields[id('Areas')]).toMatchObject({
      operations: ['add', 'set', 'remove'],
      allowedValues: [{ value: 'API' }, {}, {}, {}],
    });
  });
});

describe('values', () => {
  it('are written at create and read back in Jira’s JSON', async () => {
    const created = await logged('POST', '/rest/api/3/issue', {
      fields: {
        ...base,
        [id('Estimated Hours')]: 5.5,
        [id('Risk Level')]: { value: 'High' },
        [id('Blocked By')]: 'ET-1',
        [id('Target Date')]: '2026-12-24',
        [id('Review Due')]: '2026-12-20T09:30:00.000+0100',
        [id('Areas')]: [{ value: 'API' }, { value: 'Sync' }],
        [id('Tags')]: ['customer-x', 'beta'],
      },
    });
    expect(created.status).toBe(201);
    const issue = await logged('GET', `/rest/api/3/issue/${created.json.id}`);
    const f = issue.json.fields;
    expect(f[id('Estimated Hours')]).toBe(5.5);
    expect(f[id('Risk Level')]).toMatchObject({ value: 'High', id: expect.any(String) });
    expect(f[id('Blocked By')]).toBe('ET-1');
    expect(f[id('Target Date')]).toBe('2026-12-24');
    expect(f[id('Review Due')]).toBe('2026-12-20T08:30:00.000+0000');
    expect(f[id('Areas')].map((o: { value: string }) => o.value)).toEqual(['API', 'Sync']);
    expect(f[id('Tags')]).toEqual(['customer-x', 'beta']);
    // Asked by name, only the named ones come back; every field of the context is listed (null when empty).
    const some = await logged('GET', `/rest/api/3/issue/${created.json.id}?fields=summary,${id('Risk Level')}`);
    expect(Object.keys(some.json.fields).sort()).toEqual([id('Risk Level'), 'summary'].sort());
    const empty = await logged('POST', '/rest/api/3/issue', { fields: base });
    expect((await call('GET', `/rest/api/3/issue/${empty.json.id}`)).json.fields[id('Risk Level')]).toBeNull();
  });

  it('are edited through fields (set, clear) and update (add/remove on multi-value fields)', async () => {
    const created = await logged('POST', '/rest/api/3/issue', { fields: { ...base, [id('Areas')]: [{ value: 'API' }] } });
    const key = created.json.key;
    const put = await logged('PUT', `/rest/api/3/issue/${key}`, {
      fields: { [id('Estimated Hours')]: 3, [id('Risk Level')]: { value: 'Low' } },
      update: { [id('Areas')]: [{ add: { value: 'UI' } }, { remove: { value: 'API' } }], [id('Tags')]: [{ add: 'beta' }] },
    });
    expect(put.status).toBe(204);
    let f = (await call('GET', `/rest/api/3/issue/${key}`)).json.fields;
    expect(f[id('Estimated Hours')]).toBe(3);
    expect(f[id('Risk Level')].value).toBe('Low');
    expect(f[id('Areas')].map((o: { value: string }) => o.value)).toEqual(['UI']);
    expect(f[id('Tags')]).toEqual(['beta']);
    await logged('PUT', `/rest/api/3/issue/${key}`, { fields: { [id('Risk Level')]: null, [id('Estimated Hours')]: null } });
    f = (await call('GET', `/rest/api/3/issue/${key}`)).json.fields;
    expect(f[id('Risk Level')]).toBeNull();
    expect(f[id('Estimated Hours')]).toBeNull();
  });

  it('a wrong value is a 400 naming the field id, and nothing is written', async () => {
    const created = await call('POST', '/rest/api/3/issue', { fields: base });
    const key = created.json.key;
    const cases: Array<[Record<string, unknown>, string, string]> = [
      [{ [id('Estimated Hours')]: 'three' }, id('Estimated Hours'), 'Operation value must be a number'],
      [{ [id('Blocked By')]: 7 }, id('Blocked By'), 'Operation value must be a string'],
      [{ [id('Risk Level')]: { value: 'Extreme' } }, id('Risk Level'), "Option value 'Extreme' is not valid"],
      [{ [id('Risk Level')]: 'High' }, id('Risk Level'), 'data was not an object'],
      [{ [id('Target Date')]: '24/12/2026' }, id('Target Date'), 'Error parsing date string: 24/12/2026'],
      [{ [id('Areas')]: { value: 'API' } }, id('Areas'), 'data was not an array'],
      [{ [id('Tags')]: ['two words'] }, id('Tags'), "The label 'two words' contains spaces which is invalid."],
      [
        { customfield_99999: 1 },
        'customfield_99999',
        "Field 'customfield_99999' cannot be set. It is not on the appropriate screen, or unknown.",
      ],
    ];
    for (const [fields, field, message] of cases) {
      const res = await call('PUT', `/rest/api/3/issue/${key}`, { fields: { summary: 'not written', ...fields } });
      expect(res.status, JSON.stringify(fields)).toBe(400);
      expect(res.json).toEqual({ errorMessages: [], errors: { [field]: message } });
    }
    const add = await call('PUT', `/rest/api/3/issue/${key}`, { update: { [id('Estimated Hours')]: [{ add: 1 }] } });
    expect(add.json.errors[id('Estimated Hours')]).toBe("Operation 'add' is not supported for field Estimated Hours.");
    expect((await call('GET', `/rest/api/3/issue/${key}`)).json.fields.summary).toBe('with fields');
  });
});

describe('changelog', () => {
  let server: Server;
  const bodies: Array<Record<string, unknown>> = [];
  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.statusCode = 204;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    sandbox.jiraWebhooks.dispose();
  });

  it('a person’s change to a custom field is a changelog item with the field’s name and id', async () => {
    const issue = sandbox.jira.createAsPerson('ET', {
      summary: 'logged',
      [id('Risk Level')]: { value: 'Low' },
      [id('Estimated Hours')]: 2,
    });
    const address = server.address() as { port: number };
    const target = sandbox.jiraWebhooks.register({
      url: `http://127.0.0.1:${address.port}/`,
      secret: JIRA.webhookSecret,
      events: ['jira:issue_updated'],
    });
    sandbox.jira.editAsPerson(
      issue.key,
      { [id('Risk Level')]: { value: 'High' }, [id('Estimated Hours')]: 8, [id('Tags')]: ['a', 'b'] },
      JIRA.people.bob.email,
    );
    await waitFor(() => bodies.length >= 1);
    sandbox.jiraWebhooks.unregister(target.id);
    const [body] = bodies as Array<{ changelog: { items: unknown[] }; issue: { fields: Record<string, unknown> } }>;
    const risk = sandbox.jira.customFields.get(id('Risk Level'))!;
    const items = [...body.changelog.items].sort((a, b) => (a as { field: string }).field.localeCompare((b as { field: string }).field));
    expect(items).toEqual([
      {
        field: 'Estimated Hours',
        fieldtype: 'custom',
        fieldId: id('Estimated Hours'),
        from: null,
        fromString: '2',
        to: null,
        toString: '8',
      },
      {
        field: 'Risk Level',
        fieldtype: 'custom',
        fieldId: id('Risk Level'),
        from: risk.options.find((o) => o.value === 'Low')!.id,
        fromString: 'Low',
        to: risk.options.find((o) => o.value === 'High')!.id,
        toString: 'High',
      },
      { field: 'Tags', fieldtype: 'custom', fieldId: id('Tags'), from: null, fromString: null, to: null, toString: 'a b' },
    ]);
    expect(body.issue.fields[id('Estimated Hours')]).toBe(8);
  });

  it.skipIf(specMissing('jira'))('every request the tests sent validates against Jira’s OpenAPI description', async () => {
    const spec = await loadSpecValidator('jira');
    spec.assertAll(sent);
  });
});
