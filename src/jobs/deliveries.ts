import type { Sql } from '../db/client.ts';
import { bindDeliveryContext } from '../support/log-context.ts';
import { StatementBatch, batchPerHandle } from '../support/statement-batch.ts';
import type { LoadedPair } from '../sync/port/store.ts';
import { selectPairs, toLoadedPairs, type PairRow } from '../sync/postgres/pair-statements.ts';

interface DeliveryStart {
  kind: string;
  connection_id: string;
  item_key: string | null;
  dedup_key: string;
  attempt: number;
  request: Record<string, unknown>;
  job_id: string | null;
  request_id: string | null;
}

interface DeliveryFinish {
  id: string;
  status: string;
  error: string | null;
  result: Record<string, unknown> | null;
}

/**
 * Concurrent jobs start and finish their delivery rows in shared statements (StatementBatch): one
 * INSERT for every job that started in the same event loop turn, one UPDATE for every job that
 * finished. Each row is still written before its job goes on.
 *
 * The rows of `starts`, written (a retry of a job finds its row by (connection, job) and appends
 * to its attempt log); returns each row's id, connection and dedup key.
 */
function insertDeliveries(sql: Sql, starts: DeliveryStart[]) {
  return sql<{ id: string; connection_id: string; dedup_key: string }[]>`
    insert into deliveries (direction, kind, connection_id, item_key, dedup_key, status, attempts, request, job_id, request_id, attempt_log)
    select 'out', v.kind, v.connection_id, v.item_key, v.dedup_key, 'processing', v.attempt, v.request, v.job_id, v.request_id,
      jsonb_build_array(jsonb_build_object('attempt', v.attempt, 'startedAt', now()))
    from jsonb_to_recordset(${sql.json(starts.map((s, ord) => ({ ...s, ord })) as never)})
      as v(ord int, kind text, connection_id text, item_key text, dedup_key text, attempt int, request jsonb, job_id text, request_id text)
    order by v.ord
    on conflict (direction, connection_id, dedup_key) do update
      set status = 'processing', attempts = excluded.attempts, updated_at = now(),
        attempt_log = deliveries.attempt_log || jsonb_build_array(jsonb_build_object('attempt', excluded.attempts, 'startedAt', now()))
    returning id, connection_id, dedup_key`;
}

const startBatch = batchPerHandle(
  (sql: Sql) =>
    new StatementBatch<DeliveryStart, string>(async (starts) => {
      const rows = await insertDeliveries(sql, starts);
      const ids = new Map(rows.map((r) => [`${r.connection_id}\u0000${r.dedup_key}`, r.id]));
      return starts.map((s) => {
        const id = ids.get(`${s.connection_id}\u0000${s.dedup_key}`);
        if (!id) throw new Error(`delivery row for ${s.dedup_key} was not written`);
        return id;
      });
    }),
);

/**
 * A reconcile's delivery row and its pass's first read of the pair in ONE statement, for every job
 * that started in the same event loop turn: the pass needs both before its first tracker call and
 * neither needs the other. Two statements in parallel cost a second socket write and wake-up on
 * both sides, and a second pooled connection, per batch (socket writes were the largest single
 * cost of `trackline start` in a bench/sync.ts profile).
 */
const startWithPairBatch = batchPerHandle(
  (sql: Sql) =>
    new StatementBatch<DeliveryStart & { connection_id: string; item_key: string }, { deliveryId: string; pair: LoadedPair }>(
      async (starts) => {
        // The pairs' rows carry their delivery's id, found by the dedup key of the same position.
        const rows = await sql<(PairRow & { delivery_id: string | null })[]>`
          with started as (${insertDeliveries(sql, starts)})
          ${selectPairs(
            sql,
            starts.map((s) => ({ itemKey: s.item_key, connectionId: s.connection_id })),
            sql`, (select s.id from started s where s.connection_id = p.connection_id
              and s.dedup_key = (${starts.map((s) => s.dedup_key)}::text[])[p.ord]) as delivery_id`,
          )}`;
        const pairs = toLoadedPairs(starts.length, rows);
        const ids = new Map(rows.map((r) => [Number(r.ord), r.delivery_id]));
        return starts.map((s, i) => {
          const deliveryId = ids.get(i + 1);
          if (!deliveryId) throw new Error(`delivery row for ${s.dedup_key} was not written`);
          return { deliveryId, pair: pairs[i] };
        });
      },
    ),
);

/**
 * Planned for each batch: deliveries gains a row per job, and a cached generic plan made while it
 * was small reads the whole table (statement-batch.ts). In one bench/sync.ts run auto_explain
 * showed 545 of these updates doing so, and sequential scans of deliveries read 3.5 million rows
 * (12 thousand planned per batch). So the batch goes as one simple query, its rows in a JSON
 * literal: one message and one round trip. Sent unprepared with a parameter instead (sql.unsafe
 * with values), postgres.js first asks Postgres to describe the statement and waits for the
 * answer: two round trips and two socket writes per batch (counted with strace on `trackline start`).
 */
