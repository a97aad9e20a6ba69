import type { SyncBase } from '../base.ts';
import type { FieldName, FieldValues } from '../fields.ts';
import type { RemoteIssue } from './tracker.ts';

/**
 * The engine's storage, as the engine needs it: the operations a reconcile and the remote-event
 * handling perform, each atomic on its own. The engine runs unchanged against the Postgres store
 * (src/sync/postgres/, the product) and the in-memory store of the deterministic simulator
 * (test/sim/). Each method's comment is the contract both keep.
 *
 * Time is the store's: every "now" below is the store's clock (Postgres' now() in the product,
 * the simulator's virtual clock), so the engine itself reads no clock.
 */

export interface ItemState {
  key: string;
  kind: string | null;
  /** The item's synced values: core fields, and its custom fields as `fields.<name>`. */
  desired: FieldValues;
  version: number;
  deleted: boolean;
}

/** What a pass is about to push (committed before the tracker call), to recognise it after a crash. */
export interface PendingPush extends SyncBase {
  /** Fields the pass also pulled (a merge sent to both sides): the item may not hold them yet. */
  pulled?: FieldName[];
}

export interface MappingState {
  id: number;
  remoteId: string | null;
  remoteKey: string | null;
  linkTo: string | null;
  base: SyncBase | null;
  status: string;
  syncedVersion: number;
  commentCursor: number;
  createIntentAt: Date | null;
  remoteChangedAt: Date | null;
  pendingPush: PendingPush | null;
}

/** An operator's decision on a conflict, not yet carried out by the pair's reconcile. */
export interface PendingResolution {
  id: number;
  field: string;
  use: 'local' | 'remote';
  remoteValue: unknown;
}

export interface LoadedPair {
  item: ItemState | null;
  mapping: MappingState | null;
  /** Fields with an open conflict on this pair. */
  heldFields: Set<FieldName>;
  /** Resolved conflicts (use local or remote) whose resolution is not applied yet, oldest first. */
  resolutions: PendingResolution[];
  /** Whether comments after the mapping's cursor wait to be delivered. */
  newComments: boolean;
}

/** Who did what, for the activity rows written beside a state change. */
export interface AuditBy {
  itemKey: string;
  actor: string;
  connectionId: string;
}

export interface RemoteMeta {
  key: string | null;
  url: string | null;
  updatedAt: string | null;
}

export interface PushedResult {
  mappingId: number;
  itemKey: string;
  connectionId: string;
  actor: string;
  pushed: { field: string; from_value: unknown; to_value: unknown }[];
  nextBase: SyncBase;
  version: number;
  remote: RemoteMeta;
}

/** A conflict the diff found (or a field the tracker refused), as it is recorded. */
export interface ConflictRecord {
  field: FieldName;
  base: unknown;
  local: unknown;
  remote: unknown;
  /** 'open' waits for an operator; otherwise the side or merge the strategy kept. */
  outcome: 'local' | 'remote' | 'merged' | 'open';
  strategy: string;
  reason: string;
}

/** A pass that pulled, met conflicts or carried out resolutions: recorded in one transaction. */
export interface ReconciledResult extends AuditBy {
  mappingId: number;
  /** The item's version the pass read. */
  version: number;
  /** Fields the item takes (orchestrator vocabulary): a new item version, a change feed row. */
  pulled: [FieldName, { from: unknown; to: unknown }][];
  /** Fields written to the tracker, from (the base's remote half) and to. */
  pushed: { field: string; from_value: unknown; to_value: unknown }[];
  conflicts: ConflictRecord[];
  resolutionIds: number[];
  nextBase: SyncBase;
  status: 'synced' | 'conflict';
  lastError: string | null;
  remote: RemoteMeta & { updatedBy: string | null };
  /**
   * A pass limited to these fields (`trackline sync --labels-only`): only their part of each half
   * of the base is replaced by nextBase's (absent there: removed), the rest of the base is left as
   * it is. The pair stays due for everything else: synced_version moves only when the pair was
   * synced at the version read and this pass's pull made the next one (nothing else can be waiting
   * then); status changes only to 'conflict' when a conflict is left open, and last_error only
   * with it; remote_updated_at is not taken (the write's time would hide other fields' unseen
   * remote changes from the poll). Absent: the whole pass as above.
   */
  fields?: FieldName[];
}

export interface MappingRef {
  itemKey: string;
  remoteKey: string | null;
  status: string;
  /** The tracker's updated-at last seen for the issue (a write's answer, a read). */
  remoteUpdatedAt: string | null;
  base: SyncBase | null;
  /** Fields held by open conflicts (they differ from the base on purpose). */
  heldFields: string[];
}

export interface PendingComment {
  id: number;
  body: string;
  actor: string | null;
}

