import type { Sql } from '../db/client.ts';
import type { Queues } from '../queues/queues.ts';

/**
 * The outbox sweep. The api commits events, then enqueues; a crash (or a Redis outage) between
 * the two would leave committed work with no job. Every mapping behind its item's version that
 * is not a known permanent failure is that work; re-enqueueing it is harmless because jobs are
 * deduplicated per pair. Recent items are skipped: the api is enqueueing those right now.
 */
export async function sweepOutbox(sql: Sql, queues: Queues, graceSeconds = 5, limit = 5000): Promise<number> {
  const rows = await sql<{ connection_id: string; item_key: string }[]>`
    select m.connection_id, m.item_key from mappings m join items i on i.key = m.item_key
    where i.version > greatest(m.synced_version, m.failed_version)
      and i.updated_at < now() - make_interval(secs => ${graceSeconds})
    order by i.updated_at limit ${limit}`;
  await queues.enqueueReconcile(rows.map((r) => ({ connectionId: r.connection_id, itemKey: r.item_key, reason: 'sweep' as const, readRemote: false })));
  return rows.length;
}
