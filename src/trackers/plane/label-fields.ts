import {
  applySetDelta,
  fieldOfMapKey,
  isCustomField,
  listOf,
  setDelta,
  type CustomFieldName,
  type FieldValues,
} from '../../sync/fields.ts';

/**
 * Custom fields carried as prefixed labels (field_map `risk = "label:risk-"`): risk "high" is
 * the label `risk-high`. Plane's public API has no custom properties on every edition, so a label
 * is what every Plane has. A label with a mapped prefix belongs to its field, not to `labels`:
 * read back it is the field's value (a person setting `risk-low` sets risk to "low"), and
 * writing `labels` keeps it. Prefixes compare case-insensitively, as Plane's label names do.
 */
export interface LabelField {
  field: CustomFieldName;
  prefix: string;
}

export function labelFields(fieldMap: Record<string, string>): LabelField[] {
  return Object.entries(fieldMap)
    .filter(([, target]) => target.startsWith('label:'))
    .map(([key, target]) => ({ field: fieldOfMapKey(key), prefix: target.slice('label:'.length) }))
    .filter((m): m is LabelField => isCustomField(m.field));
}

const owns = (m: LabelField, label: string) => label.toLowerCase().startsWith(m.prefix.toLowerCase()) && label.length > m.prefix.length;

/**
 * Splits a work item's label names into its plain labels and its label-mapped fields: no label
 * is null, one is its value, several (a multi-select) the sorted list of values.
 */
export function readLabelFields(labels: string[], mapped: LabelField[]): { labels: string[]; fields: FieldValues } {
  const fields: FieldValues = {};
  const taken = new Set<string>();
  // Longest prefix first: `risk-` and `risk-level-` each keep their own labels.
  for (const m of [...mapped].sort((a, b) => b.prefix.length - a.prefix.length)) {
    const values = labels.filter((l) => !taken.has(l) && owns(m, l));
    for (const l of values) taken.add(l);
    const suffixes = values.map((l) => l.slice(m.prefix.length)).sort();
    fields[m.field] = suffixes.length === 0 ? null : suffixes.length === 1 ? suffixes[0]! : suffixes;
  }
  return { labels: labels.filter((l) => !taken.has(l)), fields };
}

/**
 * The labels a field's value stands for. A list changed by the orchestrator is applied as its
 * additions and removals since `since` to what the work item holds now (`current`), so a value a
 * person added stays; a single value replaces the field's label.
 */
export function labelsOfField(m: LabelField, value: unknown, since: unknown, current: unknown): string[] {
  let values = listOf(value);
  if (Array.isArray(value) && since !== undefined) {
    const delta = setDelta(listOf(since), values, (v) => v.toLowerCase());
    values = applySetDelta(listOf(current), delta, (v) => v.toLowerCase());
  } else if (!Array.isArray(value)) {
    values = value === null || value === undefined ? [] : [String(value)];
  }
  return values.map((v) => `${m.prefix}${v}`);
}
