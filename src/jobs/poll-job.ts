import { UnrecoverableError, type Job } from 'bullmq';
import type { Logger } from 'pino';
import type { Sql } from '../db/client.ts';
import type { ConnectionRegistry } from '../connections/registry.ts';
import type { Queues } from '../queues/queues.ts';
import { PollJob, type PollJobData } from '../queues/jobs.ts';
import type { ReconcileJobData } from '../queues/jobs.ts';
import { importRemoteIssue, notePolledIssue } from '../sync/remote-events.ts';
import { pgSyncStore } from '../sync/postgres/store.ts';
import { pollPullRequests } from './poll-pull-requests.ts';
import { RateLimitedError } from '../pacing/rate-limited-error.ts';
import { TrackerError } from '../sync/port/errors.ts';
import { DelayedError } from 'bullmq';

/** Issues of one page handled at once; well under the worker's Postgres pool (20). */
const PAGE_CONCURRENCY = 8;

export interface PollJobDeps {
  sql: Sql;
  connections: ConnectionRegistry;
  queues: Queues;
  log: Logger;
  notify(changeIds: number[]): Promise<void>;
}

export interface PollCounts {
  seen: number;
  unchanged: number;
  reconciles: number;
  imported: number;
  skipped: number;
  deleted: number;
  /** github connections with [connections.pull_requests]: pull requests seen changed, and the reconciles they asked for. */
  pullRequests?: { pullRequests: number; reconciles: number };
}

/**
 * The safety net for what webhooks miss: reads the issues changed since the connection's durable
 * cursor, hands changed mapped issues to the same reconcile path as webhooks, imports or skips
 * unmapped ones, and notices deletions. The cursor is saved after each page, so an interrupted
 * poll resumes rather than starts over.
 */
export function createPollProcessor(deps: PollJobDeps) {
  return async (job: Job<PollJobData>, token?: string): Promise<PollCounts> => {
    const { connectionId } = PollJob.parse(job.data);
    const connection = deps.connections.get(connectionId);
    if (!connection) throw new UnrecoverableError(`connection "${connectionId}" is not in the config any more`);
    const counts: PollCounts = { seen: 0, unchanged: 0, reconciles: 0, imported: 0, skipped: 0, deleted: 0 };
    if (connection.config.direction === 'push') return counts;
    const adapter = connection.adapter();
    const store = pgSyncStore(deps.sql);
    const [delivery] = await deps.sql<{ id: string }[]>`
      insert into deliveries (direction, kind, connection_id, dedup_key, status, attempts, request, job_id)
      values ('in', 'poll', ${connectionId}, ${`job:${job.id}:${job.attemptsMade}`}, 'processing', ${job.attemptsMade + 1}, ${deps.sql.json({ reason: job.data.reason } as never)}, ${job.id ?? null})
      on conflict (direction, connection_id, dedup_key) do update set status = 'processing', updated_at = now()
      returning id`;
    const ctx = { deliveryId: delivery.id };
    try {
      const [row] = await deps.sql<
        { value: string }[]
      >`select value from sync_cursors where connection_id = ${connectionId} and name = 'poll'`;
      let cursor: string | null = row ? (row.value as unknown as string) : null;
      for await (const page of adapter.poll(cursor, ctx)) {
        const reconciles: ReconcileJobData[] = [];
        // The issues of a page are independent (one item per remote issue, imports idempotent),
        // so a few are handled at once: each costs several Postgres round trips, and one at a
        // time left a 10,000-issue backfill waiting on round trips (bench/backfill.ts).
        await eachLimited(page.issues, PAGE_CONCURRENCY, async (issue) => {
          counts.seen++;
          const polled = await notePolledIssue(store, connectionId, issue);
          if (polled.seen === 'unchanged') {
            counts.unchanged++;
            return;
          }
          if (polled.seen === 'changed') {
            reconciles.push({ connectionId, itemKey: polled.itemKey, reason: 'poll', readRemote: true });
            return;
          }
          const result = await importRemoteIssue(store, connection, deps.connections.all(), issue);
          if (result.imported) {
            counts.imported++;
            await deps.notify(result.changeIds);
            const others = await deps.sql<
              { connection_id: string }[]
            >`select connection_id from mappings where item_key = ${result.itemKey} and connection_id <> ${connectionId}`;
            reconciles.push(
              ...others.map((o) => ({
                connectionId: o.connection_id,
                itemKey: result.itemKey,
                reason: 'sync' as const,
                readRemote: false,
              })),
            );
          } else counts.skipped++;
        });
        for (const id of page.deletedIds ?? []) {
          const ids = await store.markRemoteDeleted(connectionId, id, undefined);
          if (ids.length) counts.deleted++;
          await deps.notify(ids);
        }
        counts.reconciles += reconciles.length;
        await deps.queues.enqueueReconcile(reconciles);
        if (page.cursor !== cursor) {
          cursor = page.cursor;
          await deps.sql`insert into sync_cursors (connection_id, name, value) values (${connectionId}, 'poll', ${deps.sql.json(cursor as never)})
            on conflict (connection_id, name) do update set value = excluded.value, updated_at = now()`;
        }
        await job.updateProgress({ ...counts });
      }
      if (adapter.listIds) {
        // Trackers that send no delete webhook: a mapped issue missing from the live ids is gone.
        // The mapped issues are read before the listing starts: an issue created (and mapped)
        // while the listing runs is absent from it without being deleted, and must not be read
        // as gone. Whatever was mapped before the listing began existed before it, so its absence
        // from the listing means it was deleted.
        const mapped = await deps.sql<{ remote_id: string }[]>`select remote_id from mappings
          where connection_id = ${connectionId} and remote_id is not null and status not in ('remote_deleted', 'deleted')`;
        const live = await adapter.listIds(ctx);
        for (const { remote_id } of mapped) {
          if (live.has(remote_id)) continue;
          const ids = await store.markRemoteDeleted(connectionId, remote_id, undefined);
          if (ids.length) counts.deleted++;
          await deps.notify(ids);
        }
      }
      const pulls = await pollPullRequests(deps, connection, delivery.id);
      if (pulls) counts.pullRequests = pulls;
      await deps.sql`update deliveries set status = 'succeeded', result = ${deps.sql.json(counts as never)}, updated_at = now() where id = ${delivery.id}`;
      return counts;
    } catch (error) {
      const message = (error as Error).message;
      await deps.sql`update deliveries set status = 'failed', last_error = ${message}, result = ${deps.sql.json(counts as never)}, updated_at = now() where id = ${delivery.id}`;
      const wait =
        error instanceof RateLimitedError
          ? error.waitMs
          : error instanceof TrackerError && error.kind === 'rate_limited'
            ? (error.details.retryAfterMs ?? 60_000)
            : null;
      if (wait !== null && token) {
        await job.moveToDelayed(Date.now() + wait, token);
        throw new DelayedError();
      }
      // The next scheduled poll tries again from the saved cursor; a permanent error needs a person.
      if (error instanceof TrackerError && !error.retryable) throw new UnrecoverableError(message);
      throw error;
    }
  };
}

/**
 * Runs `fn` over `items`, at most `limit` at a time. Every started call is let finish before the
 * first error is rethrown, so nothing still runs once the job reports its failure.
 */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const lane = async () => {
    while (next < items.length && !failure) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  if (failure) throw (failure as { error: unknown }).error;
}
