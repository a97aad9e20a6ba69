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
