import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Sql } from '../db/client.ts';
import type { Connection, ConnectionRegistry } from '../connections/registry.ts';
import type { Queues } from '../queues/queues.ts';
import { InboundBatchJob, InboundJob, type InboundJobData, type InboundQueueData } from '../queues/jobs.ts';
import { inboundJobId } from '../queues/queues.ts';
import { createWebhookHandler } from '../trackers/index.ts';
import type { WebhookHandler } from '../sync/port/tracker.ts';
import { importRemoteIssue } from '../sync/remote-events.ts';
import { pgSyncStore } from '../sync/postgres/store.ts';
import { pgPullRequestStore } from '../sync/postgres/pull-request-store.ts';
import { TrackerError } from '../sync/port/errors.ts';
import { bindDeliveryContext } from '../support/log-context.ts';

export interface InboundJobDeps {
  sql: Sql;
  connections: ConnectionRegistry;
  queues: Queues;
  log: Logger;
  notify(changeIds: number[]): Promise<void>;
  /** How long a batch's failed delivery waits before its own job first tries it again. */
  retryDelayMs: number;
}

/**
 * Turns accepted webhooks into work: a change to a mapped issue becomes a reconcile that
 * re-reads the issue (payloads may be stale or out of order); a delete, a comment or an import
 * is recorded directly. Anything not acted on is recorded on the delivery with its reason, so
 * nothing is dropped silently.
 *
 * A job carries one delivery (`InboundJob`: the sweep, an operator's retry, a batch's failed
 * delivery), which BullMQ retries with backoff, or the deliveries of one intake commit
 * (`InboundBatchJob`), each handled on its own: one that fails transiently is handed to a job of
 * its own, so its retries never hold back or repeat its neighbours.
 */
export function createInboundProcessor(deps: InboundJobDeps) {
  const handlers = new Map<string, WebhookHandler>();
  const handlerFor = (connection: Connection) => {
    let handler = handlers.get(connection.config.id);
    if (!handler) handlers.set(connection.config.id, (handler = createWebhookHandler(connection.config)));
    return handler;
  };

  const single = async (job: Job<InboundQueueData>, data: InboundJobData) => {
    try {
      return await processDelivery(deps, handlerFor, data, job);
    } catch (error) {
      const permanent = isPermanent(error);
      const final = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      await recordFailure(deps.sql, data.deliveryId, final ? 'failed' : 'retrying', error);
      if (permanent) throw new UnrecoverableError((error as Error).message);
      throw error;
    }
  };

  const batch = async (job: Job<InboundQueueData>, deliveries: InboundJobData[]) => {
    const retry: InboundJobData[] = [];
    const counts = { processed: 0, skipped: 0, failed: 0, retrying: 0 };
    // A few at a time: the deliveries are independent (each reconcile re-reads its issue), and a
    // batch of dozens one after another would make the last one wait for all the others.
    await forEachLimit(deliveries, BATCH_CONCURRENCY, async (data) => {
      try {
        const { status } = await processDelivery(deps, handlerFor, data, job);
        counts[status === 'processed' ? 'processed' : 'skipped']++;
      } catch (error) {
        if (isPermanent(error)) {
          await recordFailure(deps.sql, data.deliveryId, 'failed', error);
          counts.failed++;
        } else {
          await recordFailure(deps.sql, data.deliveryId, 'retrying', error, inboundJobId(data.deliveryId));
          retry.push(data);
          counts.retrying++;
        }
      }
    });
    // If this enqueue fails the batch job fails and is retried; deliveries already processed are
    // skipped then by their status.
    await deps.queues.enqueueInbound(retry, { delayMs: deps.retryDelayMs });
    return counts;
  };

  return async (job: Job<InboundQueueData>): Promise<Record<string, unknown>> => {
    if ('deliveries' in job.data) return batch(job, InboundBatchJob.parse(job.data).deliveries);
    return single(job, InboundJob.parse(job.data));
  };
}

const BATCH_CONCURRENCY = 4;

