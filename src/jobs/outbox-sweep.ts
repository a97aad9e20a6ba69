import type { Sql } from '../db/client.ts';
import type { Queues } from '../queues/queues.ts';

/**
 * The outbox sweep. The api commits events, then enqueues; a crash (or a Redis outage) between
 * the two would leave committed work with no job. Every mapping behind its item's version that
 * is not a known permanent failure is that work; re-enqueueing it is harmless because jobs are
 * deduplicated per pair. Recent items are skipped: the api is enqueueing those right now. A pair
 * whose remote issue was deleted never syncs again (its reconcile skips without advancing the
 * version), so it is not lost work: counted as such, it was re-enqueued on every sweep.
 */
export async function sweepOutbox(
  sql: Sql,
  queues: Queues,
  options: { callbacks: boolean; graceSeconds?: number; limit?: number },
): Promise<number> {
  const graceSeconds = options.graceSeconds ?? 5;
  const limit = options.limit ?? 5000;
  const rows = await sql<{ connection_id: string; item_key: string }[]>`
    select m.connection_id, m.item_key from mappings m join items i on i.key = m.item_key
    where ((i.version > greatest(m.synced_version, m.failed_version) and m.status <> 'remote_deleted')
        or (m.remote_changed_at is not null and m.status not in ('remote_deleted', 'deleted', 'error')))
      and greatest(i.updated_at, m.remote_changed_at) < now() - make_interval(secs => ${graceSeconds})
    order by i.updated_at limit ${limit}`;
  await queues.enqueueReconcile(
    rows.map((r) => ({ connectionId: r.connection_id, itemKey: r.item_key, reason: 'sweep' as const, readRemote: false })),
  );

  // Webhooks committed but never enqueued (or whose job vanished with a Redis restart). Those of a
  // batch job still queued or running are left to it: under a backlog that job may well start
  // later than the grace period, and running a delivery twice at once would race.
  const received = await sql<{ id: string; connection_id: string; job_id: string | null }[]>`
    select id, connection_id, job_id from deliveries
    where direction = 'in' and kind = 'webhook' and status = 'received' and created_at < now() - make_interval(secs => ${graceSeconds})
    order by created_at limit ${limit}`;
  const live = await queues.liveInboundJobs([...new Set(received.flatMap((w) => (w.job_id ? [w.job_id] : [])))]);
  const webhooks = received.filter((w) => !w.job_id || !live.has(w.job_id));
  await queues.enqueueInbound(webhooks.map((w) => ({ deliveryId: w.id, connectionId: w.connection_id })));

  // Changes whose callback never went out.
  let callbacks: { id: string }[] = [];
  if (options.callbacks) {
    callbacks = await sql<{ id: string }[]>`select id from changes
      where notified_at is null and callback_status is null and at < now() - make_interval(secs => ${graceSeconds * 2})
      order by id limit ${limit}`;
    await queues.enqueueCallbacks(callbacks.map((c) => Number(c.id)));
  }
  return rows.length + webhooks.length + callbacks.length;
}
