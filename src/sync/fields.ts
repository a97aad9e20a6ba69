/**
 * The normalized fields Trackline syncs. The same shape describes a work item (in the
 * orchestrator's vocabulary) and a remote issue (in the tracker's vocabulary: its state names,
 * label names, user ids); the connection's maps translate between the two.
 */
export const SYNC_FIELDS = ['title', 'body', 'state', 'labels', 'assignees', 'priority', 'milestone'] as const;
export type FieldName = (typeof SYNC_FIELDS)[number];

export interface FieldValues {
  title?: string;
  body?: string;
  state?: string;
  labels?: string[];
  assignees?: string[];
  priority?: string | null;
  milestone?: string | null;
}

/** Fields whose value is a set: compared and merged as sets, never by order. */
export const SET_FIELDS: ReadonlySet<FieldName> = new Set(['labels', 'assignees']);

export function isSetField(field: FieldName): field is 'labels' | 'assignees' {
  return SET_FIELDS.has(field);
}

/** Canonical form used for comparison and storage: sets sorted and deduplicated. */
export function canonical<F extends FieldName>(field: F, value: FieldValues[F]): FieldValues[F] {
  if (value === undefined) return undefined;
  if (isSetField(field)) return [...new Set(value as string[])].sort() as FieldValues[F];
  return value;
}

export function sameValue(field: FieldName, a: unknown, b: unknown): boolean {
  if (isSetField(field)) {
    const x = canonical(field, (a ?? []) as string[]) as string[];
    const y = canonical(field, (b ?? []) as string[]) as string[];
    return x.length === y.length && x.every((v, i) => v === y[i]);
  }
  // null and undefined both mean "no value" for scalar fields like milestone and priority
  return (a ?? null) === (b ?? null);
}

export function pickDefined(values: FieldValues): FieldValues {
  const out: FieldValues = {};
  for (const f of SYNC_FIELDS) {
    if (values[f] !== undefined) (out as Record<string, unknown>)[f] = canonical(f, values[f] as never);
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
