import type { Logger } from 'pino';
import type { Sql } from '../db/client.ts';
import { newInboundBatchJobId, type Queues } from '../queues/queues.ts';
import type { AcceptedWebhook } from './record-webhook.ts';
import { GroupCommit, type GroupCommitOptions, type GroupEntry } from '../support/group-commit.ts';
import { BoundedBackground } from '../support/bounded-background.ts';

/**
 * Group commit for webhook intake. Each accepted webhook used to cost one INSERT (one commit, one
 * WAL flush) and one Redis round trip; under load the api spent its time waiting on those. The
 * batcher collects the deliveries that arrive within a few milliseconds of each other, records
 * them with ONE multi-row INSERT (one statement, so one atomic commit), answers each request once
 * that commit is done (GroupCommit forms the batches), and enqueues ONE inbound job for all of
 * them (`InboundBatchJob`; its id is stored on each row, so the outbox sweep can tell a delivery
 * whose job is still queued from one whose job was lost). Nothing is answered before the commit,
 * so DESIGN §5.1 (an accepted request is durable) holds exactly as before.
 *
 * The enqueue runs beside the answer, not before it (BoundedBackground): the row in Postgres is the
 * record, the job only wakes a worker, and a job that never arrives (a crash, Redis away) is the
 * outbox sweep's to enqueue, as it always was when an enqueue failed. Waiting for Redis too cost
 * every request a second round trip: bench/intake.ts went from ~4,200 to ~5,750 webhooks/s
 * without it. At most `maxBackgroundEnqueues` batches wait for Redis at once.
 *
 * Per request the outcome is what `recordWebhook` gave it alone:
 * - a delivery whose dedup key is already stored, or repeated earlier in the same batch, is a
 *   duplicate (answered 200 by the route) once the batch has committed;
 * - when the batch statement fails (one payload Postgres refuses, a dropped connection), each
 *   delivery is retried on its own, so a bad one fails only its own request and its neighbours
 *   are still recorded;
 * - an enqueue failure after the commit is logged and the delivery stays "received": the outbox
 *   sweep enqueues it (as before), and the request is still accepted.
 */

export interface WebhookRecord {
  connectionId: string;
  dedupKey: string;
  eventName: string;
  headers: Record<string, string>;
  /**
   * The payload as the JSON text that was received (and already parsed once, so known to be
   * valid). It is stored from this text: serializing the parsed value again cost as much as
   * parsing it, and the text keeps numbers exactly as sent.
   */
  payloadJson: string;
  requestId?: string;
}

/** What a webhook delivery's `request` column holds: `{ event, headers, payload }`, as JSON text. */
function requestJson(r: WebhookRecord): string {
  return `{"event":${JSON.stringify(r.eventName)},"headers":${JSON.stringify(r.headers)},"payload":${r.payloadJson}}`;
}

/** Between the requests' JSON texts in the batch statement's one parameter (chr(1) there). */
const SEPARATOR = '\u0001';

type Pending = GroupEntry<WebhookRecord, AcceptedWebhook>;

export interface WebhookBatcherOptions extends GroupCommitOptions {
  /** Batches whose job may still be on its way to Redis after their requests were answered. */
  maxBackgroundEnqueues?: number;
}

export class WebhookBatcher {
  private readonly group: GroupCommit<WebhookRecord, AcceptedWebhook>;
  private fallbacks = 0;
  private readonly enqueuing: BoundedBackground;

  constructor(
    private readonly sql: Sql,
    private readonly queues: Pick<Queues, 'enqueueInbound' | 'enqueueInboundBatch'>,
    private readonly log: Pick<Logger, 'warn'>,
    options: WebhookBatcherOptions = {},
  ) {
    // 64 rows keep one statement's parameters small (its arrays hold one value per row).
    this.group = new GroupCommit((batch) => this.commit(batch), {
      maxInFlight: options.maxInFlight ?? 4,
      maxBatch: options.maxBatch ?? 64,
    });
    this.enqueuing = new BoundedBackground(Math.max(0, options.maxBackgroundEnqueues ?? 32));
  }

  /** Resolves when every job of an answered batch has been handed to Redis (or failed to be). */
  drained(): Promise<void> {
    return this.enqueuing.drained();
  }

  /** Resolves once the delivery is committed; its job is enqueued beside the answer (see drained()). */
  accept(record: WebhookRecord): Promise<AcceptedWebhook> {
    return this.group.accept(record);
  }

  /** Counters for tests and metrics: batches, deliveries, the largest batch, fallbacks to one by one. */
  get stats() {
    const { batches, entries, largest } = this.group.stats;
    return { batches, deliveries: entries, largest, fallbacks: this.fallbacks };
  }