export interface Resolution {
  itemKey: string;
  connectionId: string;
  field: string;
}

export class ConflictNotFoundError extends Error {}
export class ConflictClosedError extends Error {}

/** A remote issue to store as a new item with its mapping (an import). */
export interface ImportedItem {
  itemKey: string;
  connectionId: string;
  local: FieldValues;
  remote: RemoteIssue;
  /** Other connections that carry the new item: a mapping each, still to sync. */
  carriers: string[];
  activity: Record<string, unknown>;
  changeFields: Record<string, { from: unknown; to: unknown }>;
}

export interface SyncStore {
  /** The pair's item and mapping, its open-conflict fields, resolutions to apply and comments. */
  loadPair(itemKey: string, connectionId: string): Promise<LoadedPair>;
  /** The item's version now; null when there is no such item. */
  itemVersion(itemKey: string): Promise<number | null>;

  /** The item was deleted: the pair stops (status 'deleted'), with a 'sync.stopped' activity row. */
  stopPair(mappingId: number, version: number, by: AuditBy, detail: Record<string, unknown>): Promise<void>;
  /** Records `version` as synced without any other change. */
  markSynced(mappingId: number, version: number): Promise<void>;
  /** create_missing is off and nothing links the item: status 'unmapped', version synced. */
  markUnmapped(mappingId: number, version: number): Promise<void>;

  /** Another mapping of the same connection holding this remote issue: its item key, or null. */
  remoteHolder(mappingId: number, remoteId: string): Promise<string | null>;
  /** The pair is linked to an existing issue: remote identity, base, status synced, activity row. */
  recordLinked(mappingId: number, remote: RemoteIssue, base: SyncBase, by: AuditBy): Promise<void>;
  /** Committed before the create call: status 'creating', create_intent_at = now. */
  recordCreateIntent(mappingId: number): Promise<void>;
  /** The issue is created: remote identity, base, status, version synced, 'remote.created' row. */
  recordCreated(mappingId: number, remote: RemoteIssue, base: SyncBase, version: number, held: string | null, by: AuditBy): Promise<void>;
  /** An open conflict found outside a diff (a field a tracker refused at create). */
  openConflict(by: AuditBy, field: FieldName, local: unknown, remote: unknown, reason: string): Promise<void>;
  /** One activity row. */
  audit(itemKey: string, actor: string, action: string, connectionId: string | null, detail: Record<string, unknown>): Promise<void>;

  /** What a pass is about to push, committed before the tracker call. */
  recordPendingPush(mappingId: number, intent: PendingPush): Promise<void>;
  /**
   * A pass that only pushed: its 'field.pushed' rows and the new base (status synced, pending push
   * cleared) atomically; answers the item's version as of the write (undefined: mapping gone).
   */
  recordPushed(result: PushedResult): Promise<number | undefined>;
  /** A pass that pulled, met conflicts or applied resolutions; answers the change feed row's id. */
  recordReconciled(result: ReconciledResult): Promise<number | null>;
  /** A remote change may be unseen: remote_changed_at = now, remote_updated_at forgotten. */
  flagRemoteChange(mappingId: number): Promise<void>;
  /** The remote change flagged at `seenAt` (or before) is served: the flag is cleared. */
  clearRemoteChange(mappingId: number, seenAt: Date): Promise<void>;

  /** The item's comments after `after`, oldest first, at most `limit`. */
  pendingComments(itemKey: string, after: number, limit: number): Promise<PendingComment[]>;
  /** How many of the item's comments wait after `after`. */
  countPendingComments(itemKey: string, after: number): Promise<number>;
  /** The comment cursor of the pair moves to `commentId`. */
  advanceCommentCursor(itemKey: string, connectionId: string, commentId: number): Promise<void>;

  findMappingByRemote(connectionId: string, remoteId: string): Promise<MappingRef | null>;
  /** A webhook or a poll says the remote issue changed: remote_changed_at = now (ms precision). */
  markRemoteChanged(connectionId: string, itemKey: string): Promise<void>;
  /** Status 'remote_deleted', an activity row and a change feed row, once; answers the new change ids. */
  markRemoteDeleted(connectionId: string, remoteId: string, actor: string | undefined): Promise<number[]>;
  /** A person's comment in the tracker: activity row and change feed row; answers the change ids. */
  recordRemoteComment(connectionId: string, itemKey: string, body: string, actor: string | undefined): Promise<number[]>;
  /** Creates the item and its mappings unless the key exists; answers the change id or null. */
  importItem(item: ImportedItem): Promise<number | null>;

  /** An operator's decision: the conflict resolved, the item's version bumped, an activity row. */
  resolveConflict(id: number, use: 'local' | 'remote', actor: string): Promise<Resolution>;
}
