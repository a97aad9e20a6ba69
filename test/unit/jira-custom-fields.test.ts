import { describe, expect, it } from 'vitest';
import { FieldValueError, fromJiraValue, toJiraOperations, toJiraValue } from '../../src/trackers/jira/custom-values.ts';
import { kindOf, resolveFieldMap, type JiraValueKind, type MappedJiraField } from '../../src/trackers/jira/field-map.ts';
import type { JiraCreateMetaField, JiraField } from '../../src/trackers/jira/wire.ts';
import { createJiraWebhookHandler } from '../../src/trackers/jira/webhook.ts';

/** field_map resolution against GET /field and createmeta, and value conversion both ways per Jira type. */

const T = 'com.atlassian.jira.plugin.system.customfieldtypes:';
const FIELDS: JiraField[] = [
  { id: 'summary', name: 'Summary', custom: false, schema: { type: 'string', system: 'summary' } },
  { id: 'labels', name: 'Labels', custom: false, schema: { type: 'array', items: 'string', system: 'labels' } },
  { id: 'duedate', name: 'Due date', custom: false, schema: { type: 'date', system: 'duedate' } },
  { id: 'customfield_10040', name: 'Estimated Hours', custom: true, schema: { type: 'number', custom: `${T}float`, customId: 10040 } },
  { id: 'customfield_10041', name: 'Risk Level', custom: true, schema: { type: 'option', custom: `${T}select`, customId: 10041 } },
  { id: 'customfield_10042', name: 'Blocked By', custom: true, schema: { type: 'string', custom: `${T}textfield`, customId: 10042 } },
  { id: 'customfield_10043', name: 'Areas', custom: true, schema: { type: 'array', items: 'option', custom: `${T}multiselect` } },
  { id: 'customfield_10044', name: 'Reviewer', custom: true, schema: { type: 'user', custom: `${T}userpicker` } },
  { id: 'customfield_10045', name: 'Team', custom: true, schema: { type: 'string', custom: `${T}textfield` } },
  { id: 'customfield_10046', name: 'Team', custom: true, schema: { type: 'option', custom: `${T}select` } },
  { id: 'customfield_10047', name: 'Notes', custom: true, schema: { type: 'string', custom: `${T}textarea` } },
];
const META: JiraCreateMetaField[] = [
  {
    fieldId: 'customfield_10041',
    name: 'Risk Level',
    allowedValues: [
      { id: '1', value: 'Low' },
      { id: '2', value: 'High' },
    ],
  },
  { fieldId: 'customfield_10040', name: 'Estimated Hours' },
];

const field = (kind: JiraValueKind, extra: Partial<MappedJiraField> = {}): MappedJiraField => ({
  local: 'x',
  ref: 'X',
  id: 'customfield_1',
  name: 'X',
  kind,
  onCreateScreen: true,
  ...extra,
});

describe('resolveFieldMap', () => {
  it('finds fields by name (any case) or id, with the kind from the schema and the options from createmeta', () => {
    const r = resolveFieldMap({ complexity: 'estimated hours', risk: 'customfield_10041', due: 'Due date', notes: 'Notes' }, FIELDS, META);
    expect(r.unmapped).toEqual([]);
    expect(r.mapped).toEqual([
      {
        local: 'complexity',
        ref: 'estimated hours',
        id: 'customfield_10040',
        name: 'Estimated Hours',
        kind: 'number',
        onCreateScreen: true,
      },
      {
        local: 'risk',
        ref: 'customfield_10041',
        id: 'customfield_10041',
        name: 'Risk Level',
        kind: 'option',
        options: ['Low', 'High'],
        onCreateScreen: true,
      },
      { local: 'due', ref: 'Due date', id: 'duedate', name: 'Due date', kind: 'date', onCreateScreen: false },
      { local: 'notes', ref: 'Notes', id: 'customfield_10047', name: 'Notes', kind: 'rich-text', onCreateScreen: false },
    ]);
  });

  it('says why an entry cannot be carried: unknown, two fields of one name, an unsupported type, a field Trackline syncs', () => {
    const r = resolveFieldMap({ a: 'Story Points', b: 'Team', c: 'Reviewer', d: 'Labels', e: 'customfield_99999' }, FIELDS, null);
    expect(r.mapped).toEqual([]);
    expect(r.unmapped.map((u) => [u.local, u.reason])).toEqual([
      ['a', 'Jira has no field "Story Points" (by name or id) that this user can see'],
      ['b', 'Jira has 2 fields named "Team" (customfield_10045, customfield_10046); map it by id'],
      ['c', 'Jira field "Reviewer" (customfield_10044) cannot be carried: its type is user (userpicker)'],
      ['d', 'Jira field "Labels" is one Trackline syncs itself (as the title, body, state, labels, assignees, priority or milestone)'],
      ['e', 'Jira has no field "customfield_99999" (by name or id) that this user can see'],
    ]);
  });

  it('kindOf reads Jira schemas', () => {
    expect(kindOf({ type: 'datetime', custom: `${T}datetime` })).toBe('datetime');
    expect(kindOf({ type: 'array', items: 'string', custom: `${T}labels` })).toBe('strings');
    expect(kindOf({ type: 'array', items: 'version' })).toEqual({ unsupported: 'it holds a list of version' });
    expect(kindOf(undefined)).toEqual({ unsupported: 'Jira gives no schema for it' });
  });
});

