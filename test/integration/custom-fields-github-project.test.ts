import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GITHUB, startHarness, waitFor, type Harness } from '../support/harness.ts';

/**
 * Custom fields on a GitHub Projects v2 board (issue 15): field_map maps an item's custom field to
 * a project field by name, for each type the project API sets (text, number, date, single select,
 * iteration), both ways, every field of one change in one GraphQL request, and a refused value
 * failing the delivery by name while the rest syncs.
 */

// README's field_map example, as written, plus a date, an iteration and a core field.
const FIELD_MAP = {
  complexity: 'Estimated Hours',
  risk: 'Risk Level',
  dependencies: 'Blocked By',
  due: 'Due',
  sprint: 'Sprint',
  priority: 'Priority',
  // A field the board does not have: check says so; items never set it.
  ghost: 'No Such Field',
};

function helpers(h: () => Harness) {
  const gh = () => h().sandbox.github.store;
  const issueOf = (key: string) =>
    gh()
      .issuesOf(`${GITHUB.owner}/${GITHUB.repo}`)
      .find((i) => !i.deleted && (i.body ?? '').includes(`trackline:item=${encodeURIComponent(key)} `));
  const itemOf = (key: string) => {
    const issue = issueOf(key);
    return issue ? gh().projectItemsOf(issue.node_id)[0] : undefined;
  };
  const boardValue = (key: string, field: string) => gh().itemValue(itemOf(key)!, field);
  const upsert = (key: string, item: Record<string, unknown>) => h().postEvents({ type: 'item.upserted', item: { key, ...item } });
  const version = async (key: string) => Number((await h().sql`select version from items where key = ${key}`)[0].version);
  const custom = async (key: string) => (await h().sql`select custom from items where key = ${key}`)[0].custom as Record<string, unknown>;
  const settled = (key: string, minVersion = 1, connection = 'gh-board') =>
    waitFor(
      () =>
        h().sql`select remote_id, status, last_error from mappings where item_key = ${key} and connection_id = ${connection}
            and status in ('synced', 'conflict') and synced_version >= ${minVersion} and pending_push is null`.then((r) => r[0]),
      20_000,
    );
  /** GraphQL mutation documents the board connection sent since the log was last cleared. */
  const mutations = () =>
    h()
      .sandbox.log.entries({ tracker: 'github', method: 'POST', pathIncludes: '/graphql' })
      .filter((e) =>
        String((e.body as { query?: string })?.query ?? '')
          .trimStart()
          .startsWith('mutation'),
      );
  return { gh, issueOf, itemOf, boardValue, upsert, version, custom, settled, mutations };
}

