import type { CallContext } from '../../sync/port/tracker.ts';
import { TrackerError } from '../../sync/port/errors.ts';
import type { JiraApi } from './api.ts';
import { graphFromPreview, type WorkflowGraph } from './transitions.ts';
import type { JiraCreateMetaField, JiraField, JiraPriority, JiraProject, JiraStatusRef, JiraUserRef, JiraVersion } from './wire.ts';
import { Lookup, refreshAll, type WarmableCatalog } from '../lookup.ts';
import { resolveFieldMap, type ResolvedFieldMap } from './field-map.ts';

/**
 * Cached lookups for one Jira project: the API user (its time zone reads JQL dates), the project
 * and its issue type, priorities, the issue type's statuses and workflow. Warmed when a worker
 * starts and refreshed in the background (`warm`). Loaded once per process
 * and refreshed once on a miss, so steady-state syncs spend no calls on lookups, yet a priority or
 * status added in Jira is found without a restart.
 */

/** A workflow read is cached this long: admins edit workflows rarely, and a miss re-reads it. */
const WORKFLOW_TTL_MS = 10 * 60_000;
/** A field_map entry Jira lacks is looked for again at most this often (not on every change). */
const FIELD_MISS_RETRY_MS = 60_000;

export class JiraCatalog implements WarmableCatalog {
  private readonly me: Lookup<JiraUserRef>;
  private readonly projectLookup: Lookup<JiraProject>;
  private readonly priorities: Lookup<JiraPriority[]>;
  private readonly statusesLookup: Lookup<JiraStatusRef[]>;
  private readonly versions: Lookup<JiraVersion[]>;
  private workflowP?: { at: number; value: Promise<WorkflowGraph | null> };
  private workflowWarned = false;
  private readonly versionCreates = new Map<string, Promise<JiraVersion>>();
  private readonly fieldList: Lookup<JiraField[]>;
  private readonly createMeta: Lookup<JiraCreateMetaField[] | null>;
  private fieldMissAt = 0;
  private createMetaWarned = false;

  constructor(
    private readonly api: JiraApi,
    projectKey: string,
    private readonly issueTypeName: string,
    /** The connection's field_map: item field -> Jira field name or id. */
    private readonly fieldMapConfig: Readonly<Record<string, string>> = {},
  ) {
    this.me = new Lookup((ctx) => api.myself(ctx.deliveryId));
    this.projectLookup = new Lookup((ctx) => api.project(projectKey, ctx.deliveryId));
    this.priorities = new Lookup(async (ctx) => api.priorities((await this.project(ctx)).id, ctx.deliveryId));
    this.statusesLookup = new Lookup(async (ctx) => {
      const type = await this.issueType(ctx);
      const all = await api.projectStatuses(projectKey, ctx.deliveryId);
      return (
        all.find((t) => t.id === type.id)?.statuses ?? all.find((t) => t.name.toLowerCase() === type.name.toLowerCase())?.statuses ?? []
      );
    });
    this.versions = new Lookup((ctx) => api.projectVersions(projectKey, ctx.deliveryId));
    this.fieldList = new Lookup((ctx) => api.fields(ctx.deliveryId));
    this.createMeta = new Lookup(async (ctx) => {
      const type = await this.issueType(ctx);
      try {
        return await api.createMeta(projectKey, type.id, ctx.deliveryId);
      } catch (error) {
        // Without "Create issues" createmeta is refused; options are then left to Jira to check.
        if (error instanceof TrackerError && (error.kind === 'auth' || error.kind === 'not_found' || error.kind === 'client')) {
          if (!this.createMetaWarned) {
            this.createMetaWarned = true;
            ctx.warn?.(`cannot read Jira's create metadata for ${projectKey} (${error.message}); select options are checked by Jira only`);
          }
          return null;
        }
        throw error;
      }
    });
  }

  private get mapsFields(): boolean {
    return Object.keys(this.fieldMapConfig).length > 0;
  }

  /**
   * Every lookup a create or a transition needs, refreshed; the worker calls it at start and then
   * periodically. The workflow keeps its own time to live and is only loaded when missing.
   */
  async warm(ctx: CallContext): Promise<void> {
    await refreshAll(
      [
        this.me,
        this.projectLookup,
        this.priorities,
        this.statusesLookup,
        this.versions,
        ...(this.mapsFields ? [this.fieldList, this.createMeta] : []),
      ],
      ctx,
    );
    await this.workflow(ctx);
  }

  /**
   * The connection's field_map resolved against the site's fields and the issue type's create
   * metadata: loaded once per process (and warmed). With `fresh` (a value named an option the
   * cached metadata lacks), or when an entry is missing, both are read again, at most once a
   * minute, so a field or option an admin adds is found without a restart. No calls when the map
   * is empty.
   */
  async fieldMap(ctx: CallContext, fresh = false): Promise<ResolvedFieldMap> {
    if (!this.mapsFields) return { mapped: [], unmapped: [] };
    const resolve = async () => resolveFieldMap(this.fieldMapConfig, await this.fieldList.get(ctx), await this.createMeta.get(ctx));
    const first = await resolve();
    if ((!fresh && first.unmapped.length === 0) || Date.now() - this.fieldMissAt < FIELD_MISS_RETRY_MS) return first;
    this.fieldMissAt = Date.now();
    await Promise.all([this.fieldList.reload(ctx), this.createMeta.reload(ctx)]);
    return resolve();
  }

