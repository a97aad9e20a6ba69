import { mergeSets } from '../../src/sync/diff.ts';
import { canonical, listOf, sameValue, type FieldName } from '../../src/sync/fields.ts';
import type { Strategy } from '../../src/sync/diff.ts';
import { AREAS, RISK, type Edit, type Full, type Scenario } from './scenario.ts';
import { CONNECTION, InvariantError, World, toLocal } from './world.ts';

/**
 * Runs one scenario and checks the invariants (DESIGN.md section 5, issue 19):
 * - after each segment settles, both sides hold the strategy's merge of the edits (exactly, for a
 *   paused segment; for a live one: a field only one side wrote ends at that side's last value,
 *   and a field both wrote at one of the two);
 * - manual: conflicts are open exactly where both sides changed a field (paused), only where
 *   both wrote it (live), and an operator's resolution is carried out;
 * - no remote issue created twice for an item;
 * - no echo: with nothing new, re-delivering every webhook ever sent and polling from scratch
 *   writes nothing to the tracker and changes no item;
 * - every tracker write Trackline made that landed is in the activity trail, every conflict too;
 * - every orchestrator comment reaches the issue exactly once, every person's comment whose
 *   webhook arrived reaches the change feed exactly once;
 * - custom fields (runs with `custom`) like the core ones, the multi-select merged as a set;
 * - a labels-only pass writes and pulls labels only, and leaves every other change of the item due
 *   for a full reconcile (World.runLabelsOnly, World.checkStillDue), which then syncs it.
 * Throws InvariantError (with the run's trace) when one does not hold.
 */
export async function runScenario(scenario: Scenario): Promise<World> {
  const w = new World(scenario);
  try {
    await play(w, scenario);
  } catch (error) {
    if (error instanceof InvariantError) throw new InvariantError(`${error.message}\ntrace:\n${w.trace.join('\n')}`);
    throw new Error(`${(error as Error).stack}\ntrace:\n${w.trace.join('\n')}`);
  }
  return w;
}

const CORE: (keyof Full & FieldName)[] = ['title', 'state', 'labels', 'priority'];
/** Fields merged as sets: labels, and the multi-select custom field. */
const SETS: ReadonlySet<FieldName> = new Set<FieldName>(['labels', AREAS]);

