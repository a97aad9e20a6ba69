import type { SyncBase } from './base.ts';
import { sameValue, type FieldName, type FieldValues } from './fields.ts';

type Pulled = [FieldName, { from: unknown; to: unknown }][];

/**
 * A reconcile holds no lock across its tracker calls, so an orchestrator event can change the item
 * between the pass reading it and the pass recording what it pulled. A pulled field that event
 * changed too (the item no longer holds the value the pass pulled over) is not applied: the item
 * keeps the event's value, and that field's base goes back to what it was before the pass, so the
 * next reconcile sees both sides changed and the connection's strategy decides (under `manual`, a
 * conflict). Applying it was a lost update: the event's value was overwritten without a trace.
 * Stores call this inside the transaction that records the pass, with the item read for update.
 */
export function keepConcurrentChanges(
  pulled: Pulled,
  nextBase: SyncBase,
  itemNow: FieldValues,
  baseBefore: SyncBase | null,
): { pulled: Pulled; nextBase: SyncBase; overtaken: FieldName[] } {
  const overtaken = pulled.filter(([field, change]) => !sameValue(field, itemNow[field], change.from)).map(([field]) => field);
  if (overtaken.length === 0) return { pulled, nextBase, overtaken };
  const base: SyncBase = { local: { ...nextBase.local }, remote: { ...nextBase.remote } };
  for (const field of overtaken) {
    restore(base.local, field, baseBefore?.local[field]);
    restore(base.remote, field, baseBefore?.remote[field]);
  }
  return { pulled: pulled.filter(([field]) => !overtaken.includes(field)), nextBase: base, overtaken };
}

function restore(half: FieldValues, field: FieldName, value: unknown): void {
  if (value === undefined) delete half[field];
  else half[field] = value as never;
}
