import type { CallContext } from '../../sync/port/tracker.ts';
import type { GitHubApi } from './api.ts';
import type { GhLabel, GhMilestone } from './wire.ts';
import { Lookup, refreshAll, type WarmableCatalog } from '../lookup.ts';

/**
 * Cached lookups for one repository: labels (for their spelling), milestones by title, who can be
 * assigned, and the token's own login. Warmed when a worker starts and refreshed in the background
 * (`warm`), and extended as Trackline writes, so syncs, even the first create, spend no calls on
 * lookups. Assignees are checked one login at a time (and remembered): the sandbox and small
 * installs have few, but listing every assignable user of a large organisation is many pages.
 */
export class GitHubCatalog implements WarmableCatalog {
  private readonly labels: Lookup<Map<string, string>>;
  private readonly milestones: Lookup<Map<string, number>>;
  private readonly me: Lookup<string>;
  private readonly milestoneCreates = new Map<string, Promise<number>>();
  /** Titles of closed milestones (they take no new issues from Trackline; see closedMilestone). */
  private readonly closedMilestones = new Set<string>();
  private readonly assignable = new Map<string, Promise<boolean>>();

  constructor(private readonly api: GitHubApi) {
    this.labels = new Lookup(async () => new Map((await api.listLabels()).map((l: GhLabel) => [l.name.toLowerCase(), l.name])));
    this.milestones = new Lookup(async () => {
      const list: GhMilestone[] = await api.listMilestones();
      this.closedMilestones.clear();
      for (const m of list) if (m.state === 'closed') this.closedMilestones.add(m.title);
      return new Map(list.map((m) => [m.title, m.number]));
    });
    this.me = new Lookup(async () => (await api.me()).user.login);
  }

  /** Every lookup a create needs, refreshed; the worker calls it at start and then periodically. */
  warm(ctx: CallContext): Promise<void> {
    return refreshAll([this.me, this.labels, this.milestones], ctx);
  }

  /** The token's login (issues Trackline created are authored by it). */
  login(): Promise<string> {
    return this.me.get({});
  }

  private loadLabels(fresh = false): Promise<Map<string, string>> {
    return fresh ? this.labels.reload({}) : this.labels.get({});
  }

  /** Names of the repository's labels, lower-cased, for `check`. */
  async labelNames(fresh = false): Promise<Set<string>> {
    return new Set((await this.loadLabels(fresh)).keys());
  }

  /**
   * Label names spelt as the repository spells them (GitHub treats label names case-insensitively).
   * A label the repository lacks is passed on as is: GitHub creates it when an issue write names
   * it (github/docs#35718), which saves a call per new label.
   */
  async spell(names: string[]): Promise<string[]> {
    const known = await this.loadLabels();
    return names.map((n) => known.get(n.toLowerCase()) ?? n);
  }

  /** Remembers labels an issue write created. */
  async learnLabels(names: string[]): Promise<void> {
    const known = await this.loadLabels();
    for (const n of names) if (!known.has(n.toLowerCase())) known.set(n.toLowerCase(), n);
  }

  private loadMilestones(fresh = false): Promise<Map<string, number>> {
    return fresh ? this.milestones.reload({}) : this.milestones.get({});
  }

  /**
   * Whether the milestone of this title is closed, as last listed. A closed milestone is treated
   * like a completed Plane cycle or a released Jira version: Trackline puts no new issue in it.
   */
  async closedMilestone(title: string): Promise<boolean> {
    await this.loadMilestones();
    return this.closedMilestones.has(title);
  }

  /** The milestone number for a title, creating the milestone when the repository has none by it. */
  async milestoneNumber(title: string, ctx: CallContext): Promise<number> {
    const known = await this.loadMilestones();
    const hit = known.get(title);
    if (hit !== undefined) return hit;
    let pending = this.milestoneCreates.get(title);
    if (!pending) {
      pending = this.api.createMilestone(title).then(
        (m) => {
          known.set(m.title, m.number);
          ctx.warn?.(`created milestone "${title}" in ${this.api.owner}/${this.api.repo}`);
          return m.number;
        },
        async (error) => {
          this.milestoneCreates.delete(title);
          // Another process made it first (GitHub answers 422 already_exists): look it up again.
          const found = (await this.loadMilestones(true)).get(title);
          if (found !== undefined) return found;
          throw error;
        },
      );
      this.milestoneCreates.set(title, pending);
    }
    return pending;
  }

  /**
   * The logins that can be assigned; the rest are reported and left out, because one unassignable
   * login makes GitHub refuse the whole write with 422.
   */
  async assignableOnly(logins: string[], ctx: CallContext): Promise<string[]> {
    const out: string[] = [];
    for (const login of logins) {
      let check = this.assignable.get(login.toLowerCase());
      if (!check) {
        check = this.api.isAssignable(login);
        check.catch(() => this.assignable.delete(login.toLowerCase()));
        this.assignable.set(login.toLowerCase(), check);
      }
      if (await check) out.push(login);
      else ctx.warn?.(`assignee "${login}" cannot be assigned in ${this.api.owner}/${this.api.repo}; left unassigned (map it in user_map)`);
    }
    return out;
  }
}