async function play(w: World, scenario: Scenario): Promise<void> {
  // The items are created and settle: one issue each, equal to the item.
  w.trace.push(`${scenario.tracker}, ${scenario.strategy}, ${scenario.initial.length} item(s)${scenario.custom ? ', custom fields' : ''}`);
  const FIELDS: (keyof Full & FieldName)[] = scenario.custom ? [...CORE, RISK, AREAS] : CORE;
  for (const [i, full] of scenario.initial.entries()) w.applyEdit({ kind: 'local', item: i, patch: full });
  w.setFaults(scenario.createFaults);
  await settleOrFail(w, 'create');
  let agreed: Full[] = scenario.initial.map(norm);
  const alive = new Set(w.keys);
  for (const [i, key] of w.keys.entries()) {
    const r = w.remoteOf(key);
    const l = w.localOf(key);
    for (const f of w.supported as (keyof Full)[]) {
      if (!same(f, l[f], agreed[i][f]) || !same(f, r?.[f], agreed[i][f]))
        throw new InvariantError(`${key}.${f} after create: local ${fmt(l[f])} remote ${fmt(r?.[f])}, expected ${fmt(agreed[i][f])}`);
    }
  }

  for (const [s, segment] of scenario.segments.entries()) {
    w.trace.push(`-- segment ${s} (${segment.mode})`);
    w.setFaults(segment.mode === 'paused' ? { crashes: [], calls: [], during: [] } : segment.faults);
    const local = agreed.map((x) => ({ ...x }));
    const remote = agreed.map((x) => ({ ...x }));
    const wrote = w.keys.map(() => ({ local: new Set<string>(), remote: new Set<string>() }));
    const note = (edit: Edit) => {
      if (edit.kind === 'local') {
        Object.assign(local[edit.item], normPatch(edit.patch));
        for (const f of Object.keys(edit.patch)) wrote[edit.item].local.add(f);
      } else if (edit.kind === 'remote') {
        Object.assign(remote[edit.item], normPatch(edit.patch));
        for (const f of Object.keys(edit.patch)) wrote[edit.item].remote.add(f);
      }
    };
    w.onEdit = note;
    for (const op of segment.ops) {
      if (
        op.kind === 'local' ||
        op.kind === 'remote' ||
        op.kind === 'remoteAdd' ||
        op.kind === 'localComment' ||
        op.kind === 'remoteComment'
      ) {
        if (!alive.has(w.keys[op.item])) continue;
        w.applyEdit(op);
      } else if (op.kind === 'hooks') await w.hooks(op.actions, op.shuffle);
      else if (op.kind === 'poll') await w.poll();
      else if (op.kind === 'wait') w.clock.advance(op.ms);
      else if (op.kind === 'sync') await w.runJob(w.keys[op.item]);
      else if (op.kind === 'labelsOnly') await w.runLabelsOnly(w.keys[op.item]);
      else if (op.kind === 'localDelete') {
        w.deleteLocal(op.item);
        alive.delete(w.keys[op.item]);
      }
    }
    // Paused: the faults strike while the pairs settle (and in a labels-only pass before that).
    if (segment.mode === 'paused') w.setFaults(segment.faults);
    if (segment.mode === 'paused' && segment.labelsOnly) for (const key of w.keys) if (alive.has(key)) await w.runLabelsOnly(key);
    await settleOrFail(w, `segment ${s}`);
    // Webhooks held back arrive late, out of order: stale news that must change nothing.
    for (const hook of w.held.splice(0).reverse()) await w.deliver(hook);
    w.setFaults({ crashes: [], calls: [], during: [] });
    await settleOrFail(w, `segment ${s}, late webhooks`);

    const next: Full[] = [];
    for (const [i, key] of w.keys.entries()) {
      if (!alive.has(key)) {
        next.push(agreed[i]);
        continue;
      }
      const got = { l: w.localOf(key), r: w.remoteOf(key) };
      if (!got.r) throw new InvariantError(`${key}: its issue is gone`);
      const openFields = openConflicts(w, key);
      for (const f of FIELDS) {
        const supported = w.supported.includes(f);
        const L = got.l[f];
        const R = got.r[f];
        const where = `${key}.${f}, segment ${s} (${segment.mode}, ${scenario.strategy})`;
        if (!supported) {
          // A field the tracker lacks (GitHub priority) stays as the orchestrator left it.
          if (!same(f, L, local[i][f]))
            throw new InvariantError(`${where}: unsupported field changed to ${fmt(L)}, expected ${fmt(local[i][f])}`);
          continue;
        }
        if (segment.mode === 'paused') {
          const lc = !same(f, local[i][f], agreed[i][f]);
          const rc = !same(f, remote[i][f], agreed[i][f]);
          const conflict = lc && rc && !same(f, local[i][f], remote[i][f]);
          if (scenario.strategy === 'manual' && conflict) {
            if (!openFields.has(f))
              throw new InvariantError(
                `${where}: both sides changed it (${fmt(local[i][f])} / ${fmt(remote[i][f])}) but no conflict is open`,
              );
            if (!same(f, L, local[i][f]) || !same(f, R, remote[i][f]))
              throw new InvariantError(
                `${where}: an open conflict overwrote a side: local ${fmt(L)} remote ${fmt(R)}, expected ${fmt(local[i][f])} / ${fmt(remote[i][f])}`,
              );
            continue;
          }
          if (openFields.has(f))
            throw new InvariantError(`${where}: conflict open though ${lc && rc ? 'both sides agree' : 'only one side changed it'}`);
          const want = expectedField(scenario.strategy, f, agreed[i][f], local[i][f], remote[i][f]);
          if (!same(f, L, want) || !same(f, R, want))
            throw new InvariantError(
              `${where}: local ${fmt(L)} remote ${fmt(R)}, expected ${fmt(want)} (base ${fmt(agreed[i][f])}, local wrote ${fmt(local[i][f])}, remote wrote ${fmt(remote[i][f])})`,
            );
        } else {
          const byL = wrote[i].local.has(f);
          const byR = wrote[i].remote.has(f);
          if (openFields.has(f)) {
            if (scenario.strategy !== 'manual' || !(byL && byR))
              throw new InvariantError(
                `${where}: a conflict is open though ${byL && byR ? 'the strategy settles it' : 'only one side wrote it'}`,
              );
            continue;
          }
          if (!same(f, L, R)) throw new InvariantError(`${where}: sides differ: local ${fmt(L)} remote ${fmt(R)}`);
          if (!byL && !byR && !same(f, L, agreed[i][f]))
            throw new InvariantError(`${where}: changed to ${fmt(L)} though nobody wrote it (was ${fmt(agreed[i][f])})`);
          if (byL && !byR && !same(f, L, local[i][f]))
            throw new InvariantError(`${where}: lost update: ${fmt(L)}, the orchestrator last wrote ${fmt(local[i][f])}`);
          if (!byL && byR && !same(f, L, remote[i][f]))
            throw new InvariantError(`${where}: lost update: ${fmt(L)}, the tracker last had ${fmt(remote[i][f])}`);
          if (byL && byR && !SETS.has(f) && !same(f, L, local[i][f]) && !same(f, L, remote[i][f]))
            throw new InvariantError(`${where}: ${fmt(L)} is neither side's last value (${fmt(local[i][f])} / ${fmt(remote[i][f])})`);
        }
      }
      next.push(norm({ ...agreed[i], ...got.l } as Full));
    }

    // An operator resolves each open conflict; the pair's next reconcile carries it out. After a
    // live segment a resolution may meet a newer remote edit (a person's, made after the conflict
    // was recorded), which under manual is a new conflict: resolved again, at most twice more.
    for (let round = 0; scenario.strategy === 'manual' && round < (segment.mode === 'paused' ? 1 : 3); round++) {
      const open = w.store.conflicts.filter((c) => c.status === 'open');
      if (!open.length) break;
      const chosen = new Map<string, { key: string; f: FieldName; value: unknown }>();
      for (const [n, c] of open.entries()) {
        const use = segment.resolve[n % segment.resolve.length];
        await w.store.resolveConflict(c.id, use, 'operator:sim');
        w.trace.push(`resolve ${c.itemKey}.${c.field} use ${use}`);
        w.schedule(c.itemKey, false);
        const f = c.field as FieldName;
        const value = use === 'local' ? w.localOf(c.itemKey)[f as keyof Full] : w.remoteOf(c.itemKey)?.[f as keyof Full];
        chosen.set(`${c.itemKey}.${f}`, { key: c.itemKey, f, value });
      }
      if (open.length) {
        await settleOrFail(w, `segment ${s}, resolutions`);
        for (const { key, f, value } of segment.mode === 'paused' ? chosen.values() : []) {
          const L = w.localOf(key)[f as keyof Full];
          const R = w.remoteOf(key)?.[f as keyof Full];
          if (!same(f, L, value) || !same(f, R, value))
            throw new InvariantError(`${key}.${f}: resolved to ${fmt(value)}, but local ${fmt(L)} remote ${fmt(R)}`);
        }
        if (segment.mode === 'live' && w.store.conflicts.some((c) => c.status === 'open')) continue;
        if (w.store.conflicts.some((c) => c.status === 'open')) throw new InvariantError('a conflict opened again after its resolution');
        for (const [i, key] of w.keys.entries()) {
          if (!alive.has(key)) continue;
          const l = w.localOf(key);
          const r = w.remoteOf(key);
          for (const f of w.supported as (keyof Full & FieldName)[]) {
            if (!same(f, l[f], r?.[f]))
              throw new InvariantError(`${key}.${f}: sides differ after the resolutions: local ${fmt(l[f])} remote ${fmt(r?.[f])}`);
          }
          next[i] = norm({ ...next[i], ...l } as Full);
        }
      }
    }
    if (w.store.conflicts.some((c) => c.status === 'open'))
      throw new InvariantError('conflicts still open after three rounds of resolutions');
    agreed = next;
  }
  // Once, at the end: every webhook of the whole run is re-delivered then.
  await checkNoEcho(w, 'end of run');
  checkTrail(w);
}

