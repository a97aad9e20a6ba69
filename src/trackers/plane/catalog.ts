import type { CallContext } from '../../sync/port/tracker.ts';
import { TrackerError } from '../../sync/port/errors.ts';
import type { PlaneApi } from './api.ts';
import type { PlaneLabel, PlaneMember, PlaneProject, PlaneState } from './wire.ts';
import { Lookup, refreshAll, type WarmableCatalog } from '../lookup.ts';

/**
 * Cached name <-> id lookups for a Plane project (states, labels, members, the project itself).
 * Warmed when a worker starts and refreshed in the background (`warm`, called by the worker's
 * CatalogWarmer), so a create spends no calls on lookups, not even the first one; a state added in
 * Plane since is still found by one reload on a miss.
 */
export class PlaneCatalog implements WarmableCatalog {
  /** Plain maps for synchronous reads in transforms (filled by the loads below). */
  readonly stateNames = new Map<string, string>();
  readonly labelNames = new Map<string, string>();
  readonly memberNames = new Map<string, string>();
  private readonly project: Lookup<PlaneProject>;
  private readonly states: Lookup<PlaneState[]>;
  private readonly labels: Lookup<PlaneLabel[]>;
  private readonly members: Lookup<PlaneMember[]>;
  private readonly labelCreates = new Map<string, Promise<PlaneLabel>>();

  constructor(private readonly api: PlaneApi) {
    this.project = new Lookup((ctx) => api.getProject(ctx.deliveryId));
    this.states = new Lookup(
      (ctx) => api.listStates(ctx.deliveryId),
      (list) =>
        refill(
          this.stateNames,
          list.map((s) => [s.id, s.name]),
        ),
    );
    this.labels = new Lookup(
      (ctx) => api.listLabels(ctx.deliveryId),
      (list) =>
        refill(
          this.labelNames,
          list.map((l) => [l.id, l.name]),
        ),
    );
    this.members = new Lookup(
      (ctx) => api.listMembers(ctx.deliveryId),
      (list) =>
        refill(
          this.memberNames,
          list.map((m) => {
            const person = m.member ?? m;
            return [person.id, person.display_name || person.email || person.id];
          }),
        ),
    );
  }

  /** Every lookup a create or a read needs, refreshed; the worker calls it at start and then periodically. */
  warm(ctx: CallContext): Promise<void> {
    return refreshAll([this.project, this.states, this.labels, this.members], ctx);
  }

  getProject(ctx: CallContext): Promise<PlaneProject> {
    return this.project.get(ctx);
  }

  async loadAll(ctx: CallContext): Promise<void> {
    await Promise.all([this.states.get(ctx), this.labels.get(ctx), this.members.get(ctx), this.project.get(ctx)]);
  }

  /**
   * Makes sure every id an issue refers to has a name: a state, label or member added in Plane
   * after the cache was filled would otherwise read back as a bare uuid (and look like a change).
   */
  async ensureKnown(ids: { states: string[]; labels: string[]; members: string[] }, ctx: CallContext): Promise<void> {
    await this.loadAll(ctx);
    const reloads: Promise<unknown>[] = [];
    if (ids.states.some((id) => !this.stateNames.has(id))) reloads.push(this.states.reload(ctx));
    if (ids.labels.some((id) => !this.labelNames.has(id))) reloads.push(this.labels.reload(ctx));
    if (ids.members.some((id) => !this.memberNames.has(id))) reloads.push(this.members.reload(ctx));
    await Promise.all(reloads);
  }

  private loadStates(ctx: CallContext, fresh = false): Promise<PlaneState[]> {
    return fresh ? this.states.reload(ctx) : this.states.get(ctx);
  }

  /** Plane state id for a state name (case-insensitive); a clear config error when absent. */
  async stateId(name: string, ctx: CallContext): Promise<string> {
    const find = (list: PlaneState[]) => list.find((s) => s.name.toLowerCase() === name.toLowerCase());
    const found = find(await this.loadStates(ctx)) ?? find(await this.loadStates(ctx, true));
    if (!found) {
      const names = (await this.loadStates(ctx)).map((s) => s.name).join(', ');
      throw new TrackerError('config', `Plane project has no state "${name}" (it has: ${names}); fix state_map or add the state in Plane`);
    }
    return found.id;
  }

  /** Plane label ids for names; a label missing in Plane is created (once, even if many ask). */
  async labelIds(names: string[], ctx: CallContext): Promise<string[]> {
    // A name the cache lacks is created straight away, without reading the labels again first:
    // the cache is refreshed in the background, and a label someone added since is found by the
    // create's refusal (below). A new label costs one call, not two.
    const known = new Map((await this.labels.get(ctx)).map((l) => [l.name.toLowerCase(), l.id]));
    const ids: string[] = [];
    for (const name of names) {
      const id = known.get(name.toLowerCase()) ?? (await this.createLabel(name, ctx)).id;
      ids.push(id);
    }
    return ids;
  }

  private createLabel(name: string, ctx: CallContext): Promise<PlaneLabel> {
    const key = name.toLowerCase();
    let pending = this.labelCreates.get(key);
    if (!pending) {
      pending = this.api.createLabel(name, ctx.deliveryId).then(
        (label) => {
          this.labelNames.set(label.id, label.name);
          this.labels.update((list) => [...list, label]);
          return label;
        },
        async (error) => {
          // Another process may have created it first: Plane refuses the second; look it up.
          this.labelCreates.delete(key);
          const list = await this.labels.reload(ctx);
          const found = list.find((l) => l.name.toLowerCase() === key);
          if (found) return found;
          throw error;
        },
      );
      this.labelCreates.set(key, pending);
    }
    return pending;
  }

  /** Member ids for names (display name, email or id); unknown people are reported, not fatal. */
  async memberIds(names: string[], ctx: CallContext): Promise<string[]> {
    const members = await this.members.get(ctx);
    const ids: string[] = [];
    for (const name of names) {
      const wanted = name.toLowerCase();
      const hit = members
        .map((m) => m.member ?? m)
        .find((p) => p.id === name || p.email?.toLowerCase() === wanted || p.display_name?.toLowerCase() === wanted);
      if (hit) ids.push(hit.id);
      else ctx.warn?.(`assignee "${name}" is not a member of the Plane project; left unassigned (map it in user_map)`);
    }
    return ids;
  }
}

function refill(names: Map<string, string>, entries: Array<[string, string]>): void {
  names.clear();
  for (const [id, name] of entries) names.set(id, name);
}
