import type { OperatorServices } from './services.ts';

export interface SyncRequest {
  direction: 'push' | 'pull' | 'both';
  dryRun: boolean;
}

/**
 * A full sync of one connection, asked for by an operator: push enqueues a reconcile for every
 * item the connection carries, pull asks for a poll now. A dry run plans in a worker (the api
 * never calls a tracker) and waits for the plan, up to a bound.
 */
export async function requestSync(
  services: Pick<OperatorServices, 'sql' | 'queues' | 'connections'>,
  connectionId: string,
  request: SyncRequest,
) {
  const { sql, queues } = services;
  const connection = services.connections.get(connectionId)!.config;
  const push = request.direction !== 'pull' && connection.direction !== 'pull';
  const pull = request.direction !== 'push' && connection.direction !== 'push';
  if (request.dryRun) {
    const plan = await queues.planSync({ connectionId, direction: request.direction }, 60_000);
    return { connection: connectionId, dryRun: true, ...plan };
  }
  let enqueued = 0;
  if (push) {
    const rows = await sql<
      { item_key: string }[]
    >`select item_key from mappings where connection_id = ${connectionId} and status not in ('deleted', 'remote_deleted') order by item_key`;
    for (let i = 0; i < rows.length; i += 500) {
      await queues.enqueueReconcile(
        rows.slice(i, i + 500).map((r) => ({ connectionId, itemKey: r.item_key, reason: 'operator' as const, readRemote: pull })),
      );
    }
    enqueued = rows.length;
  }
  if (pull) await queues.pollNow(connectionId);
  return { connection: connectionId, dryRun: false, reconciles: enqueued, poll: pull };
}
