import type { FieldName, FieldValues } from './fields.ts';

/**
 * Translates field values between the orchestrator's vocabulary and a tracker's, using the
 * connection's maps (state_map, label_map, priority_map, user_map). Unmapped values pass through
 * unchanged, so a team whose names already agree needs no map at all.
 */
export interface Translator {
  toRemote<F extends FieldName>(field: F, value: FieldValues[F]): FieldValues[F];
  toLocal<F extends FieldName>(field: F, value: FieldValues[F]): FieldValues[F];
}

export interface VocabularyMaps {
  state_map?: Record<string, string>;
  label_map?: Record<string, string>;
  priority_map?: Record<string, string>;
  user_map?: Record<string, string>;
}

type OneWay = (v: string) => string;

function bidirectional(map: Record<string, string> | undefined): { to: OneWay; from: OneWay } {
  const forward = new Map(Object.entries(map ?? {}));
  // Several local values may map to one remote value; reading back picks the first one written
  // in the config, which is what the config author listed as the main meaning.
  const backward = new Map<string, string>();
  for (const [local, remote] of forward) if (!backward.has(remote)) backward.set(remote, local);
  // A remote value that is also a local key of another mapping must not pass through unchanged
  // (it would mean something else locally); only values absent from the map pass through.
  return {
    to: (v) => forward.get(v) ?? v,
    from: (v) => backward.get(v) ?? v,
  };
}

export function createTranslator(maps: VocabularyMaps): Translator {
  const byField: Partial<Record<FieldName, { to: OneWay; from: OneWay }>> = {
    state: bidirectional(maps.state_map),
    labels: bidirectional(maps.label_map),
    priority: bidirectional(maps.priority_map),
    assignees: bidirectional(maps.user_map),
  };
  const apply = (field: FieldName, value: unknown, dir: 'to' | 'from'): unknown => {
    const fn = byField[field]?.[dir];
    if (!fn || value === undefined || value === null) return value;
    if (Array.isArray(value)) return [...new Set(value.map((v) => fn(String(v))))];
    return fn(String(value));
  };
  return {
    toRemote: (field, value) => apply(field, value, 'to') as never,
    toLocal: (field, value) => apply(field, value, 'from') as never,
  };
}
