import type { FieldName, FieldValues } from '../fields.ts';

/** A remote issue as the sync engine sees it: identity plus fields in the tracker's vocabulary. */
export interface RemoteIssue {
  /** Stable id (Plane uuid, GitHub number, Jira id). */
  id: string;
  /** What people call it: `ET-12`, `#42`. */
  key: string;
  url: string;
  fields: FieldValues;
  updatedAt?: string;
  /** Who last changed it, where the tracker says (for the change feed's actor). */
  updatedBy?: string;
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
 * What a tracker webhook says happened, normalized to "remote issue X changed". Payloads can be
 * stale or out of order, so the engine re-reads the issue before acting on a change; the payload
 * only has to say which issue, and (for imports) which labels it carries.
 */
export type InboundChange =
  | { type: 'issue.changed'; remoteId: string; remoteKey?: string; labels?: string[]; actor?: string; action?: string }
  | { type: 'issue.deleted'; remoteId: string; remoteKey?: string; actor?: string }
  | {
      type: 'comment.created';
      remoteId: string;
      remoteKey?: string;
      commentId: string;
      /** Markdown. */
      body: string;
      actor?: string;
      /** Trackline's own comment coming back (its marker is on it): never fed back. */
      fromTrackline: boolean;
    }
  | {
      /** A pull request changed (GitHub): whoever follows it reads it again. */
      type: 'pull_request.changed';
      number: number;
      /** Its branch, and the issues (remote ids) its body closes: how an unrecorded one finds its item. */
      head: string;
      closes: string[];
      actor?: string;
      action?: string;
    }
  | { type: 'ignored'; reason: string };

export type HeaderBag = Record<string, string | undefined>;

/**
 * A tracker's webhook rules. Runs in the api process, so it holds only the connection's secret
 * and never calls the tracker.
 */
export interface WebhookHandler {
  /** Checks the signature over the raw bytes as received, in constant time, before any parsing. */
  verify(headers: HeaderBag, rawBody: Buffer): { ok: true } | { ok: false; reason: string };
  /** The sender's stable id for this delivery: the same on every redelivery of one event. */
  dedupKey(headers: HeaderBag, payload: unknown, rawBody: Buffer): string;
  /** The event's name for the delivery log (`issues.labeled`, `issue.updated`, `jira:issue_updated`). */
  eventName(headers: HeaderBag, payload: unknown): string;
  normalize(headers: HeaderBag, payload: unknown): InboundChange[];
  /**
   * A signed delivery whose payload cannot be what it says it is (a pull_request event without a
   * pull request): refused with 400 before anything is recorded. Absent: every signed JSON body is taken.
   */
  check?(headers: HeaderBag, payload: unknown): { ok: true } | { ok: false; reason: string };
}

/** One page of a poll: issues changed since the cursor, in the tracker's order. */
export interface PollPage {
  issues: RemoteIssue[];
  /** Ids of issues the tracker reports as deleted (where it can say so). */
  deletedIds?: string[];
  /** Where the next poll starts once this page is processed (saved durably). */
  cursor: string;
}

/**
 * The adapter interface every tracker implements. Fields in and out are in the tracker's
 * vocabulary (state names, label names) but tracker-neutral in shape; ids, HTML and wire formats
 * stay inside the tracker's folder.
 */
export interface TrackerAdapter {
  readonly connectionId: string;
  /**
   * Fields this connection carries; the engine ignores the rest for it. Core fields by name, and
   * the custom fields the connection's `field_map` names as `fields.<name>` (mappedCustomFields in
   * fields.ts reads them off the map). A custom field listed here reaches create/update as
   * `fields.<name>` (text, a number, null to clear, or a list of text for a multi-select), and the
   * adapter reports it in every RemoteIssue it returns: its value, or null when the tracker has
   * none (absent would read as "the tracker does not say", never as a person clearing it).
   */
  readonly supportedFields: readonly FieldName[];
  /**
   * How long a just-created issue may stay invisible to findByItemKey (a search index that lags
   * writes, like Jira's). Absent: the lookup sees every issue at once.
   */
  readonly markerLookupLagMs?: number;
  /** Finds the issue created for this item by its marker (exactly-once create after a crash). */
  findByItemKey(itemKey: string, ctx: CallContext): Promise<RemoteIssue | null>;
  /** Creates the issue, marked with the item key. A duplicate marker returns the existing issue. */
  create(itemKey: string, fields: FieldValues, ctx: CallContext): Promise<RemoteIssue>;
  /**
   * Writes only the given fields; answers the issue as the tracker now has it. `since` holds, for
   * the changed fields, the values Trackline believes the tracker has now (the base, or what it
   * just read). For a set-valued field (labels, assignees) the adapter writes only the difference
   * between `since` and `changes` (additions and removals), never the whole set, so a value a
   * person added in the tracker meanwhile survives. A set field absent from `since` (a create
   * being adopted) is written whole. Custom fields holding lists follow the same rule.
   * A custom field the tracker refuses (no such option, the wrong type) is the delivery's failure
   * on its first attempt: a TrackerError of kind `invalid` naming the tracker's field and why, or
   * a PartialUpdateError when the other fields went through (the field is then held as a conflict).
   */
  update(ref: RemoteRef, changes: FieldValues, ctx: CallContext, since?: FieldValues): Promise<RemoteIssue>;
  get(ref: RemoteRef, ctx: CallContext): Promise<RemoteIssue>;
  /** Resolves an event's `links` value (identifier, number or id) to an existing issue. */
  resolveLink(link: string, ctx: CallContext): Promise<RemoteIssue>;
  /** Posts a comment at most once (the comment id is its marker). */
  addComment(ref: RemoteRef, comment: OutgoingComment, ctx: CallContext): Promise<void>;
  /**
   * Whether writing this state (tracker vocabulary) closes the issue, for `close_issues`
   * (GitHub: `closed`, `closed:not_planned`). Absent: no state closes anything.
   */
  closesIssue?(state: string): boolean;
  /** Checks credentials and access the way `trackline check` shows them. */
  check(): Promise<CheckLine[]>;
  /**
   * Loads (or refreshes, keeping what it has until the new values arrive) the lookups a create
   * needs (states, labels, members, milestones...), so they are not fetched on the critical path
   * of the first event. The worker calls it when it starts and then in the background. Absent
   * where the tracker needs no lookups.
   */
  warm?(ctx: CallContext): Promise<void>;
  /**
   * Pages of issues changed since `cursor` (null: from the beginning), oldest change first where
   * the tracker allows. The caller saves each page's cursor after processing it, so a crash
   * resumes from the last finished page; overlapping pages are fine (the engine deduplicates).
   */
  poll(cursor: string | null, ctx: CallContext): AsyncGenerator<PollPage>;
  /**
   * Every live issue id, for trackers that send no delete webhook (Plane): mapped issues missing
   * from it were deleted. Absent where the tracker reports deletes itself.
   */
  listIds?(ctx: CallContext): Promise<Set<string>>;
}
