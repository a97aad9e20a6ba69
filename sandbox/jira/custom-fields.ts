// Jira's custom fields as the sandbox keeps them: typed fields with an id like `customfield_10042`,
// a context (the projects they apply to), options for select and multi-select fields, and the
// rules Jira's REST v3 applies to values written through an issue's `fields` and `update`.
//
// Value formats follow Jira's "field input formats": text a string, number a number, date
// `YYYY-MM-DD`, datetime ISO 8601 with an offset, select `{"value": …}` or `{"id": …}`,
// multi-select a list of those, labels-like a list of strings without spaces. A wrong value is a
// 400 whose ErrorCollection names the field id, as Jira answers.

/** The custom field types the sandbox carries (Jira's type URIs, under customfieldtypes:). */
export type CustomFieldKind = 'textfield' | 'float' | 'datepicker' | 'datetime' | 'select' | 'multiselect' | 'labels';

export interface CustomFieldOption {
  id: string;
  value: string;
  disabled: boolean;
}

export interface CustomFieldDef {
  /** `customfield_10042`. */
  id: string;
  /** 10042: the number `cf[10042]` and the schema's customId use. */
  numericId: number;
  name: string;
  kind: CustomFieldKind;
  options: CustomFieldOption[];
  /** The projects whose issues carry the field (its context); a field outside it cannot be set. */
  projectIds: Set<string>;
}

/**
 * A custom field's stored value: text and dates as strings, datetime as epoch ms, select as the
 * option id, multi-select as option ids, labels as strings; null when empty.
 */
export type CustomValue = string | number | string[] | null;

export interface SeedCustomField {
  name: string;
  kind: CustomFieldKind;
  /** Option values of a select or multi-select field. */
  options?: string[];
}

/** What a fresh sandbox project carries unless its seed says otherwise. */
export const DEFAULT_CUSTOM_FIELDS: SeedCustomField[] = [
  { name: 'Estimated Hours', kind: 'float' },
  { name: 'Risk Level', kind: 'select', options: ['Low', 'Medium', 'High'] },
  { name: 'Blocked By', kind: 'textfield' },
  { name: 'Target Date', kind: 'datepicker' },
  { name: 'Review Due', kind: 'datetime' },
  { name: 'Areas', kind: 'multiselect', options: ['API', 'UI', 'Database', 'Sync'] },
  { name: 'Tags', kind: 'labels' },
];

const TYPE_URI = 'com.atlassian.jira.plugin.system.customfieldtypes:';

/** The field's `schema` (JsonTypeBean) as GET /field, createmeta and editmeta render it. */
export function customFieldSchema(def: CustomFieldDef): Record<string, unknown> {
  const base = { custom: `${TYPE_URI}${def.kind}`, customId: def.numericId };
  switch (def.kind) {
    case 'textfield':
      return { type: 'string', ...base };
    case 'float':
      return { type: 'number', ...base };
    case 'datepicker':
      return { type: 'date', ...base };
    case 'datetime':
      return { type: 'datetime', ...base };
    case 'select':
      return { type: 'option', ...base };
    case 'multiselect':
      return { type: 'array', items: 'option', ...base };
    case 'labels':
      return { type: 'array', items: 'string', ...base };
  }
}

export function isArrayKind(kind: CustomFieldKind): boolean {
  return kind === 'multiselect' || kind === 'labels';
}

/** The operations createmeta and editmeta list for the field. */
export function customFieldOperations(def: CustomFieldDef): string[] {
  return isArrayKind(def.kind) ? ['add', 'set', 'remove'] : ['set'];
}

export function optionJson(baseUrl: string, o: CustomFieldOption): Record<string, unknown> {
  return { self: `${baseUrl}/rest/api/3/customFieldOption/${o.id}`, value: o.value, id: o.id };
}

/** The value as an issue's JSON shows it. */
export function customValueJson(baseUrl: string, def: CustomFieldDef, value: CustomValue | undefined): unknown {
  if (value === undefined || value === null) return null;
  switch (def.kind) {
    case 'datetime':
      return new Date(value as number).toISOString().replace('Z', '+0000');
    case 'select': {
      const o = def.options.find((x) => x.id === value);
      return o ? optionJson(baseUrl, o) : null;
    }
    case 'multiselect':
      return (value as string[]).map((id) => def.options.find((x) => x.id === id)).flatMap((o) => (o ? [optionJson(baseUrl, o)] : []));
    case 'labels':
      return [...(value as string[])];
    default:
      return value;
  }
}

/** The changelog's `from`/`to` (ids, for options) and `fromString`/`toString` (what people read). */
export function customChangeStrings(def: CustomFieldDef, value: CustomValue | undefined): { raw: string | null; text: string | null } {
  if (value === undefined || value === null || (Array.isArray(value) && value.length === 0)) return { raw: null, text: null };
  const optionValue = (id: string) => def.options.find((o) => o.id === id)?.value ?? id;
  switch (def.kind) {
    case 'select':
      return { raw: value as string, text: optionValue(value as string) };
    case 'multiselect':
      return { raw: `[${(value as string[]).join(', ')}]`, text: (value as string[]).map(optionValue).join(',') };
    case 'labels':
      return { raw: null, text: (value as string[]).join(' ') };
    case 'datetime':
      return { raw: new Date(value as number).toISOString(), text: new Date(value as number).toISOString() };
    case 'datepicker':
      return { raw: value as string, text: value as string };
    default:
      return { raw: null, text: String(value) };
  }
}

