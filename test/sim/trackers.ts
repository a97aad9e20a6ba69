import {
  applySetDelta,
  canonical,
  isCustomField,
  isSetValued,
  listOf,
  setDelta,
  type FieldName,
  type FieldValues,
} from '../../src/sync/fields.ts';
import { TrackerError } from '../../src/sync/port/errors.ts';
import type {
  CallContext,
  CheckLine,
  InboundChange,
  OutgoingComment,
  PollPage,
  RemoteIssue,
  RemoteRef,
  TrackerAdapter,
} from '../../src/sync/port/tracker.ts';
import type { VirtualClock } from './clock.ts';

/**
 * Simulated trackers: one in-memory issue store per run, and an adapter (the engine's port) with
 * Plane-, GitHub- or Jira-like behaviour where the three differ in ways the engine depends on:
 *
 * - timestamps: Plane's updated_at has microseconds (every write a new value), GitHub's has
 *   seconds (two writes in one second look the same), Jira's milliseconds;
 * - finding an issue by its marker after a lost create answer: Plane by external_id (and a second
 *   create with the same external_id answers 409 with the existing issue, which the adapter
 *   adopts), GitHub by listing the token's newest issues (consistent, no duplicate guard on
 *   create), Jira by JQL search, which "might not immediately" show a recent write
 *   (search/jql docs): issues younger than SEARCH_LAG_MS are not found;
 * - deletes: Plane sends no webhook (the poll compares id lists), GitHub and Jira do;
 * - polling windows: Plane lists by -updated_at from the watermark inclusive, GitHub asks from a
 *   second before the cursor, Jira a minute before (JQL's minute precision);
 * - fields: GitHub issues have no priority;
 * - custom fields (runs with `custom`, the connection's field_map naming both): a scalar, reported
 *   null when it has no value, and a multi-select, reported as the empty list when none is ticked
 *   (as the Jira adapter reports them), written whole on create and as additions and removals
 *   since what Trackline last saw on update.
 *
 * Every change, a person's or Trackline's own, emits a webhook (normalized, as the tracker's
 * webhook handler would give it); the run decides whether it is delivered, twice, late or never.
 */

export type TrackerKind = 'plane' | 'github' | 'jira';
export const TRACKER_KINDS: readonly TrackerKind[] = ['plane', 'github', 'jira'];

/** How long Jira's search may lag a write, in virtual ms. */
export const SEARCH_LAG_MS = 2_000;

export interface SimIssue {
  id: string;
  key: string;
  /** The item key marker (Plane external_id, GitHub body marker, Jira label + property). */
  marker: string | null;
  fields: FieldValues;
  updatedAt: string;
  updatedMs: number;
  createdMs: number;
  deleted: boolean;
  comments: { marker: number | null; body: string; byTrackline: boolean }[];
}

export interface Webhook {
  seq: number;
  change: InboundChange;
}

/** A write of Trackline's that the tracker applied (whether or not its answer arrived). */
export interface LandedWrite {
  call: 'create' | 'update';
  issueId: string;
  itemKey: string | null;
  fields: FieldValues;
  /** Order among all changes to the tracker. */
  seq: number;
  /** What the written fields became (a set written as a delta onto a person's change differs from what was asked). */
  result: FieldValues;
}

/** Fault injection around each call the adapter makes (the run's plan). */
export interface CallHooks {
  /** Before the tracker sees the call: may throw (a crash, a 429, a 5xx, a timeout). */
  before(call: string): void;
  /** After the tracker applied it: may throw (the answer lost on the way back). */
  after(call: string): void;
}

const FIELDS_OF: Record<TrackerKind, readonly FieldName[]> = {
  plane: ['title', 'state', 'labels', 'priority'],
  github: ['title', 'state', 'labels'],
  jira: ['title', 'state', 'labels', 'priority'],
};
/** The custom fields of runs that carry them: a scalar and a multi-select. */
export const CUSTOM_FIELDS = { scalar: 'fields.risk', multi: 'fields.areas' } as const;