describe('Projects v2 custom fields, local-wins, both ways', () => {
  let h: Harness;
  const t = helpers(() => h);
  beforeAll(async () => {
    h = await startHarness('custom_fields_project', {
      plane: false,
      github: {},
      githubProject: { direction: 'both', field_map: FIELD_MAP },
    });
  });
  afterAll(async () => h?.close());

  it('the seed example works as written: number, single select and text', async () => {
    await t.upsert('cf/1', { title: 'Seed', state: 'planned', fields: { complexity: 5, risk: 'High', dependencies: 'WP01' } });
    await t.settled('cf/1', 1, 'gh-main');
    await t.settled('cf/1');
    expect(t.boardValue('cf/1', 'Estimated Hours')).toBe(5);
    expect(t.boardValue('cf/1', 'Risk Level')).toBe('High');
    expect(t.boardValue('cf/1', 'Blocked By')).toBe('WP01');
    expect(t.boardValue('cf/1', 'Status')).toBe('Todo');
  });

  it('writes every field of one change in ONE GraphQL request (aliases), each type, null clearing', async () => {
    await t.settled('cf/1');
    h.sandbox.log.clear();
    await t.upsert('cf/1', {
      priority: 'P1',
      fields: { complexity: 8, risk: 'Low', dependencies: null, due: '2026-12-24', sprint: 'Sprint 2' },
    });
    await t.settled('cf/1', await t.version('cf/1'));
    const sent = t.mutations();
    expect(sent).toHaveLength(1);
    const query = (sent[0]!.body as { query: string }).query;
    expect(query.match(/updateProjectV2ItemFieldValue/g)).toHaveLength(5);
    expect(query.match(/clearProjectV2ItemFieldValue/g)).toHaveLength(1);
    // The values as GitHub's ProjectV2FieldValue takes them: one member each.
    const values = Object.entries((sent[0]!.body as { variables: Record<string, unknown> }).variables)
      .filter(([k]) => k.startsWith('v'))
      .map(([, v]) => Object.keys(v as object));
    expect(values.flat().sort()).toEqual(['date', 'iterationId', 'number', 'singleSelectOptionId', 'singleSelectOptionId']);
    expect(t.boardValue('cf/1', 'Estimated Hours')).toBe(8);
    expect(t.boardValue('cf/1', 'Risk Level')).toBe('Low');
    expect(t.boardValue('cf/1', 'Blocked By')).toBeUndefined();
    expect(t.boardValue('cf/1', 'Due')).toBe('2026-12-24');
    expect(t.boardValue('cf/1', 'Sprint')).toBe('Sprint 2');
    expect(t.boardValue('cf/1', 'Priority')).toBe('P1');
    // No read after the write: the mutation's answer is the item.
    expect(h.sandbox.log.entries({ tracker: 'github', pathIncludes: '/graphql' })).toHaveLength(1);
    const trail =
      await h.sql`select field, to_value from activity where item_key = 'cf/1' and action = 'field.pushed' and connection_id = 'gh-board' and field like 'fields.%' order by id desc limit 5`;
    expect(trail.map((r) => r.field).sort()).toEqual([
      'fields.complexity',
      'fields.dependencies',
      'fields.due',
      'fields.risk',
      'fields.sprint',
    ]);
  });

  it('the same values again cost no request (no echo, no rewrite)', async () => {
    await t.settled('cf/1', await t.version('cf/1'));
    h.sandbox.log.clear();
    await t.upsert('cf/1', { fields: { complexity: 8, risk: 'Low', due: '2026-12-24' } });
    await t.settled('cf/1', await t.version('cf/1'));
    expect(t.mutations()).toHaveLength(0);
  });

  it('a person’s change of each type on the board comes back through the poll, on the feed as fields.<name>', async () => {
    const item = t.itemOf('cf/1')!;
    t.gh().editProjectItemAsPerson(item, 'Risk Level', 'Medium');
    t.gh().editProjectItemAsPerson(item, 'Estimated Hours', 13);
    t.gh().editProjectItemAsPerson(item, 'Sprint', 'Sprint 1');
    t.gh().editProjectItemAsPerson(item, 'Due', '2027-01-10');
    t.gh().editProjectItemAsPerson(item, 'Blocked By', 'WP03');
    await waitFor(async () => {
      await h.runtime.queues.pollNow('gh-board');
      const c = await t.custom('cf/1');
      return c.risk === 'Medium' && c.complexity === 13 && c.sprint === 'Sprint 1' && c.due === '2027-01-10' && c.dependencies === 'WP03';
    }, 20_000);
    const changes =
      await h.sql`select fields from changes where item_key = 'cf/1' and type = 'item.changed' and connection_id = 'gh-board'`;
    const fields = Object.assign({}, ...changes.map((c) => c.fields));
    expect(fields['fields.risk']).toEqual({ from: 'Low', to: 'Medium' });
    expect(fields['fields.complexity']).toEqual({ from: 8, to: 13 });
    expect(fields['fields.sprint']).toEqual({ from: 'Sprint 2', to: 'Sprint 1' });
    const res = await h.api('GET', '/v1/items/cf%2F1');
    expect(((await res.json()) as { fields: { fields: Record<string, unknown> } }).fields.fields).toMatchObject({
      risk: 'Medium',
      complexity: 13,
    });
  });

  it('a missing option and a wrong type fail the first attempt naming the project field; the rest syncs', async () => {
    await t.settled('cf/1', await t.version('cf/1'));
    await t.upsert('cf/1', { title: 'Seed, renamed', fields: { risk: 'Severe', complexity: 'lots', sprint: 'Sprint 2' } });
    const delivery = await waitFor(
      () =>
        h.sql`select attempts, last_error from deliveries where kind = 'reconcile' and item_key = 'cf/1' and connection_id = 'gh-board' and status = 'failed'`.then(
          (r) => r[0],
        ),
      20_000,
    );
    expect(delivery.attempts).toBe(1);
    expect(delivery.last_error).toContain('project "Roadmap" has no option "Severe" in its "Risk Level" field (it has: Low, Medium, High)');
    expect(delivery.last_error).toContain('"lots" is not a number for the number field "Estimated Hours" of project "Roadmap"');
    // The title went to the issue, the valid field to the board; the refused ones are left as they were.
    await waitFor(() => t.issueOf('cf/1')!.title === 'Seed, renamed' || undefined);
    expect(t.boardValue('cf/1', 'Sprint')).toBe('Sprint 2');
    expect(t.boardValue('cf/1', 'Risk Level')).toBe('Medium');
    expect(t.boardValue('cf/1', 'Estimated Hours')).toBe(13);
    const [mapping] = await h.sql`select status, last_error from mappings where item_key = 'cf/1' and connection_id = 'gh-board'`;
    expect(mapping.status).toBe('error');
    // A valid value next time goes out.
    await t.upsert('cf/1', { fields: { risk: 'High', complexity: 21 } });
    await t.settled('cf/1', await t.version('cf/1'));
    expect(t.boardValue('cf/1', 'Risk Level')).toBe('High');
    expect(t.boardValue('cf/1', 'Estimated Hours')).toBe(21);
  });

  it('only the fields field_map names travel to the board', async () => {
    await t.upsert('cf/2', { title: 'Unmapped', fields: { secret: 'x', risk: 'Low' } });
    await t.settled('cf/2');
    const [m] = await h.sql`select base from mappings where item_key = 'cf/2' and connection_id = 'gh-board'`;
    expect(m.base.local).toMatchObject({ 'fields.risk': 'Low' });
    expect(m.base.local['fields.secret']).toBeUndefined();
  });

  it('check lists the mapped fields it finds, by name and type, and the ones it does not', async () => {
    const lines = await h.runtime.connections.get('gh-board')!.adapter().check();
    expect(lines).toContainEqual({
      ok: true,
      message: 'Field "risk" maps to project field "Risk Level" (single select: Low, Medium, High)',
    });
    expect(lines).toContainEqual({ ok: true, message: 'Field "complexity" maps to project field "Estimated Hours" (number)' });
    expect(lines).toContainEqual({
      ok: true,
      message: 'Field "sprint" maps to project field "Sprint" (iteration: Sprint 1, Sprint 2, Sprint 0)',
    });
    const ghost = lines.find((l) => l.message.startsWith('field_map.ghost'));
    expect(ghost).toMatchObject({ ok: false, hint: 'fix field_map or add the field in the project' });
    expect(ghost!.message).toContain('project "Roadmap" has no field "No Such Field" (it has: Title, Assignees, Status,');
  });
});