export function sameCustomValue(a: CustomValue | undefined, b: CustomValue | undefined): boolean {
  const norm = (v: CustomValue | undefined) => (Array.isArray(v) ? (v.length ? [...v].sort() : null) : (v ?? null));
  return JSON.stringify(norm(a)) === JSON.stringify(norm(b));
}

// ---------------------------------------------------------------- validation

/** A refused value: the ErrorCollection message for the field. */
export class CustomFieldRefusal extends Error {}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** ISO 8601 date and time; the offset may be `Z`, `+hh:mm` or Jira's `+hhmm`. */
const DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:?\d{2})$/;

function checkDate(value: unknown): string {
  if (typeof value !== 'string') throw new CustomFieldRefusal(`Error parsing date string: ${String(value)}`);
  const m = DATE.exec(value);
  const ms = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  if (!m || !Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== value)
    throw new CustomFieldRefusal(`Error parsing date string: ${value}`);
  return value;
}

function checkDateTime(value: unknown): number {
  if (typeof value !== 'string' || !DATETIME.test(value)) throw new CustomFieldRefusal(`Error parsing date string: ${String(value)}`);
  const ms = Date.parse(value.replace(/([+-]\d{2})(\d{2})$/, '$1:$2'));
  if (!Number.isFinite(ms)) throw new CustomFieldRefusal(`Error parsing date string: ${value}`);
  return ms;
}

/** An option named `{"value": …}` or `{"id": …}`, enabled, of this field. */
function checkOption(def: CustomFieldDef, ref: unknown): string {
  if (!ref || typeof ref !== 'object' || Array.isArray(ref)) throw new CustomFieldRefusal('data was not an object');
  const r = ref as { id?: unknown; value?: unknown };
  if (r.id !== undefined && r.id !== null) {
    const found = def.options.find((o) => o.id === String(r.id) && !o.disabled);
    if (!found) throw new CustomFieldRefusal(`Option id '${String(r.id)}' is not valid`);
    return found.id;
  }
  if (typeof r.value === 'string') {
    const found = def.options.find((o) => o.value === r.value && !o.disabled);
    if (!found) throw new CustomFieldRefusal(`Option value '${r.value}' is not valid`);
    return found.id;
  }
  throw new CustomFieldRefusal("Could not find valid 'id' or 'value' in the Option object.");
}

function checkLabel(value: unknown): string {
  if (typeof value !== 'string') throw new CustomFieldRefusal('Operation value must be a string');
  if (/\s/.test(value)) throw new CustomFieldRefusal(`The label '${value}' contains spaces which is invalid.`);
  if (value === '') throw new CustomFieldRefusal('The label must not be empty.');
  if (value.length > 255) throw new CustomFieldRefusal('The label must not exceed 255 characters.');
  return value;
}

/** A value given in `fields` (or a `set` operation), as stored; throws the field's error. */
export function parseCustomValue(def: CustomFieldDef, value: unknown): CustomValue {
  if (value === null) return null;
  switch (def.kind) {
    case 'textfield':
      if (typeof value !== 'string') throw new CustomFieldRefusal('Operation value must be a string');
      if (value.length > 255) throw new CustomFieldRefusal('The entered text is too long. It exceeds the allowed limit of 255 characters.');
      return value === '' ? null : value;
    case 'float':
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new CustomFieldRefusal('Operation value must be a number');
      return value;
    case 'datepicker':
      return checkDate(value);
    case 'datetime':
      return checkDateTime(value);
    case 'select':
      return checkOption(def, value);
    case 'multiselect': {
      if (!Array.isArray(value)) throw new CustomFieldRefusal('data was not an array');
      return [...new Set(value.map((v) => checkOption(def, v)))];
    }
    case 'labels': {
      if (!Array.isArray(value)) throw new CustomFieldRefusal('data was not an array');
      return [...new Set(value.map(checkLabel))];
    }
  }
}

/**
 * `update.<field>`: a list of operations. Every field takes `set`; multi-select and labels-like
 * fields also take `add` and `remove` (of one option or label each). Answers the value after
 * the operations, applied in order to `current`.
 */
export function applyCustomOperations(def: CustomFieldDef, current: CustomValue | undefined, ops: unknown): CustomValue {
  if (!Array.isArray(ops)) throw new CustomFieldRefusal(`update.${def.id} must be a list of operations`);
  let value: CustomValue = current ?? null;
  for (const op of ops as unknown[]) {
    if (!op || typeof op !== 'object') throw new CustomFieldRefusal(`update.${def.id} must be a list of operations`);
    for (const [verb, arg] of Object.entries(op as Record<string, unknown>)) {
      if (verb === 'set') {
        value = parseCustomValue(def, arg);
        continue;
      }
      if ((verb !== 'add' && verb !== 'remove') || !isArrayKind(def.kind)) {
        throw new CustomFieldRefusal(`Operation '${verb}' is not supported for field ${def.name}.`);
      }
      const one = def.kind === 'labels' ? checkLabel(arg) : checkOption(def, arg);
      const list = Array.isArray(value) ? [...value] : [];
      value = verb === 'add' ? (list.includes(one) ? list : [...list, one]) : list.filter((x) => x !== one);
    }
  }
  return Array.isArray(value) && value.length === 0 ? null : value;
}