export class SimTracker {
  readonly issues = new Map<string, SimIssue>();
  /** Emitted webhooks not yet handed to the run. */
  readonly outbox: Webhook[] = [];
  /** Every webhook ever emitted (the echo check re-delivers them all). */
  readonly emitted: Webhook[] = [];
  readonly landed: LandedWrite[] = [];
  /** Calls that changed something in the tracker, Trackline's only (the echo check counts them). */
  writesByTrackline = 0;
  private seq = 0;
  private micro = 0;
  /** Order of changes, and per issue and field the last change a person made. */
  private changeSeq = 0;
  readonly personEdits = new Map<string, number>();
  /** How many edits people made (a check can tell whether one landed while it looked away). */
  personEditCount = 0;

  readonly supportedFields: readonly FieldName[];

  constructor(
    readonly kind: TrackerKind,
    private readonly clock: VirtualClock,
    readonly custom = false,
  ) {
    this.supportedFields = custom ? [...FIELDS_OF[kind], CUSTOM_FIELDS.scalar, CUSTOM_FIELDS.multi] : FIELDS_OF[kind];
  }

  live(): SimIssue[] {
    return [...this.issues.values()].filter((i) => !i.deleted);
  }

  byMarker(itemKey: string): SimIssue[] {
    return this.live().filter((i) => i.marker === itemKey);
  }

  // ------------------------------------------------------------------------------ what people do

  editAsPerson(issueId: string, patch: FieldValues): void {
    const issue = this.issues.get(issueId);
    if (!issue || issue.deleted) return;
    this.apply(issue, patch);
    for (const f of Object.keys(patch)) this.personEdits.set(`${issue.id}.${f}`, this.changeSeq);
    this.personEditCount++;
    this.emit({ type: 'issue.changed', remoteId: issue.id, remoteKey: issue.key, actor: 'person' });
  }

  commentAsPerson(issueId: string, body: string): void {
    const issue = this.issues.get(issueId);
    if (!issue || issue.deleted) return;
    issue.comments.push({ marker: null, body, byTrackline: false });
    this.emit({
      type: 'comment.created',
      remoteId: issue.id,
      remoteKey: issue.key,
      commentId: `c${issue.comments.length}`,
      body,
      actor: 'person',
      fromTrackline: false,
    });
  }

  deleteAsPerson(issueId: string): void {
    const issue = this.issues.get(issueId);
    if (!issue || issue.deleted) return;
    issue.deleted = true;
    // Plane CE sends no webhook for a delete (trackers.md 1.3); GitHub and Jira do.
    if (this.kind !== 'plane') this.emit({ type: 'issue.deleted', remoteId: issue.id, remoteKey: issue.key, actor: 'person' });
  }

  // ------------------------------------------------------------------------- the tracker's rules

  create(itemKey: string, fields: FieldValues): SimIssue {
    const n = this.issues.size + 1;
    const id = this.kind === 'plane' ? `p-${n}` : this.kind === 'github' ? String(n) : String(10_000 + n);
    const key = this.kind === 'github' ? `#${n}` : `SIM-${n}`;
    const now = this.clock.now();
    const issue: SimIssue = {
      id,
      key,
      marker: itemKey,
      // A custom field the create does not set has no value.
      fields: this.custom ? { [CUSTOM_FIELDS.scalar]: null, [CUSTOM_FIELDS.multi]: [] } : {},
      updatedAt: '',
      updatedMs: now,
      createdMs: now,
      deleted: false,
      comments: [],
    };
    this.issues.set(id, issue);
    this.apply(issue, { title: itemKey, ...fields });
    this.writesByTrackline++;
    this.landed.push({
      call: 'create',
      issueId: id,
      itemKey,
      fields: snapshotFields(issue.fields),
      seq: this.changeSeq,
      result: snapshotFields(issue.fields),
    });
    this.emit({ type: 'issue.changed', remoteId: id, remoteKey: key, actor: 'trackline', action: 'created' });
    return issue;
  }

