/**
 * The normalized fields Trackline syncs. The same shape describes a work item (in the
 * orchestrator's vocabulary) and a remote issue (in the tracker's vocabulary: its state names,
 * label names, user ids); the connection's maps translate between the two.
 *
 * Besides the core fields, an item's custom fields (`fields` in an event) sync under the flat name
 * `fields.<name>` (`fields.risk`): that is their name in the diff, the base, conflicts, the audit
 * trail and the change feed. A connection carries only the custom fields its `field_map` names.
 */
export const SYNC_FIELDS = ['title', 'body', 'state', 'labels', 'assignees', 'priority', 'milestone'] as const;
export type CoreFieldName = (typeof SYNC_FIELDS)[number];
/** A custom field as the engine names it: `fields.risk` for the item's `fields.risk`. */
export type CustomFieldName = `fields.${string}`;
export type FieldName = CoreFieldName | CustomFieldName;

/**
 * A custom field's value: text (dates as ISO strings), a number, null (no value), or a set of
 * strings (a multi-select), which merges as a set like labels.
 */
export type CustomValue = string | number | string[] | null;

export interface FieldValues {
  title?: string;
  body?: string;
  state?: string;
  labels?: string[];
  assignees?: string[];
  priority?: string | null;
  milestone?: string | null;
  [custom: CustomFieldName]: CustomValue | undefined;
}

export const CUSTOM_PREFIX = 'fields.';

export function isCustomField(field: string): field is CustomFieldName {
  return field.startsWith(CUSTOM_PREFIX) && field.length > CUSTOM_PREFIX.length;
}

/** `risk` -> `fields.risk`. */
export function customField(name: string): CustomFieldName {
  return `${CUSTOM_PREFIX}${name}`;
}

/** `fields.risk` -> `risk`. */
export function customName(field: CustomFieldName): string {
  return field.slice(CUSTOM_PREFIX.length);
}

/** Whether a stored value can travel as a custom field (anything else stays on the item only). */
export function isCustomValue(value: unknown): value is CustomValue {
  if (value === null || typeof value === 'string') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

/**
 * The engine's fields named by a connection's `field_map` keys: a core field's name (`priority`,
 * `milestone`) is that field, `fields.risk` or any other name (`risk`) is the custom field.
 */
export function fieldOfMapKey(key: string): FieldName {
  if ((SYNC_FIELDS as readonly string[]).includes(key)) return key as CoreFieldName;
  return isCustomField(key) ? key : customField(key);
}

/** The custom fields a `field_map` carries, for an adapter's `supportedFields`. */
export function mappedCustomFields(fieldMap: Record<string, string>): CustomFieldName[] {
  return Object.keys(fieldMap)
    .map(fieldOfMapKey)
    .filter((f): f is CustomFieldName => isCustomField(f));
}

/** Core fields first, then every custom field any of `values` holds, sorted. */
export function fieldNames(...values: (FieldValues | null | undefined)[]): FieldName[] {
  const custom = new Set<CustomFieldName>();
  for (const v of values) if (v) for (const k of Object.keys(v)) if (isCustomField(k)) custom.add(k);
  return [...SYNC_FIELDS, ...[...custom].sort()];
}

/** The item's synced values: its core fields and its custom fields under `fields.<name>`. */
export function itemFieldValues(desired: object, custom: Record<string, unknown> | null | undefined): FieldValues {
  const out: FieldValues = { ...(desired as FieldValues) };
  for (const [name, value] of Object.entries(custom ?? {})) if (isCustomValue(value)) out[customField(name)] = value;
  return out;
}

/** Splits values into the item's core columns (`desired`) and its custom fields (`custom`, by plain name). */
export function splitItemValues(values: Record<string, unknown>): { desired: Record<string, unknown>; custom: Record<string, unknown> } {
  const desired: Record<string, unknown> = {};
  const custom: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) {
    if (isCustomField(k)) custom[customName(k)] = v;
    else desired[k] = v;
  }
  return { desired, custom };
}

/** Fields whose value is a set: compared and merged as sets, never by order. */
export const SET_FIELDS: ReadonlySet<FieldName> = new Set(['labels', 'assignees']);

/** Whether a core field is a set (labels, assignees). */
export function isSetField(field: FieldName): boolean {
  return SET_FIELDS.has(field);
}

/**
 * Whether this field, with these values, merges as a set: labels and assignees always, a custom
 * field when one of its values is a list (a multi-select).
 */
export function isSetValued(field: FieldName, ...values: unknown[]): boolean {
  return isSetField(field) || (isCustomField(field) && values.some(Array.isArray));
}

/** Canonical form used for comparison and storage: sets sorted and deduplicated. */
export function canonical<F extends FieldName>(field: F, value: FieldValues[F]): FieldValues[F] {
  if (value === undefined) return undefined;
  if (isSetField(field) || Array.isArray(value)) return [...new Set(value as string[])].sort() as FieldValues[F];
  return value;
}

/**
 * A set-valued field's value as a list. Where a custom field's values are lists, a single value
 * counts as a set too: text as its comma-separated items (a tracker that keeps a list in a text
 * field answers "a, b"), a number as itself, no value as the empty set.
 */
export function listOf(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (value === null || value === undefined) return [];
  if (typeof value === 'string')
    return value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
  return [String(value)];
}

export function sameValue(field: FieldName, a: unknown, b: unknown): boolean {
  if (isSetValued(field, a, b)) {
    const x = [...new Set(listOf(a))].sort();
    const y = [...new Set(listOf(b))].sort();
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  // null and undefined both mean "no value" for scalar fields like milestone and priority
  return (a ?? null) === (b ?? null);
}

export function pickDefined(values: FieldValues): FieldValues {
  const out: FieldValues = {};
  for (const f of fieldNames(values)) {
    if (values[f] !== undefined) setField(out, f, canonical(f, values[f] as never));
  }
  return out;
}

/** Sets one field by name (the field union defeats indexed assignment typing). */
export function setField(values: FieldValues, field: FieldName, value: unknown): void {
  (values as Record<string, unknown>)[field] = value;
}

/** What a set-valued field gains and loses between two of its values. */
export interface SetDelta {
  add: string[];
  remove: string[];
}

/**
 * The change from `from` to `to`, compared as sets. `key` folds values a tracker treats as one
 * (GitHub and Plane compare label names case-insensitively).
 */
export function setDelta(from: readonly string[], to: readonly string[], key: (v: string) => string = (v) => v): SetDelta {
  const had = new Set(from.map(key));
  const has = new Set(to.map(key));
  return { add: to.filter((v) => !had.has(key(v))), remove: from.filter((v) => !has.has(key(v))) };
}

/** `start` with a delta applied: what the tracker holds besides the delta is kept as it is. */
export function applySetDelta(start: readonly string[], delta: SetDelta, key: (v: string) => string = (v) => v): string[] {
  const removed = new Set(delta.remove.map(key));
  const out = new Map<string, string>();
  for (const v of start) if (!removed.has(key(v))) out.set(key(v), v);
  for (const v of delta.add) if (!out.has(key(v))) out.set(key(v), v);
  return [...out.values()];
}
