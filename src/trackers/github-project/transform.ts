import { SYNC_FIELDS, fieldOfMapKey, isCustomField, type CustomValue, type FieldName, type FieldValues } from '../../sync/fields.ts';
import { TrackerError } from '../../sync/port/errors.ts';
import type { FieldValueInput, ProjectField, ProjectItemInfo } from './api.ts';

/**
 * Pure mapping between a project item and normalized fields. A project connection carries the
 * item's state as the Status single-select (by option name) and, through `field_map`, priority,
 * milestone and any custom field as a project field of type text, number, date, single select
 * (by option name) or iteration (by title).
 */

/** Core fields a project field can carry (title, body, labels and assignees live on the issue). */
export const PROJECT_MAPPABLE: readonly FieldName[] = ['priority', 'milestone'];

/** What the engine hands an adapter for one field. */
export type ItemValue = CustomValue;

/** The project field types whose values the API sets (`ProjectV2FieldValue`'s five shapes). */
export const SETTABLE_TYPES = ['TEXT', 'NUMBER', 'DATE', 'SINGLE_SELECT', 'ITERATION'] as const;

/**
 * field_map entries that are not core fields the project can carry (title, labels...): reported
 * by `check` and left out of the sync.
 */
export function unmappableKeys(fieldMap: Record<string, string>): string[] {
  return Object.keys(fieldMap).filter((k) => {
    const f = fieldOfMapKey(k);
    return !isCustomField(f) && !PROJECT_MAPPABLE.includes(f);
  });
}

/** The engine's field for each field_map entry the project can carry, with the project field's name. */
export function mappedFields(fieldMap: Record<string, string>): { field: FieldName; projectField: string }[] {
  return Object.entries(fieldMap)
    .map(([k, projectField]) => ({ field: fieldOfMapKey(k), projectField }))
    .filter(({ field }) => isCustomField(field) || PROJECT_MAPPABLE.includes(field));
}

export function findField(fields: ProjectField[], name: string): ProjectField | undefined {
  return fields.find((f) => f.name === name) ?? fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
}

export function findOption(field: ProjectField, name: string): { id: string; name: string } | undefined {
  const options = field.options ?? [];
  return options.find((o) => o.name === name) ?? options.find((o) => o.name.toLowerCase() === name.toLowerCase());
}

function findIteration(field: ProjectField, title: string): { id: string; title: string } | undefined {
  const all = field.iterations ?? [];
  return all.find((o) => o.title === title) ?? all.find((o) => o.title.toLowerCase() === title.toLowerCase());
}

/** One value as the single text a text, select or iteration field takes; a list only with one element. */
function single(value: Exclude<ItemValue, null>, field: ProjectField, projectTitle: string): string {
  if (!Array.isArray(value)) return String(value);
  if (value.length === 1) return value[0]!;
  throw new TrackerError(
    'config',
    `the "${field.name}" field of project "${projectTitle}" holds one value and got a list (${value.join(', ')})`,
  );
}

/**
 * The mutation value for one field. Throws a config error (not retried: the same value fails the
 * same way) when the value cannot go into the field, naming the project field and why.
 */
export function fieldInput(field: ProjectField, value: Exclude<ItemValue, null>, projectTitle: string): FieldValueInput {
  switch (field.dataType) {
    case 'SINGLE_SELECT': {
      const name = single(value, field, projectTitle);
      const option = findOption(field, name);
      if (!option) {
        const names = (field.options ?? []).map((o) => o.name).join(', ') || 'none';
        throw new TrackerError(
          'config',
          `project "${projectTitle}" has no option "${name}" in its "${field.name}" field (it has: ${names}); fix the map or add the option in the project`,
        );
      }
      return { singleSelectOptionId: option.id };
    }
    case 'ITERATION': {
      const title = single(value, field, projectTitle);
      const iteration = findIteration(field, title);
      if (!iteration) {
        const titles = (field.iterations ?? []).map((o) => o.title).join(', ') || 'none';
        throw new TrackerError(
          'config',
          `project "${projectTitle}" has no iteration "${title}" in its "${field.name}" field (it has: ${titles}); add the iteration in the project`,
        );
      }
      return { iterationId: iteration.id };
    }
    case 'TEXT':
      // A list in a text field reads as its items separated by commas (see itemToFields).
      return { text: Array.isArray(value) ? value.join(', ') : String(value) };
    case 'NUMBER': {
      const text = Array.isArray(value) ? value.join(',') : String(value);
      const n = typeof value === 'number' ? value : Number(text);
      if (Array.isArray(value) || text.trim() === '' || !Number.isFinite(n))
        throw new TrackerError('config', `"${text}" is not a number for the number field "${field.name}" of project "${projectTitle}"`);
      return { number: n };
    }
    case 'DATE': {
      const text = Array.isArray(value) ? value.join(',') : String(value);
      // A date, or a date and time whose calendar date the field keeps.
      const date = text.slice(0, 10);
      if (!/^\d{4}-\d{2}-\d{2}(T.*)?$/.test(text) || !Number.isFinite(Date.parse(text)) || !Number.isFinite(Date.parse(date))) {
        throw new TrackerError(
          'config',
          `"${text}" is not a date (YYYY-MM-DD) for the date field "${field.name}" of project "${projectTitle}"`,
        );
      }
      return { date };
    }
    default:
      throw new TrackerError(
        'config',
        `the "${field.name}" field of project "${projectTitle}" is of type ${field.dataType}, which the project API cannot set (text, number, date, single select or iteration)`,
      );
  }
}

/**
 * Normalized fields of an item: state from the Status field, mapped fields from theirs (null when
 * the board has no value). Core fields read as text; a custom field as the board holds it: a
 * number field's number, a select's option name, an iteration's title, a date, and a text that
 * holds commas as the list it was written from.
 */
export function itemToFields(item: ProjectItemInfo, statusField: string, fieldMap: Record<string, string>): FieldValues {
  const value = (name: string) => {
    for (const [k, v] of item.values) if (k.toLowerCase() === name.toLowerCase()) return v;
    return undefined;
  };
  const out: FieldValues = {};
  const state = value(statusField);
  if (state !== undefined) out.state = String(state);
  for (const { field, projectField } of mappedFields(fieldMap)) {
    const v = value(projectField);
    if (!isCustomField(field)) {
      (out as Record<string, unknown>)[field] = v === undefined ? null : String(v);
      continue;
    }
    out[field] = v === undefined ? null : typeof v === 'string' && v.includes(',') ? splitList(v) : v;
  }
  return out;
}

function splitList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Fields the connection carries: state, and every field_map entry the project can hold. */
export function projectSupportedFields(fieldMap: Record<string, string>): FieldName[] {
  const mapped = mappedFields(fieldMap).map((m) => m.field);
  return ['state', ...SYNC_FIELDS.filter((f) => mapped.includes(f)), ...mapped.filter(isCustomField)];
}
