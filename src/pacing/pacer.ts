import Bottleneck from 'bottleneck';
import type { Redis } from 'ioredis';
import { WindowGate } from './window-gate.ts';
import { RateLimitedError } from './rate-limited-error.ts';

/**
 * Paces every call made with one tracker credential, across every worker process, through Redis.
 *
 * Two mechanisms, because they answer different signals:
 * - steady spacing (Bottleneck clustered on Redis, `minTime` = window / requests) keeps
 *   Trackline under the tracker's published budget by its own pacing, never bursting;
 * - a shared pause (one Redis key with a TTL) obeys the tracker when it says stop (a 429's
 *   `Retry-After`, remaining = 0 until reset): every process sees it, so a 429 slows the whole
 *   connection and not just the job that got it.
 *
 * Bottleneck's clustered reservoir is not used: with ioredis 6 its jobs never ran in our checks,
 * and spacing alone already enforces the rate without the refill burst a reservoir allows.
 *
 * Spacing is decided when a call is granted its slot, and the call goes out a little later: after
 * Redis answers, a timer fires and the event loop gets to it. A call held back 40 ms by a busy
 * process (GC, a 2-core machine shared with Postgres) met the next calls on time, and a strict
 * sliding window such as Plane's then saw one request too many (bench/budget.ts: about one 429 in
 * 1,000 requests with 3 worker processes). So each call is also checked against the sent calls
 * themselves at the moment it goes out: a sliding window of the same budget, a little wider
 * (`SEND_WINDOW_SLACK_MS`), shared through Redis (WindowGate). On time, it never holds a call; a
 * late call waits the few ms that keep the window. Once answered, a call is moved to the moment of
 * its answer: it reached the tracker somewhere in between, and a cold process's first request can
 * leave tens of ms after its check (bench/budget.ts caught one at start-up).
 */
export interface PacerOptions {
  /** Shared id for the credential (a hash: never the credential itself). */
  id: string;
  /** Requests allowed per window; absent means unpaced (only the pause applies). */
  requests?: number;
  perMs?: number;
  /** Extra spacing per request, so clock skew between us and the tracker's window never tips over. */
  safetyMargin?: number;
  maxConcurrent?: number;
}

/** How much wider than the tracker's window the send-time check is: room for network jitter. */
export const SEND_WINDOW_SLACK_MS = 25;

export class Pacer {
  private readonly limiter: Bottleneck | null;
  private readonly sent: WindowGate | null;
  private pausedUntil = 0;
  private pauseCheckedAt = 0;
  private readonly pauseKey: string;
  readonly spacingMs: number;
  /** Counters for /v1/connections and /metrics. */
  readonly stats = { calls: 0, pauses: 0, pausedMs: 0, lastPauseReason: '' as string, heldMs: 0 };

  constructor(
    private readonly redis: Redis,
    connection: Bottleneck.IORedisConnection | null,
    readonly options: PacerOptions,
    keyPrefix: string,
  ) {
    this.pauseKey = `${keyPrefix}:pause:${options.id}`;
    const { requests, perMs } = options;
    this.spacingMs = requests && perMs ? Math.ceil((perMs / requests) * (1 + (options.safetyMargin ?? 0.04))) : 0;
    this.limiter =
      this.spacingMs > 0 && connection
        ? new Bottleneck({
            id: `${keyPrefix}:limiter:${options.id}`,
            datastore: 'ioredis',
            connection,
            clearDatastore: false,
            minTime: this.spacingMs,
            maxConcurrent: options.maxConcurrent ?? null,
            // The default 5 s heartbeat makes queued jobs in other processes wait for it.
            heartbeatInterval: 250,
            // A crashed process must not hold its slots forever.
            timeout: 10 * 60_000,
          })
        : null;
    this.sent =
      this.limiter && requests && perMs
        ? new WindowGate(redis, `${keyPrefix}:sent:${options.id}`, [{ limit: requests, perMs: perMs + SEND_WINDOW_SLACK_MS }])
        : null;
    this.limiter?.on('error', () => {
      /* surfaced through failing schedule() calls */
    });
  }

  /**
   * Runs `fn` when the budget allows. A pause shorter than `inlineWaitMaxMs` is waited out here;
   * a longer one throws RateLimitedError so the job can step aside (moved to delayed, no attempt
   * used) instead of holding a worker slot.
   */
  async schedule<T>(fn: () => Promise<T>, inlineWaitMaxMs = 5_000): Promise<T> {
    if (!this.limiter) {
      await this.waitForPause(inlineWaitMaxMs);
      this.stats.calls++;
      return fn();
    }
    for (;;) {
      await this.waitForPause(inlineWaitMaxMs);
      // A pause that began while this call waited for its slot gives the slot back and queues
      // again once the pause ends: waiting inside the slot would release every held call at once.
      // The pause check inside the slot is this process's view (other processes' pauses were read
      // just before queueing); the send-time window check after it records the call at the
      // moment it goes out, which is the time the tracker's window counts.
      const outcome = await this.limiter.schedule(async () => {
        if (this.pausedUntil > Date.now()) return { paused: true as const };
        if (!this.sent) {
          this.stats.calls++;
          return { paused: false as const, value: await fn() };
        }
        const waitedBefore = this.sent.stats.waitedMs;
        const call = await this.sent.acquire('calls');
        this.stats.heldMs += this.sent.stats.waitedMs - waitedBefore;
        this.stats.calls++;
        try {
          return { paused: false as const, value: await fn() };
        } finally {
          // Answered, so it reached the tracker by now: from here on it counts from this moment.
          await this.sent.settle('calls', call).catch(() => undefined);
        }
      });
      if (!outcome.paused) return outcome.value;
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
    await this.redis.eval(
      "local cur = redis.call('PTTL', KEYS[1]) if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1]) end return 1",
      1,
      this.pauseKey,
      String(ms),
      reason,
    );
  }

  /** Milliseconds left in the current pause (0 when not paused). */
  async pauseRemaining(): Promise<number> {
    const now = Date.now();
    // Other processes' pauses are read at most every 100 ms: fresh enough for a multi-second
    // Retry-After, without a Redis round trip on every call.
    if (now - this.pauseCheckedAt > 100) {
      this.pauseCheckedAt = now;
      const ttl = await this.redis.pttl(this.pauseKey);
      if (ttl > 0) this.pausedUntil = Math.max(this.pausedUntil, now + ttl);
    }
    return Math.max(0, this.pausedUntil - now);
  }

  private async waitForPause(inlineWaitMaxMs: number): Promise<void> {
    for (;;) {
      const remaining = await this.pauseRemaining();
      if (remaining <= 0) return;
      if (remaining > inlineWaitMaxMs) {
        const reason = (await this.redis.get(this.pauseKey)) ?? 'paused';
        throw new RateLimitedError(remaining, reason);
      }
      await new Promise((r) => setTimeout(r, remaining));
      this.pauseCheckedAt = 0;
    }
  }

  async close(): Promise<void> {
    await this.limiter?.disconnect(false);
  }
}