describe('toJiraValue', () => {
  it('writes each type in Jira’s input format', () => {
    expect(toJiraValue(field('text'), 'ET-1')).toBe('ET-1');
    expect(toJiraValue(field('number'), 5.5)).toBe(5.5);
    expect(toJiraValue(field('date'), '2026-12-24')).toBe('2026-12-24');
    expect(toJiraValue(field('datetime'), '2026-12-20T09:30:00+01:00')).toBe('2026-12-20T08:30:00.000+0000');
    expect(toJiraValue(field('datetime'), '2026-12-20')).toBe('2026-12-20T00:00:00.000+0000');
    expect(toJiraValue(field('option', { options: ['Low', 'High'] }), 'high')).toEqual({ value: 'High' });
    expect(toJiraValue(field('options', { options: ['API', 'UI'] }), ['UI', 'API'])).toEqual([{ value: 'UI' }, { value: 'API' }]);
    expect(toJiraValue(field('options'), 'API')).toEqual([{ value: 'API' }]);
    expect(toJiraValue(field('strings'), ['a', 'b'])).toEqual(['a', 'b']);
    expect(toJiraValue(field('rich-text'), 'one **two**')).toMatchObject({ type: 'doc', version: 1 });
  });

  it('clears with null (an empty list for multi-value fields)', () => {
    for (const kind of ['text', 'number', 'date', 'datetime', 'option', 'rich-text'] as const)
      expect(toJiraValue(field(kind), null)).toBeNull();
    expect(toJiraValue(field('options'), null)).toEqual([]);
    expect(toJiraValue(field('strings'), null)).toEqual([]);
  });

  it('refuses a value of the wrong type, naming the Jira field and the reason', () => {
    const hours = field('number', { local: 'complexity', name: 'Estimated Hours', id: 'customfield_10040' });
    expect(() => toJiraValue(hours, 'three')).toThrow(new FieldValueError(hours, 'it is a number field; the text "three" is not a number'));
    expect(() => toJiraValue(hours, 'three')).toThrow('Jira field "Estimated Hours" (customfield_10040), mapped from fields.complexity:');
    expect(() => toJiraValue(field('text'), 7)).toThrow('it is a text field; the number 7 is not text');
    expect(() => toJiraValue(field('text'), 'a\nb')).toThrow('one-line');
    expect(() => toJiraValue(field('text'), 'x'.repeat(256))).toThrow('at most 255 characters');
    expect(() => toJiraValue(field('date'), '24/12/2026')).toThrow('it is a date field (YYYY-MM-DD)');
    expect(() => toJiraValue(field('date'), '2026-02-30')).toThrow('is not a date');
    expect(() => toJiraValue(field('datetime'), '2026-12-20T09:30')).toThrow('ISO 8601 with an offset');
    expect(() => toJiraValue(field('option'), ['a'])).toThrow('it is a select field');
    expect(() => toJiraValue(field('strings'), ['two words'])).toThrow('Jira refuses spaces');
    expect(() => toJiraValue(field('options'), 3)).toThrow('it takes a list of options, not the number 3');
  });

  it('refuses an option the field lacks, naming its options', () => {
    const risk = field('option', { name: 'Risk Level', options: ['Low', 'High'] });
    expect(() => toJiraValue(risk, 'Extreme')).toThrow('it has no option "Extreme" (its options: "Low", "High")');
    expect(() => toJiraValue(field('options', { options: ['API'] }), ['API', 'DB'])).toThrow('no option "DB"');
    // Without createmeta's list, Jira is left to check.
    expect(toJiraValue(field('option'), 'Extreme')).toEqual({ value: 'Extreme' });
  });
});

