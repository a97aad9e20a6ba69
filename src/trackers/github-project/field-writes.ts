import { fieldNames, type FieldName, type FieldValues } from '../../sync/fields.ts';
import { TrackerError } from '../../sync/port/errors.ts';
import type { FieldValueInput, ProjectField, ProjectInfo } from './api.ts';
import { fieldInput, findField, mappedFields } from './transform.ts';

/** What one item change writes on the board, and which of its fields the board cannot take. */
export interface FieldWritePlan {
  project: ProjectInfo;
  writes: { field: ProjectField; value: FieldValueInput | null }[];
  /** Fields refused before any call, each with why (naming the project field). */
  refused: { field: FieldName; message: string }[];
}

/**
 * Resolves the changed fields to project fields and mutation values: state to the status field,
 * the rest through field_map. A field the board lacks, an option or iteration it does not have, or
 * a value of the wrong type is refused here, by name, without a call; the others are written.
 */
export function planFieldWrites(
  project: ProjectInfo,
  changes: FieldValues,
  statusField: string,
  fieldMap: Record<string, string>,
): FieldWritePlan {
  const target = new Map<FieldName, string>([['state', statusField]]);
  for (const m of mappedFields(fieldMap)) target.set(m.field, m.projectField);
  const plan: FieldWritePlan = { project, writes: [], refused: [] };
  for (const f of fieldNames(changes)) {
    const value = changes[f];
    const name = target.get(f);
    if (value === undefined || !name) continue;
    const field = findField(project.fields, name);
    if (!field) {
      plan.refused.push({
        field: f,
        message: `project "${project.title}" has no field "${name}" (for ${f}); fix ${f === 'state' ? 'status_field' : 'field_map'}, or add the field`,
      });
      continue;
    }
    if (value === null) {
      plan.writes.push({ field, value: null });
      continue;
    }
    try {
      plan.writes.push({ field, value: fieldInput(field, value, project.title) });
    } catch (error) {
      if (!(error instanceof TrackerError)) throw error;
      plan.refused.push({ field: f, message: error.message });
    }
  }
  return plan;
}
