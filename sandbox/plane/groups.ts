// Plane's cycles and modules as the sandbox keeps them: the two ways Plane groups work items
// (docs/trackers.md 2.2; routes /cycles/, /cycles/{id}/cycle-issues/, /modules/,
// /modules/{id}/module-issues/ in shared/specs/plane-v1-2025-05.openapi.yaml).
//
// Rules taken from Plane's API views (read through the code search; the v1 OpenAPI description
// documents the paths but its request bodies say `CycleIssue`, while the views and Plane's docs
// read `{"issues": [ids]}`):
// - a work item is in at most one cycle: adding it to another moves it there;
// - a cycle whose end_date has passed is completed and takes no new work items (400, "The Cycle
//   has already been completed so no new issues can be added");
// - a cycle takes both start_date and end_date or neither (400 otherwise);
// - a work item may be in several modules;
// - adding or removing membership does not touch the work item's updated_at (the work item row is
//   not saved), which is why a client must read membership from these endpoints to notice it.

import { NOT_FOUND_BODY, PlaneApiError } from './model.ts';
import type { PlaneStore } from './store.ts';

export interface PlaneCycle {
  id: string;
  project: string;
  name: string;
  description: string;
  start_date: string | null;
  end_date: string | null;
  created_at: string;
  updated_at: string;
}

export interface PlaneModule {
  id: string;
  project: string;
  name: string;
  description: string;
  status: string;
  created_at: string;
  updated_at: string;
}

export type GroupKind = 'cycle' | 'module';

export class PlaneGroups {
  readonly cycles = new Map<string, PlaneCycle>();
  readonly modules = new Map<string, PlaneModule>();
  /** Work item id -> its cycle id. */
  readonly cycleOf = new Map<string, string>();
  /** Module id -> its work item ids. */
  readonly moduleIssues = new Map<string, Set<string>>();

  constructor(private readonly store: PlaneStore) {}

  cyclesOf(projectId: string): PlaneCycle[] {
    return [...this.cycles.values()].filter((c) => c.project === projectId);
  }

  modulesOf(projectId: string): PlaneModule[] {
    return [...this.modules.values()].filter((m) => m.project === projectId);
  }

  createCycle(projectId: string, input: Record<string, unknown>): PlaneCycle {
    const name = requireName(input);
    const start = dateOrNull(input.start_date, 'start_date');
    const end = dateOrNull(input.end_date, 'end_date');
    if ((start === null) !== (end === null)) {
      throw new PlaneApiError(400, { error: 'Both start date and end date are either required or are to be null' });
    }
    const now = this.store.timestamp();
    const cycle: PlaneCycle = {
      id: crypto.randomUUID(),
      project: projectId,
      name,
      description: typeof input.description === 'string' ? input.description : '',
      start_date: start,
      end_date: end,
      created_at: now,
      updated_at: now,
    };
    this.cycles.set(cycle.id, cycle);
    return cycle;
  }

  createModule(projectId: string, input: Record<string, unknown>): PlaneModule {
    const name = requireName(input);
    if (this.modulesOf(projectId).some((m) => m.name === name)) {
      throw new PlaneApiError(409, { error: 'Module with the same name already exists' });
    }
    const now = this.store.timestamp();
    const module: PlaneModule = {
      id: crypto.randomUUID(),
      project: projectId,
      name,
      description: typeof input.description === 'string' ? input.description : '',
      status: typeof input.status === 'string' ? input.status : 'planned',
      created_at: now,
      updated_at: now,
    };
    this.modules.set(module.id, module);
    return module;
  }

  /** The cycle or module, or Plane's 404. */
  group(kind: GroupKind, projectId: string, id: string): PlaneCycle | PlaneModule {
    const found = kind === 'cycle' ? this.cycles.get(id) : this.modules.get(id);
    if (!found || found.project !== projectId) throw new PlaneApiError(404, NOT_FOUND_BODY);
    return found;
  }

  /** The work item ids in a cycle or module. */
  members(kind: GroupKind, id: string): string[] {
    if (kind === 'module') return [...(this.moduleIssues.get(id) ?? [])];
    return [...this.cycleOf].filter(([, cycle]) => cycle === id).map(([issue]) => issue);
  }

  /** POST …/cycle-issues/ or …/module-issues/ with `{"issues": [ids]}`. */
  add(kind: GroupKind, projectId: string, id: string, input: Record<string, unknown>): void {
    const group = this.group(kind, projectId, id);
    const issues = input.issues;
    if (!Array.isArray(issues) || issues.length === 0) throw new PlaneApiError(400, { error: 'Issues are required' });
    if (kind === 'cycle') {
      const end = (group as PlaneCycle).end_date;
      if (end !== null && Date.parse(end) < Date.now()) {
        throw new PlaneApiError(400, { error: 'The Cycle has already been completed so no new issues can be added' });
      }
    }
    // Plane keeps only ids of work items of this project.
    const known = issues.map(String).filter((i) => this.store.issue(projectId, i));
    for (const issue of known) {
      if (kind === 'cycle') this.cycleOf.set(issue, id);
      else {
        const set = this.moduleIssues.get(id) ?? new Set<string>();
        set.add(issue);
        this.moduleIssues.set(id, set);
      }
    }
  }

  /** DELETE …/cycle-issues/{issue_id}/ or …/module-issues/{issue_id}/. */
  remove(kind: GroupKind, projectId: string, id: string, issueId: string): void {
    this.group(kind, projectId, id);
    const present = kind === 'cycle' ? this.cycleOf.get(issueId) === id : Boolean(this.moduleIssues.get(id)?.has(issueId));
    if (!present) throw new PlaneApiError(404, NOT_FOUND_BODY);
    if (kind === 'cycle') this.cycleOf.delete(issueId);
    else this.moduleIssues.get(id)!.delete(issueId);
  }
}

function requireName(input: Record<string, unknown>): string {
  if (typeof input.name !== 'string' || input.name.trim() === '') throw new PlaneApiError(400, { name: ['This field is required.'] });
  if (input.name.length > 255) throw new PlaneApiError(400, { name: ['Ensure this field has no more than 255 characters.'] });
  return input.name;
}

function dateOrNull(value: unknown, field: string): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) {
    throw new PlaneApiError(400, { [field]: ['Datetime has wrong format.'] });
  }
  return new Date(value).toISOString().replace('.000Z', 'Z');
}

export function cycleToJson(c: PlaneCycle, workspace: string, totalIssues: number): Record<string, unknown> {
  return {
    id: c.id,
    name: c.name,
    description: c.description,
    start_date: c.start_date,
    end_date: c.end_date,
    total_issues: totalIssues,
    project: c.project,
    workspace,
    external_id: null,
    external_source: null,
    created_at: c.created_at,
    updated_at: c.updated_at,
    archived_at: null,
  };
}

export function moduleToJson(m: PlaneModule, workspace: string, totalIssues: number): Record<string, unknown> {
  return {
    id: m.id,
    name: m.name,
    description: m.description,
    status: m.status,
    total_issues: totalIssues,
    project: m.project,
    workspace,
    external_id: null,
    external_source: null,
    created_at: m.created_at,
    updated_at: m.updated_at,
    archived_at: null,
  };
}
