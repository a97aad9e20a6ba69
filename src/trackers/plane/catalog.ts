import type { CallContext } from '../../sync/port/tracker.ts';
import { TrackerError } from '../../sync/port/errors.ts';
import type { PlaneApi } from './api.ts';
import type { PlaneLabel, PlaneMember, PlaneProject, PlaneState } from './wire.ts';

/**
 * Cached name <-> id lookups for a Plane project (states, labels, members, the project itself).
 * Filled once per process and refreshed once on a miss, so steady-state syncs spend no calls on
 * lookups (the API-call economy target) yet a state added in Plane is found without a restart.
 */
export class PlaneCatalog {
  private project?: Promise<PlaneProject>;
  private states?: Promise<PlaneState[]>;
  private labels?: Promise<PlaneLabel[]>;
  private members?: Promise<PlaneMember[]>;
  private readonly labelCreates = new Map<string, Promise<PlaneLabel>>();
  /** Plain maps for synchronous reads in transforms (filled by the loads above). */
  readonly stateNames = new Map<string, string>();
  readonly labelNames = new Map<string, string>();
  readonly memberNames = new Map<string, string>();

  constructor(private readonly api: PlaneApi) {}

  getProject(ctx: CallContext): Promise<PlaneProject> {
    this.project ??= this.api.getProject(ctx.deliveryId).catch((e) => {
      this.project = undefined;
      throw e;
    });
    return this.project;
  }

  async loadAll(ctx: CallContext): Promise<void> {
    await Promise.all([this.loadStates(ctx), this.loadLabels(ctx), this.loadMembers(ctx), this.getProject(ctx)]);
  }

  /**
   * Makes sure every id an issue refers to has a name: a state, label or member added in Plane
   * after the cache was filled would otherwise read back as a bare uuid (and look like a change).
   */
  async ensureKnown(ids: { states: string[]; labels: string[]; members: string[] }, ctx: CallContext): Promise<void> {
    await this.loadAll(ctx);
    const reloads: Promise<unknown>[] = [];
    if (ids.states.some((id) => !this.stateNames.has(id))) reloads.push(this.loadStates(ctx, true));
    if (ids.labels.some((id) => !this.labelNames.has(id))) reloads.push(this.loadLabels(ctx, true));
    if (ids.members.some((id) => !this.memberNames.has(id))) {
      this.members = undefined;
      reloads.push(this.loadMembers(ctx));
    }
    await Promise.all(reloads);
  }

  private loadStates(ctx: CallContext, fresh = false): Promise<PlaneState[]> {
    if (fresh || !this.states) {
      this.states = this.api.listStates(ctx.deliveryId).then((list) => {
        this.stateNames.clear();
        for (const s of list) this.stateNames.set(s.id, s.name);
        return list;
      });
      this.states.catch(() => (this.states = undefined));
    }
    return this.states;
  }

  private loadLabels(ctx: CallContext, fresh = false): Promise<PlaneLabel[]> {
    if (fresh || !this.labels) {
      this.labels = this.api.listLabels(ctx.deliveryId).then((list) => {
        this.labelNames.clear();
        for (const l of list) this.labelNames.set(l.id, l.name);
        return list;
      });
      this.labels.catch(() => (this.labels = undefined));
    }
    return this.labels;
  }

  private loadMembers(ctx: CallContext): Promise<PlaneMember[]> {
    if (!this.members) {
      this.members = this.api.listMembers(ctx.deliveryId).then((list) => {
        this.memberNames.clear();
        for (const m of list) {
          const person = m.member ?? m;
          this.memberNames.set(person.id, person.display_name || person.email || person.id);
        }
        return list;
      });
      this.members.catch(() => (this.members = undefined));
    }
    return this.members;
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
    const byName = (list: PlaneLabel[]) => new Map(list.map((l) => [l.name.toLowerCase(), l.id]));
    let known = byName(await this.loadLabels(ctx));
    if (names.some((n) => !known.has(n.toLowerCase()))) known = byName(await this.loadLabels(ctx, true));
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
          this.labels = this.labels?.then((list) => [...list, label]);
          return label;
        },
        async (error) => {
          // Another process may have created it first: Plane refuses the second; look it up.
          this.labelCreates.delete(key);
          const list = await this.loadLabels(ctx, true);
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
    const members = await this.loadMembers(ctx);
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