  /** `asked`: what Trackline asked for (a set's target; `changes` holds the set the delta made). */
  update(issue: SimIssue, changes: FieldValues, asked: FieldValues = changes): void {
    this.apply(issue, changes);
    this.writesByTrackline++;
    this.landed.push({
      call: 'update',
      issueId: issue.id,
      itemKey: issue.marker,
      fields: snapshotFields(asked),
      seq: this.changeSeq,
      result: snapshotFields(changes),
    });
    this.emit({ type: 'issue.changed', remoteId: issue.id, remoteKey: issue.key, actor: 'trackline' });
  }

  addComment(issue: SimIssue, comment: OutgoingComment): boolean {
    // Each tracker drops a re-sent comment by its marker (Plane's external_id 409, a marker
    // looked for among recent comments on GitHub and Jira).
    if (issue.comments.some((c) => c.marker === comment.id)) return false;
    issue.comments.push({ marker: comment.id, body: comment.body, byTrackline: true });
    this.writesByTrackline++;
    this.emit({
      type: 'comment.created',
      remoteId: issue.id,
      remoteKey: issue.key,
      commentId: `c${issue.comments.length}`,
      body: comment.body,
      actor: 'trackline',
      fromTrackline: true,
    });
    return true;
  }

  private apply(issue: SimIssue, patch: FieldValues): void {
    this.changeSeq++;
    for (const f of this.supportedFields) {
      if (patch[f] === undefined) continue;
      // A multi-select with nothing ticked is the empty list.
      const value = f === CUSTOM_FIELDS.multi ? listOf(patch[f]) : structuredCloneValue(patch[f]);
      (issue.fields as Record<string, unknown>)[f] = canonical(f, value as never);
    }
    const now = this.clock.now();
    issue.updatedMs = now;
    issue.updatedAt = this.stamp(now);
  }

  /** The issue's updated-at as this tracker writes it. */
  private stamp(ms: number): string {
    const iso = new Date(ms).toISOString();
    if (this.kind === 'github') return iso.replace(/\.\d{3}Z$/, 'Z');
    if (this.kind === 'jira') return iso.replace('Z', '+0000');
    // Plane (Django) keeps microseconds: two writes never share a timestamp.
    this.micro = (this.micro + 1) % 1000;
    return iso.replace('Z', `${String(this.micro).padStart(3, '0')}Z`);
  }

  private emit(change: InboundChange): void {
    const hook = { seq: ++this.seq, change };
    this.outbox.push(hook);
    this.emitted.push(hook);
  }

  toRemote(issue: SimIssue): RemoteIssue {
    return {
      id: issue.id,
      key: issue.key,
      url: `https://${this.kind}.example/${issue.key}`,
      fields: snapshotFields(issue.fields),
      updatedAt: issue.updatedAt,
      updatedBy: 'person',
    };
  }
}

function structuredCloneValue<T>(v: T): T {
  return Array.isArray(v) ? ([...v] as T) : v;
}

function snapshotFields(fields: FieldValues): FieldValues {
  const out: FieldValues = {};
  for (const [f, v] of Object.entries(fields)) if (v !== undefined) (out as Record<string, unknown>)[f] = structuredCloneValue(v);
  return out;
}

/** The engine's port over a simulated tracker, with the kind's rules and the run's faults. */
export class SimAdapter implements TrackerAdapter {
  readonly supportedFields: readonly FieldName[];
  /** Plane only: it sends no delete webhook, so the poll compares id lists. */
  readonly listIds?: (ctx: CallContext) => Promise<Set<string>>;
  /** Jira: the search lag, with a margin for the create call's own duration (as the real adapter's guess). */
  readonly markerLookupLagMs?: number;

  constructor(
    readonly connectionId: string,
    private readonly tracker: SimTracker,
    private readonly hooks: CallHooks,
    private readonly clock: VirtualClock,
  ) {
    this.supportedFields = tracker.supportedFields;
    if (tracker.kind === 'jira') this.markerLookupLagMs = 2 * SEARCH_LAG_MS;
    if (tracker.kind === 'plane') this.listIds = async () => this.call('listIds', () => new Set(this.tracker.live().map((i) => i.id)));
  }

  private call<T>(name: string, run: () => T): T {
    this.hooks.before(name);
    const answer = run();
    this.hooks.after(name);
    return answer;
  }

