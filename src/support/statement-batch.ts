import type { Sql } from '../db/client.ts';
import { GroupCommit, type GroupCommitOptions } from './group-commit.ts';
import { isStatementTimeout, isStorageUnavailable } from './storage-errors.ts';

/**
 * One SQL statement for many concurrent callers. Each caller asks for its own row ("start this
 * delivery", "load this pair"); the calls made in one event loop turn go to Postgres as ONE
 * statement over all their inputs (GroupCommit forms the batches), and each caller gets its own
 * answer back.
 *
 * Why: a worker runs dozens of reconciles at once, each a handful of single-row statements, and
 * on this kind of machine the per-statement cost (a socket write and a wake-up on both sides, a
 * commit, the executor's start) outweighs the row's own work. bench/sync.ts measured it: leaving
 * out two of a sync's five statements took the throughput from 373 to 560 changes/s.
 *
 * `run` must return one answer per input, in input order; a statement covering several inputs is
 * atomic for all of them, which is never weaker than a statement each. When it fails for a batch
 * (one input's bad value, a constraint), each input is retried alone, so one caller's fault fails
 * only that caller; an unreachable database fails the batch at once.
 *
 * The statements read their inputs from a parameter (jsonb_to_recordset, unnest) wrapped in
 * `(select ... limit <count>)`. Postgres guesses 100 rows for such a function, and for 100 rows a
 * join against a table of some thousands is cheaper by sequential scan than by index, so without
 * the LIMIT a batch of five read every delivery and mapping (bench/sync.ts: event-to-write p50
 * went from 9 to 27-36 ms). The LIMIT gives the planner the real count (a generic plan guesses 10).
 *
 * The count is not enough on a table that grows. A connection switches a prepared statement to a
 * cached generic plan after five runs, and one made while the table was small (a new install, a
 * benchmark, a first import) joins by reading the whole table; Postgres keeps it until the next
 * ANALYZE. A statement that joins against a table that keeps growing is therefore either planned
 * for each batch, sent unprepared (`sql.unsafe`, the delivery finishes in jobs/deliveries.ts), or
 * run in a transaction that rules out sequential scans, hash and merge joins (the events intake),
 * so that the plan it caches can only look rows up by index.
 * test/integration/query-plans.test.ts grows both tables behind their plans' backs.
 */
export class StatementBatch<T, R> {
  private readonly group: GroupCommit<T, R>;

  constructor(run: (inputs: T[]) => Promise<R[]>, options: GroupCommitOptions = { maxInFlight: 4, maxBatch: 64 }) {
    this.group = new GroupCommit(async (batch) => {
      try {
        const answers = await run(batch.map((entry) => entry.item));
        batch.forEach((entry, i) => entry.resolve(answers[i]));
      } catch (error) {
        // Storage away, or the statement timed out (each alone would wait out the same lock
        // again): the whole batch fails. Otherwise one bad input is found by running each alone.
        if (batch.length === 1 || isStorageUnavailable(error) || isStatementTimeout(error)) throw error;
        await Promise.all(
          batch.map(async (entry) => {
            try {
              entry.resolve((await run([entry.item]))[0]);
            } catch (alone) {
              entry.reject(alone);
            }
          }),
        );
      }
    }, options);
  }

  /** Settles with this input's answer once its batch's statement has run. */
  run(input: T): Promise<R> {
    return this.group.accept(input);
  }

  get stats(): GroupCommit<T, R>['stats'] {
    return this.group.stats;
  }
}

/**
 * One batch per database handle, made on first use: every caller of a statement on one `sql`
 * shares it, whichever job or command it runs for. (A WeakMap, so a closed handle's batch goes
 * with it.)
 */
export function batchPerHandle<T, R>(make: (sql: Sql) => StatementBatch<T, R>): (sql: Sql) => StatementBatch<T, R> {
  const batches = new WeakMap<Sql, StatementBatch<T, R>>();
  return (sql) => {
    let batch = batches.get(sql);
    if (!batch) batches.set(sql, (batch = make(sql)));
    return batch;
  };
}