async function settleOrFail(w: World, what: string): Promise<void> {
  if (!(await w.settle())) throw new InvariantError(`${what}: did not settle (jobs due: ${[...w.due.keys()].join(', ')})`);
  for (const key of w.keys) {
    const issues = w.tracker.issues.size ? [...w.tracker.issues.values()].filter((i) => i.marker === key) : [];
    if (issues.length > 1)
      throw new InvariantError(`${what}: ${key} has ${issues.length} remote issues (${issues.map((i) => i.key).join(', ')})`);
  }
}

/** Nothing new happened: every webhook again, a poll from scratch, a read of every pair: no write, no change. */
async function checkNoEcho(w: World, what: string): Promise<void> {
  const writes = w.tracker.writesByTrackline;
  const versions = w.keys.map((k) => w.store.items.get(k)?.version);
  const changes = w.store.changes.length;
  for (const hook of w.tracker.emitted) if (hook.change.type === 'issue.changed') await w.deliver(hook, true);
  for (const key of w.keys) w.schedule(key, true);
  if (!(await w.settle())) throw new InvariantError(`${what}: echo round did not settle`);
  if (w.tracker.writesByTrackline !== writes)
    throw new InvariantError(`${what}: ${w.tracker.writesByTrackline - writes} tracker write(s) caused only by Trackline's own echo`);
  const after = w.keys.map((k) => w.store.items.get(k)?.version);
  if (JSON.stringify(after) !== JSON.stringify(versions))
    throw new InvariantError(`${what}: echo changed item versions ${JSON.stringify(versions)} -> ${JSON.stringify(after)}`);
  if (w.store.changes.length !== changes)
    throw new InvariantError(`${what}: echo added ${w.store.changes.length - changes} change feed row(s)`);
}

