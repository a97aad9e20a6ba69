import type { ConnectionConfig } from '../../src/config/schema.ts';
import { canonical, listOf, sameValue, type FieldName, type FieldValues } from '../../src/sync/fields.ts';
import type { Connection } from '../../src/sync/port/connection.ts';
import { TrackerError } from '../../src/sync/port/errors.ts';
import type { SyncStore } from '../../src/sync/port/store.ts';
import { reconcilePair } from '../../src/sync/reconcile.ts';
import { notePolledIssue } from '../../src/sync/remote-events.ts';
import { createTranslator } from '../../src/sync/translate.ts';
import { VirtualClock } from './clock.ts';
import { MemoryStore } from './memory-store.ts';
import { prng } from './prng.ts';
import {
  AREAS,
  RISK,
  STATE_MAP,
  type CallFault,
  type Edit,
  type Faults,
  type Full,
  type HookAction,
  type Patch,
  type Scenario,
} from './scenario.ts';
import { SimAdapter, SimTracker, type LandedWrite, type Webhook } from './trackers.ts';

/**
 * One simulated deployment: the engine (src/sync, unchanged) on the in-memory store, one
 * connection to a simulated tracker, and the parts of the jobs around it the engine relies on,
 * written out here as the jobs do them: the intake's effect on items, the webhook handling of
 * the inbound job, the poll job's loop, the outbox sweep, and BullMQ's one-job-per-pair with
 * retries. Everything runs one step at a time on a virtual clock, so a run is a pure function
 * of its scenario.
 */

export const CONNECTION = 'sim-main';
/** Virtual time a store statement and a tracker call take. */
const STORE_MS = 1;
const CALL_MS = 30;
/** A failed job's retry waits this long (BullMQ backoff), in virtual ms. */
const RETRY_MS = 500;

/** The worker process died at this step. */
export class SimCrash extends Error {}

/** An invariant did not hold; the message says which and how. */
export class InvariantError extends Error {}

export class World {
  readonly clock = new VirtualClock();
  readonly store: MemoryStore;
  readonly tracker: SimTracker;
  readonly connection: Connection;
  readonly keys: string[];
  readonly trace: string[] = [];
  /** Pairs with a reconcile job waiting (BullMQ: one per pair); value: whether it reads the remote. */
  readonly due = new Map<string, boolean>();
  /** Webhooks held back, delivered later (out of order). */
  readonly held: Webhook[] = [];
  /** The intake's duplicate guard: the tracker's delivery ids already accepted. */
  private readonly accepted = new Set<number>();
  /** Person comments whose webhook was accepted, by "issue/body". */
  readonly deliveredComments: string[] = [];
  /** Tracker writes whose reconcile failed after them (a crash, a lost answer). */
  readonly unconfirmed = new Set<LandedWrite>();
  /** Told of every edit that lands (the oracle's record of who wrote what). */
  onEdit?: (edit: Edit) => void;
  private pollCursor: string | null = null;
  private faults: Faults = { crashes: [], calls: [], during: [] };
  private step = 0;
  private lostAnswer = false;
  private inReconcile = false;
  private readonly engineStore: SyncStore;
  private readonly shuffle: () => number;

