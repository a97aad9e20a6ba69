/**
 * The state pacers share between processes, behind one interface so it can live in Redis
 * (redis-pacing-store.ts, the default) or in PostgreSQL (postgres-pacing-store.ts, for running
 * without Redis). Each operation is atomic across every process using the same store, and times
 * come from the store's clock, not the caller's, so processes with skewed clocks agree.
 *
 * A window key holds the times of recent events (calls let through); an event may also be "in
 * flight" (between acquire and settle/release) for at most its TTL. A pause key holds until when
 * every caller must wait, and why.
 */
export interface WindowLimit {
  limit: number;
  perMs: number;
}

export interface PacingStore {
  /**
   * Records `member` now if one more event fits every window (and fewer than `inFlight.max` are
   * in flight, when max > 0): answers 0. Otherwise records nothing and answers -1 (the in-flight
   * limit is reached) or the milliseconds until the windows have room.
   */
  acquire(key: string, member: string, windows: readonly WindowLimit[], inFlight: { max: number; ttlMs: number }): Promise<number>;
  /**
   * Milliseconds an event would wait with `ahead` others before it (0: it would pass now): every
   * window's `limit` of them queued past the window's room adds one more window. Records nothing.
   */
  estimate(key: string, ahead: number, windows: readonly WindowLimit[]): Promise<number>;
  /** Moves `member` to now (adding it again if the window dropped it) and ends its time in flight. */
  settle(key: string, member: string, longestMs: number): Promise<void>;
  /** Forgets `member` (let through, never sent). */
  release(key: string, member: string): Promise<void>;
  /** Pauses `key` for `ms` from now, unless a longer pause already holds. */
  extendPause(key: string, ms: number, reason: string): Promise<void>;
  /** Milliseconds left of the pause on `key` (0: none). */
  pauseLeft(key: string): Promise<number>;
  pauseReason(key: string): Promise<string | null>;
}
