import type { PacingStore, WindowLimit } from './pacing-store.ts';
import { RateLimitedError } from './rate-limited-error.ts';

/**
 * A sliding-window gate shared through the pacing store (Redis or PostgreSQL, pacing-store.ts):
 * a tracker credential's budget (Plane's 60 requests
 * per minute, GitHub's 5,000 per hour; the Pacer), and budgets narrower than a credential (Jira's
 * per-issue write limits: 20 writes per 2 s and 100 per 30 s on one issue, whoever writes;
 * docs/trackers.md 4.6). One sorted set per subject holds the times of recent events; an event
 * is let through only when it fits every window, so bursts are allowed up to each limit (a create
 * that needs four calls sends them at once) and the limit itself is never reached.
 *
 * Optionally at most `maxInFlight` events of a subject may be under way at once (between
 * `acquire` and `settle`/`release`), across every process: GitHub's "one mutation at a time". An
 * event in flight is forgotten after `inFlightTtlMs`, so a crashed process cannot hold it forever.
 *
 * The store's clock is used, so processes with skewed clocks still agree on the windows.
 */
export type { WindowLimit } from './pacing-store.ts';

export interface WindowGateOptions {
  /** A wait longer than this throws RateLimitedError so the job steps aside instead. */
  inlineWaitMaxMs?: number;
  /** At most this many events under way at once (acquired, not yet settled or released). */
  maxInFlight?: number;
  /** How long an event counts as under way at most (a process that died never settles it). */
  inFlightTtlMs?: number;
}

/** How long a caller waits before asking again while the in-flight limit is reached. */
const IN_FLIGHT_POLL_MS = 20;

export class WindowGate {
  /** Counters for tests and metrics. */
  readonly stats = { passed: 0, waited: 0, waitedMs: 0 };
  private sequence = 0;
  private readonly inlineWaitMaxMs: number;
  private readonly longestMs: number;

  constructor(
    private readonly store: PacingStore,
    private readonly keyPrefix: string,
    readonly windows: readonly WindowLimit[],
    private readonly options: WindowGateOptions = {},
  ) {
    this.inlineWaitMaxMs = options.inlineWaitMaxMs ?? 5_000;
    this.longestMs = Math.max(...windows.map((w) => w.perMs));
  }

  private key(subject: string): string {
    return `${this.keyPrefix}:${subject}`;
  }

  /**
   * Waits until one more event for `subject` fits every window (and the in-flight limit), then
   * records it (now, by the store's clock). Returns the event's id, for `settle` or `release`.
   */
  async acquire(subject: string, inlineWaitMaxMs = this.inlineWaitMaxMs): Promise<string> {
    const inFlight = { max: this.options.maxInFlight ?? 0, ttlMs: this.options.inFlightTtlMs ?? 60_000 };
    for (;;) {
      const member = `${process.pid}:${Date.now()}:${++this.sequence}:${Math.random().toString(36).slice(2, 8)}`;
      const answer = await this.store.acquire(this.key(subject), member, this.windows, inFlight);
      if (answer === 0) {
        this.stats.passed++;
        return member;
      }
      const wait = answer < 0 ? IN_FLIGHT_POLL_MS : answer;
      if (wait > inlineWaitMaxMs) throw new RateLimitedError(wait, `${this.describe()} for ${subject}`);
      this.stats.waited++;
      this.stats.waitedMs += wait;
      await new Promise((r) => setTimeout(r, wait));
    }
  }

  /**
   * How long an event for `subject` would wait with `ahead` others queued before it (0: it would
   * pass now). An estimate: calls still to be made can only make it longer.
   */
  async estimateWait(subject: string, ahead: number): Promise<number> {
    return this.store.estimate(this.key(subject), ahead, this.windows);
  }

  /**
   * Moves a recorded event to now and ends its time in flight. For an event that happens some time
   * after it was let through (a request goes out after its acquire, and a cold process can take
   * tens of ms to send its first), the window then holds it from the latest moment it can have
   * happened, never too early.
   */
  async settle(subject: string, member: string): Promise<void> {
    await this.store.settle(this.key(subject), member, this.longestMs);
  }

  /** Forgets an event that was let through but never happened (its call was not sent). */
  async release(subject: string, member: string): Promise<void> {
    await this.store.release(this.key(subject), member);
  }

  describe(): string {
    const windows = this.windows
      .map((w) => `${w.limit} per ${w.perMs >= 1000 ? `${Math.round(w.perMs / 1000)} s` : `${w.perMs} ms`}`)
      .join(', ');
    return `budget (${windows}${this.options.maxInFlight ? `, ${this.options.maxInFlight} at a time` : ''})`;
  }
}
