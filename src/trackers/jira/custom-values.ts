import { setDelta } from '../../sync/fields.ts';
import { adfToMarkdown, markdownToAdf } from './adf.ts';
import type { MappedJiraField } from './field-map.ts';
import type { AdfDoc, JiraOption } from './wire.ts';

/**
 * An item's custom field values ↔ Jira's field values, by the Jira field's kind (field-map.ts),
 * in the formats Jira documents for create and edit: text a string, paragraph fields ADF, number a
 * number, date `YYYY-MM-DD`, datetime ISO 8601 with an offset, one option `{"value": …}`, several
 * options a list of those, labels-like fields a list of strings. Pure; every function is
 * unit-tested. A value the field cannot take throws FieldValueError before anything is sent.
 */

/** An item field's value: text, a number, a date as text, a set as a list, or null for none. */
export type ItemFieldValue = string | number | null | string[];

/** The value does not fit the Jira field; `reason` says why in an operator's words. */
export class FieldValueError extends Error {
  constructor(
    readonly field: MappedJiraField,
    readonly reason: string,
  ) {
    super(
      `Jira field "${field.name}" (${field.id}), mapped from ${field.local.startsWith('fields.') ? field.local : `fields.${field.local}`}: ${reason}`,
    );
    this.name = 'FieldValueError';
  }
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** ISO 8601 with a time and an offset (`Z`, `+01:00` or Jira's `+0100`). */
const DATETIME = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)(Z|[+-]\d{2}:?\d{2})$/;

function describe(value: unknown): string {
  if (Array.isArray(value)) return `a list (${JSON.stringify(value)})`;
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'string') return `the text "${value.length > 60 ? `${value.slice(0, 57)}...` : value}"`;
  return typeof value;
}

function isValidDate(text: string): boolean {
  const m = DATE.exec(text);
  if (!m) return false;
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  return Number.isFinite(ms) && new Date(ms).toISOString().slice(0, 10) === text;
}

/** Jira's datetime form, `2026-05-01T10:00:00.000+0000`, of an instant. */
function jiraDateTime(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '+0000');
}

