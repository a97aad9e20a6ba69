import { DelayedError, UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Sql } from '../db/client.ts';
import type { ConnectionRegistry } from '../connections/registry.ts';
import type { Queues } from '../queues/queues.ts';
import { ReconcileJob, type ReconcileJobData } from '../queues/jobs.ts';
import { reconcilePair, type ReconcileOutcome } from '../sync/reconcile.ts';
import { pgSyncStore } from '../sync/postgres/store.ts';
import type { LoadedPair, SyncStore } from '../sync/port/store.ts';
import { RateLimitedError } from '../pacing/rate-limited-error.ts';
import { TrackerError } from '../sync/port/errors.ts';
import { runPullRequestStep, withPullRequestHint } from './pull-request-step.ts';
import { finishDelivery, noteJobFailure, startJobDeliveryWithPair } from './deliveries.ts';
import { isRetryableStorageError } from '../support/storage-errors.ts';
import type { CoalesceState } from './coalesce-state.ts';

export interface ReconcileJobDeps {
  sql: Sql;
  /** The pairs' coalescing flags, shared by every process (Redis or PostgreSQL). */
  coalesce: CoalesceState;
  connections: ConnectionRegistry;
  queues: Queues;
  log: Logger;
  /** Minimum time between two syncs of one pair; changes inside it coalesce into one trailing sync. */
  coalesceMs: number;
  /** Hands new change-feed rows to the orchestrator callback. */
  notify(changeIds: number[]): Promise<void>;
}

/**
 * The BullMQ processor for reconcile jobs: runs the pair's reconcile, keeps the delivery row and
 * the mapping's error in step, and turns failures into what BullMQ should do with them:
 * - rate limited: move to delayed until the pause ends, no attempt used;
 * - retryable (network, timeout, 5xx): rethrow, BullMQ retries with exponential backoff + jitter;
 * - permanent (4xx, config): UnrecoverableError, failed at once with a reason an operator reads.
 */
export function createReconcileProcessor(deps: ReconcileJobDeps) {
  return async (job: Job<ReconcileJobData>, token?: string): Promise<ReconcileOutcome> => {
    const data = ReconcileJob.parse(job.data);
    const log = deps.log.child({ job: job.id, connection: data.connectionId, item: data.itemKey, requestId: data.requestId });
    const connection = deps.connections.get(data.connectionId);
    if (!connection) throw new UnrecoverableError(`connection "${data.connectionId}" is not in the config any more`);
    const waitMs = await coalesceWait(deps, data);
    if (waitMs > 0 && token) {
      // Synced moments ago: wait out the window. New events for the pair fold into this delayed
      // job (deduplication), so a burst costs one leading and one trailing sync per window.
      await job.moveToDelayed(Date.now() + waitMs, token);
      throw new DelayedError();
    }
    // The delivery row and the pair's first read go to Postgres in one statement: neither needs
    // the other (deliveries.ts). Handled at once so a failed write is never an unhandled rejection
    // while the pass still runs; it is awaited below.
    const start = startJobDeliveryWithPair(
      deps.sql,
      job,
      'reconcile',
      { connectionId: data.connectionId, itemKey: data.itemKey },
      data.only ? { reason: data.reason, only: data.only } : { reason: data.reason },
      data.requestId,
    );
    const delivery = start.then((s) => s.deliveryId);
    const firstPair = start.then((s) => s.pair);
    for (const p of [start, delivery, firstPair]) p.catch(() => undefined);
    let deliveryId: string | undefined;
    try {
      // With a coalescing window, a change landing while this runs is synced by the job BullMQ
      // parks behind this one (keepLastIfActive), after the window: syncing it here at once, in a
      // second pass, would spend a write per pass and undo the coalescing (bench/economy.ts saw
      // 3-5 writes for a 100-update burst instead of 2).
      const pairStore = withPullRequestHint(firstLoadFrom(pgSyncStore(deps.sql), data, firstPair));
      const outcome = await reconcilePair({
        store: pairStore.store,
        connection,
        itemKey: data.itemKey,
        readRemote: data.readRemote,
        deliveryId: delivery,
        maxPasses: deps.coalesceMs > 0 ? 1 : undefined,
        onlyFields: data.only,
      });
      deliveryId = await delivery;
      // The item's pull requests (opening, following, links), once the issue itself is synced;
      // not after a labels-only pass, which syncs nothing else.
      const synced = !data.only && outcome.action !== 'skipped' && outcome.action !== 'deleted' && outcome.action !== 'remote_deleted';
      const pullRequests = synced
        ? await runPullRequestStep(deps, connection, data, deliveryId, job.id, outcome.warnings, pairStore.hint())
        : null;
      if (outcome.refused) {
        // The tracker refused some fields' values (a missing option, the wrong type): the rest is
        // synced and recorded; the delivery fails on this first attempt naming them, and is not
        // retried (the same values would fail the same way). The item's next change tries again.
        await deps.sql`update mappings set status = 'error', last_error = ${outcome.refused},
          failed_version = (select version from items where key = ${data.itemKey}), updated_at = now()
          where item_key = ${data.itemKey} and connection_id = ${data.connectionId} and status not in ('deleted', 'remote_deleted')`;
      }
      await finishDelivery(deps.sql, deliveryId, outcome.refused ? 'failed' : 'succeeded', {
        outcome: (pullRequests ? { ...outcome, pullRequests } : outcome) as never,
        ...(outcome.refused ? { error: outcome.refused } : {}),
      });
      await deps.notify(outcome.changeIds);
      if (outcome.pulled.length) await enqueueOthers(deps, data);
      log.debug({ outcome }, 'reconciled');
      return outcome;
    } catch (error) {
      deliveryId ??= await delivery.catch(() => undefined);
      // No delivery row: Postgres could not take it, so nothing below could be recorded either.
      // BullMQ retries the job (storage errors are retryable).
      if (deliveryId === undefined) throw error;
      const waitMs = rateLimitWait(error);
      if (waitMs !== null && token) {
        const until = Date.now() + waitMs;
        // What the item view shows for the pair until it syncs (the next success clears it).
        const message = `waiting for the tracker's budget until ${new Date(until).toISOString()} (${(error as Error).message})`;
        await deps.sql`update mappings set status = 'waiting', last_error = ${message}, updated_at = now()
          where item_key = ${data.itemKey} and connection_id = ${data.connectionId} and status not in ('deleted', 'remote_deleted', 'conflict')`;
        await finishDelivery(deps.sql, deliveryId, 'waiting', { error: message });
        log.info({ waitMs }, 'rate limited; job waits without using an attempt');
        await job.moveToDelayed(until, token);
        throw new DelayedError();
      }
      const permanent =
        error instanceof TrackerError ? !error.retryable : !(error instanceof RateLimitedError) && !isRetryableStorageError(error);
      const final = permanent || job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
      const message = (error as Error).message;
      await deps.sql`update mappings set last_error = ${message}, status = ${final ? 'error' : 'retrying'},
        failed_version = case when ${final} then (select version from items where key = ${data.itemKey}) else failed_version end,
        updated_at = now() where item_key = ${data.itemKey} and connection_id = ${data.connectionId}`;
      await finishDelivery(deps.sql, deliveryId, final ? 'failed' : 'retrying', { error: message });
      await noteJobFailure(job, deliveryId, message);
      log.warn({ err: message, attempt: job.attemptsMade + 1, final }, 'reconcile failed');
      if (permanent) throw new UnrecoverableError(message);
      throw error;
    }
  };
}

