import type { FieldName, FieldValues } from '../sync/fields.ts';

/** A remote issue as the sync engine sees it: identity plus fields in the tracker's vocabulary. */
export interface RemoteIssue {
  /** Stable id (Plane uuid, GitHub number, Jira id). */
  id: string;
  /** What people call it: `ET-12`, `#42`. */
  key: string;
  url: string;
  fields: FieldValues;
  updatedAt?: string;
}

export interface RemoteRef {
  id: string;
  key?: string | null;
}

/** Per-call context: which delivery the calls belong to, and where non-fatal notes go. */
export interface CallContext {
  deliveryId?: string;
  /** A note worth an operator's attention that does not fail the sync (e.g. an unknown user). */
  warn?(message: string): void;
}

export interface OutgoingComment {
  /** Trackline's comment id: the tracker-side marker that makes a re-send a no-op. */
  id: number;
  body: string;
  actor?: string | null;
}

export interface CheckLine {
  ok: boolean;
  message: string;
  /** What to do when not ok. */
  hint?: string;
}

/**
 * The adapter interface every tracker implements. Fields in and out are in the tracker's
 * vocabulary (state names, label names) but tracker-neutral in shape; ids, HTML and wire formats
 * stay inside the tracker's folder.
 */
export interface TrackerAdapter {
  readonly connectionId: string;
  /** Fields this tracker can carry; the engine ignores the rest for this connection. */
  readonly supportedFields: readonly FieldName[];
  /** Finds the issue created for this item by its marker (exactly-once create after a crash). */
  findByItemKey(itemKey: string, ctx: CallContext): Promise<RemoteIssue | null>;
  /** Creates the issue, marked with the item key. A duplicate marker returns the existing issue. */
  create(itemKey: string, fields: FieldValues, ctx: CallContext): Promise<RemoteIssue>;
  /** Writes only the given fields; answers the issue as the tracker now has it. */
  update(ref: RemoteRef, changes: FieldValues, ctx: CallContext): Promise<RemoteIssue>;
  get(ref: RemoteRef, ctx: CallContext): Promise<RemoteIssue>;
  /** Resolves an event's `links` value (identifier, number or id) to an existing issue. */
  resolveLink(link: string, ctx: CallContext): Promise<RemoteIssue>;
  /** Posts a comment at most once (the comment id is its marker). */
  addComment(ref: RemoteRef, comment: OutgoingComment, ctx: CallContext): Promise<void>;
  /** Checks credentials and access the way `trackline check` shows them. */
  check(): Promise<CheckLine[]>;
}
