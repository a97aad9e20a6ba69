import type { CallContext } from '../../sync/port/tracker.ts';
import type { PlaneApi } from './api.ts';
import type { MilestoneKind, PlaneGroup, PlaneIssue } from './wire.ts';

/**
 * The item's milestone as a Plane cycle or module (`milestone_as`). Plane keeps membership apart
 * from the work item: the work item's JSON does not say which cycle it is in, and moving it between
 * cycles does not change its `updated_at`. So membership is read from the cycle (or module)
 * endpoints, one call per group, and kept here:
 * - groups (name <-> id) are cached like states and labels: one lookup per process, re-read once
 *   on a miss, and a missing one is created (once, even if many ask);
 * - membership is re-read when older than MEMBERSHIP_TTL_MS at a read, at every poll, and updated
 *   in place by Trackline's own writes, so a sync of one item costs no extra call.
 * A work item is in at most one cycle; it may be in several modules, and then its milestone reads
 * as the first of them by name.
 */

/** How long membership read for one sync serves the next reads (a burst of syncs reads it once). */
export const MEMBERSHIP_TTL_MS = 10_000;

export class PlaneMilestones {
  private groups?: Promise<PlaneGroup[]>;
  private readonly creates = new Map<string, Promise<PlaneGroup>>();
  /** Work item id -> names of its groups, and when that was read. */
  private membership?: { at: number; value: Promise<Map<string, string[]>> };
  /** Membership as the last poll reported it, so the next poll reports what moved since. */
  private polled?: Map<string, string | null>;

  constructor(
    private readonly api: PlaneApi,
    readonly kind: MilestoneKind,
  ) {}

  private get noun(): string {
    return this.kind === 'cycle' ? 'cycle' : 'module';
  }

  /**
   * Loads the cycles (or modules) for the worker's catalog warming; a refresh keeps the list it has
   * until the new one arrives, and one that fails leaves it as it was.
   */
  async warm(ctx: CallContext): Promise<void> {
    if (!this.groups) {
      await this.loadGroups(ctx);
      return;
    }
    const next = this.api.listGroups(this.kind, ctx.deliveryId);
    await next;
    this.groups = next;
  }

  private loadGroups(ctx: CallContext, fresh = false): Promise<PlaneGroup[]> {
    if (fresh || !this.groups) {
      this.groups = this.api.listGroups(this.kind, ctx.deliveryId);
      this.groups.catch(() => (this.groups = undefined));
    }
    return this.groups;
  }

  /** The group named `name` (case-insensitive), created when the project has none. */
  async group(name: string, ctx: CallContext): Promise<PlaneGroup> {
    const find = (list: PlaneGroup[]) => list.find((g) => g.name.toLowerCase() === name.toLowerCase());
    const found = find(await this.loadGroups(ctx)) ?? find(await this.loadGroups(ctx, true));
    if (found) return found;
    const key = name.toLowerCase();
    let pending = this.creates.get(key);
    if (!pending) {
      pending = this.api.createGroup(this.kind, name, ctx.deliveryId).then((created) => {
        this.groups = this.groups?.then((list) => [...list, created]);
        return created;
      });
      pending.catch(() => this.creates.delete(key));
      this.creates.set(key, pending);
    }
    return pending;
  }

  private loadMembership(ctx: CallContext, fresh: boolean): Promise<Map<string, string[]>> {
    const now = Date.now();
    if (!fresh && this.membership && now - this.membership.at < MEMBERSHIP_TTL_MS) return this.membership.value;
    const value = (async () => {
      const groups = await this.loadGroups(ctx, fresh);
      const out = new Map<string, string[]>();
      for (const g of groups) {
        for (const issue of await this.api.listGroupIssues(this.kind, g.id, ctx.deliveryId))
          out.set(issue.id, [...(out.get(issue.id) ?? []), g.name]);
      }
      return out;
    })();
    this.membership = { at: now, value };
    value.catch(() => (this.membership = undefined));
    return value;
  }

  /** The work item's milestone: its cycle, or its first module by name; null when none. */
  async milestoneOf(issueId: string, ctx: CallContext): Promise<string | null> {
    return first((await this.loadMembership(ctx, false)).get(issueId));
  }

