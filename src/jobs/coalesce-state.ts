/**
 * What the reconcile jobs of every process share to coalesce a pair's syncs (reconcile-job.ts,
 * coalesceWait): the pair's sync window (taken by the sync that runs at a burst's leading edge)
 * and the burst under way. Both are flags that expire; the store's clock decides when. Redis
 * (redis-coalesce-state.ts, the default) or PostgreSQL (postgres-coalesce-state.ts, for running
 * without Redis); each operation is atomic across processes.
 */
export interface CoalesceState {
  /** Takes the pair's window for `windowMs` if it is free; answers whether it was, and the ms left of its burst (0: none). */
  takeWindow(pair: string, windowMs: number): Promise<{ taken: boolean; burstLeftMs: number }>;
  /** Starts the pair's burst for `burstMs` unless one is under way; answers the ms left of its window (0: none). */
  joinBurst(pair: string, burstMs: number): Promise<number>;
  releaseWindow(pair: string): Promise<void>;
  endBurst(pair: string): Promise<void>;
}