/** Every landed write and every conflict is in the activity trail; comments exactly once. */
function checkTrail(w: World): void {
  for (const write of w.tracker.landed) {
    const key = write.itemKey!;
    const rows = w.store.activity.filter((a) => a.itemKey === key && a.connectionId === CONNECTION);
    // An issue a person deleted: the trail says so (remote.deleted), its last writes matter no more.
    if (w.tracker.issues.get(write.issueId)?.deleted) continue;
    if (write.call === 'create') {
      if (!rows.some((a) => a.action === 'remote.created'))
        throw new InvariantError(`${key}: a create landed with no remote.created in the trail`);
      continue;
    }
    for (const [f, v] of Object.entries(write.fields) as [FieldName, unknown][]) {
      // A write whose pass died after it and that a person overwrote before any read: the
      // tracker keeps no sign of it, so nothing can know it landed.
      if (w.unconfirmed.has(write) && (w.tracker.personEdits.get(`${write.issueId}.${f}`) ?? -1) > write.seq) continue;
      // Nor can a set written as a delta onto a person's change (what the tracker holds is not
      // what was asked), when the pass died after it: adoption compares whole values. A known gap
      // of delta writes (README).
      if (w.unconfirmed.has(write) && !same(f, write.result[f], v)) continue;
      const recorded = rows.some(
        (a) =>
          (a.action === 'field.pushed' && a.field === f && same(f, a.to, v)) ||
          (a.action === 'remote.created' && same(f, (a.detail?.fields as Record<string, unknown> | undefined)?.[f], v)) ||
          (a.action === 'sync.stopped' && same(f, (a.detail?.unconfirmedPush as Record<string, unknown> | undefined)?.[f], v)),
      );
      if (!recorded)
        throw new InvariantError(`${key}: Trackline wrote ${f} = ${fmt(v)} to the tracker, and the activity trail does not say so`);
    }
  }
  for (const c of w.store.conflicts) {
    if (
      !w.store.activity.some(
        (a) => a.itemKey === c.itemKey && a.field === c.field && (a.action === 'conflict.opened' || a.action === 'conflict.resolved'),
      )
    )
      throw new InvariantError(`${c.itemKey}.${c.field}: conflict ${c.id} has no activity row`);
  }
  for (const comment of w.store.comments) {
    const issue = w.issueOf(comment.itemKey);
    const mapping = w.store.mappingOf(comment.itemKey, CONNECTION);
    if (!issue || mapping?.status === 'deleted' || w.store.items.get(comment.itemKey)?.deletedAt != null) continue;
    const n = issue.comments.filter((c) => c.marker === comment.id).length;
    if (n !== 1) throw new InvariantError(`${comment.itemKey}: orchestrator comment ${comment.id} is on the issue ${n} times`);
  }
  for (const issue of w.tracker.issues.values()) {
    for (const c of issue.comments.filter((x) => !x.byTrackline)) {
      const delivered = w.deliveredComments.includes(`${issue.id}/${c.body}`);
      const fed = w.store.changes.filter((x) => x.type === 'item.commented' && x.comment === c.body && x.itemKey === issue.marker).length;
      if (fed !== (delivered ? 1 : 0))
        throw new InvariantError(
          `${issue.key}: a person's comment is in the change feed ${fed} times (webhook ${delivered ? 'delivered' : 'lost'})`,
        );
    }
  }
}

function openConflicts(w: World, key: string): Set<string> {
  return new Set(w.store.conflicts.filter((c) => c.itemKey === key && c.status === 'open').map((c) => c.field));
}

/** What a strategy makes of one field both sides may have changed since they agreed on `base`. */
export function expectedField(strategy: Strategy, f: FieldName, base: unknown, local: unknown, remote: unknown): unknown {
  const lc = !same(f, local, base);
  const rc = !same(f, remote, base);
  if (!rc) return local;
  if (!lc || same(f, local, remote)) return remote;
  if (strategy === 'remote-wins') return remote;
  // A set changed on both sides merges under local-wins too (issue 15): both sides' changes kept.
  if ((strategy === 'merge' || strategy === 'local-wins') && SETS.has(f)) return mergeSets(listOf(base), listOf(local), listOf(remote));
  return local;
}

function same(f: FieldName, a: unknown, b: unknown): boolean {
  return sameValue(f, a, b);
}

function norm(x: Full): Full {
  const out: Full = { title: x.title, state: x.state, labels: canonical('labels', x.labels) ?? [], priority: x.priority };
  if (x[RISK] !== undefined) out[RISK] = x[RISK];
  if (x[AREAS] !== undefined) out[AREAS] = canonical(AREAS, x[AREAS]) as string[] | null;
  return out;
}

function normPatch(p: Partial<Full>): Partial<Full> {
  return toLocal(p) as Partial<Full>;
}

function fmt(v: unknown): string {
  return JSON.stringify(v);
}
