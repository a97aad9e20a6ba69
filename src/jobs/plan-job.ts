import { UnrecoverableError, type Job } from 'bullmq';
import type { Sql } from '../db/client.ts';
import type { ConnectionRegistry } from '../connections/registry.ts';
import { PlanJob, type PlanJobData } from '../queues/jobs.ts';
import { planPair, type PairPlan } from '../sync/dry-run.ts';
import { planPullRequest } from '../sync/pull-requests/plan-pull-request.ts';
import { pgPullRequestStore } from '../sync/postgres/pull-request-store.ts';
import { pgSyncStore } from '../sync/postgres/store.ts';

export interface SyncPlan {
  planned: number;
  changes: number;
  items: PairPlan[];
  errors: Array<{ key: string; error: string }>;
}

/**
 * A dry-run plan for every item one connection carries: reads the tracker, writes nothing.
 * Only pairs with something to do are listed. Shared by the api's dry run and the CLI.
 */
export async function planConnection(
  sql: Sql,
  connections: ConnectionRegistry,
  data: PlanJobData,
  onProgress?: (done: number, total: number) => void,
): Promise<SyncPlan> {
  const connection = connections.get(data.connectionId);
  if (!connection) throw new UnrecoverableError(`no connection "${data.connectionId}"`);
  const rows = await sql<{ item_key: string }[]>`select item_key from mappings where connection_id = ${data.connectionId}
    ${data.items ? sql`and item_key in ${sql(data.items)}` : sql``} order by item_key limit ${data.limit}`;
  const result: SyncPlan = { planned: 0, changes: 0, items: [], errors: [] };
  for (const { item_key } of rows) {
    try {
      let plan = await planPair(pgSyncStore(sql), connection, item_key);
      if (data.direction === 'push') plan.pull = {};
      if (data.direction === 'pull') plan.push = {};
      if (data.only) plan = onlyFields(plan, data.only);
      result.planned++;
      const pullRequest = data.only ? null : await planPullRequest(pgPullRequestStore(sql), connection, item_key);
      if (pullRequest) plan.pullRequest = pullRequest;
      const pending =
        Object.keys(plan.push).length + Object.keys(plan.pull).length + plan.conflicts.length + plan.comments + (pullRequest ? 1 : 0);
      if (plan.action === 'create' || plan.action === 'link' || pending > 0) {
        result.changes++;
        result.items.push(plan);
      }
    } catch (error) {
      result.errors.push({ key: item_key, error: (error as Error).message });
    }
    onProgress?.(result.planned + result.errors.length, rows.length);
  }
  return result;
}

/** What a sync limited to `fields` would do: their changes and conflicts only, nothing else. */
function onlyFields(plan: PairPlan, fields: readonly string[]): PairPlan {
  const keep = <T>(changes: Partial<Record<string, T>>) => Object.fromEntries(Object.entries(changes).filter(([f]) => fields.includes(f)));
  // A limited sync creates and links nothing (reconcile.ts); it posts no comments either.
  const inert = plan.action === 'create' || plan.action === 'link';
  return {
    ...plan,
    action: inert ? 'skip' : plan.action,
    note: inert ? `not in the tracker yet; a ${fields.join(', ')}-only sync creates and links nothing` : plan.note,
    push: inert ? {} : keep(plan.push),
    pull: inert ? {} : keep(plan.pull),
    conflicts: inert ? [] : plan.conflicts.filter((c) => fields.includes(c.field)),
    comments: 0,
  };
}

export function createPlanProcessor(deps: { sql: Sql; connections: ConnectionRegistry }) {
  return async (job: Job<PlanJobData>): Promise<SyncPlan> =>
    planConnection(deps.sql, deps.connections, PlanJob.parse(job.data), (done, total) => void job.updateProgress({ done, total }));
}
