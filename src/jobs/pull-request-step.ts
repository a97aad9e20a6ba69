import type { Sql } from '../db/client.ts';
import type { Connection } from '../connections/registry.ts';
import type { Queues } from '../queues/queues.ts';
import type { ReconcileJobData } from '../queues/jobs.ts';
import type { PullRequestHint, SyncStore } from '../sync/port/store.ts';
import { pgPullRequestStore } from '../sync/postgres/pull-request-store.ts';
import { mayHavePullRequestWork, syncPullRequests, type PullRequestOutcome } from '../sync/pull-requests/sync-pull-requests.ts';

/**
 * Runs the pull request part of a reconcile (src/sync/pull-requests) once the issue is synced, and
 * does what follows from it: GitHub's refusal to open a pull request becomes a failed delivery of
 * its own (kind `pull_request`, with GitHub's message, on its first attempt) while the reconcile
 * that carried it succeeds; changes go to the orchestrator; a pull request that changed makes the
 * other connections carrying the item rewrite (or remove) their links, and an item moved by
 * `state_map` makes every connection sync its new state. An item the reconcile's pair load shows
 * without a branch, a linked pull request or any pull request row skips the step with no query.
 */
export async function runPullRequestStep(
  deps: { sql: Sql; queues: Queues; notify(changeIds: number[]): Promise<void> },
  connection: Connection,
  data: ReconcileJobData,
  deliveryId: string,
  jobId: string | undefined,
  warnings: string[],
  hint: PullRequestHint | undefined,
): Promise<PullRequestOutcome | null> {
  // Most items have no pull request: what the reconcile's pair load said settles it, no query.
  if (!mayHavePullRequestWork(connection, hint)) return null;
  const outcome = await syncPullRequests(pgPullRequestStore(deps.sql), connection, data.itemKey, {
    deliveryId,
    warn: (m) => warnings.push(m),
  });
  if (!outcome) return null;
  warnings.push(...outcome.warnings);
  if (outcome.failure) {
    await deps.sql`insert into deliveries (direction, kind, connection_id, item_key, dedup_key, status, attempts, last_error, request, job_id, request_id)
      values ('out', 'pull_request', ${connection.config.id}, ${data.itemKey}, ${`pr-open:${deliveryId}`}, 'failed', 1, ${outcome.failure.message},
        ${deps.sql.json({ pullRequest: outcome.failure.subject, reconcile: deliveryId } as never)}, ${jobId ?? null}, ${data.requestId ?? null})
      on conflict (direction, connection_id, dedup_key) do nothing`;
    warnings.push(`pull request (${outcome.failure.subject}): ${outcome.failure.message}`);
  }
  await deps.notify(outcome.changeIds);
  if (outcome.changed || outcome.itemMoved) {
    const rows = await deps.sql<{ connection_id: string }[]>`
      select connection_id from mappings where item_key = ${data.itemKey} and status not in ('deleted', 'remote_deleted')
        and (${outcome.itemMoved} or connection_id <> ${connection.config.id})`;
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
  return outcome;
}

/**
 * The engine's store for one reconcile, keeping what its pair load said of the item's pull
 * requests (the Postgres store reads it in the same query), for the step that follows the pass.
 */
export function withPullRequestHint(store: SyncStore): { store: SyncStore; hint(): PullRequestHint | undefined } {
  let hint: PullRequestHint | undefined;
  // Per job (the Postgres store is shared by every job of the process): every other method is the
  // shared store's, reached through the prototype, so the reconcile stays unaware of the hint.
  const wrapped: SyncStore = Object.create(store);
  wrapped.loadPair = async (itemKey, connectionId) => {
    const pair = await store.loadPair(itemKey, connectionId);
    hint = pair.item?.pullRequests;
    return pair;
  };
  return { store: wrapped, hint: () => hint };
}
