import type { PacingStore } from './pacing-store.ts';
import { type WindowLimit, WindowGate } from './window-gate.ts';
import { RateLimitedError } from './rate-limited-error.ts';

/**
 * Paces every call made with one tracker credential, across every worker process, through the
 * pacing store (Redis by default, or PostgreSQL: pacing-store.ts).
 *
 * Two mechanisms, because they answer different signals:
 * - the budget: trackers count requests per window (Plane: a sliding window of 60 per minute,
 *   docs/trackers.md 2.4; GitHub: 5,000 per hour), they do not ask for even spacing. So a call
 *   goes out at once while the window has room, and waits only for the moment the window has
 *   room again (WindowGate: the times of the calls sent in the last window, shared in the store). A
 *   create that needs four calls sends them together instead of one a second, and a backlog
 *   still never sends more than the budget in any window;
 * - a shared pause (one key with a TTL in the store) obeys the tracker when it says stop (a 429's
 *   `Retry-After`, remaining = 0 until reset): every process sees it, so a 429 slows the whole
 *   connection and not just the job that got it.
 *
 * Each call is counted against the calls actually sent: it is recorded when it is let through and
 * moved to the moment of its answer once answered (it reached the tracker somewhere in between;
 * a cold process's first request can leave tens of ms after its check, and a busy event loop can
 * hold one back). The window is a little wider than the tracker's (`SEND_WINDOW_SLACK_MS`) for
 * network jitter. Bottleneck, which paced before, spaces calls evenly (`minTime`) or refills a
 * reservoir on a fixed interval; neither is the sliding window the trackers count by.
 *
 * In one process, calls wait for the budget in line (first come, first served), and only the
 * first in line asks the store: a backlog of 64 jobs costs one store call per freed slot, not 64.
 * A call whose wait is longer than `inlineWaitMaxMs` (its place in line counted) throws
 * RateLimitedError so its job steps aside instead of holding a worker slot.
 */
export interface PacerOptions {
  /** Shared id for the credential (a hash: never the credential itself). */
  id: string;
  /** Requests allowed per window; absent means unpaced (only the pause applies). */
  requests?: number;
  perMs?: number;
  /** Further windows the credential must also keep (GitHub's points per minute). */
  extraWindows?: WindowLimit[];
  /** At most this many calls under way at once across every process (GitHub mutations: 1). */
  maxInFlight?: number;
  /** How long a call counts as under way at most: the request timeout, and a little more. */
  inFlightTtlMs?: number;
}

/** How much wider than the tracker's window the send-time check is: room for network jitter. */
export const SEND_WINDOW_SLACK_MS = 25;

export class Pacer {
  private readonly sent: WindowGate | null;
  private pausedUntil = 0;
  private pauseCheckedAt = 0;
  private readonly pauseKey: string;
  /** Calls of this process waiting for the budget, in order; only the first asks the store. */
  private line: Promise<void> = Promise.resolve();
  private waiting = 0;
  /** Counters for /v1/connections and /metrics. */
  readonly stats = { calls: 0, pauses: 0, pausedMs: 0, lastPauseReason: '' as string, heldMs: 0, steppedAside: 0 };

  constructor(
    private readonly store: PacingStore,
    readonly options: PacerOptions,
    keyPrefix: string,
  ) {
    this.pauseKey = `${keyPrefix}:pause:${options.id}`;
    const { requests, perMs } = options;
    this.sent =
      requests && perMs
        ? new WindowGate(
            store,
            `${keyPrefix}:sent:${options.id}`,
            [{ limit: requests, perMs: perMs + SEND_WINDOW_SLACK_MS }, ...(options.extraWindows ?? [])],
            {
              maxInFlight: options.maxInFlight,
              inFlightTtlMs: options.inFlightTtlMs,
            },
          )
        : null;
  }

