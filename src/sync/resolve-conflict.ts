import type { SyncBase } from './base.ts';
import type { FieldName } from './fields.ts';
import type { Translator } from './translate.ts';
import type { PendingResolution } from './port/store.ts';

/**
 * Steers the base so exactly one side reads as changed:
 * - "local": the remote half is pinned to the tracker's value (the conflict's remote value, in
 *   the tracker's vocabulary) and the local half to that same value in the orchestrator's words:
 *   the item's value reads as a change from it and is pushed (for sets, exactly the item's set);
 * - "remote": the local half is pinned to the item's current value and the remote half forgets
 *   the field: the tracker's value is pulled.
 */
export function applyResolutions(
  base: SyncBase,
  desired: Record<string, unknown>,
  resolutions: PendingResolution[],
  translate: Translator,
): SyncBase {
  const next: SyncBase = { local: { ...base.local }, remote: { ...base.remote } };
  const local = next.local as Record<string, unknown>;
  const remote = next.remote as Record<string, unknown>;
  for (const r of resolutions) {
    if (r.use === 'local') {
      if (r.remoteValue === null || r.remoteValue === undefined) {
        delete remote[r.field];
        delete local[r.field];
      } else {
        remote[r.field] = r.remoteValue;
        local[r.field] = translate.toLocal(r.field as FieldName, r.remoteValue as never);
      }
    } else {
      if (desired[r.field] === undefined) delete local[r.field];
      else local[r.field] = desired[r.field];
      delete remote[r.field];
    }
  }
  return next;
}