/** One delivery, start to end; throws when it should be tried again (or failed, if permanent). */
async function processDelivery(
  deps: InboundJobDeps,
  handlerFor: (connection: Connection) => WebhookHandler,
  data: InboundJobData,
  job: Job,
): Promise<{ status: string; outcomes?: string[] }> {
  const connection = deps.connections.get(data.connectionId);
  if (!connection) throw new UnrecoverableError(`connection "${data.connectionId}" is not in the config any more`);
  const [delivery] = await deps.sql<{ status: string; request: { event: string; headers: Record<string, string>; payload: unknown } }[]>`
    select status, request from deliveries where id = ${data.deliveryId}`;
  if (!delivery) throw new UnrecoverableError(`delivery ${data.deliveryId} not found`);
  if (delivery.status === 'processed' || delivery.status === 'skipped') return { status: delivery.status };
  await deps.sql`update deliveries set status = 'processing', attempts = ${job.attemptsMade + 1}, updated_at = now() where id = ${data.deliveryId}`;
  // An import reads the remote issue under this delivery id: its tracker-call log lines then name the webhook's request.
  bindDeliveryContext(data.deliveryId, { requestId: data.requestId, kind: 'webhook', job: job.id });

  const store = pgSyncStore(deps.sql);
  const outcomes: string[] = [];
  let acted = false;
  for (const change of handlerFor(connection).normalize(delivery.request.headers, delivery.request.payload)) {
    if (change.type === 'ignored') {
      outcomes.push(`ignored: ${change.reason}`);
      continue;
    }
    if (change.type === 'pull_request.changed') {
      // The items that follow it (or, for one nobody recorded, whose branch it is or whose issue it
      // closes) re-read it in their next reconcile; the payload only says which one changed.
      const itemKeys = await pgPullRequestStore(deps.sql).noteActivity(connection.config.id, {
        number: change.number,
        head: change.head,
        closes: change.closes,
        actor: change.actor,
      });
      await deps.queues.enqueueReconcile(
        itemKeys.map((itemKey) => ({
          connectionId: connection.config.id,
          itemKey,
          reason: 'webhook' as const,
          readRemote: false,
          requestId: data.requestId,
        })),
      );
      if (itemKeys.length) {
        outcomes.push(`pull request #${change.number} (${change.action ?? 'changed'}): reconcile ${itemKeys.join(', ')}`);
        acted = true;
      } else outcomes.push(`skipped: pull request #${change.number} concerns no item`);
      continue;
    }
    const mapping = await store.findMappingByRemote(connection.config.id, change.remoteId);
    if (change.type === 'issue.changed') {
      if (mapping) {
        await store.markRemoteChanged(connection.config.id, mapping.itemKey);
        await deps.queues.enqueueReconcile([
          { connectionId: connection.config.id, itemKey: mapping.itemKey, reason: 'webhook', readRemote: true, requestId: data.requestId },
        ]);
        outcomes.push(`reconcile ${mapping.itemKey} (${change.remoteKey ?? change.remoteId} changed)`);
        acted = true;
      } else if (connection.config.direction === 'push') {
        outcomes.push(`skipped: ${change.remoteKey ?? change.remoteId} is not mapped and the connection only pushes`);
      } else {
        const remote = await connection.adapter().get({ id: change.remoteId, key: change.remoteKey }, { deliveryId: data.deliveryId });
        const result = await importRemoteIssue(store, connection, deps.connections.all(), remote);
        if (result.imported) {
          await deps.notify(result.changeIds);
          await enqueueCarriers(deps, result.itemKey, connection.config.id, data.requestId);
          outcomes.push(`imported ${remote.key} as item ${result.itemKey}`);
          acted = true;
        } else outcomes.push(`skipped: ${result.reason}`);
      }
    } else if (change.type === 'issue.deleted') {
      if (!mapping) {
        outcomes.push(`skipped: deleted ${change.remoteKey ?? change.remoteId} was not mapped`);
        continue;
      }
      const ids = await store.markRemoteDeleted(connection.config.id, change.remoteId, change.actor);
      await deps.notify(ids);
      outcomes.push(`remote deleted: ${mapping.itemKey}`);
      acted = true;
    } else if (change.type === 'comment.created') {
      if (change.fromTrackline) outcomes.push('skipped: Trackline’s own comment coming back');
      else if (!mapping) outcomes.push(`skipped: comment on unmapped ${change.remoteKey ?? change.remoteId}`);
      else if (connection.config.direction === 'push') outcomes.push('skipped: the connection only pushes');
      else {
        await deps.notify(await store.recordRemoteComment(connection.config.id, mapping.itemKey, change.body, change.actor));
        outcomes.push(`comment on ${mapping.itemKey} sent to the orchestrator`);
        acted = true;
      }
    }
  }
  const status = acted ? 'processed' : 'skipped';
  await deps.sql`update deliveries set status = ${status}, result = ${deps.sql.json({ outcomes } as never)},
    last_error = ${acted ? null : outcomes.join('; ') || 'nothing to do'}, updated_at = now() where id = ${data.deliveryId}`;
  deps.log.debug({ delivery: data.deliveryId, outcomes }, 'webhook processed');
  return { status, outcomes };
}

/** A tracker's 4xx, a connection gone from the config, a delivery gone: trying again cannot help. */
function isPermanent(error: unknown): boolean {
  return error instanceof UnrecoverableError || (error instanceof TrackerError && !error.retryable);
}

async function recordFailure(sql: Sql, deliveryId: string, status: 'failed' | 'retrying', error: unknown, jobId?: string): Promise<void> {
  await sql`update deliveries set status = ${status}, last_error = ${(error as Error).message}, updated_at = now(),
    job_id = coalesce(${jobId ?? null}, job_id) where id = ${deliveryId}`;
}

async function forEachLimit<T>(items: T[], limit: number, run: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await run(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

async function enqueueCarriers(deps: InboundJobDeps, itemKey: string, except: string, requestId?: string): Promise<void> {
  const rows = await deps.sql<
    { connection_id: string }[]
  >`select connection_id from mappings where item_key = ${itemKey} and connection_id <> ${except}`;
  await deps.queues.enqueueReconcile(
    rows.map((r) => ({ connectionId: r.connection_id, itemKey, reason: 'sync' as const, readRemote: false, requestId })),
  );
}