function finishDeliveries(finishes: DeliveryFinish[]): string {
  return `
  update deliveries d set status = v.status, last_error = v.error, result = v.result, updated_at = now(),
    attempt_log = case when jsonb_array_length(d.attempt_log) = 0 then d.attempt_log
      else jsonb_set(d.attempt_log, array[(jsonb_array_length(d.attempt_log) - 1)::text],
        d.attempt_log -> (jsonb_array_length(d.attempt_log) - 1) || jsonb_build_object('endedAt', now(), 'status', v.status, 'error', v.error)) end
  from (select * from jsonb_to_recordset(${jsonLiteral(finishes)}) as v(id uuid, status text, error text, result jsonb) limit ${finishes.length}) v
  where d.id = v.id`;
}

/**
 * `value` as a jsonb literal. An escape string (E'...') means the same whatever the server's
 * standard_conforming_strings: only the backslash and the quote are special, and both are escaped.
 * The quote is doubled rather than backslashed: a server with backslash_quote = off refuses \'.
 */
export function jsonLiteral(value: unknown): string {
  return `E'${JSON.stringify(value).replace(/\\/g, '\\\\').replace(/'/g, "''")}'::jsonb`;
}

const finishBatch = batchPerHandle(
  (sql: Sql) =>
    new StatementBatch<DeliveryFinish, void>(async (finishes) => {
      // The last attempt entry gets its end, status and error.
      await sql.unsafe(finishDeliveries(finishes));
      return finishes.map(() => undefined);
    }),
);

type JobRef = { id?: string; attemptsMade: number; name: string; log?(row: string): Promise<unknown> };

function deliveryStart(
  job: JobRef,
  kind: string,
  connectionId: string,
  itemKey: string | null,
  request: Record<string, unknown>,
  requestId: string | undefined,
): DeliveryStart {
  return {
    kind,
    connection_id: connectionId,
    item_key: itemKey,
    dedup_key: `job:${job.id}`,
    attempt: job.attemptsMade + 1,
    request,
    job_id: job.id ?? null,
    request_id: requestId ?? null,
  };
}

/** What follows a job's delivery row being written, before the job goes on. */
async function started(job: JobRef, id: string, kind: string, requestId: string | undefined): Promise<void> {
  // Tracker calls of this attempt carry only the delivery id: this lets their log lines name the request.
  bindDeliveryContext(id, { requestId, kind, job: job.id });
  // A retried job names its delivery in its log (Bull Board's Logs tab), where an operator looking
  // at a job that had trouble finds it; failures add their own line (noteJobFailure). A first
  // attempt skips the line: one more Redis call per job was ~4% of a worker's CPU (bench/sync.ts),
  // and the delivery of any job is found by its job id (deliveries.job_id).
  if (job.attemptsMade > 0)
    await job.log?.(`attempt ${job.attemptsMade + 1}: delivery ${id}${requestId ? `, request ${requestId}` : ''}`).catch(() => undefined);
}

/** The outbound delivery row of a job: one per BullMQ job, updated on every attempt. */
export async function startJobDelivery(
  sql: Sql,
  job: JobRef,
  kind: string,
  connectionId: string,
  itemKey: string | null,
  request: Record<string, unknown>,
  requestId?: string,
): Promise<string> {
  const id = await startBatch(sql).run(deliveryStart(job, kind, connectionId, itemKey, request, requestId));
  await started(job, id, kind, requestId);
  return id;
}

/**
 * A reconcile job's delivery row, written with the first read of its pair (`startWithPairBatch`):
 * the pair as `loadPair` would answer it, read in the same statement.
 */
export async function startJobDeliveryWithPair(
  sql: Sql,
  job: JobRef,
  kind: string,
  pair: { connectionId: string; itemKey: string },
  request: Record<string, unknown>,
  requestId?: string,
): Promise<{ deliveryId: string; pair: LoadedPair }> {
  const start = deliveryStart(job, kind, pair.connectionId, pair.itemKey, request, requestId);
  const result = await startWithPairBatch(sql).run({ ...start, connection_id: pair.connectionId, item_key: pair.itemKey });
  await started(job, result.deliveryId, kind, requestId);
  return result;
}

export async function finishDelivery(
  sql: Sql,
  id: string,
  status: 'succeeded' | 'failed' | 'retrying' | 'waiting',
  result: { error?: string; outcome?: Record<string, unknown> },
): Promise<void> {
  await finishBatch(sql).run({ id, status, error: result.error ?? null, result: result.outcome ?? null });
}

/** A failed attempt's line in the job's log: which delivery, and why. A failed write only loses the line. */
export async function noteJobFailure(
  job: { attemptsMade: number; log?(row: string): Promise<unknown> },
  deliveryId: string,
  message: string,
): Promise<void> {
  await job.log?.(`attempt ${job.attemptsMade + 1} failed: delivery ${deliveryId}: ${message}`).catch(() => undefined);
}
