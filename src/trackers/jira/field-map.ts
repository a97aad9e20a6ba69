import type { JiraCreateMetaField, JiraField, JiraFieldSchema, JiraOption } from './wire.ts';

/**
 * `field_map` for Jira: which Jira field carries each mapped item field. An entry names the Jira
 * field by its id (`customfield_10042`) or its name ("Story Points", case-insensitive), resolved
 * against GET /rest/api/3/field; the field's schema says how its values are written and read
 * (custom-values.ts). Select options come from createmeta for the connection's issue type. Pure:
 * the catalog loads the lists, the adapter and `trackline check` use the result.
 */

/** How a Jira field's values are carried, from its schema. */
export type JiraValueKind =
  /** A one-line text field: a plain string. */
  | 'text'
  /** A paragraph (textarea) field: ADF in REST v3, markdown on the item. */
  | 'rich-text'
  | 'number'
  /** `YYYY-MM-DD`. */
  | 'date'
  /** ISO 8601 with an offset. */
  | 'datetime'
  /** One option, written as `{"value": …}`. */
  | 'option'
  /** Several options (multi-select, checkboxes): a set of option values. */
  | 'options'
  /** Several strings (labels-like): a set. */
  | 'strings';

export interface MappedJiraField {
  /** The item field (a key of the item's `fields`). */
  local: string;
  /** The entry as configured (a name or an id). */
  ref: string;
  id: string;
  name: string;
  kind: JiraValueKind;
  /** The values an option field allows, where createmeta lists them (else Jira alone checks). */
  options?: string[];
  /** Whether createmeta lists the field for the connection's issue type (null: createmeta unread). */
  onCreateScreen: boolean | null;
}

export interface UnmappedJiraField {
  local: string;
  ref: string;
  /** Why it cannot be carried, for the delivery and `trackline check`. */
  reason: string;
}

export interface ResolvedFieldMap {
  mapped: MappedJiraField[];
  unmapped: UnmappedJiraField[];
}

const CUSTOM_ID = /^customfield_\d+$/i;
const TYPE_URI = 'com.atlassian.jira.plugin.system.customfieldtypes:';

/** Jira fields Trackline syncs itself: mapping an item field onto them would fight the sync. */
const SYNCED_BY_TRACKLINE = new Set(['summary', 'description', 'status', 'labels', 'assignee', 'priority', 'fixversions']);

/** The value kind of a schema, or why Trackline cannot carry it. */
export function kindOf(schema: JiraFieldSchema | undefined): JiraValueKind | { unsupported: string } {
  if (!schema) return { unsupported: 'Jira gives no schema for it' };
  const custom = schema.custom?.startsWith(TYPE_URI) ? schema.custom.slice(TYPE_URI.length) : schema.custom;
  switch (schema.type) {
    case 'string':
      return custom === 'textarea' ? 'rich-text' : 'text';
    case 'number':
      return 'number';
    case 'date':
      return 'date';
    case 'datetime':
      return 'datetime';
    case 'option':
      return 'option';
    case 'array':
      if (schema.items === 'option') return 'options';
      if (schema.items === 'string') return 'strings';
      return { unsupported: `it holds a list of ${schema.items ?? 'values'}` };
    default:
      return { unsupported: `its type is ${schema.type}${custom ? ` (${custom})` : ''}` };
  }
}

/** The display value of an allowed option (select options carry `value`, others `name`). */
export function optionLabel(option: unknown): string | undefined {
  const o = option as JiraOption | null;
  if (!o || typeof o !== 'object') return typeof option === 'string' ? option : undefined;
  return o.value ?? o.name;
}

export function resolveFieldMap(
  fieldMap: Readonly<Record<string, string>>,
  fields: readonly JiraField[],
  createMeta: readonly JiraCreateMetaField[] | null,
): ResolvedFieldMap {
  const out: ResolvedFieldMap = { mapped: [], unmapped: [] };
  const meta = new Map((createMeta ?? []).map((m) => [m.fieldId, m]));
  for (const [local, ref] of Object.entries(fieldMap)) {
    const wanted = ref.trim();
    let found: JiraField | undefined;
    if (CUSTOM_ID.test(wanted)) {
      found = fields.find((f) => f.id.toLowerCase() === wanted.toLowerCase());
    } else {
      const byName = fields.filter((f) => f.name.toLowerCase() === wanted.toLowerCase());
      if (byName.length > 1) {
        // Jira lets two custom fields share a name; only the id tells them apart.
        out.unmapped.push({
          local,
          ref,
          reason: `Jira has ${byName.length} fields named "${ref}" (${byName.map((f) => f.id).join(', ')}); map it by id`,
        });
        continue;
      }
      found = byName[0] ?? fields.find((f) => f.id.toLowerCase() === wanted.toLowerCase());
    }
    if (!found) {
      out.unmapped.push({ local, ref, reason: `Jira has no field "${ref}" (by name or id) that this user can see` });
      continue;
    }
    if (SYNCED_BY_TRACKLINE.has(found.id.toLowerCase())) {
      out.unmapped.push({
        local,
        ref,
        reason: `Jira field "${found.name}" is one Trackline syncs itself (as the title, body, state, labels, assignees, priority or milestone)`,
      });
      continue;
    }
    const kind = kindOf(found.schema);
    if (typeof kind !== 'string') {
      out.unmapped.push({ local, ref, reason: `Jira field "${found.name}" (${found.id}) cannot be carried: ${kind.unsupported}` });
      continue;
    }
    const m = meta.get(found.id);
    const options =
      (kind === 'option' || kind === 'options') && m?.allowedValues
        ? m.allowedValues.map(optionLabel).filter((v): v is string => v !== undefined)
        : undefined;
    out.mapped.push({
      local,
      ref,
      id: found.id,
      name: found.name,
      kind,
      ...(options ? { options } : {}),
      onCreateScreen: createMeta ? meta.has(found.id) : null,
    });
  }
  return out;
}