  /**
   * Moves the work item from `from` (as Trackline last saw it; undefined when unknown) to `to`.
   * Answers Plane's refusal (a completed cycle) as a sentence naming the cycle, or null, and the
   * milestone the work item has after it. `created`: Trackline has just created the work item, so
   * it is in no group yet and the membership is not read for it: under a used-up budget that read
   * failed the job after its create had landed, and every resume then spent a marker lookup and
   * the read again (bench/latency.ts: 22 lookups in one 70-create burst).
   */
  async move(
    issue: PlaneIssue,
    from: string | null | undefined,
    to: string | null,
    ctx: CallContext,
    created = false,
  ): Promise<{ refused: string | null; milestone: string | null }> {
    const membership = created ? null : await this.loadMembership(ctx, false);
    const current = membership?.get(issue.id) ?? [];
    if (to !== null) {
      const target = await this.group(to, ctx);
      if (!current.some((n) => n.toLowerCase() === target.name.toLowerCase())) {
        const refusal = await this.api.addToGroup(this.kind, target.id, issue.id, ctx.deliveryId);
        if (refusal) {
          return {
            refused: `Plane ${this.noun} "${target.name}" refused the work item (${refusal.refused}); the milestone is held as a conflict while the other fields sync`,
            milestone: first(current),
          };
        }
      }
      // A cycle takes the work item from its old cycle itself; a module keeps it, so the old module
      // (the milestone Trackline set) is left explicitly.
      const names =
        this.kind === 'cycle' ? [target.name] : [...current.filter((n) => n.toLowerCase() !== (from ?? '').toLowerCase()), target.name];
      if (this.kind === 'module' && from && from.toLowerCase() !== target.name.toLowerCase()) await this.leave(issue.id, from, ctx);
      this.remember(membership, issue.id, names);
      return { refused: null, milestone: first(names) };
    }
    const leaving = this.kind === 'cycle' ? current : current.filter((n) => n.toLowerCase() === (from ?? current[0] ?? '').toLowerCase());
    for (const name of leaving) await this.leave(issue.id, name, ctx);
    const left = current.filter((n) => !leaving.includes(n));
    this.remember(membership, issue.id, left);
    return { refused: null, milestone: first(left) };
  }

  private async leave(issueId: string, name: string, ctx: CallContext): Promise<void> {
    const group = (await this.loadGroups(ctx)).find((g) => g.name.toLowerCase() === name.toLowerCase());
    if (group) await this.api.removeFromGroup(this.kind, group.id, issueId, ctx.deliveryId);
  }

  /**
   * Trackline's own move: the membership read and what the poll reports both know it already.
   * Without `membership` (a move of a work item just created, which reads none), the membership
   * read so far, or still under way, learns it when it is there: a read within its TTL must not
   * answer the old membership.
   */
  private remember(membership: Map<string, string[]> | null, issueId: string, names: string[]): void {
    const record = (m: Map<string, string[]>) => (names.length ? m.set(issueId, names) : m.delete(issueId));
    if (membership) record(membership);
    else void this.membership?.value.then(record, () => undefined);
    this.polled?.set(issueId, first(names));
  }

  /**
   * The safety net for membership: re-reads every group and answers the work items whose milestone
   * moved since the previous poll, or since the syncs of this process last read it (a first poll
   * with neither only takes note).
   */
  async movedSincePoll(ctx: CallContext): Promise<string[]> {
    const snapshot = (m: Map<string, string[]>) => new Map<string, string | null>([...m].map(([id, names]) => [id, first(names)]));
    // Before any poll, what the syncs of this process last read is the reference.
    const read = this.membership ? await this.membership.value.catch(() => undefined) : undefined;
    const before = this.polled ?? (read ? snapshot(read) : undefined);
    const now = snapshot(await this.loadMembership(ctx, true));
    this.polled = now;
    if (!before) return [];
    const moved = new Set<string>();
    for (const [id, name] of now) if ((before.get(id) ?? null) !== name) moved.add(id);
    for (const [id, name] of before) if (name !== null && !now.has(id)) moved.add(id);
    return [...moved];
  }
}

function first(names: string[] | undefined): string | null {
  if (!names?.length) return null;
  return [...names].sort((a, b) => a.localeCompare(b))[0]!;
}
