import type { Sql } from '../db/client.ts';
import type { CoalesceState } from './coalesce-state.ts';

/**
 * Coalescing flags as rows of the unlogged `coalesce_flags` table (migration 0010) with an expiry
 * on the server's clock: a flag is taken by an upsert that only overwrites an expired row, so two
 * processes cannot both take it; one statement per step, as one pipeline is in Redis. A pair's
 * two rows stay (expired) after use and are reused by its next sync: at most two per pair.
 */
export class PostgresCoalesceState implements CoalesceState {
  constructor(
    private readonly sql: Sql,
    private readonly keyPrefix: string,
  ) {}

  private windowKey = (pair: string) => `${this.keyPrefix}:recent:${pair}`;
  private burstKey = (pair: string) => `${this.keyPrefix}:burst:${pair}`;

  async takeWindow(pair: string, windowMs: number): Promise<{ taken: boolean; burstLeftMs: number }> {
    const [row] = await this.sql<{ taken: boolean; burst_left: string }[]>`
      with taken as (${this.take(this.windowKey(pair), windowMs)})
      select exists (select 1 from taken) as taken, ${this.left(this.burstKey(pair))} as burst_left`;
    return { taken: row!.taken, burstLeftMs: Number(row!.burst_left) };
  }

  async joinBurst(pair: string, burstMs: number): Promise<number> {
    const [row] = await this.sql<{ window_left: string }[]>`
      with taken as (${this.take(this.burstKey(pair), burstMs)})
      select ${this.left(this.windowKey(pair))} as window_left from (select count(*) from taken) t`;
    return Number(row!.window_left);
  }

  async releaseWindow(pair: string): Promise<void> {
    await this.sql`delete from coalesce_flags where key = ${this.windowKey(pair)}`;
  }

  async endBurst(pair: string): Promise<void> {
    await this.sql`delete from coalesce_flags where key = ${this.burstKey(pair)}`;
  }

  /** Sets the flag for `ms` unless it holds; returns a row when it was set. */
  private take(key: string, ms: number) {
    return this.sql`
      insert into coalesce_flags (key, expires_at_ms) values (${key}, pacing_now_ms() + ${ms}::bigint)
      on conflict (key) do update set expires_at_ms = excluded.expires_at_ms
        where coalesce_flags.expires_at_ms <= pacing_now_ms()
      returning 1`;
  }

  /** Milliseconds the flag still holds (0: none). */
  private left(key: string) {
    return this.sql`coalesce((select greatest(0, expires_at_ms - pacing_now_ms()) from coalesce_flags where key = ${key}), 0)`;
  }
}
