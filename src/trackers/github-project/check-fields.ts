import { fieldOfMapKey } from '../../sync/fields.ts';
import type { CheckLine } from '../../sync/port/tracker.ts';
import type { ProjectInfo } from './api.ts';
import { PROJECT_MAPPABLE, SETTABLE_TYPES, findField, unmappableKeys } from './transform.ts';

/** `trackline check`: each field_map entry, found on the board by name and type, or what is wrong. */
export function checkFieldMap(project: ProjectInfo, fieldMap: Record<string, string>): CheckLine[] {
  const unmappable = new Set(unmappableKeys(fieldMap));
  return Object.entries(fieldMap).map(([local, name]): CheckLine => {
    if (unmappable.has(local)) {
      return {
        ok: false,
        message: `field_map.${local}: ${fieldOfMapKey(local)} lives on the issue, not on the board (the board carries ${PROJECT_MAPPABLE.join(', ')} and custom fields)`,
        hint: 'remove the entry',
      };
    }
    const field = findField(project.fields, name);
    if (!field) {
      return {
        ok: false,
        message: `field_map.${local}: project "${project.title}" has no field "${name}" (it has: ${project.fields.map((f) => f.name).join(', ')})`,
        hint: 'fix field_map or add the field in the project',
      };
    }
    if (!(SETTABLE_TYPES as readonly string[]).includes(field.dataType)) {
      return {
        ok: false,
        message: `field_map.${local}: project field "${field.name}" is of type ${field.dataType.toLowerCase()}, which the project API cannot set`,
        hint: 'map it to a text, number, date, single select or iteration field',
      };
    }
    const choices =
      field.dataType === 'SINGLE_SELECT'
        ? `: ${(field.options ?? []).map((o) => o.name).join(', ')}`
        : field.dataType === 'ITERATION'
          ? `: ${(field.iterations ?? []).map((o) => o.title).join(', ')}`
          : '';
    return {
      ok: true,
      message: `Field "${local}" maps to project field "${field.name}" (${field.dataType.toLowerCase().replace('_', ' ')}${choices})`,
    };
  });
}
