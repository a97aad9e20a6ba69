import type { Connection } from './port/connection.ts';
import type { SyncStore } from './port/store.ts';
import type { RemoteIssue } from './port/tracker.ts';
import { canonical, fieldNames, sameValue, setField, type FieldValues } from './fields.ts';

/**
 * Remote events that are not field changes: an issue deleted in the tracker, a comment written
 * there (the store's markRemoteDeleted, recordRemoteComment), and a new remote issue imported as
 * an item (here). Each writes the item's audit trail and the orchestrator's change feed in one
 * transaction and returns the change ids to notify.
 */

export type ImportOutcome = { imported: true; itemKey: string; changeIds: number[] } | { imported: false; reason: string };

/**
 * A remote issue with no item becomes one when it carries one of the connection's
 * `import_labels` (key `<connection>:<remote key>`); otherwise it is skipped with the reason.
 * Every other connection carrying the new item then gets it on its next reconcile.
 */
export async function importRemoteIssue(
  store: SyncStore,
  connection: Connection,
  others: Connection[],
  remote: RemoteIssue,
): Promise<ImportOutcome> {
  const config = connection.config;
  const wanted = config.import_labels;
  if (wanted.length === 0) return { imported: false, reason: `no item is mapped to ${remote.key} and import_labels is empty` };
  const labels = remote.fields.labels ?? [];
  const match = labels.find((l) => wanted.includes(l));
  if (!match)
    return { imported: false, reason: `no item is mapped to ${remote.key} and it carries none of import_labels (${wanted.join(', ')})` };

  const itemKey = `${config.id}:${remote.key}`;
  const local: FieldValues = {};
  for (const f of fieldNames(remote.fields)) {
    if (remote.fields[f] !== undefined)
      setField(local, f, canonical(f, connection.translate.toLocal(f, remote.fields[f] as never) as never));
  }
  const changeId = await store.importItem({
    itemKey,
    connectionId: config.id,
    local,
    remote,
    carriers: others
      .filter((other) => !(other.config.id === config.id || other.config.direction === 'pull' || other.config.kinds))
      .map((other) => other.config.id),
    activity: { remote: remote.key, url: remote.url, label: match, fields: local },
    changeFields: Object.fromEntries(Object.entries(local).map(([f, v]) => [f, { from: null, to: v }])),
  });
  if (changeId === null) return { imported: false, reason: `item ${itemKey} exists already` };
  return { imported: true, itemKey, changeIds: [changeId] };
}

export type PolledIssue = { seen: 'unchanged' } | { seen: 'changed'; itemKey: string } | { seen: 'unmapped' };

/**
 * A poll read this issue: a mapped issue not seen at this timestamp (our own write's answer, an
 * earlier poll) is marked changed, so the pair's next reconcile reads it; an unmapped one is the
 * caller's to import or skip.
 */
export async function notePolledIssue(store: SyncStore, connectionId: string, issue: RemoteIssue): Promise<PolledIssue> {
  const mapping = await store.findMappingByRemote(connectionId, issue.id);
  if (!mapping) return { seen: 'unmapped' };
  // A stopped pair (either side deleted) takes no remote change: marking it would enqueue a
  // reconcile that does nothing, on every poll that lists the issue again (found by the simulator).
  if (mapping.status === 'remote_deleted' || mapping.status === 'deleted') return { seen: 'unchanged' };
  // Already seen at this timestamp (our own write's answer, or an earlier poll): nothing to do,
  // unless a field differs from what both sides last agreed on. GitHub's updated_at has seconds:
  // a person's edit in the same second as Trackline's last write carries the same timestamp, and
  // with its webhook lost it was never pulled (found by the simulator).
  const base = mapping.base?.remote ?? {};
  // (A field held by an open conflict differs on purpose: it waits for an operator.)
  const differs = fieldNames(issue.fields).some(
    (f) =>
      !mapping.heldFields.includes(f) && base[f] !== undefined && issue.fields[f] !== undefined && !sameValue(f, issue.fields[f], base[f]),
  );
  if (issue.updatedAt && mapping.remoteUpdatedAt === issue.updatedAt && !differs) return { seen: 'unchanged' };
  await store.markRemoteChanged(connectionId, mapping.itemKey);
  return { seen: 'changed', itemKey: mapping.itemKey };
}