  private async commit(batch: Pending[]): Promise<void> {
    const keyOf = (r: WebhookRecord) => `${r.connectionId}\u0000${r.dedupKey}`;
    // A redelivery inside the same batch is a duplicate of its first copy: inserting both in one
    // statement would make the answer depend on row order.
    const firsts = new Map<string, Pending>();
    for (const p of batch) if (!firsts.has(keyOf(p.item))) firsts.set(keyOf(p.item), p);

    const jobId = newInboundBatchJobId();
    let inserted: Map<string, string>;
    try {
      // One statement, the same for every batch size (prepared once). The requests travel as ONE
      // text, separated by U+0001, and Postgres parses each piece into its row's jsonb: a text[]
      // parameter made postgres.js escape every quote of every payload in JavaScript (a tenth of
      // the intake's CPU), and one JSON array text made Postgres build the whole array's jsonb and
      // then copy each element out of it (9-15 us of its CPU per row more than this, measured from
      // /proc on batches of twelve 1.5 kB payloads). U+0001 cannot occur in any piece: JSON text
      // has no raw control characters (JSON.parse accepted the payload; JSON.stringify escapes the
      // rest).
      const records = [...firsts.values()].map((p) => p.item);
      const rows = await this.sql<{ id: string; connection_id: string; dedup_key: string }[]>`
        insert into deliveries (direction, kind, connection_id, dedup_key, status, attempts, request, request_id, job_id)
        select 'in', 'webhook', t.connection_id, t.dedup_key, 'received', 1, r.request::jsonb, t.request_id, ${jobId}::text
        from unnest(${records.map((r) => r.connectionId)}::text[], ${records.map((r) => r.dedupKey)}::text[], ${records.map((r) => r.requestId ?? null)}::text[])
            with ordinality as t(connection_id, dedup_key, request_id, n)
          join string_to_table(${records.map(requestJson).join(SEPARATOR)}::text, chr(1)) with ordinality as r(request, n) on r.n = t.n
        on conflict (direction, connection_id, dedup_key) do nothing
        returning id, connection_id, dedup_key`;
      inserted = new Map(rows.map((row) => [`${row.connection_id}\u0000${row.dedup_key}`, row.id]));
    } catch {
      // The statement is atomic: nothing of it was stored. One by one, each request gets its own
      // outcome (and a bad payload its own error).
      this.fallbacks++;
      await this.commitEach(batch);
      return;
    }

    const accepted: { pending: Pending; deliveryId: string }[] = [];
    for (const p of batch) {
      const key = keyOf(p.item);
      const id = inserted.get(key);
      if (id !== undefined && firsts.get(key) === p) accepted.push({ pending: p, deliveryId: id });
    }
    // enqueue() never rejects: a failure is logged and left to the outbox sweep.
    await this.enqueuing.add(
      this.enqueue(
        accepted.map((a) => ({ record: a.pending.item, deliveryId: a.deliveryId })),
        jobId,
      ),
    );
    const acceptedSet = new Set(accepted.map((a) => a.pending));
    for (const a of accepted) a.pending.resolve({ deliveryId: a.deliveryId, duplicate: false });
    for (const p of batch) if (!acceptedSet.has(p)) p.resolve({ deliveryId: null, duplicate: true });
  }

  /** The fallback: the same statement per delivery, in arrival order, each settling its own request. */
  private async commitEach(batch: Pending[]): Promise<void> {
    for (const p of batch) {
      const r = p.item;
      try {
        const rows = await this.sql<{ id: string }[]>`
          insert into deliveries (direction, kind, connection_id, dedup_key, status, attempts, request, request_id)
          values ('in', 'webhook', ${r.connectionId}, ${r.dedupKey}, 'received', 1,
            ${requestJson(r)}::text::jsonb, ${r.requestId ?? null})
          on conflict (direction, connection_id, dedup_key) do nothing
          returning id`;
        if (rows.length === 0) {
          p.resolve({ deliveryId: null, duplicate: true });
          continue;
        }
        await this.enqueue([{ record: r, deliveryId: rows[0].id }]);
        p.resolve({ deliveryId: rows[0].id, duplicate: false });
      } catch (error) {
        p.reject(error);
      }
    }
  }

  /** One job for a committed batch (under its stored job id), or the per-delivery job of the fallback. */
  private async enqueue(items: { record: WebhookRecord; deliveryId: string }[], batchJobId?: string): Promise<void> {
    if (items.length === 0) return;
    const jobs = items.map(({ record, deliveryId }) => ({ deliveryId, connectionId: record.connectionId, requestId: record.requestId }));
    try {
      if (batchJobId) await this.queues.enqueueInboundBatch(batchJobId, jobs);
      else await this.queues.enqueueInbound(jobs);
    } catch (error) {
      // Committed already: the outbox sweep picks up deliveries still "received".
      this.log.warn(
        { err: (error as Error).message, deliveries: items.length },
        'enqueue failed after commit; the outbox sweep will pick them up',
      );
    }
  }
}
