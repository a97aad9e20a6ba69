import type { Logger } from 'pino';
import type { Sql } from '../db/client.ts';
import type { ConnectionRegistry } from '../connections/registry.ts';
import type { Queues } from '../queues/queues.ts';
import { recordEvents, type AcceptedEvent, type EventsRequest } from './record-events.ts';
import { GroupCommit, type GroupCommitOptions, type GroupEntry } from '../support/group-commit.ts';
import { BoundedBackground } from '../support/bounded-background.ts';

/**
 * Group commit for POST /v1/events. Each request used to be its own transaction: BEGIN, six or
 * so statements, COMMIT, each a round trip, and the api spent its time waiting on them (bench/
 * intake.ts: about 500 requests per second at 50 concurrent callers). The batcher records the
 * requests that arrive together (GroupCommit forms the batches) in ONE transaction, as if each
 * had been recorded alone after the one before (`recordEvents` applies them in arrival order),
 * answers each request once that transaction has committed, and enqueues their reconciles with
 * one addBulk beside the answers (BoundedBackground: a reconcile that never reaches Redis is the
 * outbox sweep's, since the item's committed version is ahead of its mappings). Nothing is
 * answered before the commit (DESIGN §5.1).
 *
 * Per request the outcome is what it would have been alone:
 * - an Idempotency-Key already used answers the first request's answer (or a refusal when the
 *   body differs); a key used twice in one batch sends the second copy to the next batch, where it
 *   finds the first one's committed answer;
 * - when the batch transaction fails (a value Postgres refuses, a dropped connection), each
 *   request is recorded on its own, so a bad one fails only itself;
 * - an enqueue failure after the commit is logged: the outbox sweep enqueues the work.
 */

export interface EventsRecord extends EventsRequest {
  /** With an Idempotency-Key: who sent it, the key, and the hash of the body. */
  idempotency?: { principal: string; key: string; requestHash: string };
}

export type EventsOutcome =
  | { kind: 'recorded'; accepted: AcceptedEvent[] }
  | { kind: 'replay'; status: number; response: unknown }
  | { kind: 'key_reused' };

type Pending = GroupEntry<EventsRecord, EventsOutcome>;

export interface EventBatcherOptions extends GroupCommitOptions {
  /** Batches whose reconciles may still be on their way to Redis after their requests were answered. */
  maxBackgroundEnqueues?: number;
}

export class EventBatcher {
  private readonly group: GroupCommit<EventsRecord, EventsOutcome>;
  private fallbacks = 0;
  /** Reconcile enqueues still on their way to Redis after their requests were answered. */
  private readonly enqueuing: BoundedBackground;

  constructor(
    private readonly sql: Sql,
    private readonly connections: ConnectionRegistry,
    private readonly queues: Pick<Queues, 'enqueueReconcile'>,
    private readonly log: Pick<Logger, 'warn'>,
    options: EventBatcherOptions = {},
  ) {
    // 64 requests of up to 500 events each stay one reasonable transaction.
    this.group = new GroupCommit((batch) => this.commitBatch(batch), {
      maxInFlight: options.maxInFlight ?? 4,
      maxBatch: options.maxBatch ?? 64,
    });
    this.enqueuing = new BoundedBackground(Math.max(0, options.maxBackgroundEnqueues ?? 32));
  }

  /** Resolves once the request's events are committed; their reconciles are enqueued beside the answer. */
  accept(record: EventsRecord): Promise<EventsOutcome> {
    return this.group.accept(record);
  }

  /** Resolves when every reconcile of an answered request has been handed to Redis (or failed to be). */
  drained(): Promise<void> {
    return this.enqueuing.drained();
  }

  /** Counters for tests and metrics: batches, requests, the largest batch, fallbacks to one by one. */
  get stats() {
    const { batches, entries, largest } = this.group.stats;
    return { batches, requests: entries, largest, fallbacks: this.fallbacks };
  }

  private async commitBatch(batch: Pending[]): Promise<void> {
    // A key twice in one batch: the later copy waits for the next batch and its committed answer.
    const seen = new Set<string>();
    const now: Pending[] = [];
    const later: Pending[] = [];
    for (const p of batch) {
      const id = p.item.idempotency && `${p.item.idempotency.principal}\u0000${p.item.idempotency.key}`;
      if (id && seen.has(id)) later.push(p);
      else {
        if (id) seen.add(id);
        now.push(p);
      }
    }
    if (later.length) this.group.retryLater(later);
    try {
      await this.commit(now);
    } catch {
      // The transaction is atomic: nothing of it was stored. One by one, each request gets its
      // own outcome (and a bad one its own error).
      this.fallbacks++;
      for (const p of now) {
        try {
          await this.commit([p]);
        } catch (error) {
          p.reject(error);
        }
      }
    }
  }