  private issue(ref: RemoteRef): SimIssue {
    const issue = this.tracker.issues.get(ref.id);
    if (!issue || issue.deleted) throw new TrackerError('not_found', `${ref.key ?? ref.id} not found`, { status: 404 });
    return issue;
  }

  async findByItemKey(itemKey: string, _ctx: CallContext): Promise<RemoteIssue | null> {
    return this.call('findByItemKey', () => {
      let hits = this.tracker.byMarker(itemKey);
      // Jira's search/jql: recent writes might not be visible yet.
      if (this.tracker.kind === 'jira') hits = hits.filter((i) => this.clock.now() - i.createdMs >= SEARCH_LAG_MS);
      hits.sort((a, b) => a.createdMs - b.createdMs);
      return hits[0] ? this.tracker.toRemote(hits[0]) : null;
    });
  }

  async create(itemKey: string, fields: FieldValues, _ctx: CallContext): Promise<RemoteIssue> {
    return this.call('create', () => {
      if (this.tracker.kind === 'plane') {
        // A second create with the same external_id: Plane answers 409 with the existing id, and
        // the adapter brings that issue up to date instead.
        const existing = this.tracker.byMarker(itemKey)[0];
        if (existing) {
          this.tracker.update(existing, fields);
          return this.tracker.toRemote(existing);
        }
      }
      return this.tracker.toRemote(this.tracker.create(itemKey, fields));
    });
  }

  async update(ref: RemoteRef, changes: FieldValues, _ctx: CallContext, since?: FieldValues): Promise<RemoteIssue> {
    return this.call('update', () => {
      const issue = this.issue(ref);
      // A set is written as its additions and removals since `since` (Jira's add/remove
      // operations; Plane and GitHub read and apply the delta): a label a person added stays.
      // A multi-select custom field likewise (Jira's add/remove on the field).
      const write: FieldValues = { ...changes };
      for (const [f, value] of Object.entries(changes) as [FieldName, unknown][]) {
        const was = since?.[f];
        if (value === undefined || was === undefined) continue;
        if (f !== 'labels' && !(isCustomField(f) && isSetValued(f, value, was, issue.fields[f]))) continue;
        (write as Record<string, unknown>)[f] = applySetDelta(listOf(issue.fields[f]), setDelta(listOf(was), listOf(value)));
      }
      this.tracker.update(issue, write, changes);
      return this.tracker.toRemote(issue);
    });
  }

  async get(ref: RemoteRef, _ctx: CallContext): Promise<RemoteIssue> {
    return this.call('get', () => this.tracker.toRemote(this.issue(ref)));
  }

  async resolveLink(link: string, ctx: CallContext): Promise<RemoteIssue> {
    return this.get({ id: link }, ctx);
  }

  async addComment(ref: RemoteRef, comment: OutgoingComment, _ctx: CallContext): Promise<void> {
    this.call('addComment', () => {
      this.tracker.addComment(this.issue(ref), comment);
    });
  }

  async check(): Promise<CheckLine[]> {
    return [{ ok: true, message: `simulated ${this.tracker.kind}` }];
  }

  async *poll(cursor: string | null, _ctx: CallContext): AsyncGenerator<PollPage> {
    const page = this.call('poll', () => {
      const kind = this.tracker.kind;
      const since = cursor === null ? Number.NEGATIVE_INFINITY : Date.parse(cursor.replace('+0000', 'Z'));
      // GitHub asks from a second before its cursor, Jira a minute before (JQL's precision).
      const from = kind === 'github' ? since - 1000 : kind === 'jira' ? since - 60_000 : since;
      const issues = this.tracker.live().filter((i) => i.updatedMs >= from || (kind === 'github' && Date.parse(i.updatedAt) >= from));
      issues.sort((a, b) => a.updatedMs - b.updatedMs);
      let newest = cursor;
      for (const i of issues)
        if (newest === null || Date.parse(i.updatedAt.replace('+0000', 'Z')) > Date.parse(newest.replace('+0000', 'Z')))
          newest = i.updatedAt;
      return { issues: issues.map((i) => this.tracker.toRemote(i)), cursor: newest ?? '1970-01-01T00:00:00.000Z' };
    });
    yield page;
  }
}
