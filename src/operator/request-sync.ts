import type { OperatorServices } from './services.ts';
import { forcePush } from './force-push.ts';

export interface SyncRequest {
  direction: 'push' | 'pull' | 'both';
  dryRun: boolean;
  /** Only these items (checked by the caller: each carried by the connection). */
  items?: string[];
  /** Only these fields (labelsOnly): no poll, no create, no comment; other changes stay pending. */
  only?: 'labels'[];
  /** `operator:<name>` when the push is forced; recorded before anything is enqueued. */
  forcedBy?: string;
}

/**
 * A full sync of one connection (or of the named items), asked for by an operator: push enqueues
 * a reconcile for every item the connection carries, pull asks for a poll now (a labels-only sync
 * reads each issue in its reconcile instead: a poll would sync every field). A dry run plans in a
 * worker (the api never calls a tracker) and waits for the plan, up to a bound.
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
  const scope = { ...(request.items ? { items: request.items } : {}), ...(request.only ? { only: request.only } : {}) };
  if (request.dryRun) {
    const plan = await queues.planSync({ connectionId, direction: request.direction, ...scope }, 60_000);
    return { connection: connectionId, dryRun: true, ...scope, ...plan };
  }
  let forced: { items: number; by: string } | undefined;
  if (request.forcedBy && push) {
    const items = await forcePush(services, connectionId, {
      items: request.items,
      fields: request.only,
      actor: request.forcedBy,
      reason: `forced: POST /v1/connections/${connectionId}/sync${request.only ? ' (labels only)' : ''}`,
    });
    forced = { items, by: request.forcedBy };
  }
  let enqueued = 0;
  // A labels-only sync of a pull-only connection reads each issue in its reconcile and takes its labels.
  if (push || (request.only && pull)) {
    const rows = await sql<{ item_key: string }[]>`select item_key from mappings where connection_id = ${connectionId}
      and status not in ('deleted', 'remote_deleted') ${request.items ? sql`and item_key in ${sql(request.items)}` : sql``}
      order by item_key`;
    for (let i = 0; i < rows.length; i += 500) {
      await queues.enqueueReconcile(
        rows
          .slice(i, i + 500)
          .map((r) => ({ connectionId, itemKey: r.item_key, reason: 'operator' as const, readRemote: pull, only: request.only })),
      );
    }
    enqueued = rows.length;
  }
  const poll = pull && !request.only;
  if (poll) await queues.pollNow(connectionId);
  return { connection: connectionId, dryRun: false, ...scope, reconciles: enqueued, poll, ...(forced ? { forced } : {}) };
}