  /** One transaction for `batch`; settles every request in it, or throws having settled none. */
  private async commit(batch: Pending[]): Promise<void> {
    const outcomes = new Map<Pending, EventsOutcome>();
    const reconciles = await this.sql.begin(async (tx) => {
      // Every statement here finds rows by key through an index, whatever the tables' size when it
      // was planned: these statements join a batch of keys against items (and idempotency_keys),
      // and a generic plan cached while items was small read the whole table on every batch (see
      // statement-batch.ts; under bench/intake.ts's events load, 1,391 batches read 10.2 million
      // item rows that way). Ruling out sequential scans, hash and merge joins for this transaction
      // leaves the planner index lookups in a nested loop, so each connection's cached plans stay
      // right as the tables grow. It used to force a fresh plan for every batch instead
      // (plan_cache_mode = force_custom_plan), which cost Postgres more than the statements' own
      // work outside the commit: a batch of ten events took 700 us to plan and ~2.4 ms to run.
      // Not awaited: it goes out in one socket write with the batch's first statements (pipelined
      // on the transaction's one connection, which runs them in order). Should it fail, the
      // transaction is aborted, so the next statement fails and the batch with it; the rejection
      // itself is caught here, since nothing awaits it and an unhandled one would end the process.
      void tx`select set_config('enable_seqscan', 'off', true), set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)`
        .execute()
        .catch(() => undefined);
      const toRecord = await this.claimKeys(tx as unknown as Sql, batch, outcomes);
      if (toRecord.length === 0) return [];
      const recorded = await recordEvents(
        tx as unknown as Sql,
        toRecord.map((p) => p.item),
        this.connections,
      );
      toRecord.forEach((p, i) => outcomes.set(p, { kind: 'recorded', accepted: recorded.requests[i].accepted }));
      const answers = toRecord.flatMap((p, i) =>
        p.item.idempotency
          ? [{ principal: p.item.idempotency.principal, key: p.item.idempotency.key, response: { events: recorded.requests[i].accepted } }]
          : [],
      );
      if (answers.length) {
        // `limit`: the planner's row count for the JSON input (see src/support/statement-batch.ts).
        await tx`update idempotency_keys k set status = 202, response = a.response
          from (select * from jsonb_to_recordset(${tx.json(answers as never)}) as a(principal text, key text, response jsonb) limit ${answers.length}) a
          where k.principal = a.principal and k.key = a.key`;
      }
      return recorded.reconciles;
    });
    if (reconciles.length) await this.enqueuing.add(this.enqueue(reconciles));
    for (const p of batch) p.resolve(outcomes.get(p)!);
  }

  /** Never rejects: the work is committed already, so a failure is logged and left to the sweep. */
  private async enqueue(reconciles: Parameters<Queues['enqueueReconcile']>[0]): Promise<void> {
    try {
      await this.queues.enqueueReconcile(reconciles);
    } catch (error) {
      // The outbox sweep enqueues it once Redis answers again. Still accepted.
      this.log.warn(
        { err: (error as Error).message, reconciles: reconciles.length },
        'enqueue failed after commit; the outbox sweep will pick it up',
      );
    }
  }

  /**
   * Takes each request's Idempotency-Key. A key taken by an earlier request is answered from that
   * request's stored answer (a concurrent one still recording is waited for by Postgres on the
   * key's row); the requests left to record are returned in arrival order.
   */
  private async claimKeys(tx: Sql, batch: Pending[], outcomes: Map<Pending, EventsOutcome>): Promise<Pending[]> {
    const keyed = batch.filter((p) => p.item.idempotency);
    if (keyed.length === 0) return batch;
    // In one order for every batch, so two batches taking overlapping keys cannot deadlock.
    const keys = keyed
      .map((p) => p.item.idempotency!)
      .sort((a, b) => (a.principal === b.principal ? (a.key < b.key ? -1 : a.key > b.key ? 1 : 0) : a.principal < b.principal ? -1 : 1));
    const claimed = await tx<{ principal: string; key: string }[]>`
      insert into idempotency_keys (principal, key, request_hash, status, response)
      select k.principal, k.key, k.request_hash, 0, '{}'::jsonb
      from jsonb_to_recordset(${tx.json(keys.map((k) => ({ principal: k.principal, key: k.key, request_hash: k.requestHash })) as never)})
        as k(principal text, key text, request_hash text)
      on conflict do nothing returning principal, key`;
    const taken = new Set(claimed.map((c) => `${c.principal}\u0000${c.key}`));
    const others = keyed.filter((p) => !taken.has(`${p.item.idempotency!.principal}\u0000${p.item.idempotency!.key}`));
    if (others.length) {
      const priors = await tx<{ principal: string; key: string; request_hash: string; status: number; response: unknown }[]>`
        select i.principal, i.key, i.request_hash, i.status, i.response from idempotency_keys i
        join (select * from jsonb_to_recordset(${tx.json(others.map((p) => ({ principal: p.item.idempotency!.principal, key: p.item.idempotency!.key })) as never)})
          as k(principal text, key text) limit ${others.length}) k on k.principal = i.principal and k.key = i.key`;
      const byKey = new Map(priors.map((r) => [`${r.principal}\u0000${r.key}`, r]));
      for (const p of others) {
        const prior = byKey.get(`${p.item.idempotency!.principal}\u0000${p.item.idempotency!.key}`)!;
        outcomes.set(
          p,
          prior.request_hash === p.item.idempotency!.requestHash
            ? { kind: 'replay', status: prior.status, response: prior.response }
            : { kind: 'key_reused' },
        );
      }
    }
    return batch.filter((p) => !outcomes.has(p));
  }
}
