import type { PullRequestState } from '../../config/schema.ts';
import type { SyncBase } from '../base.ts';
import type { FieldName, FieldValues } from '../fields.ts';
import type { RemotePullRequest } from './pull-requests.ts';
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
  /** What the Postgres store's pair load also says of the item's pull requests (absent: unknown). */
  pullRequests?: PullRequestHint;
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
  /**
   * The create call was refused (a 429, a 4xx): nothing was created, so the intent goes (status
   * back to 'pending') and the next attempt creates at once instead of waiting out a search lag.
   */
  clearCreateIntent(mappingId: number): Promise<void>;
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

/**
 * What the item's pull requests need of storage (src/sync/pull-requests), apart from the pair's
 * issue: one row per pull request an item has on a github connection, from the intent to open it
 * (or the moment Trackline learns of it) on, with the links written for it on the other
 * connections. Postgres in the product (src/sync/postgres/pull-request-store.ts).
 */
export interface PullRequestRow {
  id: number;
  itemKey: string;
  connectionId: string;
  number: number | null;
  url: string | null;
  title: string | null;
  state: PullRequestState | null;
  head: string;
  base: string | null;
  /**
   * opened (by Trackline) | branch (a person's, from the item's branch) | linked (links.pull_request)
   * | closes (a person's that closes the item's issue) | detached (no longer the item's: its links
   * are being removed, then the row goes).
   */
  origin: 'opened' | 'branch' | 'linked' | 'closes' | 'detached';
  createIntentAt: Date | null;
  reviewersRequestedAt: Date | null;
  remoteChangedAt: Date | null;
  remoteActor: string | null;
  failedFor: string | null;
  lastError: string | null;
  links: Record<string, { id: string; title: string; state: string }>;
}

/** The item as the pull request step needs it: state, title, body and assignees, its branch and linked pull request. */
export interface PullRequestItem {
  key: string;
  desired: FieldValues;
  version: number;
  deleted: boolean;
  branch: string | null;
  pullRequestLink: string | null;
}

/** Everything one pass of the pull request step reads first, in one query. */
export interface PullRequestPair {
  item: PullRequestItem | null;
  /** The item's issue on the connection (null when there is none, or the pair stopped). */
  mapping: { remoteId: string | null; remoteKey: string | null } | null;
  /** The item's pull requests on every github connection. */
  rows: PullRequestRow[];
}

export interface AppliedPullRequest {
  changeIds: number[];
  /** The pull request's state or title changed: links on the other trackers are out of date. */
  changed: boolean;
  /** state_map moved the item to a new state (a new version every connection syncs). */
  itemMoved: boolean;
}

/** What the reconcile's first read says of the item's pull requests (the step is skipped when it has none). */
export interface PullRequestHint {
  branch: string | null;
  link: string | null;
  /** Whether any pull request row exists for the item. */
  known: boolean;
}

export interface PullRequestStore {
  /** The item, its mapping on `connectionId` and all its pull request rows, in one query. */
  loadPair(itemKey: string, connectionId: string): Promise<PullRequestPair>;
  /** The item's pull request rows, oldest first. */
  rows(itemKey: string): Promise<PullRequestRow[]>;
  /** The intent to open a pull request from `head`, committed before the call (exactly-once open). */
  recordOpenIntent(itemKey: string, connectionId: string, head: string, base: string | null): Promise<PullRequestRow>;
  /** GitHub refused to open it for good: not tried again for this head and base. */
  recordOpenFailure(id: number, failedFor: string, message: string): Promise<void>;
  recordReviewersRequested(id: number): Promise<void>;
  /**
   * A pull request found by number (`links.pull_request`): its row (a detached one of the item is
   * taken back), or the item that already holds it. Earlier refusals of the item's link go.
   */
  recordLinked(itemKey: string, connectionId: string, pr: RemotePullRequest): Promise<PullRequestRow | { takenBy: string }>;
  /**
   * GitHub has no pull request by the number `links.pull_request` names: kept (as the row of
   * `pull/N/head` without a number, with the message) so it is refused once, not on every
   * reconcile; an operator's retry of the failed delivery forgets it (`forgetRefusals`).
   */
  recordLinkRefused(itemKey: string, connectionId: string, number: number, message: string): Promise<void>;
  /** Refusals of links.pull_request numbers the item no longer names. */
  dropLinkRefusals(itemKey: string, connectionId: string, keep: number | null): Promise<void>;
  /** What GitHub says of the pull request now, with its trail, change feed rows and, with `stateMap`, the item's move. */
  apply(args: {
    row: PullRequestRow;
    pr: RemotePullRequest;
    connectionId: string;
    stateMap: Partial<Record<PullRequestState, string>>;
    seenChangeAt: Date | null;
  }): Promise<AppliedPullRequest>;
  /** The pull request is no longer the item's: detached (deleted at once when no link shows it anywhere). */
  detach(id: number, actor: string, reason: string): Promise<void>;
  /** A detached row is the item's again (its body closes the item's issue once more). */
  reattach(id: number, origin: 'closes' | 'linked'): Promise<void>;
  /** A flagged change was read and concerns nobody any more: the flag is cleared. */
  clearRemoteChange(id: number, seenAt: Date): Promise<void>;
  /** The link written on `connectionId`'s issue; false when the row went or was detached meanwhile. */
  recordLink(id: number, connectionId: string, link: { id: string; title: string; state: string }): Promise<boolean>;
  /** The link on `connectionId`'s issue is removed; a detached row no link shows any more goes. */
  recordLinkRemoved(id: number, connectionId: string): Promise<void>;
  /** A webhook or a poll saw the pull request change: the items to reconcile (see the Postgres store). */
  noteActivity(
    connectionId: string,
    pr: { number: number; head: string; closes: string[]; actor?: string | null; updatedAt?: string; state?: PullRequestState },
  ): Promise<string[]>;
  /** An operator retries a failed pull_request delivery: GitHub's refusals for the pair are forgotten. */
  forgetRefusals(itemKey: string, connectionId: string): Promise<void>;
}
