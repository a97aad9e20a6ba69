import type { SyncBase } from './base.ts';
import { canonical, setField, type FieldName, type FieldValues } from './fields.ts';
import type { Translator } from './translate.ts';
import type { PendingResolution } from './port/store.ts';

/**
 * Steers the base so exactly one side reads as changed:
 * - "local": the remote half is pinned to the tracker's value (the conflict's remote value, in
 *   the tracker's vocabulary) and the local half to that same value in the orchestrator's words:
 *   the item's value reads as a change from it and is pushed (for sets, exactly the item's set);
 * - "remote": both halves are pinned to the item's current value (the remote half in the
 *   tracker's words): the tracker's value reads as changed and is pulled (for sets, exactly the
 *   tracker's set).
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
    } else if (desired[r.field] === undefined) {
      delete local[r.field];
      delete remote[r.field];
    } else {
      // Both halves pinned to the item's value: the tracker's value reads as the only change and
      // is pulled, for sets exactly (a forgotten remote half made the pull add the tracker's set
      // to the item's, keeping labels the operator chose to drop: found by the simulator).
      const field = r.field as FieldName;
      local[r.field] = desired[r.field];
      remote[r.field] = canonical(field, translate.toRemote(field, desired[r.field] as never));
    }
  }
  return next;
}

/**
 * A "use local" that names no remote value: a forced push (sync --force, an event with `force`),
 * or a conflict whose remote side was empty. Both halves of the base are pinned to the tracker's
 * value as read now (`remote`), so the item's value reads as the only change and goes out wherever
 * the two differ (for sets, exactly the item's set). Pinning the remote half alone left the local
 * half empty, and an item that had cleared the field (null) then read as unchanged: "use local"
 * kept the tracker's value (found by the simulator). `base` is changed in place: pass the copy
 * applyResolutions returned.
 */
export function pinToTrackerValue(base: SyncBase, resolutions: PendingResolution[], remote: FieldValues, translate: Translator): void {
  for (const r of resolutions) {
    if (r.use !== 'local' || (r.remoteValue !== null && r.remoteValue !== undefined)) continue;
    const f = r.field as FieldName;
    const now = remote[f];
    setField(base.remote, f, canonical(f, now as never));
    setField(base.local, f, canonical(f, translate.toLocal(f, now as never) as never));
  }
}