/**
 * Leading edge, then debounce, per pair. The first change in a while syncs at once (low latency).
 * A change within `coalesceMs` of a sync waits: it becomes the trailing sync, and that sync waits
 * until the item has been quiet for `coalesceMs`, so a burst of events costs one write at its start
 * and one after it however long it lasts (bench/economy.ts: a 100-update burst that took 600 ms to
 * send cost a write per window, 3, before). A steady stream still reaches the tracker: a burst is
 * cut after MAX_BURST_WINDOWS windows.
 */
const MAX_BURST_WINDOWS = 4;

export async function coalesceWait(
  deps: Pick<ReconcileJobDeps, 'sql' | 'coalesce' | 'coalesceMs'>,
  data: ReconcileJobData,
): Promise<number> {
  if (deps.coalesceMs <= 0 || data.reason === 'operator') return 0;
  const pair = `${data.connectionId}:${data.itemKey}`;
  // One round trip on the common path: take the window, and see whether a burst is under way
  // (a burst lasts at most MAX_BURST_WINDOWS windows).
  const { taken, burstLeftMs } = await deps.coalesce.takeWindow(pair, deps.coalesceMs);
  if (!taken) return deps.coalesce.joinBurst(pair, deps.coalesceMs * MAX_BURST_WINDOWS);
  if (burstLeftMs <= 0) return 0;
  // A trailing sync: wait while the item still changes (its updated_at, on Postgres' clock).
  const [row] = await deps.sql<{ quiet_ms: number }[]>`
    select floor(extract(epoch from (clock_timestamp() - updated_at)) * 1000)::int as quiet_ms from items where key = ${data.itemKey}`;
  const quietMs = row?.quiet_ms ?? Number.POSITIVE_INFINITY;
  if (quietMs < deps.coalesceMs) {
    // Not running yet: the window goes back, so the next wake-up decides afresh.
    await deps.coalesce.releaseWindow(pair);
    return Math.max(1, Math.min(deps.coalesceMs - quietMs, burstLeftMs));
  }
  await deps.coalesce.endBurst(pair);
  return 0;
}

/**
 * The store of one job whose pass's first read of the pair came with the job's delivery row: the
 * first `loadPair` of that pair answers it, every later one (another pass) reads afresh.
 */
function firstLoadFrom(store: SyncStore, data: ReconcileJobData, first: Promise<LoadedPair>): SyncStore {
  let preloaded: Promise<LoadedPair> | null = first;
  // Per job (the Postgres store is shared by every job of the process): the other methods are the
  // shared store's, reached through the prototype.
  const wrapped: SyncStore = Object.create(store);
  wrapped.loadPair = (itemKey, connectionId) => {
    const pair = preloaded;
    preloaded = null;
    return pair && itemKey === data.itemKey && connectionId === data.connectionId ? pair : store.loadPair(itemKey, connectionId);
  };
  return wrapped;
}

function rateLimitWait(error: unknown): number | null {
  if (error instanceof RateLimitedError) return error.waitMs;
  if (error instanceof TrackerError && error.kind === 'rate_limited') return error.details.retryAfterMs ?? 60_000;
  return null;
}

/** A pulled change is now the item's latest version: every other connection carrying it syncs. */
async function enqueueOthers(deps: ReconcileJobDeps, data: ReconcileJobData): Promise<void> {
  const rows = await deps.sql<{ connection_id: string }[]>`
    select connection_id from mappings where item_key = ${data.itemKey} and connection_id <> ${data.connectionId} and status <> 'deleted'`;
  await deps.queues.enqueueReconcile(
    rows.map((r) => ({
      connectionId: r.connection_id,
      itemKey: data.itemKey,
      reason: 'sync' as const,
      readRemote: false,
      requestId: data.requestId,
    })),
  );
}
