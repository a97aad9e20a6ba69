import type { FieldValues } from './fields.ts';

/**
 * What both sides agreed on at the last successful sync, kept in both vocabularies:
 * `local` as the orchestrator said it, `remote` as the tracker reads it back. Comparing each side
 * with its own half means a lossy translation (two local states mapped to one Plane state, HTML a
 * tracker sanitised) never looks like a change, so Trackline's own writes never echo back.
 */
export interface SyncBase {
  local: FieldValues;
  remote: FieldValues;
}

export const emptyBase = (): SyncBase => ({ local: {}, remote: {} });