describe('toJiraOperations', () => {
  it('multi-value fields change by additions and removals since what Trackline last saw', () => {
    const areas = field('options', { options: ['API', 'UI', 'Sync'] });
    expect(toJiraOperations(areas, ['API', 'UI'], ['API', 'Sync'])).toEqual([{ add: { value: 'Sync' } }, { remove: { value: 'UI' } }]);
    expect(toJiraOperations(field('strings'), ['a'], ['a', 'b'])).toEqual([{ add: 'b' }]);
    expect(toJiraOperations(field('strings'), ['a', 'b'], null)).toEqual([{ remove: 'a' }, { remove: 'b' }]);
    expect(toJiraOperations(field('strings'), ['a'], ['a'])).toEqual([]);
  });

  it('is null where the field is set whole: single values, or nothing known (a create being adopted)', () => {
    expect(toJiraOperations(field('option'), 'Low', 'High')).toBeNull();
    expect(toJiraOperations(field('strings'), undefined, ['a'])).toBeNull();
  });

  it('checks added options and labels like a whole value', () => {
    expect(() => toJiraOperations(field('options', { options: ['API'] }), [], ['DB'])).toThrow('no option "DB"');
  });
});

describe('fromJiraValue', () => {
  it('reads each type as the item carries it; empty reads as null or the empty set', () => {
    expect(fromJiraValue(field('number'), 8)).toBe(8);
    expect(fromJiraValue(field('text'), 'ET-1')).toBe('ET-1');
    expect(fromJiraValue(field('text'), '')).toBeNull();
    expect(fromJiraValue(field('date'), '2026-12-24')).toBe('2026-12-24');
    expect(fromJiraValue(field('datetime'), '2026-12-20T08:30:00.000+0000')).toBe('2026-12-20T08:30:00.000Z');
    expect(fromJiraValue(field('option'), { self: 'x', value: 'High', id: '2' })).toBe('High');
    expect(fromJiraValue(field('options'), [{ value: 'UI' }, { value: 'API' }])).toEqual(['API', 'UI']);
    expect(fromJiraValue(field('strings'), ['b', 'a'])).toEqual(['a', 'b']);
    expect(
      fromJiraValue(field('rich-text'), {
        type: 'doc',
        version: 1,
        content: [{ type: 'paragraph', content: [{ type: 'text', text: 'hi' }] }],
      }),
    ).toBe('hi');
    for (const kind of ['text', 'number', 'date', 'datetime', 'option', 'rich-text'] as const)
      expect(fromJiraValue(field(kind), null)).toBeNull();
    expect(fromJiraValue(field('options'), null)).toEqual([]);
    expect(fromJiraValue(field('strings'), undefined)).toEqual([]);
  });

  it('what Trackline writes reads back as the same value', () => {
    const cases: Array<[JiraValueKind, string | number | string[]]> = [
      ['number', 3],
      ['text', 'ET-9'],
      ['date', '2027-01-02'],
      ['datetime', '2027-01-02T03:04:05.000Z'],
      ['strings', ['x', 'y']],
    ];
    for (const [kind, value] of cases) {
      const f = field(kind);
      const written = toJiraValue(f, value);
      // Jira answers an option with its value and id, a datetime in its own form.
      expect(fromJiraValue(f, written)).toEqual(value);
    }
    expect(fromJiraValue(field('option'), { ...(toJiraValue(field('option'), 'Low') as object), id: '1' })).toBe('Low');
  });
});

describe('webhook changelog', () => {
  const handler = createJiraWebhookHandler({
    webhook_secret: 's',
    project_key: 'ET',
    field_map: { risk: 'Risk Level', complexity: 'customfield_10040' },
  });
  const updated = (items: Array<{ field: string; fieldId: string }>) => ({
    webhookEvent: 'jira:issue_updated',
    issue_event_type_name: 'issue_updated',
    issue: { id: '10001', key: 'ET-1', fields: {} },
    changelog: { id: '1', items: items.map((i) => ({ ...i, fieldtype: 'custom', from: null, fromString: 'a', to: null, toString: 'b' })) },
  });

  it('a change to a mapped custom field, named by its name or its id, reads as a change of the issue', () => {
    expect(handler.normalize({}, updated([{ field: 'Risk Level', fieldId: 'customfield_10041' }]))[0]).toMatchObject({
      type: 'issue.changed',
    });
    expect(handler.normalize({}, updated([{ field: 'Estimated Hours', fieldId: 'customfield_10040' }]))[0]).toMatchObject({
      type: 'issue.changed',
    });
  });

  it('a change to an unmapped custom field alone is ignored (no read of the issue)', () => {
    expect(handler.normalize({}, updated([{ field: 'Sprint', fieldId: 'customfield_10020' }]))[0]).toMatchObject({ type: 'ignored' });
  });
});
