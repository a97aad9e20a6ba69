import type { Sql } from '../db/client.ts';
import type { PacingStore, WindowLimit } from './pacing-store.ts';

/**
 * The pacers' shared state in PostgreSQL, for running without Redis: the same semantics as the
 * Redis store, one statement per operation. Windows and in-flight events are rows of the unlogged
 * `pacing_events` table; check-and-record is the `pacing_acquire` function, which holds an
 * advisory lock on the key for its transaction, so two processes cannot both take the last slot;
 * times are the server's clock (migration 0009; the wait estimate, `pacing_estimate`, as migration
 * 0011 corrected it). Rows of a key are pruned as it is used.
 */
export class PostgresPacingStore implements PacingStore {
  constructor(private readonly sql: Sql) {}

  async acquire(key: string, member: string, windows: readonly WindowLimit[], inFlight: { max: number; ttlMs: number }): Promise<number> {
    const [row] = await this.sql<{ answer: string }[]>`
      select pacing_acquire(${key}, ${member}, ${inFlight.max}::int, ${inFlight.ttlMs}::bigint,
        ${windows.map((w) => w.limit)}::int[], ${windows.map((w) => w.perMs)}::bigint[]) as answer`;
    return Number(row!.answer);
  }

  async estimate(key: string, ahead: number, windows: readonly WindowLimit[]): Promise<number> {
    const [row] = await this.sql<{ answer: string }[]>`
      select pacing_estimate(${key}, ${ahead}::int, ${windows.map((w) => w.limit)}::int[], ${windows.map((w) => w.perMs)}::bigint[]) as answer`;
    return Number(row!.answer);
  }

  async settle(key: string, member: string, _longestMs: number): Promise<void> {
    // Moved to now, or added again if acquire's pruning already dropped it (a call answered after
    // its window had passed), and no longer in flight.
    await this.sql`
      insert into pacing_events (key, member, at_ms, in_flight_until_ms) values (${key}, ${member}, pacing_now_ms(), null)
      on conflict (key, member) do update set at_ms = excluded.at_ms, in_flight_until_ms = null`;
  }

  async release(key: string, member: string): Promise<void> {
    await this.sql`delete from pacing_events where key = ${key} and member = ${member}`;
  }

  async extendPause(key: string, ms: number, reason: string): Promise<void> {
    // Only extend: a shorter pause must not cut a longer one short.
    await this.sql`
      insert into pacing_pauses (key, until_ms, reason) values (${key}, pacing_now_ms() + ${ms}::bigint, ${reason})
      on conflict (key) do update set until_ms = excluded.until_ms, reason = excluded.reason
        where pacing_pauses.until_ms < excluded.until_ms`;
  }

  async pauseLeft(key: string): Promise<number> {
    const [row] = await this.sql<{ left: string }[]>`
      select greatest(0, until_ms - pacing_now_ms()) as left from pacing_pauses where key = ${key}`;
    return row ? Number(row.left) : 0;
  }

  async pauseReason(key: string): Promise<string | null> {
    const [row] = await this.sql<{ reason: string }[]>`
      select reason from pacing_pauses where key = ${key} and until_ms > pacing_now_ms()`;
    return row?.reason ?? null;
  }
}
