import type { Sql } from '../db/client.ts';
import type { Queues } from '../queues/queues.ts';
import { pgPullRequestStore } from '../sync/postgres/pull-request-store.ts';

export class DeliveryNotFoundError extends Error {}
export class DeliveryNotRetryableError extends Error {}

export interface RetriedDelivery {
  id: string;
  kind: string;
  how: 'job retried' | 'enqueued again';
}

/**
 * An operator's retry of a delivery (API `POST /v1/deliveries/{id}/retry`, CLI `replay`). The
 * failed BullMQ job is retried when it still exists (so Bull Board and the delivery row stay one
 * story); otherwise the same work is enqueued afresh. The activity trail records who asked.
 */
export async function retryDelivery(sql: Sql, queues: Queues, id: string, actor: string): Promise<RetriedDelivery> {
  const [d] = await sql<
    {
      id: string;
      kind: string;
      direction: string;
      status: string;
      connection_id: string | null;
      item_key: string | null;
      job_id: string | null;
      request: Record<string, unknown> | null;
    }[]
  >`
    select id, kind, direction, status, connection_id, item_key, job_id, request from deliveries where id = ${id}`;
  if (!d) throw new DeliveryNotFoundError(`no delivery ${id}`);
  if (d.status === 'rejected' || d.kind === 'event') {
    throw new DeliveryNotRetryableError(
      `delivery ${id} is ${d.kind === 'event' ? 'an accepted orchestrator request (its work is tracked by the reconcile deliveries)' : 'a rejected request (nothing was accepted)'}; nothing to retry`,
    );
  }
  let how: RetriedDelivery['how'] = 'enqueued again';
  if (d.kind === 'pull_request' && d.connection_id && d.item_key) {
    // GitHub refused to open a pull request, or had no pull request by the number links.pull_request
    // names (its word is otherwise final until the branch, base or link changes): forget the
    // refusal and let the pair's reconcile try again.
    await pgPullRequestStore(sql).forgetRefusals(d.item_key, d.connection_id);
    await queues.enqueueReconcile([{ connectionId: d.connection_id, itemKey: d.item_key, reason: 'operator', readRemote: false }]);
    await sql`insert into activity (item_key, actor, action, connection_id, detail)
      values (${d.item_key}, ${actor}, 'delivery.retried', ${d.connection_id}, ${sql.json({ delivery: d.id, kind: d.kind, how } as never)})`;
    return { id: d.id, kind: d.kind, how };
  }
  const queue =
    d.kind === 'reconcile'
      ? queues.reconcile
      : d.kind === 'webhook'
        ? queues.inbound
        : d.kind === 'callback'
          ? queues.callbacks
          : d.kind === 'poll'
            ? queues.poll
            : null;
  if (!queue) throw new DeliveryNotRetryableError(`delivery ${id} of kind ${d.kind} cannot be retried`);
  const jobId = d.kind === 'webhook' ? `in-${d.id}` : d.job_id;
  const job = jobId ? await queue.getJob(jobId) : undefined;
  if (job && (await job.isFailed())) {
    await job.retry('failed');
    how = 'job retried';
  } else if (d.kind === 'reconcile' && d.connection_id && d.item_key) {
    await queues.enqueueReconcile([{ connectionId: d.connection_id, itemKey: d.item_key, reason: 'operator', readRemote: true }]);
  } else if (d.kind === 'webhook' && d.connection_id) {
    await sql`update deliveries set status = 'received', updated_at = now() where id = ${d.id}`;
    if (job) await job.remove().catch(() => {});
    await queues.enqueueInbound([{ deliveryId: d.id, connectionId: d.connection_id }]);
  } else if (d.kind === 'callback') {
    const change = (d.request?.change as { id?: string } | undefined)?.id;
    if (!change) throw new DeliveryNotRetryableError(`delivery ${id} does not say which change it carried`);
    await sql`update changes set notified_at = null, callback_status = null where id = ${Number(change)}`;
    if (job) await job.remove().catch(() => {});
    await queues.enqueueCallbacks([Number(change)]);
  } else if (d.kind === 'poll' && d.connection_id) {
    await queues.pollNow(d.connection_id);
  }
  if (d.item_key) {
    await sql`insert into activity (item_key, actor, action, connection_id, detail)
      values (${d.item_key}, ${actor}, 'delivery.retried', ${d.connection_id}, ${sql.json({ delivery: d.id, kind: d.kind, how } as never)})`;
  }
  return { id: d.id, kind: d.kind, how };
}
