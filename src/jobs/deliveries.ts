import type { Sql } from '../db/client.ts';
import { bindDeliveryContext } from '../support/log-context.ts';

/** The outbound delivery row of a job: one per BullMQ job, updated on every attempt. */
export async function startJobDelivery(
  sql: Sql,
  job: { id?: string; attemptsMade: number; name: string; log?(row: string): Promise<unknown> },
  kind: string,
  connectionId: string,
  itemKey: string | null,
  request: Record<string, unknown>,
  requestId?: string,
): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    insert into deliveries (direction, kind, connection_id, item_key, dedup_key, status, attempts, request, job_id, request_id, attempt_log)
    values ('out', ${kind}, ${connectionId}, ${itemKey}, ${`job:${job.id}`}, 'processing', ${job.attemptsMade + 1}, ${sql.json(request as never)}, ${job.id ?? null}, ${requestId ?? null},
      jsonb_build_array(jsonb_build_object('attempt', ${job.attemptsMade + 1}::int, 'startedAt', now())))
    on conflict (direction, connection_id, dedup_key) do update
      set status = 'processing', attempts = excluded.attempts, updated_at = now(),
        attempt_log = deliveries.attempt_log || jsonb_build_array(jsonb_build_object('attempt', ${job.attemptsMade + 1}::int, 'startedAt', now()))
    returning id`;
  // Tracker calls of this attempt carry only the delivery id: this lets their log lines name the request.
  bindDeliveryContext(row.id, { requestId, kind, job: job.id });
  // The delivery row is made here, after the job was named, so the job's log (Bull Board's Logs
  // tab) is where an operator looking at a job finds its delivery. A failed write only loses that line.
  await job.log?.(`attempt ${job.attemptsMade + 1}: delivery ${row.id}${requestId ? `, request ${requestId}` : ''}`).catch(() => undefined);
  return row.id;
}

export async function finishDelivery(
  sql: Sql,
  id: string,
  status: 'succeeded' | 'failed' | 'retrying' | 'waiting',
  result: { error?: string; outcome?: Record<string, unknown> },
): Promise<void> {
  // The last attempt entry gets its end, status and error.
  await sql`update deliveries set status = ${status}, last_error = ${result.error ?? null},
    result = ${result.outcome ? sql.json(result.outcome as never) : null}, updated_at = now(),
    attempt_log = case when jsonb_array_length(attempt_log) = 0 then attempt_log
      else jsonb_set(attempt_log, array[(jsonb_array_length(attempt_log) - 1)::text],
        attempt_log -> (jsonb_array_length(attempt_log) - 1) || jsonb_build_object('endedAt', now(), 'status', ${status}::text, 'error', ${result.error ?? null}::text)) end
    where id = ${id}`;
}