  myself(ctx: CallContext): Promise<JiraUserRef> {
    return this.me.get(ctx);
  }

  /** The user's time zone: JQL date literals are read in it (docs/trackers.md 4.5). */
  async timeZone(ctx: CallContext): Promise<string> {
    return (await this.myself(ctx)).timeZone || 'UTC';
  }

  project(ctx: CallContext): Promise<JiraProject> {
    return this.projectLookup.get(ctx);
  }

  async issueType(ctx: CallContext): Promise<{ id: string; name: string }> {
    const project = await this.project(ctx);
    const types = (project.issueTypes ?? []).filter((t) => !t.subtask);
    const found = types.find((t) => t.name.toLowerCase() === this.issueTypeName.toLowerCase());
    if (!found) {
      throw new TrackerError(
        'config',
        `Jira project ${project.key} has no issue type "${this.issueTypeName}" (it has: ${types.map((t) => t.name).join(', ') || 'none'}); set issue_type`,
      );
    }
    return found;
  }

  private loadPriorities(ctx: CallContext, fresh = false): Promise<JiraPriority[]> {
    return fresh ? this.priorities.reload(ctx) : this.priorities.get(ctx);
  }

  /** The priority's id for a name (case-insensitive); a clear config error when absent. */
  async priorityId(name: string, ctx: CallContext): Promise<string> {
    const find = (list: JiraPriority[]) => list.find((p) => p.name.toLowerCase() === name.toLowerCase());
    const found = find(await this.loadPriorities(ctx)) ?? find(await this.loadPriorities(ctx, true));
    if (!found) {
      const names = (await this.loadPriorities(ctx)).map((p) => p.name).join(', ');
      throw new TrackerError('config', `Jira has no priority "${name}" (it has: ${names}); map it in priority_map`);
    }
    return found.id;
  }

  async priorityNames(ctx: CallContext): Promise<string[]> {
    return (await this.loadPriorities(ctx)).map((p) => p.name);
  }

  private loadVersions(ctx: CallContext, fresh = false): Promise<JiraVersion[]> {
    return fresh ? this.versions.reload(ctx) : this.versions.get(ctx);
  }

  /**
   * The project version named `name` (case-insensitive), created when the project has none (once,
   * even if many ask). Cached like priorities: one lookup per process, refreshed once on a miss.
   */
  async version(name: string, ctx: CallContext): Promise<JiraVersion> {
    const find = (list: JiraVersion[]) => list.find((v) => v.name.toLowerCase() === name.toLowerCase());
    const key = name.toLowerCase();
    // A version this process is creating already is not read again: the second of two items naming
    // a new version waits for the first one's create instead of reloading the project's versions.
    const found = find(await this.loadVersions(ctx)) ?? (await this.versionCreates.get(key)) ?? find(await this.loadVersions(ctx, true));
    if (found) return found;
    let pending = this.versionCreates.get(key);
    if (!pending) {
      pending = (async () => {
        const created = await this.api.createVersion((await this.project(ctx)).id, name, ctx.deliveryId);
        this.versions.update((list) => [...list, created]);
        return created;
      })();
      pending.catch(() => this.versionCreates.delete(key));
      this.versionCreates.set(key, pending);
    }
    return pending;
  }

  /** The statuses the configured issue type's workflow uses. */
  statuses(ctx: CallContext, fresh = false): Promise<JiraStatusRef[]> {
    return fresh ? this.statusesLookup.reload(ctx) : this.statusesLookup.get(ctx);
  }

  /**
   * The issue type's workflow as a graph, or null when the user may not read it (then only direct
   * transitions are taken). Cached for WORKFLOW_TTL_MS; `fresh` reads it again.
   */
  workflow(ctx: CallContext, fresh = false): Promise<WorkflowGraph | null> {
    const now = Date.now();
    if (!fresh && this.workflowP && now - this.workflowP.at < WORKFLOW_TTL_MS) return this.workflowP.value;
    const value = (async () => {
      const [project, type] = await Promise.all([this.project(ctx), this.issueType(ctx)]);
      try {
        return graphFromPreview(await this.api.workflowPreview(project.id, type.id, ctx.deliveryId));
      } catch (error) {
        if (error instanceof TrackerError && (error.kind === 'auth' || error.kind === 'not_found' || error.kind === 'client')) {
          if (!this.workflowWarned) {
            this.workflowWarned = true;
            ctx.warn?.(`cannot read the Jira workflow (${error.message}); only direct transitions will be used`);
          }
          return null;
        }
        throw error;
      }
    })();
    this.workflowP = { at: now, value };
    value.catch(() => (this.workflowP = undefined));
    return value;
  }
}
