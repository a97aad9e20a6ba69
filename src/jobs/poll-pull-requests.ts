import type { Sql } from '../db/client.ts';
import type { Connection } from '../connections/registry.ts';
import type { Queues } from '../queues/queues.ts';
import { pgPullRequestStore } from '../sync/postgres/pull-request-store.ts';

/**
 * The safety net for pull request webhooks, in a github connection's poll: the pull requests
 * updated since the last poll (one conditional request when nothing changed), each handed to the
 * items that follow it the way its webhook would be. The cursor is kept beside the issues' one.
 */
export async function pollPullRequests(
  deps: { sql: Sql; queues: Queues },
  connection: Connection,
  deliveryId: string,
): Promise<{ pullRequests: number; reconciles: number } | null> {
  const host = connection.adapter().pullRequests;
  if (!host || connection.config.tracker !== 'github' || !connection.config.pull_requests) return null;
  const connectionId = connection.config.id;
  const [row] = await deps.sql<
    { value: string }[]
  >`select value from sync_cursors where connection_id = ${connectionId} and name = 'poll:pulls'`;
  const page = await host.pollUpdated(row ? (row.value as unknown as string) : null, { deliveryId });
  const itemKeys = new Set<string>();
  for (const pr of page.pullRequests) {
    const keys = await pgPullRequestStore(deps.sql).noteActivity(connectionId, {
      number: pr.number,
      head: pr.head,
      closes: pr.closes,
      updatedAt: pr.updatedAt,
      state: pr.state,
    });
    for (const key of keys) itemKeys.add(key);
  }
  await deps.queues.enqueueReconcile(
    [...itemKeys].map((itemKey) => ({ connectionId, itemKey, reason: 'poll' as const, readRemote: false })),
  );
  await deps.sql`insert into sync_cursors (connection_id, name, value) values (${connectionId}, 'poll:pulls', ${deps.sql.json(page.cursor as never)})
    on conflict (connection_id, name) do update set value = excluded.value, updated_at = now()`;
  return { pullRequests: page.pullRequests.length, reconciles: itemKeys.size };
}