  constructor(readonly scenario: Scenario) {
    this.store = new MemoryStore(this.clock);
    this.tracker = new SimTracker(scenario.tracker, this.clock, scenario.custom ?? false);
    this.keys = scenario.initial.map((_, i) => `item/${i}`);
    this.shuffle = prng(scenario.initial.length * 7919 + scenario.segments.length);
    const adapter = new SimAdapter(
      CONNECTION,
      this.tracker,
      { before: (c) => this.beforeCall(c), after: () => this.afterCall() },
      this.clock,
    );
    const config = {
      id: CONNECTION,
      tracker: scenario.tracker,
      direction: 'both',
      conflict_strategy: scenario.strategy,
      create_missing: true,
      import_labels: [],
      state_map: STATE_MAP,
      // The re-open and close guards (state-guard.ts) hold pushes the oracle expects to go
      // through; they are not modelled yet (README).
      reopen: 'allow',
      close_issues: true,
    } as unknown as ConnectionConfig;
    this.connection = { config, translate: createTranslator({ state_map: STATE_MAP }), adapter: () => adapter };
    // Every statement the engine runs is a step: time passes, and the run's faults strike here.
    const store = this.store;
    this.engineStore = new Proxy(store, {
      get: (target, name, receiver) => {
        const value = Reflect.get(target, name, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          this.beforeStep(`store.${String(name)}`);
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    }) as SyncStore;
  }

  // ------------------------------------------------------------------------------------ faults

  setFaults(faults: Faults): void {
    this.faults = faults;
    this.step = 0;
  }

  private beforeStep(what: string): void {
    if (!this.inReconcile) return;
    this.clock.advance(STORE_MS);
    const step = this.step++;
    for (const d of this.faults.during) if (d.at === step) this.applyEdit(d.edit, `during step ${step} (${what})`);
    if (this.faults.crashes.includes(step)) {
      this.trace.push(`  crash before step ${step} (${what})`);
      throw new SimCrash(`crash before ${what}`);
    }
  }

  private beforeCall(call: string): void {
    this.clock.advance(CALL_MS);
    if (this.inReconcile) this.beforeStep(`tracker.${call}`);
    const fault = this.faults.calls.find((f) => f.at === this.step - 1 && this.inReconcile)?.fault;
    if (!fault) return;
    this.trace.push(`  ${fault} at tracker.${call}`);
    if (fault === 'lost') this.lostAnswer = true;
    else throw callError(fault);
  }

  private afterCall(): void {
    if (!this.lostAnswer) return;
    this.lostAnswer = false;
    throw new TrackerError('network', 'socket hang up (the tracker applied the call; its answer was lost)');
  }

  // -------------------------------------------------------------------------------- both sides

  /** The orchestrator posts an event (what the intake commits), and its job is enqueued. */
  applyEdit(edit: Edit, when = ''): void {
    const key = this.keys[edit.item];
    this.trace.push(
      `${when ? '  ' : ''}${edit.kind} ${key}${'patch' in edit ? ` ${JSON.stringify(edit.patch)}` : ''}${'value' in edit ? ` ${edit.value}` : ''}${when ? ` ${when}` : ''}`,
    );
    if (edit.kind === 'local') {
      if (this.store.items.get(key)?.deletedAt != null) return;
      this.store.upsertItem(key, toLocal(edit.patch), [CONNECTION]);
      this.onEdit?.(edit);
      this.schedule(key, false);
    } else if (edit.kind === 'localComment') {
      if (this.store.items.get(key)?.deletedAt != null) return;
      this.store.addComment(key, `note ${this.store.comments.length + 1} on ${key}`);
      this.schedule(key, false);
    } else {
      const issue = this.issueOf(key);
      if (!issue) return;
      if (edit.kind === 'remote') {
        this.tracker.editAsPerson(issue.id, toRemote(edit.patch));
        this.onEdit?.(edit);
      } else if (edit.kind === 'remoteAdd') {
        // One more option ticked on what the tracker holds now: the person's whole new value.
        const patch = { [AREAS]: [...new Set([...listOf(issue.fields[AREAS]), edit.value])].sort() };
        this.tracker.editAsPerson(issue.id, patch);
        this.onEdit?.({ kind: 'remote', item: edit.item, patch });
      } else this.tracker.commentAsPerson(issue.id, `person's note ${issue.comments.length + 1}`);
    }
  }

  deleteLocal(item: number): void {
    const key = this.keys[item];
    this.trace.push(`localDelete ${key}`);
    if (!this.store.items.has(key)) return;
    this.store.deleteItem(key);
    this.schedule(key, false);
  }

  issueOf(key: string) {
    const mapping = this.store.mappingOf(key, CONNECTION);
    const id = mapping?.remoteId;
    return id ? this.tracker.issues.get(id) : this.tracker.byMarker(key)[0];
  }

  schedule(key: string, readRemote: boolean): void {
    this.due.set(key, (this.due.get(key) ?? false) || readRemote);
  }

  // ------------------------------------------------------------------------------- the jobs

  /** The pair's reconcile job, as the worker runs it; a crash or a tracker error retries it. */
  async runJob(key: string): Promise<void> {
    const readRemote = this.due.get(key);
    if (readRemote === undefined) return;
    this.due.delete(key);
    this.inReconcile = true;
    const landedBefore = this.tracker.landed.length;
    try {
      const outcome = await reconcilePair({
        store: this.engineStore,
        clock: this.clock,
        connection: this.connection,
        itemKey: key,
        readRemote,
      });
      this.trace.push(
        `  reconcile ${key}: ${outcome.action} pushed [${outcome.pushed}] pulled [${outcome.pulled}] conflicts ${outcome.conflicts}`,
      );
      this.inReconcile = false;
      this.checkStillDue(key, 'after a reconcile');
    } catch (error) {
      if (!(error instanceof SimCrash) && !(error instanceof TrackerError)) throw error;
      this.trace.push(`  reconcile ${key} failed: ${(error as Error).message}; retried`);
      // Writes this attempt made are unconfirmed: the engine never heard they landed.
      for (const write of this.tracker.landed.slice(landedBefore)) this.unconfirmed.add(write);
      // BullMQ retries it (a crash: once the lock expires); meanwhile time passes.
      this.schedule(key, readRemote);
    } finally {
      this.inReconcile = false;
      this.lostAnswer = false;
    }
  }

  /**
   * A labels-only pass of the pair (`trackline sync --labels-only`: a reconcile job limited to the
   * labels, reading the issue), retried like any job until it succeeds (at most a few times: the
   * CLI then reports it failed, and the labels stay for a full pass). Then checks what such a pass
   * promises: it wrote nothing but labels to the tracker, the item took nothing but labels, and
   * any other field the item changed is still due for the next full reconcile.
   */
  async runLabelsOnly(key: string): Promise<void> {
    const startedWith = this.store.mappingOf(key, CONNECTION)?.pendingPush;
    // An earlier full pass's unconfirmed push may be confirmed (adopted) by this one: its rows are allowed.
    const allowed = new Set<string>(['labels', ...Object.keys(startedWith?.remote ?? {})]);
    const marks = { landed: this.tracker.landed.length, activity: this.store.activity.length, changes: this.store.changes.length };
    let done = false;
    let personEdits = this.tracker.personEditCount;
    for (let attempt = 0; attempt < 5 && !done; attempt++) {
      this.inReconcile = true;
      const landedBefore = this.tracker.landed.length;
      personEdits = this.tracker.personEditCount;
      try {
        const outcome = await reconcilePair({
          store: this.engineStore,
          clock: this.clock,
          connection: this.connection,
          itemKey: key,
          readRemote: true,
          onlyFields: ['labels'],
        });
        this.trace.push(
          `  labels-only ${key}: ${outcome.action} pushed [${outcome.pushed}] pulled [${outcome.pulled}] conflicts ${outcome.conflicts}`,
        );
        // Skipped (no issue yet, the item deleted): nothing to check after it.
        done = outcome.action !== 'skipped';
        break;
      } catch (error) {
        if (!(error instanceof SimCrash) && !(error instanceof TrackerError)) throw error;
        this.trace.push(`  labels-only ${key} failed: ${(error as Error).message}`);
        for (const write of this.tracker.landed.slice(landedBefore)) this.unconfirmed.add(write);
        this.clock.advance(RETRY_MS);
      } finally {
        this.inReconcile = false;
        this.lostAnswer = false;
      }
    }
    for (const write of this.tracker.landed.slice(marks.landed)) {
      const other = Object.keys(write.fields).filter((f) => f !== 'labels');
      if (write.call !== 'update' || other.length)
        throw new InvariantError(
          `${key}: a labels-only pass wrote ${write.call === 'create' ? 'a new issue' : other.join(', ')} to the tracker`,
        );
    }
    for (const a of this.store.activity.slice(marks.activity)) {
      if (a.itemKey !== key || a.actor === 'orchestrator' || a.field === null || allowed.has(a.field)) continue;
      throw new InvariantError(`${key}: a labels-only pass recorded ${a.action} for ${a.field}`);
    }
    for (const c of this.store.changes.slice(marks.changes)) {
      const other = Object.keys(c.fields ?? {}).filter((f) => f !== 'labels');
      if (c.itemKey === key && other.length) throw new InvariantError(`${key}: a labels-only pass fed the item ${other.join(', ')}`);
    }
    if (!done) return;
    this.checkStillDue(key, 'after a labels-only pass');
    // The pass read the issue: another field a person changed there (its webhook perhaps lost) is
    // flagged for a full pass (the store contract), unless a person edited while the pass ran.
    const m = this.store.mappingOf(key, CONNECTION);
    const issue = this.issueOf(key);
    if (!m?.base || !issue || issue.deleted || m.remoteChangedAt !== null || this.tracker.personEditCount !== personEdits) return;
    const held = new Set(this.store.conflicts.filter((c) => c.itemKey === key && c.status === 'open').map((c) => c.field));
    for (const f of this.supported) {
      if (f === 'labels' || held.has(f) || sameValue(f, issue.fields[f], m.base.remote[f])) continue;
      throw new InvariantError(
        `${key}.${f}: a labels-only pass read the issue's ${JSON.stringify(issue.fields[f])} (base ${JSON.stringify(m.base.remote[f])}) and left no remote change flagged for a full pass`,
      );
    }
  }

  /**
   * The item's changes the pair has not synced stay due: where the item's value of a field the
   * connection carries differs from the base's local half (and no open conflict holds it), the
   * outbox sweep must pick the pair up (synced_version behind the item, or a remote change flagged).
   */
  checkStillDue(key: string, when: string): void {
    const m = this.store.mappingOf(key, CONNECTION);
    const item = this.store.items.get(key);
    if (!m?.base || !item || item.deletedAt !== null || ['deleted', 'remote_deleted'].includes(m.status)) return;
    const held = new Set(this.store.conflicts.filter((c) => c.itemKey === key && c.status === 'open').map((c) => c.field));
    const behind = item.version > m.syncedVersion || m.remoteChangedAt !== null;
    for (const f of this.supported) {
      const L = item.desired[f];
      if (L === undefined || held.has(f) || sameValue(f, canonical(f, L as never), m.base.local[f])) continue;
      if (!behind)
        throw new InvariantError(
          `${key}.${f} ${when}: the item's ${JSON.stringify(L)} is not synced (base ${JSON.stringify(m.base.local[f])}), yet the pair is marked synced at version ${m.syncedVersion} (the sweep would not pick it up)`,
        );
    }
  }

  /** The intake and inbound job for one webhook (src/jobs/inbound-job.ts). */
  async deliver(hook: Webhook, redelivery = false): Promise<void> {
    if (!redelivery) {
      // The intake drops a delivery it already accepted (the tracker's stable delivery id).
      if (this.accepted.has(hook.seq)) return;
      this.accepted.add(hook.seq);
    }
    const change = hook.change;
    if (change.type === 'ignored' || change.type === 'pull_request.changed') return;
    const mapping = await this.store.findMappingByRemote(CONNECTION, change.remoteId);
    if (change.type === 'issue.changed') {
      if (!mapping) return;
      await this.store.markRemoteChanged(CONNECTION, mapping.itemKey);
      this.schedule(mapping.itemKey, true);
    } else if (change.type === 'issue.deleted') {
      if (mapping) await this.store.markRemoteDeleted(CONNECTION, change.remoteId, change.actor);
    } else if (change.type === 'comment.created') {
      if (change.fromTrackline || !mapping) return;
      this.deliveredComments.push(`${change.remoteId}/${change.body}`);
      await this.store.recordRemoteComment(CONNECTION, mapping.itemKey, change.body, change.actor);
    }
  }

  async hooks(actions: HookAction[], shuffle: number): Promise<void> {
    const pool = [...this.held.splice(0), ...this.tracker.outbox.splice(0)];
    const r = prng(shuffle);
    const order = pool
      .map((w) => ({ w, k: r() }))
      .sort((a, b) => a.k - b.k)
      .map((x) => x.w);
    const done: string[] = [];
    for (const [i, w] of order.entries()) {
      const action = actions[i % actions.length];
      done.push(`${w.seq}:${action}`);
      if (action === 'hold') this.held.push(w);
      if (action === 'deliver' || action === 'twice') await this.deliver(w);
      if (action === 'twice') await this.deliver(w);
    }
    this.trace.push(`hooks ${done.join(' ')}`);
  }

  /** The poll job (src/jobs/poll-job.ts): changed issues since the cursor, then deletes. */
  async poll(): Promise<void> {
    const adapter = this.connection.adapter();
    try {
      for await (const page of adapter.poll(this.pollCursor, {})) {
        for (const issue of page.issues) {
          const polled = await notePolledIssue(this.store, CONNECTION, issue);
          if (polled.seen === 'changed') this.schedule(polled.itemKey, true);
        }
        for (const id of page.deletedIds ?? []) await this.store.markRemoteDeleted(CONNECTION, id, undefined);
        this.pollCursor = page.cursor;
      }
      if (adapter.listIds) {
        const live = await adapter.listIds({});
        for (const m of this.store.mappings.values()) {
          if (m.remoteId && !['remote_deleted', 'deleted'].includes(m.status) && !live.has(m.remoteId)) {
            await this.store.markRemoteDeleted(CONNECTION, m.remoteId, undefined);
          }
        }
      }
      this.trace.push(`poll (cursor ${this.pollCursor})`);
    } catch (error) {
      if (!(error instanceof TrackerError)) throw error;
      this.trace.push(`poll failed: ${error.message}`);
    }
  }

  /** The outbox sweep (src/jobs/outbox-sweep.ts): pairs behind their item, or with a remote change to read. */
  sweep(): void {
    for (const m of this.store.mappings.values()) {
      const item = this.store.items.get(m.itemKey)!;
      const behind = item.version > m.syncedVersion;
      const unread = m.remoteChangedAt !== null && !['remote_deleted', 'deleted', 'error'].includes(m.status);
      if (behind || unread) this.schedule(m.itemKey, false);
    }
  }

  /**
   * Lets the system run with no new edits until nothing is left to do: webhooks delivered as
   * they come, a poll per round (the safety net), the sweep, every due job. False when it does
   * not get quiet.
   */
  async settle(rounds = 40): Promise<boolean> {
    for (let round = 0; round < rounds; round++) {
      for (const w of this.tracker.outbox.splice(0)) await this.deliver(w);
      if (round % 2 === 1 || this.due.size === 0) await this.poll();
      this.sweep();
      if (this.due.size === 0 && this.tracker.outbox.length === 0) return true;
      for (const key of [...this.due.keys()]) await this.runJob(key);
      this.clock.advance(RETRY_MS);
    }
    return false;
  }

  /** Remote values of an item, in the orchestrator's vocabulary (null: no issue). */
  remoteOf(key: string): Partial<Full> | null {
    const issue = this.issueOf(key);
    if (!issue || issue.deleted) return null;
    return fromRemote(issue.fields);
  }

  localOf(key: string): Partial<Full> {
    return { ...(this.store.items.get(key)?.desired as Partial<Full>) };
  }

  get supported(): readonly FieldName[] {
    return this.tracker.supportedFields;
  }

  random(): number {
    return this.shuffle();
  }
}

function callError(fault: Exclude<CallFault, 'lost'>): TrackerError {
  if (fault === 'r429') return new TrackerError('rate_limited', 'HTTP 429 Too Many Requests', { status: 429, retryAfterMs: 1_000 });
  if (fault === 'r5xx') return new TrackerError('server', 'HTTP 503 Service Unavailable', { status: 503 });
  return new TrackerError('timeout', 'no answer within the request timeout');
}

const REMOTE_STATE = STATE_MAP;
const LOCAL_STATE = Object.fromEntries(Object.entries(STATE_MAP).map(([l, r]) => [r, l]));

export function toLocal(patch: Patch): FieldValues {
  const out: FieldValues = {};
  if (patch.title !== undefined) out.title = patch.title;
  if (patch.state !== undefined) out.state = patch.state;
  if (patch.labels !== undefined) out.labels = canonical('labels', patch.labels);
  if (patch.priority !== undefined) out.priority = patch.priority;
  if (patch[RISK] !== undefined) out[RISK] = patch[RISK];
  if (patch[AREAS] !== undefined) out[AREAS] = canonical(AREAS, patch[AREAS]);
  return out;
}

/** A person's edit, in the tracker's words. */
export function toRemote(patch: Patch): FieldValues {
  const out = toLocal(patch);
  if (out.state !== undefined) out.state = REMOTE_STATE[out.state] ?? out.state;
  return out;
}

export function fromRemote(fields: FieldValues): Partial<Full> {
  const out: Partial<Full> = {};
  if (fields.title !== undefined) out.title = fields.title;
  if (fields.state !== undefined) out.state = LOCAL_STATE[fields.state] ?? fields.state;
  if (fields.labels !== undefined) out.labels = [...fields.labels].sort();
  if (fields.priority !== undefined && fields.priority !== null) out.priority = fields.priority;
  for (const f of [RISK, AREAS] as const) if (fields[f] !== undefined) out[f] = canonical(f, fields[f]) as never;
  return out;
}
