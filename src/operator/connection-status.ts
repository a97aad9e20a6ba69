import type { OperatorServices } from './services.ts';
import { parseDuration } from '../config/duration.ts';

/**
 * What an operator needs to know about a connection, from what Trackline already records:
 * tracker calls (reachability, last success and error, the tracker's budget headers, 429 pauses),
 * mappings (work pending or failed) and the polling cursor. The api never calls a tracker.
 */
export async function connectionStatus(services: Pick<OperatorServices, 'sql' | 'connections'>, id: string) {
  const { sql } = services;
  const config = services.connections.get(id)!.config;
  const [calls] = await sql<
    {
      last_at: Date | null;
      last_status: number | null;
      last_error: string | null;
      last_ok_at: Date | null;
      last_err_at: Date | null;
      last_err: string | null;
      remaining: string | null;
      limited_until: Date | null;
      limited_hour: number;
    }[]
  >`
    with recent as (select * from tracker_calls where connection_id = ${id} order by at desc limit 500)
    select
      (select at from recent order by at desc limit 1) as last_at,
      (select status from recent order by at desc limit 1) as last_status,
      (select error from recent order by at desc limit 1) as last_error,
      (select max(at) from recent where status between 200 and 399) as last_ok_at,
      (select at from recent where error is not null order by at desc limit 1) as last_err_at,
      (select error from recent where error is not null order by at desc limit 1) as last_err,
      (select coalesce(rate_limit->>'x-ratelimit-remaining', rate_limit->>'X-RateLimit-Remaining') from recent where rate_limit ? 'x-ratelimit-remaining' order by at desc limit 1) as remaining,
      (select max(at + make_interval(secs => coalesce((rate_limit->>'retry-after')::numeric, 60))) from recent where status = 429) as limited_until,
      (select count(*)::int from tracker_calls where connection_id = ${id} and status = 429 and at > now() - interval '1 hour') as limited_hour`;
  const [work] = await sql<{ pending: number; failed: number; conflicts: number; mapped: number }[]>`
    select count(*) filter (where i.version > greatest(m.synced_version, m.failed_version) and m.status not in ('deleted', 'remote_deleted'))::int as pending,
      count(*) filter (where m.status = 'error')::int as failed,
      count(*) filter (where m.status = 'conflict')::int as conflicts,
      count(*) filter (where m.remote_id is not null)::int as mapped
    from mappings m join items i on i.key = m.item_key where m.connection_id = ${id}`;
  const [cursor] = await sql<
    { value: unknown; updated_at: Date }[]
  >`select value, updated_at from sync_cursors where connection_id = ${id} and name = 'poll'`;
  const [lastPoll] = await sql<{ status: string; updated_at: Date; last_error: string | null }[]>`
    select status, updated_at, last_error from deliveries where connection_id = ${id} and kind = 'poll' order by created_at desc limit 1`;
  const pausedUntil = calls.limited_until && calls.limited_until.getTime() > Date.now() ? calls.limited_until.toISOString() : null;
  return {
    id,
    tracker: config.tracker,
    direction: config.direction,
    conflictStrategy: config.conflict_strategy,
    // Reachable: the last call got an answer that was not a server or network failure.
    reachable: calls.last_at === null ? null : calls.last_status !== null && calls.last_status < 500,
    lastCallAt: calls.last_at?.toISOString() ?? null,
    lastSuccessAt: calls.last_ok_at?.toISOString() ?? null,
    lastError: calls.last_err ? { at: calls.last_err_at!.toISOString(), message: calls.last_err } : null,
    rateLimit: {
      budget: config.rate_limit === 'off' ? 'off' : (config.rate_limit ?? 'tracker default'),
      remaining: calls.remaining === null ? null : Number(calls.remaining),
      pausedUntil,
      limitedLastHour: calls.limited_hour,
    },
    queue: { pending: work.pending, failed: work.failed, conflicts: work.conflicts, mapped: work.mapped },
    polling: {
      interval: config.direction === 'push' ? 'off (push only)' : parseDuration(config.poll_interval) ? config.poll_interval : 'off',
      cursor: cursor?.value ?? null,
      lastPoll: lastPoll ? { status: lastPoll.status, at: lastPoll.updated_at.toISOString(), error: lastPoll.last_error } : null,
    },
  };
}
