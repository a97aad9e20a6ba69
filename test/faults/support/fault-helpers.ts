import { waitFor, type Harness } from '../../support/harness.ts';

/** The harness' Plane state map, read backwards: what the item's state is called locally. */
const LOCAL_STATE: Record<string, string> = { Todo: 'planned', 'In Progress': 'doing', 'In Review': 'for_review', Done: 'done' };
export const LOCAL_STATES = Object.values(LOCAL_STATE);
export const REMOTE_STATE: Record<string, string> = Object.fromEntries(Object.entries(LOCAL_STATE).map(([r, l]) => [l, r]));

export interface Fields {
  title?: string;
  state?: string;
  labels?: string[];
}

/** A small deterministic PRNG (mulberry32): a failing run is replayed from the seed it prints. */
export function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!,
    subset: <T>(xs: readonly T[]) => xs.filter(() => next() < 0.5),
  };
}

/** Every live Plane issue of the harness' project, grouped by the item key Trackline stamped on it. */
export function issuesByItem(h: Harness) {
  const byKey = new Map<string, ReturnType<Harness['sandbox']['plane']['issuesOf']>>();
  for (const issue of h.sandbox.plane.issuesOf(h.project.projectId)) {
    if (issue.deleted_at || !issue.external_id) continue;
    byKey.set(issue.external_id, [...(byKey.get(issue.external_id) ?? []), issue]);
  }
  return byKey;
}

/** Item keys with more than one live Plane issue: must always be empty (DESIGN 5.2). */
export function duplicatedItems(h: Harness): string[] {
  return [...issuesByItem(h)].filter(([, issues]) => issues.length > 1).map(([key]) => key);
}

/** What the Plane issue says, in the orchestrator's vocabulary. */
export function remoteFields(h: Harness, issue: { name: string; state: string | null; labels: string[] }): Required<Fields> {
  const plane = h.sandbox.plane;
  const pid = h.project.projectId;
  const stateName = plane.statesOf(pid).find((s) => s.id === issue.state)?.name ?? '?';
  return {
    title: issue.name,
    state: LOCAL_STATE[stateName] ?? `?${stateName}`,
    labels: issue.labels.map((id) => plane.labelsOf(pid).find((l) => l.id === id)?.name ?? `?${id}`).sort(),
  };
}

export function remoteOf(h: Harness, key: string): Required<Fields> | null {
  const issues = issuesByItem(h).get(key) ?? [];
  return issues.length === 1 ? remoteFields(h, issues[0]!) : null;
}

/** The item's desired state as Trackline holds it. */
export async function localOf(h: Harness, key: string): Promise<Fields | null> {
  const [row] = await h.sql<{ desired: Fields }[]>`select desired from items where key = ${key}`;
  if (!row) return null;
  return { title: row.desired.title, state: row.desired.state, labels: row.desired.labels ? [...row.desired.labels].sort() : undefined };
}

export function label(h: Harness, name: string): string {
  const plane = h.sandbox.plane;
  const pid = h.project.projectId;
  return plane.labelsOf(pid).find((l) => l.name === name)?.id ?? plane.createLabel(pid, { name }, { kind: 'person' } as never).id;
}

export function stateId(h: Harness, local: string): string {
  return h.sandbox.plane.statesOf(h.project.projectId).find((s) => s.name === REMOTE_STATE[local])!.id;
}

/**
 * Waits until every mapping has synced its item's latest version, with no pull waiting and no
 * job left in the reconcile queue: the system has nothing more to do on its own.
 */
export async function waitSettled(h: Harness, timeoutMs: number): Promise<void> {
  try {
    await waitFor(
      async () => {
        const [row] = await h.sql<{ behind: number }[]>`
          select count(*)::int as behind from mappings m join items i on i.key = m.item_key
          where m.synced_version < i.version or m.remote_changed_at is not null or m.status <> 'synced'`;
        if (row.behind > 0) return false;
        const counts = await h.runtime.queues.reconcile.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
        return Object.values(counts).every((n) => n === 0);
      },
      timeoutMs,
      100,
    );
  } catch (error) {
    // Say what is still pending: a bare timeout is no help when a fault run fails.
    const stuck = await h.sql`select m.item_key, m.status, m.synced_version, i.version, m.remote_changed_at, m.last_error
      from mappings m join items i on i.key = m.item_key
      where m.synced_version < i.version or m.remote_changed_at is not null or m.status <> 'synced' limit 5`.catch((e: Error) => e.message);
    const counts = await h.runtime.queues.reconcile.getJobCounts().catch((e: Error) => e.message);
    const schedulers = await h.runtime.queues.maintenance.getJobSchedulers().then(
      (s) => s.map((j) => j.key),
      (e: Error) => e.message,
    );
    throw new Error(
      `not settled within ${timeoutMs} ms: ${JSON.stringify({ stuck, reconcileQueue: counts, maintenanceSchedulers: schedulers })}`,
      { cause: error },
    );
  }
}

export const sameSet = (a: string[] | undefined, b: string[] | undefined) =>
  JSON.stringify([...(a ?? [])].sort()) === JSON.stringify([...(b ?? [])].sort());
