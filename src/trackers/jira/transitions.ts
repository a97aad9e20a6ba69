import type { JiraStatusRef, JiraTransition, JiraWorkflowPreview } from './wire.ts';

/**
 * Moving a Jira issue to a status. Jira has no "set status": a status changes only through a
 * transition of the workflow, and `GET /issue/{key}/transitions` lists only those leaving
 * the current status (docs/trackers.md 4.5). A workflow rarely links every status to every other
 * (To Do -> Done is often missing), so a direct move is often impossible while a path exists.
 *
 * Trackline walks the shortest path, because that is what a person would do by hand: the workflow
 * is read once (POST /workflows/preview, cached) and each hop takes the available transition whose
 * destination is nearest the target. Every hop re-reads the available transitions, since
 * conditions can hide a transition the workflow has. Without permission to read the workflow only
 * direct transitions are taken, and the error says which permission would allow more.
 */

export interface WorkflowGraph {
  /** Status id -> name. */
  names: Map<string, string>;
  /** Status id -> ids reachable in one transition. */
  edges: Map<string, Set<string>>;
  /** Destinations of global transitions (available from every status). */
  global: Set<string>;
}

export function graphFromPreview(preview: JiraWorkflowPreview): WorkflowGraph | null {
  const workflow = preview.workflows?.[0];
  if (!workflow) return null;
  // Transitions name statuses by a per-response reference; statuses map it to the real id.
  const idOf = new Map<string, string>();
  const names = new Map<string, string>();
  for (const s of preview.statuses ?? []) {
    const id = s.id ?? s.statusReference;
    idOf.set(s.statusReference, id);
    names.set(id, s.name);
  }
  const edges = new Map<string, Set<string>>();
  const global = new Set<string>();
  for (const t of workflow.transitions ?? []) {
    const to = idOf.get(t.toStatusReference) ?? t.toStatusReference;
    if (t.type === 'INITIAL') continue;
    const froms = (t.links ?? []).map((l) => l.fromStatusReference).filter((r): r is string => !!r);
    if (t.type === 'GLOBAL' || froms.length === 0) {
      global.add(to);
      continue;
    }
    for (const ref of froms) {
      const from = idOf.get(ref) ?? ref;
      if (!edges.has(from)) edges.set(from, new Set());
      edges.get(from)!.add(to);
    }
  }
  return { names, edges, global };
}

const same = (a: string | undefined, b: string | undefined) => !!a && !!b && a.trim().toLowerCase() === b.trim().toLowerCase();

/** Ids of the graph's statuses called `name` (case-insensitive; names are unique in practice). */
export function statusIdsNamed(graph: WorkflowGraph, name: string): string[] {
  return [...graph.names].filter(([, n]) => same(n, name)).map(([id]) => id);
}

/** Transitions needed from `fromId` to any of `toIds` (0 when already there), or Infinity. */
export function distance(graph: WorkflowGraph, fromId: string, toIds: string[]): number {
  const goals = new Set(toIds);
  if (goals.has(fromId)) return 0;
  const seen = new Set([fromId]);
  let frontier = [fromId];
  for (let d = 1; frontier.length > 0; d++) {
    const next: string[] = [];
    for (const id of frontier) {
      for (const to of [...(graph.edges.get(id) ?? []), ...graph.global]) {
        if (seen.has(to)) continue;
        if (goals.has(to)) return d;
        seen.add(to);
        next.push(to);
      }
    }
    frontier = next;
  }
  return Infinity;
}

/**
 * Of the transitions available now, the one whose destination is nearest the target in the
 * workflow (ties: Jira's order). Statuses already visited in this walk are skipped, so a stale
 * workflow cannot send the issue round in circles.
 */
export function nextHop(
  graph: WorkflowGraph,
  available: JiraTransition[],
  target: string,
  visited: Set<string>,
): JiraTransition | undefined {
  const goals = statusIdsNamed(graph, target);
  if (goals.length === 0) return undefined;
  let best: { t: JiraTransition; d: number } | undefined;
  for (const t of available) {
    if (visited.has(t.to.id)) continue;
    const d = distance(graph, t.to.id, goals);
    if (d < Infinity && (!best || d < best.d)) best = { t, d };
  }
  return best?.t;
}

export interface WalkDeps {
  transitions(): Promise<JiraTransition[]>;
  perform(transition: JiraTransition): Promise<void>;
  /** The workflow, or null when it cannot be read; `fresh` bypasses the cache. */
  workflow(fresh: boolean): Promise<WorkflowGraph | null>;
}

export type WalkResult =
  | { ok: true; status: JiraStatusRef; taken: JiraTransition[] }
  | { ok: false; status: JiraStatusRef; taken: JiraTransition[]; message: string };

/** Walks the issue from `from` to the status named `target`, one available transition at a time. */
export async function walkTo(deps: WalkDeps, from: JiraStatusRef, target: string, maxHops = 12): Promise<WalkResult> {
  let current = from;
  const taken: JiraTransition[] = [];
  const visited = new Set([from.id]);
  let refreshed = false;
  for (let hop = 0; hop <= maxHops; hop++) {
    if (same(current.name, target)) return { ok: true, status: current, taken };
    const available = (await deps.transitions()).filter((t) => t.isAvailable !== false && t.to);
    let next = available.find((t) => same(t.to.name, target));
    let graph: WorkflowGraph | null = null;
    if (!next) {
      graph = await deps.workflow(false);
      next = graph ? nextHop(graph, available, target, visited) : undefined;
      // The cached workflow may predate an admin's change: read it again once before giving up.
      if (!next && graph && !refreshed) {
        refreshed = true;
        graph = await deps.workflow(true);
        next = graph ? nextHop(graph, available, target, visited) : undefined;
      }
    }
    if (!next) return { ok: false, status: current, taken, message: unreachable(current, target, available, graph) };
    await deps.perform(next);
    taken.push(next);
    current = next.to;
    visited.add(current.id);
  }
  return {
    ok: false,
    status: current,
    taken,
    message: `Jira workflow: no way from "${from.name}" to "${target}" within ${maxHops} transitions`,
  };
}

function unreachable(current: JiraStatusRef, target: string, available: JiraTransition[], graph: WorkflowGraph | null): string {
  const list = available.map((t) => `${t.name} → ${t.to.name}`).join(', ') || 'none';
  let message = `Jira workflow has no transition from "${current.name}" to "${target}" (available: ${list})`;
  if (graph === null) {
    message +=
      '; Trackline could not read the workflow to go through intermediate statuses (grant its user "View (read-only) workflow" in the project)';
  } else if (statusIdsNamed(graph, target).length === 0) {
    message += `; the workflow has no status "${target}" (it has: ${[...new Set(graph.names.values())].join(', ')}), fix state_map`;
  }
  return message;
}
