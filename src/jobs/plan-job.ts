import { UnrecoverableError, type Job } from 'bullmq';
import type { Sql } from '../db/client.ts';
import type { ConnectionRegistry } from '../connections/registry.ts';
import { PlanJob, type PlanJobData } from '../queues/jobs.ts';
import { planPair, type PairPlan } from '../sync/dry-run.ts';
import { planPullRequest } from '../sync/pull-requests/plan-pull-request.ts';
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
  const rows = await sql<
    { item_key: string }[]
  >`select item_key from mappings where connection_id = ${data.connectionId} order by item_key limit ${data.limit}`;
  const result: SyncPlan = { planned: 0, changes: 0, items: [], errors: [] };
  for (const { item_key } of rows) {
    try {
      const plan = await planPair(pgSyncStore(sql), connection, item_key);
      if (data.direction === 'push') plan.pull = {};
      if (data.direction === 'pull') plan.push = {};
      result.planned++;
      const pullRequest = await planPullRequest(sql, connection, item_key);
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

export function createPlanProcessor(deps: { sql: Sql; connections: ConnectionRegistry }) {
  return async (job: Job<PlanJobData>): Promise<SyncPlan> =>
    planConnection(deps.sql, deps.connections, PlanJob.parse(job.data), (done, total) => void job.updateProgress({ done, total }));
}