describe('Projects v2 custom fields under manual', () => {
  let h: Harness;
  const t = helpers(() => h);
  beforeAll(async () => {
    h = await startHarness('custom_fields_project_manual', {
      plane: false,
      github: {},
      githubProject: { direction: 'both', conflict_strategy: 'manual', field_map: FIELD_MAP },
    });
  });
  afterAll(async () => h?.close());

  it('a custom field changed on the board and by the orchestrator waits for an operator, then the chosen side is applied', async () => {
    await t.upsert('cm/1', { title: 'Manual', fields: { risk: 'Low' } });
    await t.settled('cm/1');
    t.gh().editProjectItemAsPerson(t.itemOf('cm/1')!, 'Risk Level', 'High');
    await t.upsert('cm/1', { fields: { risk: 'Medium' } });
    const conflict = await waitFor(() =>
      h.sql`select id, field, local_value, remote_value from conflicts where item_key = 'cm/1' and status = 'open'`.then((r) => r[0]),
    );
    expect(conflict).toMatchObject({ field: 'fields.risk', local_value: 'Medium', remote_value: 'High' });
    expect(t.boardValue('cm/1', 'Risk Level')).toBe('High');
    expect((await t.custom('cm/1')).risk).toBe('Medium');
    const res = await h.api('POST', `/v1/conflicts/${conflict.id}/resolve`, { use: 'local', actor: 'operator:test' });
    expect(res.status).toBeLessThan(300);
    await waitFor(() => t.boardValue('cm/1', 'Risk Level') === 'Medium' || undefined, 20_000);
  });
});