function parseDateTime(text: string): number {
  const m = DATETIME.exec(text);
  if (!m || !isValidDate(m[1])) return NaN;
  return Date.parse(text.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
}

/** A set-valued item value as a list: one text is a set of one, null the empty set. */
function asList(field: MappedJiraField, value: ItemFieldValue): string[] {
  if (value === null) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return [...new Set(value)];
  throw new FieldValueError(field, `it takes a list of ${field.kind === 'options' ? 'options' : 'texts'}, not ${describe(value)}`);
}

/** The option's value as Jira knows it (its case), or a FieldValueError naming the options. */
function checkOption(field: MappedJiraField, value: string): string {
  if (!field.options) return value;
  const found = field.options.find((o) => o === value) ?? field.options.find((o) => o.toLowerCase() === value.toLowerCase());
  if (found !== undefined) return found;
  const list = field.options.length ? field.options.map((o) => `"${o}"`).join(', ') : 'none';
  throw new FieldValueError(field, `it has no option "${value}" (its options: ${list})`);
}

function checkLabel(field: MappedJiraField, value: string): string {
  if (value === '' || /\s/.test(value))
    throw new FieldValueError(field, `"${value}" cannot be one of its values: Jira refuses spaces in them`);
  return value;
}

/**
 * The value to send in `fields` for a create or an edit that sets the whole field. null clears it
 * (an empty list for the multi-value kinds).
 */
export function toJiraValue(field: MappedJiraField, value: ItemFieldValue): unknown {
  switch (field.kind) {
    case 'text':
    case 'rich-text':
      if (value === null || value === '') return null;
      if (typeof value !== 'string') throw new FieldValueError(field, `it is a text field; ${describe(value)} is not text`);
      if (field.kind === 'rich-text') return markdownToAdf(value);
      if (/[\r\n]/.test(value)) throw new FieldValueError(field, 'it is a one-line text field; the value has line breaks');
      if (value.length > 255) throw new FieldValueError(field, `it takes at most 255 characters; the value has ${value.length}`);
      return value;
    case 'number':
      if (value === null) return null;
      if (typeof value !== 'number' || !Number.isFinite(value))
        throw new FieldValueError(field, `it is a number field; ${describe(value)} is not a number`);
      return value;
    case 'date':
      if (value === null || value === '') return null;
      if (typeof value !== 'string' || !isValidDate(value))
        throw new FieldValueError(field, `it is a date field (YYYY-MM-DD); ${describe(value)} is not a date`);
      return value;
    case 'datetime': {
      if (value === null || value === '') return null;
      // A bare date is that day's start in UTC.
      const ms = typeof value === 'string' ? (isValidDate(value) ? Date.parse(`${value}T00:00:00Z`) : parseDateTime(value)) : NaN;
      if (!Number.isFinite(ms))
        throw new FieldValueError(field, `it is a date-time field (ISO 8601 with an offset); ${describe(value)} is not one`);
      return jiraDateTime(ms);
    }
    case 'option':
      if (value === null || value === '') return null;
      if (typeof value !== 'string') throw new FieldValueError(field, `it is a select field; ${describe(value)} is not an option's name`);
      return { value: checkOption(field, value) };
    case 'options':
      return asList(field, value).map((v) => ({ value: checkOption(field, v) }));
    case 'strings':
      return asList(field, value).map((v) => checkLabel(field, v));
  }
}

/**
 * The edit for a multi-value field: the additions and removals since `since` (what Trackline
 * last saw in Jira), as `update` operations, so values a person added meanwhile stay. Answers
 * null where the field is set whole instead: a single-value field, or no `since` (a create
 * being adopted). An empty list: nothing to change.
 */
export function toJiraOperations(field: MappedJiraField, since: ItemFieldValue | undefined, value: ItemFieldValue): unknown[] | null {
  if (field.kind !== 'options' && field.kind !== 'strings') return null;
  if (since === undefined) return null;
  const target = asList(field, value);
  const before = Array.isArray(since) ? since : since === null ? [] : [String(since)];
  const fold = (v: string) => v.toLowerCase();
  const delta = field.kind === 'options' ? setDelta(before, target, fold) : setDelta(before, target);
  const wrap = (v: string) => (field.kind === 'options' ? { value: checkOption(field, v) } : checkLabel(field, v));
  return [
    ...delta.add.map((v) => ({ add: wrap(v) })),
    ...delta.remove.map((v) => ({ remove: field.kind === 'options' ? { value: v } : v })),
  ];
}

/** The item's value for what Jira holds in the field (absent or empty: null; sets sorted). */
export function fromJiraValue(field: MappedJiraField, raw: unknown): ItemFieldValue {
  if (raw === undefined || raw === null) return field.kind === 'options' || field.kind === 'strings' ? [] : null;
  switch (field.kind) {
    case 'text':
      return typeof raw === 'string' && raw !== '' ? raw : null;
    case 'rich-text': {
      const text = typeof raw === 'string' ? raw : adfToMarkdown(raw as AdfDoc);
      return text.trim() === '' ? null : text;
    }
    case 'number':
      return typeof raw === 'number' ? raw : Number.isFinite(Number(raw)) ? Number(raw) : null;
    case 'date':
      return typeof raw === 'string' ? raw.slice(0, 10) : null;
    case 'datetime': {
      const ms = typeof raw === 'string' ? parseDateTime(raw) : NaN;
      return Number.isFinite(ms) ? new Date(ms).toISOString() : null;
    }
    case 'option': {
      const o = raw as JiraOption;
      return typeof raw === 'string' ? raw : (o.value ?? o.name ?? null);
    }
    case 'options':
      return Array.isArray(raw)
        ? [
            ...new Set(
              raw
                .map((o) => (typeof o === 'string' ? o : ((o as JiraOption)?.value ?? (o as JiraOption)?.name)))
                .filter((v): v is string => !!v),
            ),
          ].sort()
        : [];
    case 'strings':
      return Array.isArray(raw) ? [...new Set(raw.filter((v): v is string => typeof v === 'string'))].sort() : [];
  }
}