  /**
   * Runs `fn` when the budget allows. A wait (a pause, or a full window) shorter than
   * `inlineWaitMaxMs` is waited out here; a longer one throws RateLimitedError so the job can step
   * aside (moved to delayed, no attempt used) instead of holding a worker slot.
   */
  async schedule<T>(fn: () => Promise<T>, inlineWaitMaxMs = 5_000): Promise<T> {
    const gate = this.sent;
    if (!gate) {
      await this.waitForPause(inlineWaitMaxMs);
      this.stats.calls++;
      return fn();
    }
    for (;;) {
      await this.waitForPause(inlineWaitMaxMs);
      const call = await this.takeTurn(gate, inlineWaitMaxMs);
      // A pause that began while this call waited for the budget gives the slot back and waits
      // again: sending now would be one more call the tracker refuses.
      if (this.pausedUntil > Date.now()) {
        await gate.release('calls', call).catch(() => undefined);
        continue;
      }
      this.stats.calls++;
      try {
        return await fn();
      } finally {
        // Answered, so it reached the tracker by now: from here on it counts from this moment.
        await gate.settle('calls', call).catch(() => undefined);
      }
    }
  }

  /** Waits for this call's turn in line, then for room in the window; answers the recorded call. */
  private async takeTurn(gate: WindowGate, inlineWaitMaxMs: number): Promise<string> {
    // The place in line is taken before anything is awaited: calls arriving together (a worker's
    // jobs starting at once) each see the ones before them. Taken after the estimate's round trip,
    // as before, every call of a burst saw at most one ahead, was told a second at most, and
    // waited in its worker slot for as long as the whole line took (issue 17).
    const ahead = this.waiting - 1;
    this.waiting++;
    const before = this.line;
    let done!: () => void;
    this.line = new Promise<void>((resolve) => (done = resolve));
    let inLine = false;
    try {
      // Calls queued before this one take the next slots: when the wait for the slot after theirs
      // is already too long, step aside now rather than after waiting in line. The first of them
      // may already be recorded in the window, so it is not counted twice (an estimate on the
      // short side only means this call finds out once it is first in line). The store counts a
      // window for every budget's worth queued ahead (GitHub mutations: a second each).
      if (ahead > 0) {
        const estimate = await gate.estimateWait('calls', ahead);
        if (estimate > inlineWaitMaxMs) {
          this.stats.steppedAside++;
          throw new RateLimitedError(estimate, `${gate.describe()} used up`);
        }
      }
      inLine = true;
      await before;
      const waitedBefore = gate.stats.waitedMs;
      const call = await gate.acquire('calls', inlineWaitMaxMs).catch((error: unknown) => {
        if (error instanceof RateLimitedError) {
          this.stats.steppedAside++;
          throw new RateLimitedError(error.waitMs, `${gate.describe()} used up`);
        }
        throw error;
      });
      this.stats.heldMs += gate.stats.waitedMs - waitedBefore;
      return call;
    } finally {
      this.waiting--;
      // A call that stepped aside before its turn hands its turn on only once the calls before it
      // are done: the one behind it must not ask the store while an earlier one still waits.
      if (inLine) done();
      else void before.then(done);
    }
  }

  /** Pauses every caller of this credential, in every process, for `ms`. */
  async pause(ms: number, reason: string): Promise<void> {
    const until = Date.now() + ms;
    if (until <= this.pausedUntil) return;
    this.pausedUntil = until;
    this.stats.pauses++;
    this.stats.pausedMs += ms;
    this.stats.lastPauseReason = reason;
    // Only extend: a shorter pause must not cut a longer one short.
    await this.store.extendPause(this.pauseKey, ms, reason);
  }

  /** Milliseconds left in the current pause (0 when not paused). */
  async pauseRemaining(): Promise<number> {
    const now = Date.now();
    // Other processes' pauses are read at most every 100 ms: fresh enough for a multi-second
    // Retry-After, without a store round trip on every call.
    if (now - this.pauseCheckedAt > 100) {
      this.pauseCheckedAt = now;
      const ttl = await this.store.pauseLeft(this.pauseKey);
      if (ttl > 0) this.pausedUntil = Math.max(this.pausedUntil, now + ttl);
    }
    return Math.max(0, this.pausedUntil - now);
  }

  private async waitForPause(inlineWaitMaxMs: number): Promise<void> {
    for (;;) {
      const remaining = await this.pauseRemaining();
      if (remaining <= 0) return;
      if (remaining > inlineWaitMaxMs) {
        const reason = (await this.store.pauseReason(this.pauseKey)) ?? 'paused';
        throw new RateLimitedError(remaining, reason);
      }
      await new Promise((r) => setTimeout(r, remaining));
      this.pauseCheckedAt = 0;
    }
  }

  async close(): Promise<void> {}
}
