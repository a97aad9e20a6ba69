import type { FieldName, FieldValues } from '../../sync/fields.ts';
import { TrackerError } from '../../sync/port/errors.ts';
import type { FieldValueInput, ProjectField, ProjectItemInfo } from './api.ts';

/**
 * Pure mapping between a project item and normalized fields. A project connection carries the
 * item's state as the Status single-select (by option name) and, through `field_map`, scalar
 * fields as project fields of type text, number, date or single select.
 */

/** Normalized fields a project field can carry (title, body, labels and assignees live on the issue). */
export const PROJECT_MAPPABLE: readonly FieldName[] = ['priority', 'milestone'];

export function findField(fields: ProjectField[], name: string): ProjectField | undefined {
  return fields.find((f) => f.name === name) ?? fields.find((f) => f.name.toLowerCase() === name.toLowerCase());
}

export function findOption(field: ProjectField, name: string): { id: string; name: string } | undefined {
  const options = field.options ?? [];
  return options.find((o) => o.name === name) ?? options.find((o) => o.name.toLowerCase() === name.toLowerCase());
}

/**
 * The mutation value for one field. Throws a config error (not retried: the same config fails the
 * same way) when the value cannot go into the field, naming what the project has.
 */
export function fieldInput(field: ProjectField, value: string, projectTitle: string): FieldValueInput {
  switch (field.dataType) {
    case 'SINGLE_SELECT': {
      const option = findOption(field, value);
      if (!option) {
        const names = (field.options ?? []).map((o) => o.name).join(', ') || 'none';
        throw new TrackerError(
          'config',
          `project "${projectTitle}" has no option "${value}" in its "${field.name}" field (it has: ${names}); fix the map or add the option in the project`,
        );
      }
      return { singleSelectOptionId: option.id };
    }
    case 'TEXT':
      return { text: value };
    case 'NUMBER': {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n))
        throw new TrackerError('config', `"${value}" is not a number for the number field "${field.name}" of project "${projectTitle}"`);
      return { number: n };
    }
    case 'DATE': {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(value) || !Number.isFinite(Date.parse(value))) {
        throw new TrackerError(
          'config',
          `"${value}" is not a date (YYYY-MM-DD) for the date field "${field.name}" of project "${projectTitle}"`,
        );
      }
      return { date: value };
    }
    default:
      throw new TrackerError(
        'config',
        `the "${field.name}" field of project "${projectTitle}" is of type ${field.dataType}, which Trackline cannot set (text, number, date or single select)`,
      );
  }
}

/** Normalized fields of an item: state from the Status field, mapped fields from theirs. */
export function itemToFields(item: ProjectItemInfo, statusField: string, fieldMap: Record<string, string>): FieldValues {
  const value = (name: string) => {
    for (const [k, v] of item.values) if (k.toLowerCase() === name.toLowerCase()) return String(v);
    return undefined;
  };
  const out: FieldValues = {};
  const state = value(statusField);
  if (state !== undefined) out.state = state;
  for (const [local, projectField] of Object.entries(fieldMap)) {
    if (local === 'priority') out.priority = value(projectField) ?? null;
    if (local === 'milestone') out.milestone = value(projectField) ?? null;
  }
  return out;
}
